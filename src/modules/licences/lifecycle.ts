/**
 * The licence lifecycle after issuance: status transitions (suspend, resume, cancel, deregister, revoke), change
 * (变更: a new version superseding the current one), automatic expiry, and numbering licences stored before
 * numbers were. Each change is a signed statement, appended to the transparency log in the transaction that stores
 * it, and only if no other change came between (the statement names the event seq it follows).
 */
import { sha256Hex } from "../../crypto/hash.js";
import { AppError } from "../../errors.js";
import { validateFields } from "../catalogue/fields.js";
import { actorLabel, type Actor } from "../kernel.js";
import { TLOG_EVENTS } from "../tlog/events.js";
import type { TlogEvent } from "../tlog/index.js";
import type { LicenceCore } from "./core.js";
import type { Issuance, Prepared } from "./issue.js";
import {
  CHANGE_FROM, CHANGE_IDEMPOTENCY_PREFIX, TRANSITIONS, effectiveStatus, numberTaken,
  type ChangePatch, type IssueInput, type IssuerContext, type LicenceView, type ManualAction,
} from "./model.js";
import type { LicenceRecord, LicenceRepos, LicenceStatus, LifecycleAction } from "./ports.js";
import { STATUS_TEXT } from "./ports.js";
import { checkLicenceText, checkText, hashOfRequest, refusalNow, typeNow, validity } from "./rules.js";
import { TYP_STATEMENT } from "./signing.js";
import { b64u } from "./jws.js";

/** Licences the expiry sweep (and the numbering pass) reads, signs and stores at a time. */
const EXPIRY_PAGE = 500;

export function createLifecycle<R extends LicenceRepos>(core: LicenceCore<R>, issuance: Pick<Issuance<R>, "build">) {
  const { deps, uow, clock, signer, catalogue, tlog, model, take, statusScope, today, numberHashOf, openPayload, view, record, checkOwner } = core;
  const { build } = issuance;

  async function signStatement(departmentId: string, body: Record<string, unknown>): Promise<string> {
    return (await signer.signCompact(departmentId, TYP_STATEMENT, b64u(JSON.stringify({ v: 1, ...body })))).jws;
  }

  async function transition(identifier: string, action: ManualAction, reason: string | null, actor: Actor): Promise<LicenceView> {
    checkText("reason", reason, true);
    const rec = await record(identifier);
    checkOwner(actor, rec);
    const from = effectiveStatus(rec, today());
    const rule = TRANSITIONS[action];
    if (!rule || !rule.from.includes(from)) {
      throw new AppError("LICENCE_TRANSITION_INVALID", `Cannot ${action} a licence whose status is ${from} (${STATUS_TEXT[from]}).`, { details: { from, action } });
    }
    const now = clock.now();
    const seq = (await uow.read.licences.lastEventSeq(identifier)) + 1;
    const label = actorLabel(actor);
    const statement = await signStatement(rec.departmentId, { id: identifier, seq, action, from, to: rule.to, reason, at: now.toISOString(), actor: label });
    await uow.write(async (repos, tx) => {
      // The statement names seq and from: stored only if no other transition came between (a suspend and a
      // resume meanwhile leave the status as it was, but not the seq).
      if ((await repos.licences.lastEventSeq(identifier)) !== seq - 1 || !(await repos.licences.setStatus(identifier, rec.status, rule.to, now))) {
        throw new AppError("LICENCE_TRANSITION_INVALID", "The licence changed meanwhile; read it again.", { details: { action } });
      }
      const { index } = await tlog.append(repos, tx, statusEvent(rec, seq, action, from, rule.to, reason, statement, label));
      await repos.licences.insertEvent({ identifier, seq, action, fromStatus: from, toStatus: rule.to, reason, actor: label, at: now, statement, logIndex: index });
      tx.afterCommit(() => {
        model.committed({ records: [rec], statusChanged: true });
      });
    });
    return view(await record(identifier));
  }

  function statusEvent(rec: LicenceRecord, seq: number, action: LifecycleAction, from: LicenceStatus, to: LicenceStatus, reason: string | null, statement: string, actor: string, extra: Record<string, unknown> = {}): TlogEvent {
    return {
      type: TLOG_EVENTS.licenceStatusChanged, subject: `licence:${rec.identifier}`, actor, holder: rec.holderHash,
      data: { id: rec.identifier, typeCode: rec.typeCode, seq, action, from, to, statementSha256: sha256Hex(statement), ...(reason ? { reasonSha256: sha256Hex(reason) } : {}), ...extra },
    };
  }

  /**
   * Change (变更): a new version (002, 003…) superseding the current one; both are kept. With `idem` (the
   * Idempotency-Key and the client it is unique for) a retry of the same change returns the version the first
   * attempt created (`replay`), also after the old version was superseded; the key with another request (another
   * licence or body) is IDEMPOTENCY_CONFLICT. Keys are stored apart from issuance keys (scope `versions/<scope>`).
   */
  async function change(
    identifier: string,
    patch: ChangePatch,
    actor: Actor,
    idem?: { key: string; scope: string },
  ): Promise<{ licence: LicenceView; replay: boolean }> {
    const old = await record(identifier);
    checkOwner(actor, old);
    checkText("reason", patch.reason, true);
    checkLicenceText({ ...(patch.number !== undefined ? { number: patch.number } : {}), ...(patch.holderName !== undefined ? { holderName: patch.holderName } : {}), ...(patch.fields ? { fields: patch.fields } : {}) });
    const idemScope = idem ? `${CHANGE_IDEMPOTENCY_PREFIX}${idem.scope}` : "";
    const requestHash = idem ? hashOfRequest({ identifier, patch }) : "";
    const replayOf = async (prior: { requestHash: string; identifier: string }) => {
      if (prior.requestHash !== requestHash) throw new AppError("IDEMPOTENCY_CONFLICT");
      await uow.durable?.();
      return { licence: await view(await record(prior.identifier)), replay: true };
    };
    if (idem) {
      // Before the status check: once the first attempt committed, the old version is superseded.
      const prior = await uow.read.licences.idempotency(idemScope, idem.key);
      if (prior) return replayOf(prior);
    }
    const t = today();
    const from = effectiveStatus(old, t);
    if (!CHANGE_FROM.includes(from)) {
      throw new AppError("LICENCE_TRANSITION_INVALID", `Cannot change a licence whose status is ${from} (${STATUS_TEXT[from]}).`, { details: { from, action: "change" } });
    }
    const { payload } = openPayload(old);
    const nextVersion = Number(old.version) + 1;
    if (nextVersion > 999) throw new AppError("LICENCE_TRANSITION_INVALID", "The licence has reached version 999.", { details: { from, action: "change" } });
    const version = String(nextVersion).padStart(3, "0");
    const type = await catalogue.getType(old.typeCode);
    // A new version is signed now: the department must be an issuer of the type now, and the holder's code type
    // one the type allows now (as for a new licence).
    if (!type.issuers.includes(old.departmentId)) throw new AppError("LICENCE_TYPE_NOT_ALLOWED", "The department is no longer an issuer of this licence type; it cannot sign a new version.");
    if (!type.holderCodeTypes.includes(payload.holder.codeType as never)) {
      throw new AppError("HOLDER_CODE_TYPE_INVALID", `The licence type no longer allows holder code type ${payload.holder.codeType} (allowed: ${type.holderCodeTypes.join(", ")}); no new version can be signed.`,
        { details: { codeType: payload.holder.codeType, allowed: type.holderCodeTypes } });
    }
    const input: IssueInput = {
      typeCode: old.typeCode, number: patch.number ?? payload.number,
      holder: { ...payload.holder, name: patch.holderName ?? payload.holder.name },
      fields: patch.fields ?? payload.fields,
      issueDate: patch.issueDate ?? t,
      validFrom: patch.validFrom ?? payload.validFrom,
      validUntil: patch.validUntil === undefined ? payload.validUntil : patch.validUntil,
    };
    const problems = validateFields(type.fields, input.fields);
    if (problems.length) throw new AppError("FIELDS_INVALID", `The fields are not valid: ${problems.map((p) => p.message).join("; ")}.`, { details: { errors: problems } });
    const v = validity(type, input, t);
    const ic: IssuerContext = { actor, departmentId: old.departmentId, idempotencyScope: "" };
    const p: Prepared = { line: 0, ic, input, type, holderHash: old.holderHash, numberHash: numberHashOf(input.number), requestHash: "", ...v };
    const [statusIdx] = await take(statusScope(old.departmentId), 1);
    const now = clock.now();
    const b = await build(p, ic, 0, statusIdx!, now, { rec: old, version });
    const seq = (await uow.read.licences.lastEventSeq(identifier)) + 1;
    const label = actorLabel(actor);
    const statement = await signStatement(old.departmentId, { id: identifier, seq, action: "supersede", from, to: "99", reason: patch.reason, supersededBy: b.rec.identifier, at: now.toISOString(), actor: label });
    const prior = await uow.write(async (repos, tx) => {
      // A concurrent retry with the same key may have committed meanwhile: then this attempt stores nothing.
      if (idem) {
        const done = await repos.licences.idempotency(idemScope, idem.key);
        if (done) return done;
      }
      // Judged again as the catalogue stands when the new version is logged (as `store` does for a new licence):
      // the checks above read a catalogue that may be up to its cache's age old, or changed while signing.
      const why = refusalNow(await typeNow(repos, old.typeCode), old.departmentId, payload.holder.codeType);
      if (why === "LICENCE_TYPE_NOT_ALLOWED") throw new AppError(why, "The department is no longer an issuer of this licence type; it cannot sign a new version.");
      if (why) throw new AppError(why, "The licence type no longer allows this holder code type (it changed while the new version was being signed).");
      if ((await repos.licences.lastEventSeq(identifier)) !== seq - 1 || !(await repos.licences.setStatus(identifier, old.status, "99", now, b.rec.identifier))) {
        throw new AppError("LICENCE_TRANSITION_INVALID", "The licence changed meanwhile; read it again.", { details: { action: "change" } });
      }
      // The old version is superseded now, so its own number is free for the new one; another licence's is not.
      const taken = await repos.licences.find(old.departmentId, { numberHash: p.numberHash, typeCode: old.typeCode, limit: 1 });
      if (taken[0]) throw numberTaken(taken[0].identifier);
      const [issued, superseded] = await tlog.appendMany(repos, tx, [
        b.event,
        statusEvent(old, seq, "supersede", from, "99", patch.reason, statement, label, { supersededBy: b.rec.identifier }),
      ]);
      b.rec.logIndex = issued!.index;
      await repos.licences.insertMany([b.rec]);
      await repos.licences.insertEvent({ identifier, seq, action: "supersede", fromStatus: from, toStatus: "99", reason: patch.reason, actor: label, at: now, statement, logIndex: superseded!.index });
      if (idem) await repos.licences.insertIdempotency({ clientId: idemScope, key: idem.key, requestHash, identifier: b.rec.identifier, createdAt: now });
      tx.afterCommit(() => {
        model.committed({ records: [old, b.rec], statusChanged: true, issued: true });
      });
      return undefined;
    });
    if (prior) return replayOf(prior);
    return { licence: await view(await record(b.rec.identifier)), replay: false };
  }

  /**
   * Automatic expiry: persists status 05 (with a signed, logged event) for licences past their validity end.
   * Reads already apply expiry (effectiveStatus), so this only makes it visible in the history and the log.
   * Expires up to `limit` licences, a page at a time. A department whose statements cannot be signed (its
   * certificate revoked or lapsed, say) is warned about once and passed over for the rest of this sweep, so its
   * licences do not hold up other departments'; they are tried again at the next sweep. Returns how many expired.
   */
  async function expireDue(limit = 1000): Promise<number> {
    const t = today();
    const now = clock.now();
    const label = "system:expiry";
    const passedOver = new Set<string>();
    let expired = 0;
    while (expired < limit) {
      const due = await uow.read.licences.dueForExpiry(t, Math.min(limit - expired, EXPIRY_PAGE), [...passedOver]);
      if (due.length === 0) break;
      const passedBefore = passedOver.size;
      const items: Array<{ rec: LicenceRecord; seq: number; statement: string }> = [];
      for (const rec of due) {
        if (passedOver.has(rec.departmentId)) continue;
        const seq = (await uow.read.licences.lastEventSeq(rec.identifier)) + 1;
        try {
          const statement = await signStatement(rec.departmentId, { id: rec.identifier, seq, action: "expire", from: rec.status, to: "05", reason: `validity ended ${rec.validUntil}`, at: now.toISOString(), actor: label });
          items.push({ rec, seq, statement });
        } catch (e) {
          passedOver.add(rec.departmentId);
          deps.log?.warn({ err: e, departmentId: rec.departmentId }, "licence expiry: the department cannot sign statements; its licences wait for the next sweep");
        }
      }
      const n = items.length === 0 ? 0 : await uow.write(async (repos, tx) => {
        const done: typeof items = [];
        // A licence that had another transition since its statement was signed waits for the next sweep.
        for (const it of items) if ((await repos.licences.lastEventSeq(it.rec.identifier)) === it.seq - 1 && (await repos.licences.setStatus(it.rec.identifier, it.rec.status, "05", now))) done.push(it);
        if (done.length === 0) return 0;
        const appended = await tlog.appendMany(repos, tx, done.map((it) => statusEvent(it.rec, it.seq, "expire", it.rec.status, "05", `validity ended ${it.rec.validUntil}`, it.statement, label)));
        for (let k = 0; k < done.length; k++) {
          const it = done[k]!;
          await repos.licences.insertEvent({ identifier: it.rec.identifier, seq: it.seq, action: "expire", fromStatus: it.rec.status, toStatus: "05", reason: `validity ended ${it.rec.validUntil}`, actor: label, at: now, statement: it.statement, logIndex: appended[k]!.index });
        }
        tx.afterCommit(() => model.committed({ records: done.map((it) => it.rec), statusChanged: true }));
        return done.length;
      });
      expired += n;
      // Each row of a page is expired, changed meanwhile (no longer due) or of a department now passed over; a page
      // that expired nothing and passed over no one new would come back the same, so stop rather than spin.
      if (n === 0 && passedOver.size === passedBefore) break;
    }
    return expired;
  }

  /**
   * Fills in the number of licences stored before numbers were (migration 0016), a page at a time; run at start.
   * Two current licences of one type and department that share a number (possible before it) are not merged or
   * changed: the later one (by identifier) keeps no number, stays valid and findable by identifier, and is reported
   * here (a warning naming both) at each start until one of them is changed (a new version) to another number.
   */
  async function numberStoredLicences(opts: { stopped?: () => boolean } = {}): Promise<{ numbered: number; duplicates: Array<{ identifier: string; sameNumberAs: string }> }> {
    const out = { numbered: 0, duplicates: [] as Array<{ identifier: string; sameNumberAs: string }> };
    let after = "";
    for (;;) {
      if (opts.stopped?.()) break;
      const page = await uow.read.licences.withoutNumber(after, EXPIRY_PAGE);
      if (page.length === 0) break;
      after = page[page.length - 1]!.identifier;
      const hashes = page.map((r) => numberHashOf(openPayload(r).payload.number));
      await uow.write(async (repos) => {
        for (let k = 0; k < page.length; k++) {
          const r = page[k]!;
          const same = r.supersededBy === null ? (await repos.licences.find(r.departmentId, { numberHash: hashes[k]!, typeCode: r.typeCode, limit: 1 }))[0] : undefined;
          if (same && same.identifier !== r.identifier) {
            out.duplicates.push({ identifier: r.identifier, sameNumberAs: same.identifier });
            continue;
          }
          await repos.licences.setNumberHash(r.identifier, hashes[k]!);
          out.numbered++;
        }
      }, { relaxed: true });
    }
    for (const d of out.duplicates) deps.log?.warn(d, "licence number used twice in one type and department (stored before numbers were unique); the later licence keeps no number until one of them is changed to another number");
    return out;
  }

  return { transition, change, expireDue, numberStoredLicences };
}
