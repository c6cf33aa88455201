/**
 * What issuers and administrators read about their department's licences: one licence, its history, the list, and
 * the search by licence number or holder code. Another department's licence is LICENCE_NOT_FOUND (core.checkOwner).
 */
import { AppError } from "../../errors.js";
import type { Actor } from "../kernel.js";
import type { LicenceCore } from "./core.js";
import { checkHolderCode } from "./holder.js";
import { effectiveStatus, type LicenceView } from "./model.js";
import type { LicenceEventRecord, LicenceRecord, LicenceRepos } from "./ports.js";
import { checkText } from "./rules.js";

export function createIssuerReads<R extends LicenceRepos>(core: LicenceCore<R>) {
  const { uow, clock, pii, today, numberHashOf, view, record, checkOwner } = core;

  async function get(identifier: string, actor: Actor): Promise<LicenceView> {
    const rec = await record(identifier);
    checkOwner(actor, rec);
    return view(rec);
  }

  async function history(identifier: string, actor: Actor) {
    const rec = await record(identifier);
    checkOwner(actor, rec);
    const versions = (await uow.read.licences.lineage(rec.lineage)).sort((a, b) => (a.version < b.version ? -1 : 1));
    const t = today();
    const out = [];
    for (const v of versions) {
      const events = await uow.read.licences.events(v.identifier);
      out.push({
        identifier: v.identifier, version: v.version, status: effectiveStatus(v, t), issuedAt: v.createdAt, logIndex: v.logIndex,
        supersedes: v.supersedes, supersededBy: v.supersededBy,
        events: events.map((e: LicenceEventRecord) => ({ seq: e.seq, action: e.action, from: e.fromStatus, to: e.toStatus, reason: e.reason, actor: e.actor, at: e.at, statement: e.statement, logIndex: e.logIndex })),
      });
    }
    return { identifier, lineage: rec.lineage, versions: out };
  }

  /** The department an issuer's or administrator's listing is about: an issuer's own; an administrator names one. */
  function listedDepartment(actor: Actor, asked: string | undefined): string {
    const departmentId = actor.kind === "client" && actor.role === "issuer" ? actor.departmentId! : asked;
    if (!departmentId) throw new AppError("VALIDATION_FAILED", "departmentId is required for administrators.");
    if (actor.kind === "client" && actor.role === "issuer" && asked && asked !== actor.departmentId) throw new AppError("FORBIDDEN_DEPARTMENT");
    return departmentId;
  }

  function summary(recs: readonly LicenceRecord[]) {
    const t = today();
    return recs.map((r) => ({ identifier: r.identifier, typeCode: r.typeCode, version: r.version, status: effectiveStatus(r, t), validFrom: r.validFrom, validUntil: r.validUntil, createdAt: r.createdAt }));
  }

  async function list(actor: Actor, q: { departmentId?: string; typeCode?: string; limit: number; after?: string }) {
    const departmentId = listedDepartment(actor, q.departmentId);
    return summary(await uow.read.licences.byDepartment(departmentId, { limit: q.limit, ...(q.after ? { after: q.after } : {}), ...(q.typeCode ? { typeCode: q.typeCode } : {}) }));
  }

  /**
   * An issuer's search among its department's current licences (an administrator names the department): by licence
   * number (证照编号), by holder code, or both, of one type when given; in identifier order, at most `limit`.
   */
  async function find(actor: Actor, q: { departmentId?: string; number?: string; holder?: { code: string; codeType: string }; typeCode?: string; limit: number }) {
    const departmentId = listedDepartment(actor, q.departmentId);
    if (q.number === undefined && q.holder === undefined) throw new AppError("VALIDATION_FAILED", "Give a licence number, a holder code, or both.");
    checkText("number", q.number);
    if (q.holder) checkHolderCode(q.holder.codeType, q.holder.code, clock.now());
    return summary(await uow.read.licences.find(departmentId, {
      limit: q.limit,
      ...(q.number !== undefined ? { numberHash: numberHashOf(q.number) } : {}),
      ...(q.holder ? { holderHash: pii.lookupHash(q.holder.codeType, q.holder.code) } : {}),
      ...(q.typeCode !== undefined ? { typeCode: q.typeCode } : {}),
    }));
  }

  return { get, history, list, find };
}
