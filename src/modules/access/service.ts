/**
 * 免证办 access: holder consents, the consumer query by holder code, the access log ("who used my licences") and
 * use-annotated copies (加注件).
 *
 * A query is allowed only when (1) the consumer client is bound to the matter, (2) the matter may use the licence
 * types asked for, and (3) the holder granted this client consent for this matter (unexpired, unrevoked) or the
 * matter is consent-exempt by regulation. Every allowed query is recorded in the access log and the transparency
 * log in one transaction BEFORE any licence data is returned. Records are group-committed: queries arriving while
 * a commit is in flight share the next transaction (one fsync for many queries), so latency stays low under load.
 *
 * The 加注件 here is a signed JSON copy (JWS over the licence JWS + consumer, matter, use cause, expiry), signed
 * with the service's own key (x5c to the same trust anchor); the PDF rendering with a visible watermark belongs to
 * the PDF module (issue 6).
 */
import crypto, { randomUUID } from "node:crypto";
import type { PiiProtector } from "../../crypto/pii.js";
import { hmacSha256, sha256Hex } from "../../crypto/hash.js";
import { AppError } from "../../errors.js";
import type { CatalogueService } from "../catalogue/index.js";
import { actorLabel, type Actor, type Clock, type Logger, type UnitOfWork } from "../kernel.js";
import { answerBody, b64u, checkHolderCode, encodeHeader, type LicenceLog, type LicenceService } from "../licences/index.js";
import { TLOG_EVENTS } from "../tlog/events.js";
import type { TlogEvent } from "../tlog/index.js";
import { textProblem } from "../../util/text.js";
import { uuidv7 } from "../../util/uuid7.js";
import { isMaterialId } from "../materials/identifier.js";
import type { AccessRecord, AccessRepos, ConsentRecord } from "./ports.js";

export const TYP_COPY = "sidian-annotated-copy+jws";

export interface CopySigner {
  /** Signs a payload (base64url) as a compact JWS with the service key; header carries x5c. */
  sign(payloadB64: string): Promise<string>;
}

/** The service's copy signer: ES256 with the given key (in this process or on a token), x5c = [certificate, issuing CA]. */
export function createCopySigner(opts: { signingKey: { sign(data: Uint8Array, encoding: "p1363"): Promise<Uint8Array> }; kid: string; certDer: Uint8Array; issuingCaDer: Uint8Array }): CopySigner {
  const headerB64 = encodeHeader({
    alg: "ES256", typ: TYP_COPY, kid: opts.kid,
    x5c: [Buffer.from(opts.certDer).toString("base64"), Buffer.from(opts.issuingCaDer).toString("base64")],
  });
  return {
    async sign(payloadB64) {
      const input = `${headerB64}.${payloadB64}`;
      const sig = await opts.signingKey.sign(Buffer.from(input, "ascii"), "p1363");
      return `${input}.${b64u(sig)}`;
    },
  };
}

export interface AccessDeps<R extends AccessRepos> {
  uow: UnitOfWork<R>;
  clock: Clock;
  tlog: LicenceLog<R>;
  pii: PiiProtector;
  catalogue: CatalogueService;
  licences: Pick<LicenceService, "forHolder" | "answersForHolder" | "record" | "view">;
  copySigner: CopySigner;
  /** HMAC key for copy links. */
  linkKey: Uint8Array;
  publicUrl: string;
  /** Lifetime of a copy link and of the copy's stated validity, seconds (default 1 hour). */
  copyTtlSeconds?: number;
  log?: Logger;
  /** Max records per group commit (default 1000). */
  maxBatch?: number;
}

export interface QueryInput {
  holderCode: string;
  holderCodeType: string;
  matterCode: string;
  useCause: string;
  typeCodes?: string[];
}

/**
 * One licence of a 免证办 answer: its JSON (UTF-8, without the closing brace: see LicenceService.answersForHolder)
 * and its copy link, which the answer adds.
 */
export interface QueryItem {
  identifier: string;
  json: Buffer;
  copy: { url: string; expiresAt: Date };
}

export const MAX_CONSENT_DAYS = 365;

function requireHolder(actor: Actor): { subjectHash: string } {
  if (actor.kind !== "holder") throw new AppError("FORBIDDEN_ROLE", "Only holders may do this.");
  return actor;
}

export function createAccessService<R extends AccessRepos>(deps: AccessDeps<R>) {
  const { uow, clock, tlog, pii, catalogue } = deps;
  const publicUrl = deps.publicUrl.replace(/\/+$/, "");
  const copyTtl = (deps.copyTtlSeconds ?? 3600) * 1000;
  const maxBatch = deps.maxBatch ?? 1000;

  // ---- group commit of access records ----
  interface Pending {
    rec: AccessRecord;
    event: TlogEvent;
    resolve(): void;
    reject(e: unknown): void;
  }
  const queue: Pending[] = [];
  let scheduled = false;
  let flushing = false;

  function schedule(): void {
    if (scheduled || flushing || queue.length === 0) return;
    scheduled = true;
    setImmediate(() => void flush());
  }

  async function flush(): Promise<void> {
    scheduled = false;
    flushing = true;
    const batch = queue.splice(0, maxBatch);
    let committed = false;
    try {
      await uow.write(async (repos, tx) => {
        const appended = await tlog.appendMany(repos, tx, batch.map((b) => b.event));
        batch.forEach((b, k) => (b.rec.logIndex = appended[k]!.index));
        await repos.accessLog.insertMany(batch.map((b) => b.rec));
        // Committed: the next group may be written while this one is made durable (where the store does that
        // after the commit); these queries are answered only once it is.
        tx.afterCommit(() => {
          committed = true;
          flushing = false;
          schedule();
        });
      });
      for (const b of batch) b.resolve();
    } catch (e) {
      deps.log?.error({ err: e }, "access log: commit failed");
      for (const b of batch) b.reject(e);
    } finally {
      // After a commit the flag belongs to the next group (set free in afterCommit); after a failure it is ours.
      if (!committed) {
        flushing = false;
        schedule();
      }
    }
  }

  /** Resolves once the access record and its log entry are committed. */
  function recordAccess(rec: AccessRecord, event: TlogEvent): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      queue.push({ rec, event, resolve, reject });
      schedule();
    });
  }

  // ---- copy links ----
  const linkMac = hmacSha256(deps.linkKey);
  function mac(body: string): string {
    return linkMac(body, "base64url");
  }

  /**
   * A copy link names an access record, which licence of it, and the expiry; a 128-bit HMAC binds them. Short
   * enough for a URL path segment: base64url(uuid) . index . expiry (base 36 seconds) . mac.
   */
  function copyLink(accessId: string, index: number, exp: Date): string {
    const body = `${Buffer.from(accessId.replace(/-/g, ""), "hex").toString("base64url")}.${index.toString(36)}.${Math.floor(exp.getTime() / 1000).toString(36)}`;
    return `${body}.${mac(body).slice(0, 22)}`;
  }

  function openLink(token: string): { accessId: string; index: number; exp: number } {
    const parts = token.split(".");
    if (parts.length !== 4) throw new AppError("COPY_LINK_INVALID");
    const body = parts.slice(0, 3).join(".");
    const want = Buffer.from(mac(body).slice(0, 22));
    const got = Buffer.from(parts[3]!);
    if (want.length !== got.length || !crypto.timingSafeEqual(want, got)) throw new AppError("COPY_LINK_INVALID");
    const hex = Buffer.from(parts[0]!, "base64url").toString("hex");
    if (hex.length !== 32) throw new AppError("COPY_LINK_INVALID");
    const accessId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    return { accessId, index: parseInt(parts[1]!, 36), exp: parseInt(parts[2]!, 36) * 1000 };
  }

  // ---- the 免证办 query ----
  async function query(actor: Actor, q: QueryInput): Promise<{ accessId: string; basis: "consent" | "exempt"; items: QueryItem[]; truncated: boolean; body: Buffer }> {
    if (actor.kind !== "client" || actor.role !== "consumer") throw new AppError("FORBIDDEN_ROLE");
    if (!actor.matters.includes(q.matterCode)) throw new AppError("FORBIDDEN_MATTER", "This client does not serve that matter.", { details: { matterCode: q.matterCode } });
    // The use cause is drawn on the 加注件 and shown to the holder: one line, read as written.
    const causeProblem = textProblem(q.useCause);
    if (causeProblem) throw new AppError("VALIDATION_FAILED", `useCause ${causeProblem}.`, { details: { field: "useCause" } });
    const matter = await catalogue.getMatter(q.matterCode);
    const types = q.typeCodes && q.typeCodes.length > 0 ? [...new Set(q.typeCodes)] : matter.licenceTypes;
    const notAllowed = types.filter((t) => !matter.licenceTypes.includes(t));
    if (notAllowed.length) throw new AppError("FORBIDDEN_MATTER", `The matter may not use licence type(s) ${notAllowed.join(", ")}.`, { details: { typeCodes: notAllowed } });
    const now = clock.now();
    checkHolderCode(q.holderCodeType, q.holderCode, now);
    const holderHash = pii.lookupHash(q.holderCodeType, q.holderCode);
    let consentId: string | null = null;
    if (!matter.consentExempt) {
      const c = await uow.read.consents.active(holderHash, actor.clientId, matter.code, now);
      if (!c) throw new AppError("CONSENT_REQUIRED");
      consentId = c.id;
    }
    const basis = matter.consentExempt ? "exempt" as const : "consent" as const;
    // The keyed hash is of code type and code together: every licence found is the holder's under this code type.
    const found = types.length ? await deps.licences.answersForHolder(holderHash, types) : { items: [], truncated: false };
    const licences = found.items;
    // Time-ordered: the access log's primary key is appended to rather than written at a random page.
    const accessId = uuidv7(now.getTime());
    const identifiers = licences.map((l) => l.identifier);
    const rec: AccessRecord = {
      id: accessId, at: now, clientId: actor.clientId, matterCode: matter.code, holderHash, identifiers,
      causeEnc: pii.encrypt(q.useCause, `access:${accessId}`), basis, consentId, logIndex: -1,
    };
    await recordAccess(rec, {
      type: TLOG_EVENTS.licenceAccessed, subject: `access:${accessId}`, actor: actorLabel(actor), holder: holderHash,
      data: { client: actor.clientId, matter: matter.code, licences: identifiers, basis, ...(consentId ? { consentId } : {}), causeSha256: sha256Hex(q.useCause) },
    });
    const exp = new Date(Math.floor((now.getTime() + copyTtl) / 1000) * 1000);
    const answer = {
      accessId, basis, truncated: found.truncated,
      items: licences.map((l, i) => ({ identifier: l.identifier, json: l.json, copy: { url: `${publicUrl}/copies/${copyLink(accessId, i, exp)}`, expiresAt: exp } })),
    };
    // The answer's JSON as UTF-8 bytes, joined by the licence module from each licence's JSON.
    return { ...answer, body: answerBody(answer) };
  }

  /**
   * Whether what an access record was made under still holds (checked at each use, so a revocation stops it at
   * once): the client is active and still serves the matter, and the consent is in force (or the matter still
   * exempt from consent) — the same conditions as a new 免证办 query.
   */
  async function standing(repos: AccessRepos, acc: AccessRecord, now: Date) {
    const client = await repos.clients.byId(acc.clientId);
    if (!client || client.status !== "active" || client.role !== "consumer" || !client.matters.includes(acc.matterCode)) return { why: "the client does not serve this matter now" };
    const matter = await catalogue.getMatter(acc.matterCode).catch((e: unknown) => {
      if (e instanceof AppError && e.code === "MATTER_NOT_FOUND") return null;
      throw e;
    });
    if (!matter) return { why: "the matter no longer exists" };
    if (acc.basis === "consent") {
      const consent = acc.consentId ? await repos.consents.byId(acc.consentId) : undefined;
      if (!consent || consent.revokedAt !== null || !(consent.expiresAt.getTime() > now.getTime())) return { why: "the holder's consent was revoked or has expired" };
    } else if (!matter.consentExempt) return { why: "the matter is no longer exempt from consent" };
    return { client, matter };
  }

  /**
   * The newest recorded access (a 免证办 licence query or a material reuse query) by which `clientId` was handed
   * `identifier` of this holder for this matter, while that access still stands (see `standing`); undefined when
   * there is none. What a case may hold of a holder's licences and materials is what its approval system was handed
   * with the holder's consent (src/modules/cases). Reads through `repos` (the caller's transaction).
   */
  async function standingAccess(repos: AccessRepos, q: { clientId: string; holderHash: string; matterCode: string; identifier: string }): Promise<AccessRecord | undefined> {
    const now = clock.now();
    let before: Date | undefined;
    // A holder's access records, newest first, a page at a time (bounded: 20 pages of 200).
    for (let page = 0; page < 20; page++) {
      const rows = await repos.accessLog.forHolder(q.holderHash, { limit: 200, ...(before ? { before } : {}) });
      for (const acc of rows) {
        if (acc.clientId !== q.clientId || acc.matterCode !== q.matterCode || acc.holderHash !== q.holderHash || !acc.identifiers.includes(q.identifier)) continue;
        if (!("why" in (await standing(repos, acc, now)))) return acc;
      }
      if (rows.length < 200) return undefined;
      before = rows[rows.length - 1]!.at;
    }
    return undefined;
  }

  /** The use-annotated copy behind a link: only for the client the link was made for, until it expires. */
  async function copy(actor: Actor, token: string) {
    if (actor.kind !== "client" || actor.role !== "consumer") throw new AppError("FORBIDDEN_ROLE");
    const link = openLink(token);
    const now = clock.now();
    if (!(link.exp > now.getTime())) throw new AppError("COPY_LINK_INVALID");
    const acc = await uow.read.accessLog.byId(link.accessId);
    const identifier = acc?.identifiers[link.index];
    if (!acc || acc.clientId !== actor.clientId || identifier === undefined) throw new AppError("COPY_LINK_INVALID");
    const st = await standing(uow.read, acc, now);
    if ("why" in st) throw new AppError("COPY_LINK_INVALID", `The copy link no longer answers: ${st.why}.`);
    const { client, matter } = st;
    const lic = await deps.licences.view(await deps.licences.record(identifier));
    if (!matter.licenceTypes.includes(lic.typeCode)) throw new AppError("COPY_LINK_INVALID", "The copy link no longer answers: the matter may no longer use this licence type.");
    const useCause = pii.decrypt(acc.causeEnc, `access:${acc.id}`);
    const validUntil = new Date(link.exp).toISOString();
    const annotation = {
      madeBy: "Sidian", madeAt: acc.at.toISOString(), accessId: acc.id,
      consumer: { clientId: acc.clientId, name: client?.name ?? acc.clientId },
      matter: { code: matter.code, name: matter.name }, useCause, validUntil,
      text: `本件仅供${client?.name ?? acc.clientId}办理“${matter.name}”使用，用证事由：${useCause}，有效期至${validUntil}，他用无效。`,
    };
    const payload = { v: 1, kind: "加注件", licence: lic.jws, status: lic.status, annotation };
    return { copy: await deps.copySigner.sign(b64u(JSON.stringify(payload))), annotation, licence: { identifier: lic.identifier, status: lic.status } };
  }

  // ---- holder side ----
  async function grantConsent(actor: Actor, input: { clientId: string; matterCode: string; days?: number }): Promise<ConsentRecord> {
    const h = requireHolder(actor);
    const days = input.days ?? 90;
    if (!Number.isInteger(days) || days < 1 || days > MAX_CONSENT_DAYS) throw new AppError("VALIDATION_FAILED", `days must be 1-${MAX_CONSENT_DAYS}.`);
    const matter = await catalogue.getMatter(input.matterCode);
    const client = await uow.read.clients.byId(input.clientId);
    if (!client || client.role !== "consumer" || client.status !== "active") throw new AppError("CLIENT_NOT_FOUND", "No active consumer client with that id.");
    if (!client.matters.includes(matter.code)) throw new AppError("FORBIDDEN_MATTER", "That client does not serve this matter.");
    const now = clock.now();
    const c: ConsentRecord = { id: randomUUID(), holderHash: h.subjectHash, clientId: client.id, matterCode: matter.code, grantedAt: now, expiresAt: new Date(now.getTime() + days * 86_400_000), revokedAt: null };
    await uow.write(async (repos, tx) => {
      await repos.consents.insert(c);
      await tlog.append(repos, tx, {
        type: TLOG_EVENTS.consentGranted, subject: `consent:${c.id}`, actor: actorLabel(actor), holder: h.subjectHash,
        data: { client: c.clientId, matter: c.matterCode, expiresAt: c.expiresAt.toISOString() },
      });
    });
    return c;
  }

  async function revokeConsent(actor: Actor, id: string): Promise<ConsentRecord> {
    const h = requireHolder(actor);
    const now = clock.now();
    return uow.write(async (repos, tx) => {
      const c = await repos.consents.byId(id);
      if (!c || c.holderHash !== h.subjectHash) throw new AppError("CONSENT_NOT_FOUND");
      if (c.revokedAt) throw new AppError("CONFLICT", "The consent is already revoked.");
      await repos.consents.revoke(id, now);
      await tlog.append(repos, tx, {
        type: TLOG_EVENTS.consentRevoked, subject: `consent:${c.id}`, actor: actorLabel(actor), holder: h.subjectHash,
        data: { client: c.clientId, matter: c.matterCode },
      });
      return { ...c, revokedAt: now };
    });
  }

  function consentStatus(c: ConsentRecord, now: Date): "active" | "expired" | "revoked" {
    return c.revokedAt ? "revoked" : c.expiresAt <= now ? "expired" : "active";
  }

  async function listConsents(actor: Actor) {
    const h = requireHolder(actor);
    const now = clock.now();
    const items = await uow.read.consents.forHolder(h.subjectHash);
    const out = [];
    for (const c of items) {
      const client = await uow.read.clients.byId(c.clientId);
      const matter = await catalogue.getMatter(c.matterCode).catch(() => undefined);
      out.push({ ...c, status: consentStatus(c, now), clientName: client?.name ?? null, matterName: matter?.name ?? null });
    }
    return out;
  }

  /** "Who used my data": the holder's access log (licence fetches and material reuses), newest first. */
  async function accesses(actor: Actor, opts: { limit: number; before?: Date }) {
    const h = requireHolder(actor);
    const recs = await uow.read.accessLog.forHolder(h.subjectHash, opts);
    const out = [];
    for (const r of recs) {
      const client = await uow.read.clients.byId(r.clientId);
      const matter = await catalogue.getMatter(r.matterCode).catch(() => undefined);
      out.push({
        id: r.id, at: r.at, client: { id: r.clientId, name: client?.name ?? null }, matter: { code: r.matterCode, name: matter?.name ?? null },
        useCause: pii.decrypt(r.causeEnc, `access:${r.id}`), licences: r.identifiers.filter((i) => !isMaterialId(i)),
        // A reuse of materials (issue 18) is recorded here too: the holder sees every use of their data in one list.
        materials: r.identifiers.filter(isMaterialId), basis: r.basis, logIndex: r.logIndex,
      });
    }
    return out;
  }

  async function holderLicences(actor: Actor, page: { after?: string; limit?: number } = {}) {
    const h = requireHolder(actor);
    return deps.licences.forHolder(h.subjectHash, page);
  }

  /** Waits until queued access records are committed (shutdown, tests). */
  async function drain(): Promise<void> {
    while (queue.length > 0 || flushing || scheduled) await new Promise((r) => setImmediate(r));
  }

  /** Access records waiting for their group commit (metrics). */
  const queued = () => queue.length;

  return { query, copy, standingAccess, grantConsent, revokeConsent, listConsents, accesses, holderLicences, drain, queued };
}

export type AccessService = ReturnType<typeof createAccessService>;
