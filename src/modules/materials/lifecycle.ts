/**
 * Reads and status changes.
 *   revoke     the registrant (its client), an issuer of the registering department, or an administrator, with a
 *              reason: the material is never handed to an approval system again and its receipt verifies REVOKED
 *   withdraw   the holder, of anything registered for them but a department-issued material (authority.ts: the
 *              department's record is not theirs to delete): the material leaves reuse at once and its bytes
 *              are deleted (row, receipt and log stay) — at once, or, when cases that used it still wait for their
 *              archival packages, as soon as the last of those packages is stored (releaseKept)
 *   supersede  by registering a newer version (register.ts, `supersedes`)
 *   expire     derived from the validity (expiresAt) at every read: no write needed
 * Every change is logged (`material.status-changed`) in the transaction that makes it.
 */
import type { Readable } from "node:stream";
import { sha256Hex } from "../../crypto/hash.js";
import { AppError } from "../../errors.js";
import { textProblem } from "../../util/text.js";
import { actorLabel, type Actor } from "../kernel.js";
import { TLOG_EVENTS } from "../tlog/events.js";
import { mayWithdraw, sourceProtected } from "./authority.js";
import type { MaterialCore, MaterialView } from "./core.js";
import type { MaterialRecord, MaterialRepos, StoredStatus } from "./ports.js";

export function createLifecycle<R extends MaterialRepos>(core: MaterialCore<R>) {
  const { deps } = core;
  const { uow, clock, tlog } = deps;

  async function change(identifier: string, actor: Actor, to: StoredStatus, reason: string | null, may: (rec: MaterialRecord) => boolean, authorised: (rec: MaterialRecord) => void = () => undefined): Promise<MaterialRecord> {
    const now = clock.now();
    const out = await uow.write(async (repos, tx) => {
      const rec = await repos.materials.byId(identifier);
      if (!rec || !core.canSee(rec, actor) || !may(rec)) throw new AppError("MATERIAL_NOT_FOUND");
      authorised(rec);
      const from = core.effective(rec, now);
      const allowed = to === "revoked" ? ["valid", "superseded", "expired"] : ["valid", "superseded", "expired"];
      if (!allowed.includes(from)) throw new AppError("MATERIAL_STATE_INVALID", `The material is ${from}.`, { details: { status: from } });
      // Cases that used it and are not archived yet keep its bytes until their packages are stored (releaseKept).
      const keptFor = to === "withdrawn" && deps.keptFor ? await deps.keptFor(repos, identifier) : 0;
      const { index } = await tlog.append(repos, tx, {
        type: TLOG_EVENTS.materialStatusChanged, subject: `material:${identifier}`, actor: actorLabel(actor), holder: rec.holderHash, at: now,
        data: { identifier, from, to, ...(reason ? { reasonSha256: sha256Hex(reason) } : {}), ...(keptFor ? { bytesKeptForCases: keptFor } : {}) },
      });
      await repos.materials.setStatus(identifier, { status: to, statusAt: now, statusReason: reason, statusLogIndex: index });
      if (to === "withdrawn" && keptFor === 0) await repos.materials.deleteChunks(identifier);
      return { ...rec, status: to, statusAt: now, statusReason: reason, statusLogIndex: index };
    });
    return out;
  }

  async function revoke(identifier: string, reason: string, actor: Actor): Promise<MaterialView> {
    const p = textProblem(reason);
    if (p || !reason.trim()) throw new AppError("VALIDATION_FAILED", `reason ${p ?? "must not be blank"}.`, { details: { field: "reason" } });
    if (actor.kind !== "client") throw new AppError("FORBIDDEN_ROLE");
    return core.view(await change(identifier, actor, "revoked", reason.trim(), () => true));
  }

  async function withdraw(identifier: string, actor: Actor): Promise<MaterialView> {
    if (actor.kind !== "holder") throw new AppError("FORBIDDEN_ROLE", "Only holders may do this.");
    return core.view(await change(identifier, actor, "withdrawn", null, (r) => r.holderHash === actor.subjectHash, (r) => {
      if (!mayWithdraw(r, actor)) throw sourceProtected("withdraw", r, "holder");
    }));
  }

  /** One material with its receipt, for whoever may see it (MATERIAL_NOT_FOUND otherwise). */
  async function get(identifier: string, actor: Actor): Promise<MaterialView & { receipt: string }> {
    const rec = await core.visible(identifier, actor);
    return { ...(await core.view(rec, { withName: true })), receipt: await core.receipt(rec) };
  }

  /**
   * The bytes, for whoever may see the material (MATERIAL_NOT_FOUND otherwise). A consumer (an approval system that
   * registered it) gets only a valid material: a revoked, withdrawn, superseded or expired one is never handed to an
   * approval system (MATERIAL_STATE_INVALID).
   */
  async function readMaterialBytes(identifier: string, actor: Actor): Promise<{ material: MaterialView; record: MaterialRecord; stream: Readable }> {
    const rec = await core.visible(identifier, actor);
    const st = core.effective(rec);
    if (actor.kind === "client" && actor.role === "consumer" && st !== "valid") throw new AppError("MATERIAL_STATE_INVALID", `The material is ${st}; it is not handed to approval systems.`, { details: { status: st } });
    return { material: await core.view(rec, { withName: true }), record: rec, stream: core.bytesOf(rec) };
  }

  /**
   * After a case's package is stored: a withdrawn material whose bytes were kept for cases loses them once no case
   * that used it waits for its package any more. Idempotent; nothing for any other material.
   */
  async function releaseKept(identifier: string): Promise<boolean> {
    return uow.write(async (repos) => {
      const rec = await repos.materials.byId(identifier);
      if (!rec || rec.status !== "withdrawn") return false;
      if (deps.keptFor && (await deps.keptFor(repos, identifier)) > 0) return false;
      return (await repos.materials.deleteChunks(identifier)) > 0;
    });
  }

  /** A holder's own materials, newest first. */
  async function mine(actor: Actor, opts: { limit?: number; current?: boolean } = {}): Promise<MaterialView[]> {
    if (actor.kind !== "holder") throw new AppError("FORBIDDEN_ROLE", "Only holders may do this.");
    const recs = await uow.read.materials.byHolder(actor.subjectHash, { limit: Math.min(opts.limit ?? 100, 500), ...(opts.current ? { current: true } : {}) });
    return Promise.all(recs.map((r) => core.view(r, { withName: true })));
  }

  /** Every version of the material's lineage the caller may see, oldest first. */
  async function history(identifier: string, actor: Actor): Promise<MaterialView[]> {
    const rec = await core.visible(identifier, actor);
    const all = await uow.read.materials.lineage(rec.lineage);
    return Promise.all(all.filter((r) => core.canSee(r, actor)).map((r) => core.view(r, { withName: true })));
  }

  /**
   * For other modules (cases, issue 19): the material when it belongs to this holder (keyed hash) and, when a client
   * is named, that client may see it (registered it, or its department did); null otherwise. Status is reported,
   * not judged: the caller decides whether a revoked material may be referenced.
   */
  async function belongsTo(identifier: string, who: { holderHash?: string; actor?: Actor }): Promise<(MaterialView & { holderHash: string }) | null> {
    const rec = await uow.read.materials.byId(identifier);
    if (!rec) return null;
    if (who.holderHash !== undefined && rec.holderHash !== who.holderHash) return null;
    if (who.actor && !core.canSee(rec, who.actor)) return null;
    if (who.holderHash === undefined && !who.actor) return null;
    return { ...(await core.view(rec)), holderHash: rec.holderHash };
  }

  return { revoke, withdraw, get, readMaterialBytes, mine, history, belongsTo, releaseKept };
}
