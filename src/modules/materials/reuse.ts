/**
 * 一次提交、多次复用: an approval system asks for a holder's materials for a matter it serves, naming the use cause,
 * as for licences (src/modules/access): allowed when (1) the client serves the matter, (2) the matter accepts the
 * material types asked for (default: every type it accepts), (3) the holder granted this client consent for this
 * matter, or the matter is exempt from consent by regulation. Only valid materials are handed over (never a revoked,
 * withdrawn, superseded or expired one). Every use is written to the access log (the holder's "who used my data",
 * GET /holders/me/accesses) and to the transparency log in one transaction before the answer leaves; the answer
 * carries, per material, its receipt and a time-limited link to the bytes, which re-checks all of the above at
 * every use (a consent revoked or a material revoked since stops it at once).
 */
import crypto from "node:crypto";
import type { Readable } from "node:stream";
import { hmacSha256, sha256Hex } from "../../crypto/hash.js";
import { AppError } from "../../errors.js";
import { textProblem } from "../../util/text.js";
import { uuidv7 } from "../../util/uuid7.js";
import type { AccessRecord } from "../access/ports.js";
import { checkHolderCode } from "../licences/holder.js";
import { actorLabel, type Actor } from "../kernel.js";
import { TLOG_EVENTS } from "../tlog/events.js";
import type { TlogEvent } from "../tlog/index.js";
import type { MaterialCore, MaterialView } from "./core.js";
import type { MaterialRecord, MaterialRepos } from "./ports.js";

/** At most this many materials in one answer (`truncated` says there are more: ask for fewer types). */
export const MATERIAL_ANSWER_MAX = 100;

export interface MaterialQuery {
  holderCode: string;
  holderCodeType: string;
  matterCode: string;
  useCause: string;
  typeCodes?: string[];
}

export interface MaterialAnswerItem extends MaterialView {
  receipt: string;
  link: { url: string; expiresAt: string };
}

export function createReuse<R extends MaterialRepos>(core: MaterialCore<R>) {
  const { deps, types } = core;
  const { uow, clock, pii, tlog } = deps;
  const ttl = (deps.linkTtlSeconds ?? 3600) * 1000;
  const mac = hmacSha256(deps.linkKey);

  function link(accessId: string, index: number, exp: Date): string {
    const body = `${Buffer.from(accessId.replace(/-/g, ""), "hex").toString("base64url")}.${index.toString(36)}.${Math.floor(exp.getTime() / 1000).toString(36)}`;
    return `${body}.${mac(`material-link:${body}`, "base64url").slice(0, 22)}`;
  }

  function openLink(token: string): { accessId: string; index: number; exp: number } {
    const parts = token.split(".");
    if (parts.length !== 4) throw new AppError("MATERIAL_LINK_INVALID");
    const body = parts.slice(0, 3).join(".");
    const want = Buffer.from(mac(`material-link:${body}`, "base64url").slice(0, 22));
    const got = Buffer.from(parts[3]!);
    if (want.length !== got.length || !crypto.timingSafeEqual(want, got)) throw new AppError("MATERIAL_LINK_INVALID");
    const hex = Buffer.from(parts[0]!, "base64url").toString("hex");
    if (hex.length !== 32) throw new AppError("MATERIAL_LINK_INVALID");
    return { accessId: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`, index: parseInt(parts[1]!, 36), exp: parseInt(parts[2]!, 36) * 1000 };
  }

  // ---- group commit of use records: queries arriving while a commit is in flight share the next transaction (one
  // durable commit for many), as the licence access log does; each answer leaves only once its record is committed.
  interface Pending { rec: AccessRecord; event: TlogEvent; resolve(): void; reject(e: unknown): void }
  const queue: Pending[] = [];
  let scheduled = false;
  let flushing = false;
  const schedule = () => {
    if (scheduled || flushing || queue.length === 0) return;
    scheduled = true;
    setImmediate(() => void flush());
  };
  async function flush(): Promise<void> {
    scheduled = false;
    flushing = true;
    const batch = queue.splice(0, 500);
    try {
      await uow.write(async (repos, tx) => {
        for (const b of batch) b.rec.logIndex = (await tlog.append(repos, tx, b.event)).index;
        await repos.accessLog.insertMany(batch.map((b) => b.rec));
      });
      for (const b of batch) b.resolve();
    } catch (e) {
      deps.log?.error({ err: e }, "material use records: commit failed");
      for (const b of batch) b.reject(e);
    } finally {
      flushing = false;
      schedule();
    }
  }
  const record = (rec: AccessRecord, event: TlogEvent) => new Promise<void>((resolve, reject) => {
    queue.push({ rec, event, resolve, reject });
    schedule();
  });

  async function query(actor: Actor, q: MaterialQuery) {
    if (actor.kind !== "client" || actor.role !== "consumer") throw new AppError("FORBIDDEN_ROLE");
    if (!actor.matters.includes(q.matterCode)) throw new AppError("FORBIDDEN_MATTER", "This client does not serve that matter.", { details: { matterCode: q.matterCode } });
    const causeProblem = textProblem(q.useCause);
    if (causeProblem) throw new AppError("VALIDATION_FAILED", `useCause ${causeProblem}.`, { details: { field: "useCause" } });
    const matter = await deps.catalogue.getMatter(q.matterCode);
    const accepted = (await types.acceptedBy(matter.code)).map((t) => t.code);
    const asked = q.typeCodes && q.typeCodes.length ? [...new Set(q.typeCodes)] : accepted;
    const refused = asked.filter((c) => !accepted.includes(c));
    if (refused.length) throw new AppError("MATERIAL_TYPE_NOT_ACCEPTED", `The matter does not accept material type(s) ${refused.join(", ")}.`, { details: { typeCodes: refused } });
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
    const found = asked.length
      ? (await uow.read.materials.byHolder(holderHash, { typeCodes: asked, current: true, limit: 4 * MATERIAL_ANSWER_MAX })).filter((r) => core.effective(r, now) === "valid")
      : [];
    const truncated = found.length > MATERIAL_ANSWER_MAX;
    const recs = found.slice(0, MATERIAL_ANSWER_MAX);
    const accessId = uuidv7(now.getTime());
    const identifiers = recs.map((r) => r.identifier);
    const rec: AccessRecord = {
      id: accessId, at: now, clientId: actor.clientId, matterCode: matter.code, holderHash, identifiers,
      causeEnc: pii.encrypt(q.useCause, `access:${accessId}`), basis, consentId, logIndex: -1,
    };
    await record(rec, {
      type: TLOG_EVENTS.materialAccessed, subject: `access:${accessId}`, actor: actorLabel(actor), holder: holderHash, at: now,
      data: { client: actor.clientId, matter: matter.code, materials: identifiers, basis, ...(consentId ? { consentId } : {}), causeSha256: sha256Hex(q.useCause) },
    });
    const exp = new Date(Math.floor((now.getTime() + ttl) / 1000) * 1000);
    const items: MaterialAnswerItem[] = [];
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i]!;
      items.push({ ...(await core.view(r)), receipt: await core.receipt(r), link: { url: `${core.publicUrl}/material-links/${link(accessId, i, exp)}`, expiresAt: exp.toISOString() } });
    }
    return { accessId, basis, truncated, logIndex: rec.logIndex, items };
  }

  /** The bytes behind a link: only for the client it was made for, until it expires, while everything still holds. */
  async function fetchLink(actor: Actor, token: string): Promise<{ record: MaterialRecord; stream: Readable }> {
    if (actor.kind !== "client" || actor.role !== "consumer") throw new AppError("FORBIDDEN_ROLE");
    const l = openLink(token);
    const now = clock.now();
    if (!(l.exp > now.getTime())) throw new AppError("MATERIAL_LINK_INVALID");
    const acc = await uow.read.accessLog.byId(l.accessId);
    const identifier = acc?.identifiers[l.index];
    if (!acc || acc.clientId !== actor.clientId || identifier === undefined) throw new AppError("MATERIAL_LINK_INVALID");
    const client = await uow.read.clients.byId(acc.clientId);
    if (!client || client.status !== "active" || client.role !== "consumer" || !client.matters.includes(acc.matterCode)) {
      throw new AppError("MATERIAL_LINK_INVALID", "The material link no longer answers: the client does not serve this matter now.");
    }
    const matter = await deps.catalogue.getMatter(acc.matterCode).catch(() => null);
    if (!matter) throw new AppError("MATERIAL_LINK_INVALID", "The material link no longer answers: the matter no longer exists.");
    if (acc.basis === "consent") {
      const c = acc.consentId ? await uow.read.consents.byId(acc.consentId) : undefined;
      if (!c || c.revokedAt !== null || !(c.expiresAt.getTime() > now.getTime())) throw new AppError("MATERIAL_LINK_INVALID", "The material link no longer answers: the holder's consent was revoked or has expired.");
    } else if (!matter.consentExempt) throw new AppError("MATERIAL_LINK_INVALID", "The material link no longer answers: the matter is no longer exempt from consent.");
    const r = await uow.read.materials.byId(identifier);
    if (!r || r.holderHash !== acc.holderHash) throw new AppError("MATERIAL_LINK_INVALID");
    const t = await types.find(r.typeCode);
    if (!t || !t.matters.includes(matter.code)) throw new AppError("MATERIAL_LINK_INVALID", "The material link no longer answers: the matter no longer accepts this material type.");
    const st = core.effective(r, now);
    if (st !== "valid") throw new AppError("MATERIAL_LINK_INVALID", `The material link no longer answers: the material is ${st}.`, { details: { status: st } });
    return { record: r, stream: core.bytesOf(r) };
  }

  /** Waits until queued use records are committed (shutdown, tests). */
  async function drain(): Promise<void> {
    while (queue.length > 0 || flushing || scheduled) await new Promise((r) => setImmediate(r));
  }

  return { query, fetchLink, drain };
}
