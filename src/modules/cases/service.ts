/**
 * Cases (办件, issue 19): an approval system opens a case (`open`), attaches what the case used — licences (with the
 * 加注件 it fetched), signing requests, stamped documents, materials — and closes it with its result; a closed case
 * is archived (src/modules/archives). The counter's case record is a case of this module too (`counterAttach`): its
 * first attachment opens it for the counter's department.
 *
 * Ownership is a stored column (`owner`): `dept:<id>` for the clients and counters of a department, `client:<id>`
 * for an approval system (bound to matters, not to a department), `counter:<client id>` for a counter terminal bound
 * to no department (each its own). Another owner's case answers CASE_NOT_FOUND, for reading and changing alike, as one
 * that does not exist; case numbers are unique per owner, so no answer tells of another owner's numbers.
 *
 * The case's department and what may be attached are judged by ./entitle.ts: the department is never the caller's
 * word, and an item is attached only when the caller legitimately holds it for this applicant and matter (one answer,
 * CASE_ITEM_UNAVAILABLE, for every "not found / not yours / not consented").
 *
 * Every change (opened, item attached, closed) is logged in the same transaction as the change (DESIGN rule 5).
 * Personal data (rule 7): the applicant's code is kept as the holder's keyed hash plus ciphertext; names of applicant
 * and staff are ciphertext; log entries carry the keyed hash only.
 */
import { createHash } from "node:crypto";
import { AppError } from "../../errors.js";
import type { PiiProtector } from "../../crypto/pii.js";
import { maskCode } from "../../codes/index.js";
import { uuidv7 } from "../../util/uuid7.js";
import { actorLabel, type Actor, type Clock, type TxHooks, type UnitOfWork } from "../kernel.js";
import { checkHolderCode } from "../licences/holder.js";
import type { CaseFile, CaseItem, CaseItemKind, CaseRecord, CaseRepos } from "./ports.js";
import { asUnavailable, caseDepartment, entitledDepartments, unavailable } from "./entitle.js";

export const CASE_EVENTS = {
  opened: "case.opened",
  itemAttached: "case.item-attached",
  closed: "case.closed",
  archived: "case.archived",
  /** The counter's attachment keeps the type it had before cases were a module of their own. */
  licenceAttached: "licence.attached",
} as const;

export const CASE_RESULTS = ["approved", "rejected", "withdrawn", "terminated"] as const;
export type CaseResult = (typeof CASE_RESULTS)[number];

/** Largest file a case keeps itself (a 加注件 PDF or an uploaded stamped document). */
export const MAX_CASE_FILE_BYTES = 32 * 1024 * 1024;
/** Items per case: a case is archived as one package. */
export const MAX_CASE_ITEMS = 500;

export interface CaseLog<R> {
  append(repos: R, tx: TxHooks, event: { type: string; subject: string; actor: string; holder?: string; data: Record<string, unknown> }): Promise<{ index: number }>;
}

/** The parts of other modules a case uses, narrowed to what it needs (wired in src/context.ts). */
export interface CaseSources<R> {
  /** The licence verdict now, as a counter sees it. */
  verify(identifier: string): Promise<{ result: string }>;
  /** The licence's holder key, issuing department and type, or undefined when there is no such licence. */
  licence(repos: R, identifier: string): Promise<{ holderHash: string; departmentId: string; typeCode: string } | undefined>;
  /**
   * The newest recorded access (免证办 licence query, material reuse query) by which this client was handed
   * `identifier` of this holder for this matter, while its consent (or the matter's exemption) still stands.
   */
  access(repos: R, q: { clientId: string; holderHash: string; matterCode: string; identifier: string }): Promise<{ id: string; logIndex: number } | undefined>;
  /** A 加注件 the caller fetched for `expect` (this matter and applicant): the copy JWS, its PDF, the access record behind it; COPY_LINK_INVALID otherwise, before any PDF work. */
  copy(token: string, actor: Actor, expect: { matterCode: string; holderHash: string }): Promise<{ identifier: string; accessId: string; accessLogIndex: number; matterCode: string; holderHash: string; jws: string; pdf: Buffer }>;
  /** A signing request the caller initiated (SIGNING_REQUEST_NOT_FOUND otherwise): its final document, evidence and trust events. */
  signature(requestId: string, actor: Actor): Promise<{ status: string; title: string; matterCode: string | null; pdf: Buffer; evidence: unknown; events: Array<{ type: string; logIndex: number }> }>;
  /** A material (undefined when there is none): its holder, status, registration entry, and whether it is the caller's own (registered by it or its department). */
  material(identifier: string, actor: Actor): Promise<{ holderHash: string; status: string; sha256: string; size: number; mediaType: string; logIndex: number; own: boolean } | undefined>;
  /** Stamps whose result is exactly these bytes. */
  stampsOf(repos: R, sha256: string): Promise<Array<{ id: string; sealId: string; departmentId: string; logIndex: number | null }>>;
  departmentExists(repos: R, id: string): Promise<boolean>;
  /** The matter's handling departments and licence types, or undefined when there is no such matter. */
  matter(code: string): Promise<{ code: string; departments: string[]; licenceTypes: string[] } | undefined>;
}

export interface CasesDeps<R extends CaseRepos> {
  uow: UnitOfWork<R>;
  clock: Clock;
  log: CaseLog<R>;
  pii: PiiProtector;
  sources: CaseSources<R>;
}

export interface OpenCaseInput {
  caseNo: string;
  matterCode: string;
  title: string;
  /** Checked, never taken on trust: see ./entitle.ts (caseDepartment). */
  departmentId?: string;
  applicant: { name: string; codeType: string; code: string };
  staff: { name: string; id?: string };
}

export type AttachInput =
  | { kind: "licence"; identifier: string }
  | { kind: "licence-copy"; copy: string }
  | { kind: "signature"; requestId: string }
  | { kind: "material"; materialId: string }
  | { kind: "document"; pdf: Buffer; name?: string };

export interface CaseView {
  id: string;
  caseNo: string;
  channel: "api" | "counter";
  departmentId: string | null;
  clientId: string;
  matterCode: string | null;
  title: string | null;
  applicant: { name: string; codeType: string; code: string } | null;
  staff: { name: string; id?: string } | null;
  status: CaseRecord["status"];
  result: string | null;
  openedAt: Date;
  closedAt: Date | null;
  logIndex: number;
  items: Array<Omit<CaseItem, "caseId">>;
}

/** Who owns what this actor opens, and may read: null for callers that hold no cases. */
export function ownerOf(actor: Actor): string | null {
  if (actor.kind !== "client") return null;
  if (actor.role === "consumer") return `client:${actor.clientId}`;
  if (actor.role === "issuer" || actor.role === "counter") return actor.departmentId ? `dept:${actor.departmentId}` : actor.role === "counter" ? `counter:${actor.clientId}` : null;
  return null;
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
type ClientActor = Extract<Actor, { kind: "client" }>;

export function createCaseService<R extends CaseRepos>(deps: CasesDeps<R>) {
  const { uow, clock, log, pii, sources } = deps;

  async function owned(repos: CaseRepos, id: string, actor: Actor): Promise<CaseRecord> {
    const c = await repos.cases.byId(id);
    const owner = ownerOf(actor);
    if (!c || owner === null || c.owner !== owner) throw new AppError("CASE_NOT_FOUND");
    return c;
  }

  function applicantOf(c: CaseRecord): { name: string; codeType: string; code: string } | null {
    return c.applicantEnc ? JSON.parse(pii.decrypt(c.applicantEnc, `case:${c.id}:applicant`)) as { name: string; codeType: string; code: string } : null;
  }

  function staffOf(c: CaseRecord): { name: string; id?: string } | null {
    return c.staffEnc ? JSON.parse(pii.decrypt(c.staffEnc, `case:${c.id}:staff`)) as { name: string; id?: string } : null;
  }

  async function view(c: CaseRecord, opts: { fullCode?: boolean } = {}): Promise<CaseView> {
    const a = applicantOf(c);
    const items = (await uow.read.caseItems.ofCase(c.id)).map(({ caseId: _c, ...i }) => i);
    return {
      id: c.id, caseNo: c.caseNo, channel: c.channel, departmentId: c.departmentId, clientId: c.clientId, matterCode: c.matterCode, title: c.title,
      applicant: a ? { ...a, code: opts.fullCode ? a.code : maskCode(a.code) } : null, staff: staffOf(c),
      status: c.status, result: c.result, openedAt: c.openedAt, closedAt: c.closedAt, logIndex: c.logIndex, items,
    };
  }

  async function open(input: OpenCaseInput, actor: Actor): Promise<CaseView> {
    const owner = ownerOf(actor);
    if (actor.kind !== "client" || owner === null) throw new AppError("FORBIDDEN_ROLE");
    if (actor.role === "consumer" && !actor.matters.includes(input.matterCode)) throw new AppError("FORBIDDEN_MATTER", "This client does not serve that matter.");
    if (actor.role !== "consumer" && !actor.departmentId) throw new AppError("FORBIDDEN_ROLE", "A client bound to no department cannot open a case here.");
    const matter = await sources.matter(input.matterCode);
    if (!matter) throw new AppError("MATTER_NOT_FOUND");
    // The department that handles (and will archive) the case: never the caller's word (./entitle.ts).
    const departmentId = caseDepartment(actor, matter, input.departmentId);
    const now = clock.now();
    checkHolderCode(input.applicant.codeType, input.applicant.code, now);
    const id = uuidv7(now.getTime());
    const holder = pii.lookupHash(input.applicant.codeType, input.applicant.code);
    const rec: Omit<CaseRecord, "logIndex"> = {
      id, caseNo: input.caseNo, owner, departmentId, clientId: actor.clientId, channel: "api", matterCode: input.matterCode, title: input.title,
      applicantHash: holder,
      applicantEnc: pii.encrypt(JSON.stringify({ name: input.applicant.name, codeType: input.applicant.codeType, code: input.applicant.code }), `case:${id}:applicant`),
      staffEnc: pii.encrypt(JSON.stringify({ name: input.staff.name, ...(input.staff.id ? { id: input.staff.id } : {}) }), `case:${id}:staff`),
      status: "open", result: null, openedAt: now, closedAt: null, closeLogIndex: null,
    };
    const c = await uow.write(async (repos, tx) => {
      if (!(await sources.departmentExists(repos, departmentId))) throw new AppError("DEPARTMENT_NOT_FOUND");
      if (await repos.cases.byCaseNo(owner, input.caseNo)) throw new AppError("CASE_NUMBER_TAKEN");
      const { index } = await log.append(repos, tx, {
        type: CASE_EVENTS.opened, subject: `case:${id}`, actor: actorLabel(actor), holder,
        data: { caseId: id, caseNo: input.caseNo, matter: input.matterCode, departmentId, channel: "api" },
      });
      const full = { ...rec, logIndex: index };
      await repos.cases.insert(full);
      return full;
    });
    return view(c);
  }

  async function get(id: string, actor: Actor): Promise<CaseView> {
    return view(await owned(uow.read, id, actor));
  }

  async function list(actor: Actor, opts: { limit: number; before?: Date }): Promise<CaseView[]> {
    const owner = ownerOf(actor);
    if (owner === null) throw new AppError("FORBIDDEN_ROLE");
    const rows = await uow.read.cases.list(owner, opts);
    return Promise.all(rows.map((c) => view(c)));
  }

  function requireOpen(c: CaseRecord): void {
    if (c.status !== "open") throw new AppError("CASE_CLOSED", `The case is ${c.status}: nothing more can be attached.`, { details: { status: c.status } });
  }

  async function checkCapacity(repos: CaseRepos, c: CaseRecord): Promise<void> {
    if ((await repos.caseItems.ofCase(c.id)).length >= MAX_CASE_ITEMS) {
      throw new AppError("CASE_ATTACH_REFUSED", `A case holds at most ${MAX_CASE_ITEMS} items.`, { details: { limit: MAX_CASE_ITEMS } });
    }
  }

  /**
   * Whether this caller may put this licence into this case, read through `repos` (again inside the attaching
   * transaction): it must be the applicant's; an approval system must have been handed it for the case's matter by a
   * standing, consented access (its 免证办 query), and the matter must still use its type; a department's client only
   * attaches a licence its department issued; a counter, the licence the holder presented at the window. Returns the
   * access behind it (the item's `accessed` event) or throws `unavailable()`.
   */
  async function licenceEntitled(repos: R, c: CaseRecord, identifier: string, actor: ClientActor): Promise<Record<string, unknown>> {
    const lic = await sources.licence(repos, identifier);
    if (!lic || (c.applicantHash !== null && lic.holderHash !== c.applicantHash)) throw unavailable();
    if (actor.role === "consumer") {
      if (c.applicantHash === null || c.matterCode === null) throw unavailable();
      const m = await sources.matter(c.matterCode);
      if (!m || !m.licenceTypes.includes(lic.typeCode)) throw unavailable();
      const acc = await sources.access(repos, { clientId: actor.clientId, holderHash: c.applicantHash, matterCode: c.matterCode, identifier });
      if (!acc) throw unavailable();
      return { accessId: acc.id, accessed: acc.logIndex };
    }
    if (actor.role === "issuer" && lic.departmentId !== actor.departmentId) throw unavailable();
    return {};
  }

  /**
   * Whether this caller may put this material into this case: it must be the applicant's, and either the caller's own
   * (registered by it, or by its department) or handed to this approval system for the case's matter by a standing,
   * consented access (its reuse query). Returns the material and the access behind it, or throws `unavailable()`.
   */
  async function materialEntitled(repos: R, c: CaseRecord, identifier: string, actor: ClientActor) {
    const m = await sources.material(identifier, actor);
    if (!m || (c.applicantHash !== null && m.holderHash !== c.applicantHash)) throw unavailable();
    if (m.own) return { m, access: {} };
    if (actor.role !== "consumer" || c.applicantHash === null || c.matterCode === null) throw unavailable();
    const acc = await sources.access(repos, { clientId: actor.clientId, holderHash: c.applicantHash, matterCode: c.matterCode, identifier });
    if (!acc) throw unavailable();
    return { m, access: { accessId: acc.id, accessed: acc.logIndex } };
  }

  async function attach(id: string, input: AttachInput, actor: Actor): Promise<Omit<CaseItem, "caseId">> {
    if (actor.kind !== "client") throw new AppError("FORBIDDEN_ROLE");
    const c0 = await owned(uow.read, id, actor);
    requireOpen(c0);
    // What the item is and the bytes it brings are settled before the transaction (verifying, reading documents);
    // whether the caller may attach it is judged first (so that nothing else answers for what it may not attach),
    // and judged again inside the transaction where it can have changed (a consent revoked meanwhile).
    let kind: CaseItemKind;
    let ref: string;
    let verdict: string | null = null;
    let detail: Record<string, unknown> = {};
    let recheck: ((repos: R, c: CaseRecord) => Promise<void>) | null = null;
    const files: Array<Omit<CaseFile, "id" | "itemId" | "bytes"> & { plain: Buffer }> = [];
    const file = (name: string, mediaType: string, plain: Buffer) => {
      if (plain.length > MAX_CASE_FILE_BYTES) throw new AppError("CASE_ATTACH_REFUSED", `A file a case keeps is at most ${MAX_CASE_FILE_BYTES} bytes.`, { details: { limit: MAX_CASE_FILE_BYTES } });
      files.push({ name, mediaType, sha256: sha256(plain), size: plain.length, plain });
    };
    switch (input.kind) {
      case "licence": {
        detail = await licenceEntitled(uow.read, c0, input.identifier, actor);
        const v = await sources.verify(input.identifier);
        if (v.result !== "VALID") throw new AppError("CASE_ATTACH_REFUSED", "Only a licence that verifies as valid can be attached to a case.", { details: { result: v.result } });
        kind = "licence";
        ref = input.identifier;
        verdict = v.result;
        recheck = async (repos, c) => void (await licenceEntitled(repos, c, input.identifier, actor));
        break;
      }
      case "licence-copy": {
        // What was fetched for this applicant and this matter only (checked before the copy's PDF is made).
        const matterCode = c0.matterCode, holderHash = c0.applicantHash;
        if (matterCode === null || holderHash === null) throw unavailable();
        const cp = await sources.copy(input.copy, actor, { matterCode, holderHash }).catch(asUnavailable(["COPY_LINK_INVALID"]));
        const v = await sources.verify(cp.identifier);
        kind = "licence";
        ref = cp.identifier;
        verdict = v.result;
        detail = { accessId: cp.accessId, accessed: cp.accessLogIndex, copySha256: sha256(Buffer.from(cp.jws)) };
        recheck = async (repos, c) => {
          const lic = await sources.licence(repos, cp.identifier);
          if (!lic || lic.holderHash !== c.applicantHash) throw unavailable();
        };
        file(`${cp.identifier}-copy.jws`, "application/jose", Buffer.from(cp.jws));
        file(`${cp.identifier}-copy.pdf`, "application/pdf", cp.pdf);
        break;
      }
      case "signature": {
        const s = await sources.signature(input.requestId, actor).catch(asUnavailable(["SIGNING_REQUEST_NOT_FOUND"]));
        // The caller's own request (initiated by it or its department), and not one made for another matter.
        if (s.matterCode !== null && s.matterCode !== c0.matterCode) throw unavailable();
        if (s.status !== "completed") throw new AppError("CASE_ATTACH_REFUSED", "Only a completed signing request can be attached to a case.", { details: { status: s.status } });
        kind = "signature";
        ref = input.requestId;
        detail = { signed: s.events.filter((e) => e.type === "signing.signed").map((e) => e.logIndex), sealed: s.events.filter((e) => e.type === "signing.sealed").map((e) => e.logIndex) };
        file(`${input.requestId}.pdf`, "application/pdf", s.pdf);
        file(`${input.requestId}-evidence.json`, "application/json", Buffer.from(JSON.stringify(s.evidence, null, 2)));
        break;
      }
      case "material": {
        const { m, access } = await materialEntitled(uow.read, c0, input.materialId, actor);
        if (m.status !== "valid") throw new AppError("CASE_ATTACH_REFUSED", `The material is ${m.status}; only a valid material can be attached.`, { details: { status: m.status } });
        kind = "material";
        ref = input.materialId;
        detail = { registered: m.logIndex, sha256: m.sha256, size: m.size, mediaType: m.mediaType, ...access };
        recheck = async (repos, c) => {
          // Withdrawn or revoked since the check above: a case never takes a material whose bytes may be gone.
          const st = (await materialEntitled(repos, c, input.materialId, actor)).m.status;
          if (st !== "valid") throw new AppError("CASE_ATTACH_REFUSED", `The material is ${st}; only a valid material can be attached.`, { details: { status: st } });
        };
        break;
      }
      case "document": {
        const digest = sha256(input.pdf);
        // A document stamped by the case's own department; any other PDF (stamped elsewhere or not at all) alike.
        const stamps = (await sources.stampsOf(uow.read, digest)).filter((s) => c0.departmentId !== null && s.departmentId === c0.departmentId);
        const st = stamps[stamps.length - 1];
        if (!st) throw unavailable();
        kind = "document";
        ref = st.id;
        detail = { sealId: st.sealId, stampDepartmentId: st.departmentId, stamped: st.logIndex, sha256: digest };
        file(`${st.id}.pdf`, "application/pdf", input.pdf);
        break;
      }
    }
    const at = clock.now();
    return uow.write(async (repos, tx) => {
      const c = await owned(repos, id, actor);
      requireOpen(c);
      await checkCapacity(repos, c);
      if (recheck) await recheck(repos, c);
      const { index } = await log.append(repos, tx, {
        type: CASE_EVENTS.itemAttached, subject: `case:${c.id}`, actor: actorLabel(actor), ...(c.applicantHash ? { holder: c.applicantHash } : {}),
        data: { caseId: c.id, kind, ref, ...(verdict ? { verdict } : {}), files: files.map((f) => ({ name: f.name, sha256: f.sha256, size: f.size })) },
      });
      const item: Omit<CaseItem, "id"> = { caseId: c.id, kind, ref, clientId: actor.clientId, verdict, detail, logIndex: index, at };
      const itemId = await repos.caseItems.insert(item);
      for (const f of files) {
        await repos.caseFiles.insert({ itemId, name: f.name, mediaType: f.mediaType, sha256: f.sha256, size: f.size, bytes: pii.sealBytes(f.plain, `case-file:${itemId}:${f.sha256}`) });
      }
      const { caseId: _c, ...out } = { ...item, id: itemId };
      return out;
    });
  }

  async function close(id: string, input: { result: CaseResult; note?: string }, actor: Actor): Promise<CaseView> {
    const now = clock.now();
    const c = await uow.write(async (repos, tx) => {
      const c = await owned(repos, id, actor);
      if (c.status !== "open") throw new AppError("CASE_CLOSED", `The case is ${c.status} already.`, { details: { status: c.status } });
      const { index } = await log.append(repos, tx, {
        type: CASE_EVENTS.closed, subject: `case:${c.id}`, actor: actorLabel(actor), ...(c.applicantHash ? { holder: c.applicantHash } : {}),
        data: { caseId: c.id, result: input.result },
      });
      const patch = { status: "closed" as const, result: input.result, closedAt: now, closeLogIndex: index };
      await repos.cases.update(c.id, patch);
      return { ...c, ...patch };
    });
    return view(c);
  }

  // ---- the counter (窗口): cases named by their number, opened by their first attachment ----

  /** The caller's own case with this number (numbers are per owner: another owner's case is simply not looked at). */
  async function counterCase(repos: CaseRepos, caseNo: string, actor: Actor): Promise<CaseRecord | null> {
    const owner = ownerOf(actor);
    if (owner === null) throw new AppError("CASE_NOT_FOUND");
    return (await repos.cases.byCaseNo(owner, caseNo)) ?? null;
  }

  /**
   * Attaches a licence the counter just verified to a case (办件), opening the case for the counter's department on
   * its first attachment. Refused unless the licence verifies as VALID now. Logged (`licence.attached`, with the
   * holder's keyed hash) in the same transaction as the attachment.
   */
  async function counterAttach(caseNo: string, identifier: string, actor: Actor): Promise<{ caseNo: string; identifier: string; verdict: string; logIndex: number; at: Date }> {
    if (actor.kind !== "client" || actor.role !== "counter") throw new AppError("FORBIDDEN_ROLE");
    const c0 = await counterCase(uow.read, caseNo, actor);
    if (c0) requireOpen(c0);
    const v = await sources.verify(identifier);
    if (v.result !== "VALID") throw new AppError("CASE_ATTACH_REFUSED", "Only a licence that verifies as valid can be attached to a case.", { details: { result: v.result } });
    const at = clock.now();
    return uow.write(async (repos, tx) => {
      let c = await counterCase(repos, caseNo, actor);
      if (c) {
        requireOpen(c);
        await checkCapacity(repos, c);
      }
      const lic = await sources.licence(repos, identifier);
      if (!lic) throw new AppError("LICENCE_NOT_FOUND");
      const { index } = await log.append(repos, tx, {
        type: CASE_EVENTS.licenceAttached, subject: `licence:${identifier}`, actor: actorLabel(actor), holder: lic.holderHash,
        data: { identifier, caseNo, verdict: v.result },
      });
      if (!c) {
        c = {
          id: uuidv7(at.getTime()), caseNo, owner: ownerOf(actor)!, departmentId: actor.departmentId, clientId: actor.clientId, channel: "counter",
          matterCode: null, title: null, applicantHash: null, applicantEnc: null, staffEnc: null, status: "open", result: null,
          openedAt: at, closedAt: null, logIndex: index, closeLogIndex: null,
        };
        await repos.cases.insert(c);
      }
      await repos.caseItems.insert({ caseId: c.id, kind: "licence", ref: identifier, clientId: actor.clientId, verdict: v.result, detail: {}, logIndex: index, at });
      return { caseNo, identifier, verdict: v.result, logIndex: index, at };
    });
  }

  /** The licences attached to a counter case of the caller's department (CASE_NOT_FOUND for none, or another's). */
  async function counterItems(caseNo: string, actor: Actor): Promise<CaseItem[]> {
    if (actor.kind !== "client") throw new AppError("FORBIDDEN_ROLE");
    const c = await counterCase(uow.read, caseNo, actor);
    if (!c) throw new AppError("CASE_NOT_FOUND");
    return (await uow.read.caseItems.ofCase(c.id)).filter((i) => i.kind === "licence");
  }

  /**
   * Before a case is signed in its department's name (archiving): the department must still be one the caller is
   * entitled to act for under the matter (./entitle.ts) — also for a case opened before that was checked. The
   * system (the operator's CLI) acts for any department.
   */
  async function departmentStands(c: CaseRecord, actor: Actor): Promise<void> {
    if (actor.kind === "system" || c.departmentId === null) return;
    if (actor.kind !== "client") throw new AppError("FORBIDDEN_ROLE");
    const matter = c.matterCode !== null ? await sources.matter(c.matterCode) : { code: "", departments: [], licenceTypes: [] };
    if (!matter || !entitledDepartments(actor, matter).includes(c.departmentId)) {
      throw new AppError("FORBIDDEN_DEPARTMENT", "The case's department is not one this client may act for under the matter: it is not archived in that department's name.", { details: { departmentId: c.departmentId } });
    }
  }

  return {
    open, get, list, attach, close, counterAttach, counterItems, departmentStands,
    /** For the archive builder: the record, after the same ownership check as every read. */
    owned: (id: string, actor: Actor) => owned(uow.read, id, actor),
    applicantOf, staffOf,
  };
}

export type CaseService = ReturnType<typeof createCaseService>;
