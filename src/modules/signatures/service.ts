/**
 * E-signature requests (签署流程, issue 17): an approval system or a department uploads a PDF and names the people
 * who must sign it, in groups that act in sequence (participants inside a group act in parallel).
 *
 * States: draft → in_progress → completed | declined | expired | cancelled (the last four are final). A draft is
 * edited by its initiator (document upload); `send` fixes the document and opens the first group. A participant
 * acts only while the request is in progress, their group is the current one and they have not acted: otherwise a
 * 409 with a code that says why (SIGNING_NOT_YOUR_TURN, SIGNING_DECLINED, SIGNING_EXPIRED, SIGNING_CANCELLED,
 * SIGNING_COMPLETED, SIGNING_ALREADY_ACTED). Every step is a trust event in the same transaction as the change.
 *
 * Authorisation per object: a request is visible to the client that created it (and, for a department's
 * requests, to the department's issuers) and to its participants (holder tokens); to anyone else it does not
 * exist (404 SIGNING_REQUEST_NOT_FOUND).
 */
import crypto from "node:crypto";
import { checkUscc, HOLDER_CODE_TYPES, maskCode } from "../../codes/index.js";
import type { PiiProtector } from "../../crypto/pii.js";
import { AppError } from "../../errors.js";
import type { PdfWork } from "../../pdf/pool.js";
import { textProblem } from "../../util/text.js";
import { uuidv7 } from "../../util/uuid7.js";
import type { CatalogueRepos } from "../catalogue/index.js";
import { actorLabel, type Actor, type Clock, type Logger, type TxHooks, type UnitOfWork } from "../kernel.js";
import type { TlogEvent } from "../tlog/index.js";
import { checkHolderCode, maskName } from "../licences/holder.js";
import { TLOG_EVENTS } from "../tlog/events.js";
import type {
  Participant, ParticipantRole, ParticipantStatus, SignaturePlacement, SignatureRepos, SigningRequest, SigningStatus,
} from "./ports.js";

const DAY = 86_400_000;
export const SIGNING_LIMITS = {
  /** Participants in one request (all groups). */
  participants: 50,
  groups: 20,
  /** Longest time a request may stay open. */
  maxDays: 180,
  titleChars: 200,
} as const;

export interface ParticipantInput {
  name: string;
  holderCode: string;
  holderCodeType: string;
  role: ParticipantRole;
  /** USCC of the company the person signs for (legal representative). */
  actingFor?: string;
  placement?: SignaturePlacement;
}

export interface CreateRequestInput {
  title: string;
  matterCode?: string;
  caseRef?: string;
  expiresAt: Date;
  /** Groups in signing order; participants of a group act in parallel. */
  groups: ParticipantInput[][];
}

/** What a caller sees of a participant: the code masked, the name masked for other holders. */
export interface ParticipantView {
  idx: number;
  group: number;
  name: string;
  holderCode: string;
  holderCodeType: string;
  role: ParticipantRole;
  actingFor: string | null;
  placement: SignaturePlacement | null;
  status: ParticipantStatus;
  viewedAt: Date | null;
  actedAt: Date | null;
  declineReason: string | null;
  method: string | null;
  logIndex: number | null;
  me?: boolean;
}

export interface RequestView {
  request: SigningRequest;
  participants: ParticipantView[];
}

export interface SignatureServiceDeps<R extends SignatureRepos & CatalogueRepos> {
  uow: UnitOfWork<R>;
  clock: Clock;
  /** The transparency log (participant events carry the holder's keyed hash). */
  log: { append(repos: R, tx: TxHooks, event: TlogEvent): Promise<{ index: number }> };
  pii: PiiProtector;
  logger?: Logger;
  /** Where the request's untrusted document is read: the PDF worker pool (time and memory budget per task). */
  pdf: PdfWork;
}

const PERSON_TYPES = Object.entries(HOLDER_CODE_TYPES).filter(([, v]) => v.kind === "person").map(([k]) => k);
const OPEN: readonly SigningStatus[] = ["draft", "in_progress"];

/** The 409 that says why a request no longer takes actions. */
export function closedError(r: SigningRequest): AppError {
  switch (r.status) {
    case "completed": return new AppError("SIGNING_COMPLETED");
    case "declined": return new AppError("SIGNING_DECLINED");
    case "expired": return new AppError("SIGNING_EXPIRED");
    case "cancelled": return new AppError("SIGNING_CANCELLED");
    default: return new AppError("SIGNING_STATE_INVALID", `The request is ${r.status}.`, { details: { status: r.status } });
  }
}

function checkText(field: string, s: string, max: number): string {
  const v = s.trim();
  if (v.length === 0 || v.length > max) throw new AppError("VALIDATION_FAILED", `${field} must be 1 to ${max} characters.`, { details: { field } });
  const p = textProblem(v);
  if (p) throw new AppError("VALIDATION_FAILED", `${field} ${p}.`, { details: { field } });
  return v;
}

export function createSignatureService<R extends SignatureRepos & CatalogueRepos>(deps: SignatureServiceDeps<R>) {
  const { uow, clock, log, pii } = deps;
  const aadCode = (id: string, idx: number) => `signing:${id}:${idx}:code`;
  const aadName = (id: string, idx: number) => `signing:${id}:${idx}:name`;
  const aadDoc = (id: string, seq: number) => `signing:${id}:${seq}`;

  function isInitiator(actor: Actor, r: SigningRequest): boolean {
    if (actor.kind !== "client") return false;
    if (actor.clientId === r.initiatorClientId) return true;
    return actor.role === "issuer" && r.departmentId !== null && actor.departmentId === r.departmentId;
  }

  /** The request and the caller's participations, or 404 when the caller may not see it. */
  async function visible(repos: R, id: string, actor: Actor): Promise<{ r: SigningRequest; ps: Participant[]; mine: Participant[] }> {
    const r = await repos.signingRequests.byId(id);
    if (!r) throw new AppError("SIGNING_REQUEST_NOT_FOUND");
    const ps = await repos.signingParticipants.ofRequest(id);
    const mine = actor.kind === "holder" ? ps.filter((p) => p.holderHash === actor.subjectHash) : [];
    if (!isInitiator(actor, r) && mine.length === 0) throw new AppError("SIGNING_REQUEST_NOT_FOUND");
    return { r, ps, mine };
  }

  function view(r: SigningRequest, ps: Participant[], actor: Actor): RequestView {
    const initiator = isInitiator(actor, r);
    return {
      request: r,
      participants: ps.map((p) => {
        const me = actor.kind === "holder" && p.holderHash === actor.subjectHash;
        const name = pii.decrypt(p.nameEnc, aadName(r.id, p.idx));
        const code = pii.decrypt(p.holderCodeEnc, aadCode(r.id, p.idx));
        return {
          idx: p.idx, group: p.groupNo, name: initiator || me ? name : maskName(name), holderCode: maskCode(code), holderCodeType: p.codeType,
          role: p.role, actingFor: p.actingFor, placement: p.placement, status: p.status, viewedAt: p.viewedAt, actedAt: p.actedAt,
          declineReason: initiator || me ? p.declineReason : null, method: p.method, logIndex: p.logIndex, ...(me ? { me: true } : {}),
        };
      }),
    };
  }

  /** Records expiry (inside the caller's transaction) when an open request is past its time. True when it did. */
  async function expireIfDue(repos: R, tx: TxHooks, r: SigningRequest, actor: string): Promise<boolean> {
    const now = clock.now();
    if (!OPEN.includes(r.status) || now < r.expiresAt) return false;
    await repos.signingRequests.update(r.id, { status: "expired", updatedAt: now, statusReason: null });
    await log.append(repos, tx, {
      type: TLOG_EVENTS.signingExpired, subject: `signing:${r.id}`, actor,
      data: { requestId: r.id, expiresAt: r.expiresAt.toISOString(), from: r.status },
    });
    return true;
  }

  async function create(input: CreateRequestInput, actor: Actor): Promise<RequestView> {
    if (actor.kind !== "client" || (actor.role !== "consumer" && actor.role !== "issuer")) throw new AppError("FORBIDDEN_ROLE");
    const now = clock.now();
    const title = checkText("title", input.title, SIGNING_LIMITS.titleChars);
    const caseRef = input.caseRef === undefined ? null : checkText("caseRef", input.caseRef, 64);
    if (input.expiresAt <= now) throw new AppError("VALIDATION_FAILED", "expiresAt must be in the future.", { details: { field: "expiresAt" } });
    if (input.expiresAt.getTime() - now.getTime() > SIGNING_LIMITS.maxDays * DAY) {
      throw new AppError("VALIDATION_FAILED", `A request may stay open for at most ${SIGNING_LIMITS.maxDays} days.`, { details: { field: "expiresAt" } });
    }
    const matterCode: string | null = input.matterCode ?? null;
    if (actor.role === "consumer") {
      if (!matterCode) throw new AppError("VALIDATION_FAILED", "An approval system names the matter it serves (matterCode).", { details: { field: "matterCode" } });
      if (!actor.matters.includes(matterCode)) throw new AppError("FORBIDDEN_MATTER", "The client does not serve this matter.");
    }
    if (input.groups.length === 0 || input.groups.length > SIGNING_LIMITS.groups) {
      throw new AppError("VALIDATION_FAILED", `A request has 1 to ${SIGNING_LIMITS.groups} groups.`, { details: { field: "groups" } });
    }
    const all = input.groups.flat();
    if (all.length === 0 || all.length > SIGNING_LIMITS.participants) {
      throw new AppError("VALIDATION_FAILED", `A request has 1 to ${SIGNING_LIMITS.participants} participants.`, { details: { field: "groups" } });
    }
    const seen = new Set<string>();
    const rows: Array<Omit<Participant, "requestId">> = [];
    let idx = 0;
    input.groups.forEach((g, gi) => {
      if (g.length === 0) throw new AppError("VALIDATION_FAILED", `Group ${gi + 1} is empty.`, { details: { field: `groups/${gi}` } });
      for (const p of g) {
        const at = `groups/${gi}/${rows.length}`;
        if (!PERSON_TYPES.includes(p.holderCodeType)) {
          throw new AppError("HOLDER_CODE_TYPE_INVALID", "A participant is a natural person: use a personal code type (111, 411-414, 511, 516, 999).", { details: { field: at } });
        }
        checkHolderCode(p.holderCodeType, p.holderCode, now);
        const name = checkText("name", p.name, 64);
        if (p.actingFor !== undefined && !checkUscc(p.actingFor).ok) throw new AppError("USCC_INVALID", "actingFor must be the company's USCC.", { details: { field: at } });
        if (p.role !== "copy" && !p.placement) throw new AppError("VALIDATION_FAILED", "Every signer and approver needs a placement.", { details: { field: at } });
        if (p.role === "copy" && p.placement) throw new AppError("VALIDATION_FAILED", "A copy-only participant has no placement.", { details: { field: at } });
        if (p.placement && "placeholder" in p.placement) checkText("placeholder", p.placement.placeholder, 64);
        const hash = pii.lookupHash(p.holderCodeType, p.holderCode);
        if (seen.has(hash)) throw new AppError("VALIDATION_FAILED", "A person appears twice in the request.", { details: { field: at } });
        seen.add(hash);
        rows.push({
          idx, groupNo: gi + 1, holderHash: hash, holderCodeEnc: "", codeType: p.holderCodeType, nameEnc: name, role: p.role,
          actingFor: p.actingFor ?? null, placement: p.placement ?? null, status: p.role === "copy" ? "copy" : "waiting", viewedAt: null, actedAt: null,
          declineReason: null, method: null, certSerial: null, logIndex: null,
        });
        idx++;
      }
    });
    const groupsWithActors = new Set(rows.filter((p) => p.role !== "copy").map((p) => p.groupNo));
    if (groupsWithActors.size !== input.groups.length) {
      throw new AppError("VALIDATION_FAILED", "Every group needs at least one signer or approver (copy-only participants join a group that signs).", { details: { field: "groups" } });
    }
    const id = uuidv7(now.getTime());
    const codes = all.map((p) => p.holderCode);
    const req: SigningRequest = {
      id, title, matterCode, caseRef, initiatorClientId: actor.clientId, initiatorRole: actor.role,
      departmentId: actor.role === "issuer" ? actor.departmentId : null, status: "draft", currentGroup: 0, groupCount: input.groups.length,
      expiresAt: input.expiresAt, documentSha256: null, currentSha256: null, pageCount: null, statusReason: null, createdAt: now, updatedAt: now, completedAt: null,
    };
    const ps: Participant[] = rows.map((p, i) => ({
      ...p, requestId: id, holderCodeEnc: pii.encrypt(codes[i]!, aadCode(id, p.idx)), nameEnc: pii.encrypt(p.nameEnc, aadName(id, p.idx)),
    }));
    return uow.write(async (repos, tx) => {
      if (matterCode && !(await repos.matters.byCode(matterCode))) throw new AppError("MATTER_NOT_FOUND");
      await repos.signingRequests.insert(req);
      for (const p of ps) await repos.signingParticipants.insert(p);
      await log.append(repos, tx, {
        type: TLOG_EVENTS.signingCreated, subject: `signing:${id}`, actor: actorLabel(actor),
        data: {
          requestId: id, matterCode, departmentId: req.departmentId, expiresAt: req.expiresAt.toISOString(), groups: req.groupCount,
          titleSha256: crypto.createHash("sha256").update(title).digest("hex"),
          participants: ps.map((p) => ({ idx: p.idx, group: p.groupNo, role: p.role, holder: p.holderHash })),
        },
      });
      return view(req, ps, actor);
    });
  }

  /** Draft only: the PDF to be signed (replaces an earlier upload). */
  async function putDocument(id: string, pdf: Buffer, actor: Actor): Promise<RequestView> {
    // Who may upload is settled before the document is read: anyone else gets the same 404, in the same time,
    // whatever the PDF, and costs no PDF work.
    await draftOf(id, actor, "The document is fixed once the request is sent.");
    // Read on a PDF worker under its time budget: a hostile upload costs a worker, never the event loop.
    const info = await deps.pdf.signing(pdf, { op: "inspect" });
    if (info.op !== "inspect") throw new AppError("INTERNAL", "The PDF worker answered another operation.");
    if (info.encrypted) throw new AppError("PDF_ENCRYPTED");
    const pages = info.pages;
    const sha = info.sha256;
    return uow.write(async (repos) => {
      const { r, ps } = await visible(repos, id, actor);
      if (!isInitiator(actor, r)) throw new AppError("SIGNING_REQUEST_NOT_FOUND");
      if (r.status !== "draft") throw r.status === "in_progress" ? new AppError("SIGNING_STATE_INVALID", "The document is fixed once the request is sent.") : closedError(r);
      const prev = await repos.signingDocuments.latest(id);
      const seq = prev ? prev.seq + 1 : 0;
      const now = clock.now();
      await repos.signingDocuments.insert({ requestId: id, seq, sha256: sha, kind: "uploaded", bytes: pii.sealBytes(pdf, aadDoc(id, seq)), createdAt: now });
      const patch = { documentSha256: sha, currentSha256: sha, pageCount: pages, updatedAt: now };
      await repos.signingRequests.update(id, patch);
      return view({ ...r, ...patch }, ps, actor);
    });
  }

  /**
   * The initiator's open draft, read before any PDF work (upload, send): a caller who may not see the request
   * gets 404 and one who may but is too late gets the state's 409, both without the document being read.
   * The write transaction checks again (the state may change meanwhile).
   */
  async function draftOf(id: string, actor: Actor, sentMessage: string): Promise<{ r: SigningRequest; ps: Participant[] }> {
    const { r, ps } = await visible(uow.read, id, actor);
    if (!isInitiator(actor, r)) throw new AppError("SIGNING_REQUEST_NOT_FOUND");
    if (r.status === "draft" && clock.now() >= r.expiresAt) return { r, ps }; // the write records the expiry
    if (r.status !== "draft") throw r.status === "in_progress" ? new AppError("SIGNING_STATE_INVALID", sentMessage) : closedError(r);
    return { r, ps };
  }

  /** draft → in_progress: the document is fixed, placements are checked, the first group may act. */
  async function send(id: string, actor: Actor): Promise<RequestView> {
    const { r: cur, ps: curPs } = await draftOf(id, actor, "The request has been sent already.");
    const latest = await uow.read.signingDocuments.latest(id);
    // The completion report's page is reserved now, before the first signature: appending it later would
    // change the document every participant signed. The report is drawn on it as the final seal's appearance.
    let withReport: Buffer | null = null;
    if (latest && clock.now() < cur.expiresAt) {
      const pdf = pii.openBytes(latest.bytes, aadDoc(id, latest.seq));
      const a = await deps.pdf.signing(pdf, { op: "send", participants: curPs.map((p) => ({ idx: p.idx, placement: p.placement })) });
      if (a.op !== "send") throw new AppError("INTERNAL", "The PDF worker answered another operation.");
      withReport = a.bytes as Buffer;
    }
    let expired = false;
    const out = await uow.write(async (repos, tx) => {
      const { r, ps } = await visible(repos, id, actor);
      if (!isInitiator(actor, r)) throw new AppError("SIGNING_REQUEST_NOT_FOUND");
      if (await expireIfDue(repos, tx, r, actorLabel(actor))) {
        expired = true;
        return null;
      }
      if (r.status !== "draft") throw r.status === "in_progress" ? new AppError("SIGNING_STATE_INVALID", "The request has been sent already.") : closedError(r);
      const doc = await repos.signingDocuments.latest(id);
      if (!doc || !r.currentSha256) throw new AppError("SIGNING_DOCUMENT_MISSING");
      if (!withReport || doc.seq !== latest?.seq) throw new AppError("CONFLICT", "The document changed while the request was being sent; send again.");
      const now = clock.now();
      const sha = crypto.createHash("sha256").update(withReport).digest("hex");
      await repos.signingDocuments.insert({ requestId: id, seq: doc.seq + 1, sha256: sha, kind: "prepared", bytes: pii.sealBytes(withReport, aadDoc(id, doc.seq + 1)), createdAt: now });
      const patch = { status: "in_progress" as const, currentGroup: 1, currentSha256: sha, updatedAt: now };
      await repos.signingRequests.update(id, patch);
      const ps2 = ps.map((p) => (p.groupNo === 1 && p.status === "waiting" ? { ...p, status: "pending" as const } : p));
      for (const p of ps2) if (p.status === "pending") await repos.signingParticipants.update(id, p.idx, { status: "pending" });
      await log.append(repos, tx, {
        type: TLOG_EVENTS.signingSent, subject: `signing:${id}`, actor: actorLabel(actor),
        data: { requestId: id, documentSha256: r.documentSha256, preparedSha256: sha, pages: r.pageCount, reportPage: (r.pageCount ?? 0) + 1 },
      });
      return view({ ...r, ...patch }, ps2, actor);
    });
    if (expired) throw new AppError("SIGNING_EXPIRED");
    return out!;
  }

  async function cancel(id: string, reason: string | null, actor: Actor): Promise<RequestView> {
    const why = reason === null ? null : checkText("reason", reason, 200);
    let expired = false;
    const out = await uow.write(async (repos, tx) => {
      const { r, ps } = await visible(repos, id, actor);
      if (!isInitiator(actor, r)) throw new AppError("SIGNING_REQUEST_NOT_FOUND");
      if (await expireIfDue(repos, tx, r, actorLabel(actor))) {
        expired = true;
        return null;
      }
      if (!OPEN.includes(r.status)) throw closedError(r);
      const now = clock.now();
      const patch = { status: "cancelled" as const, statusReason: why, updatedAt: now };
      await repos.signingRequests.update(id, patch);
      await log.append(repos, tx, {
        type: TLOG_EVENTS.signingCancelled, subject: `signing:${id}`, actor: actorLabel(actor),
        data: { requestId: id, from: r.status, ...(why ? { reasonSha256: crypto.createHash("sha256").update(why).digest("hex") } : {}) },
      });
      return view({ ...r, ...patch }, ps, actor);
    });
    if (expired) throw new AppError("SIGNING_EXPIRED");
    return out!;
  }

  /**
   * The participant of `actor` who may act now, or the 409 that says why not. Runs inside a write transaction;
   * an overdue request is marked expired there (the caller then throws SIGNING_EXPIRED after the commit).
   */
  async function actingParticipant(repos: R, tx: TxHooks, id: string, actor: Actor): Promise<{ r: SigningRequest; ps: Participant[]; p: Participant } | "expired"> {
    if (actor.kind !== "holder") throw new AppError("FORBIDDEN_ROLE", "Only the participant may act.");
    const { r, ps, mine } = await visible(repos, id, actor);
    if (await expireIfDue(repos, tx, r, actorLabel(actor))) return "expired";
    if (r.status !== "in_progress") throw r.status === "draft" ? new AppError("SIGNING_STATE_INVALID", "The request has not been sent yet.") : closedError(r);
    const p = mine.find((x) => x.role !== "copy");
    if (!p) throw new AppError("SIGNING_STATE_INVALID", "A copy-only participant does not sign.");
    if (p.status === "signed" || p.status === "declined") throw new AppError("SIGNING_ALREADY_ACTED");
    if (p.groupNo !== r.currentGroup || p.status !== "pending") {
      throw new AppError("SIGNING_NOT_YOUR_TURN", `Group ${r.currentGroup} signs now; this participant is in group ${p.groupNo}.`, { details: { currentGroup: r.currentGroup, group: p.groupNo } });
    }
    return { r, ps, p };
  }

  async function decline(id: string, reason: string, actor: Actor): Promise<RequestView> {
    const why = checkText("reason", reason, 500);
    let expired = false;
    const out = await uow.write(async (repos, tx) => {
      const a = await actingParticipant(repos, tx, id, actor);
      if (a === "expired") {
        expired = true;
        return null;
      }
      const { r, ps, p } = a;
      const now = clock.now();
      await repos.signingParticipants.update(id, p.idx, { status: "declined", actedAt: now, declineReason: why });
      const patch = { status: "declined" as const, updatedAt: now, statusReason: null };
      await repos.signingRequests.update(id, patch);
      const { index } = await log.append(repos, tx, {
        type: TLOG_EVENTS.signingDeclined, subject: `signing:${id}`, actor: actorLabel(actor), holder: p.holderHash,
        data: { requestId: id, participant: p.idx, group: p.groupNo, reasonSha256: crypto.createHash("sha256").update(why).digest("hex") },
      });
      await repos.signingParticipants.update(id, p.idx, { logIndex: index });
      return view({ ...r, ...patch }, ps.map((x) => (x.idx === p.idx ? { ...x, status: "declined" as const, actedAt: now, declineReason: why, logIndex: index } : x)), actor);
    });
    if (expired) throw new AppError("SIGNING_EXPIRED");
    return out!;
  }

  /** The request as the caller may see it; a participant's first look is recorded (signing.viewed). */
  async function get(id: string, actor: Actor): Promise<RequestView> {
    const { r, ps, mine } = await visible(uow.read, id, actor);
    const unseen = mine.filter((p) => p.viewedAt === null);
    const overdue = OPEN.includes(r.status) && clock.now() >= r.expiresAt;
    if (unseen.length === 0 && !overdue) return view(r, ps, actor);
    return uow.write(async (repos, tx) => {
      const { r: r2, mine: mine2 } = await visible(repos, id, actor);
      const now = clock.now();
      await expireIfDue(repos, tx, r2, actorLabel(actor));
      for (const p of mine2) {
        if (p.viewedAt !== null) continue;
        await repos.signingParticipants.update(id, p.idx, { viewedAt: now });
        await log.append(repos, tx, {
          type: TLOG_EVENTS.signingViewed, subject: `signing:${id}`, actor: actorLabel(actor), holder: p.holderHash,
          data: { requestId: id, participant: p.idx, currentSha256: r2.currentSha256 },
        });
      }
      const fresh = (await repos.signingRequests.byId(id))!;
      return view(fresh, await repos.signingParticipants.ofRequest(id), actor);
    });
  }

  /** The latest revision of the document (initiator and participants). */
  async function document(id: string, actor: Actor): Promise<{ pdf: Buffer; sha256: string; kind: string; request: SigningRequest }> {
    const { r } = await visible(uow.read, id, actor);
    const d = await uow.read.signingDocuments.latest(id);
    if (!d) throw new AppError("SIGNING_DOCUMENT_MISSING");
    return { pdf: pii.openBytes(d.bytes, aadDoc(id, d.seq)), sha256: d.sha256, kind: d.kind, request: r };
  }

  async function list(actor: Actor, opts: { status?: SigningStatus; limit: number; before?: { at: Date; id: string } }): Promise<SigningRequest[]> {
    if (actor.kind !== "client") throw new AppError("FORBIDDEN_ROLE");
    const scope = actor.role === "issuer" && actor.departmentId ? { departmentId: actor.departmentId } : { initiatorClientId: actor.clientId };
    return uow.read.signingRequests.list({ ...scope, ...(opts.status ? { status: opts.status } : {}), limit: opts.limit, ...(opts.before ? { before: opts.before } : {}) });
  }

  /** A holder's requests: `waiting` = their turn now; `all` = every request they take part in. */
  async function holderList(actor: Actor, which: "waiting" | "all", limit: number) {
    if (actor.kind !== "holder") throw new AppError("FORBIDDEN_ROLE");
    const now = clock.now();
    // "waiting" is filtered in the query (before the limit): in progress, not past its expiry, my turn.
    const rows = await uow.read.signingParticipants.forHolder(actor.subjectHash, { ...(which === "waiting" ? { waitingAt: now } : {}), limit });
    return rows.map(({ groupNo, ...r }) => ({ ...r, status: OPEN.includes(r.status) && now >= r.expiresAt ? "expired" as const : r.status, group: groupNo }));
  }

  /** Marks every open request past its expiry as expired (the minute sweep). */
  async function expireDue(max = 500): Promise<number> {
    const due = await uow.read.signingRequests.dueForExpiry(clock.now(), max);
    let n = 0;
    for (const d of due) {
      await uow.write(async (repos, tx) => {
        const r = await repos.signingRequests.byId(d.id);
        if (r && (await expireIfDue(repos, tx, r, "system:expiry"))) n++;
      });
    }
    return n;
  }

  return { create, putDocument, send, cancel, decline, get, document, list, holderList, expireDue, isInitiator, actingParticipant, view, visible, expireIfDue, aadDoc };
}

export type SignatureService<R extends SignatureRepos & CatalogueRepos = SignatureRepos & CatalogueRepos> = ReturnType<typeof createSignatureService<R>>;
