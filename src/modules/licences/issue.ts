/**
 * Issuance of single licences: validate, reserve numbers, sign OUTSIDE the write transaction (on the seal worker
 * when there is one), then one `uow.write` that re-checks what may have changed (idempotency keys, the issuer's
 * grant, the holder code type, the licence number), appends to the transparency log and stores the licence with its
 * log index. A licence never exists without its log entry (DESIGN rule 5).
 *
 * Single issuances are group-committed: requests that arrive while a group is signed and stored form the next group
 * (one transaction, one fsync). The bulk pipeline (issue-batch.ts) uses the same prepare / stage / store.
 */
import { sha256Hex } from "../../crypto/hash.js";
import { formatLicenceId } from "../../codes/index.js";
import { AppError } from "../../errors.js";
import type { LicenceType } from "../catalogue/index.js";
import { presentFields, validateFields } from "../catalogue/fields.js";
import { actorLabel } from "../kernel.js";
import { TLOG_EVENTS } from "../tlog/events.js";
import type { TlogEvent } from "../tlog/index.js";
import type { LicenceCore } from "./core.js";
import { checkHolderCode } from "./holder.js";
import { b64u } from "./jws.js";
import {
  LIST_SIZE, STATUS_BITS, numberTaken,
  type BatchResult, type IssueInput, type IssuerContext, type LicencePayload, type LicenceView,
} from "./model.js";
import type { LicenceRecord, LicenceRepos } from "./ports.js";
import { checkLicenceText, hashOfRequest, inCommitOrder, indexesBy, refusalNow, typeNow, validity, type TypeNow } from "./rules.js";
import { TYP_LICENCE } from "./signing.js";

/** Fewer licences than this are signed on the calling thread (a worker round trip costs more than it saves). */
const WORKER_MIN = 8;
/**
 * Most single issuances signed and stored together. Smaller than a batch chunk so that under load two groups are
 * in flight: one signed on the seal worker while the one before is stored on this thread.
 */
const SINGLES_GROUP = 32;

export interface Prepared {
  line: number;
  ic: IssuerContext;
  input: IssueInput;
  type: LicenceType;
  holderHash: string;
  /** Keyed hash of the licence number (see numberHashOf). */
  numberHash: string;
  requestHash: string;
  issueDate: string;
  validFrom: string;
  validUntil: string | null;
}

export interface Built {
  p: Prepared;
  rec: LicenceRecord;
  event: TlogEvent;
  /** The signed payload's JSON (what rec.payloadEnc encrypts): a new licence's view needs no decryption. */
  json: string;
}


export function createIssuance<R extends LicenceRepos>(core: LicenceCore<R>) {
  const { deps, uow, clock, pii, signer, catalogue, tlog, model, department, take, serialScope, statusScope, formatSerial, listUrl, today, numberHashOf, view, record } = core;


  async function prepare(line: number, input: IssueInput, ic: IssuerContext, t: string): Promise<Prepared> {
    const type = await catalogue.getType(input.typeCode);
    if (!type.issuers.includes(ic.departmentId)) throw new AppError("LICENCE_TYPE_NOT_ALLOWED");
    if (!type.holderCodeTypes.includes(input.holder.codeType as never)) {
      throw new AppError("HOLDER_CODE_TYPE_INVALID", `Holder code type ${input.holder.codeType} is not allowed for ${type.name} (allowed: ${type.holderCodeTypes.join(", ")}).`,
        { details: { codeType: input.holder.codeType, allowed: type.holderCodeTypes } });
    }
    checkHolderCode(input.holder.codeType, input.holder.code, clock.now());
    checkLicenceText({ number: input.number, holderName: input.holder.name, fields: input.fields });
    const problems = validateFields(type.fields, input.fields);
    if (problems.length) throw new AppError("FIELDS_INVALID", `The fields are not valid: ${problems.map((p) => p.message).join("; ")}.`, { details: { errors: problems } });
    const v = validity(type, input, t);
    return {
      line, ic, input, type, holderHash: pii.lookupHash(input.holder.codeType, input.holder.code), numberHash: numberHashOf(input.number),
      // Only needed to recognise a retry; hashing every bulk line without a key would be wasted work.
      requestHash: input.idempotencyKey !== undefined ? requestHashOf(input) : "", ...v,
    };
  }

  /** What a retry with the same Idempotency-Key must repeat: the request without its key. */
  function requestHashOf(input: IssueInput): string {
    const { idempotencyKey: _k, ...rest } = input;
    return hashOfRequest(rest);
  }

  /**
   * The licence an Idempotency-Key already issued, when it did: looked up before the request is validated, so a
   * retry is answered as the first attempt was even if the catalogue has changed since (a new required field, a
   * withdrawn issuer). The same key with another request is IDEMPOTENCY_CONFLICT.
   */
  async function priorIssue(input: IssueInput, ic: IssuerContext): Promise<{ identifier: string } | undefined> {
    if (input.idempotencyKey === undefined) return undefined;
    const prior = await uow.read.licences.idempotency(ic.idempotencyScope, input.idempotencyKey);
    if (!prior) return undefined;
    if (prior.requestHash !== requestHashOf(input)) throw new AppError("IDEMPOTENCY_CONFLICT");
    return { identifier: prior.identifier };
  }

  interface Draft {
    p: Prepared;
    ic: IssuerContext;
    id: string;
    lineage: string;
    version: string;
    json: string;
    statusIdx: number;
    now: Date;
    prev?: { rec: LicenceRecord; version: string };
  }

  /** The signed payload of a new licence (or of a new version of `prev`), as JSON. */
  function draft(p: Prepared, ic: IssuerContext, dept: { name: string; uscc: string }, serialN: number, statusIdx: number, now: Date, prev?: { rec: LicenceRecord; version: string }): Draft {
    const serial = prev ? prev.rec.lineage.split(".")[2]! : formatSerial(serialN);
    const version = prev ? prev.version : "001";
    const id = formatLicenceId({ typeCode: p.type.code, issuerCode: dept.uscc, serial, version });
    const payload: LicencePayload = {
      v: 1, id, name: p.type.name, typeCode: p.type.code, number: p.input.number,
      issuer: { name: dept.name, code: dept.uscc }, issueDate: p.issueDate,
      holder: { name: p.input.holder.name, code: p.input.holder.code, codeType: p.input.holder.codeType },
      validFrom: p.validFrom, validUntil: p.validUntil, fields: presentFields(p.input.fields), version,
      ...(prev ? { supersedes: prev.rec.identifier } : {}),
      status: { list: listUrl(ic.departmentId, Math.floor(statusIdx / LIST_SIZE)), index: statusIdx % LIST_SIZE, size: STATUS_BITS, purpose: "message" },
      signedAt: now.toISOString(),
    };
    return { p, ic, id, lineage: `${p.type.code}.${dept.uscc}.${serial}`, version, json: JSON.stringify(payload), statusIdx, now, ...(prev ? { prev } : {}) };
  }

  /** The stored record and the log event of a signed draft. */
  function finish(d: Draft, sealed: { signatureB64: string; jwsSha256: string; enc: string; certSerial: string }): Built {
    const { p, ic, id, version, statusIdx, now, prev } = d;
    const rec: LicenceRecord = {
      identifier: id, lineage: d.lineage, version, typeCode: p.type.code, departmentId: ic.departmentId,
      holderHash: p.holderHash, holderCodeType: p.input.holder.codeType, numberHash: p.numberHash, payloadEnc: sealed.enc,
      signature: sealed.signatureB64, certSerial: sealed.certSerial, jwsSha256: sealed.jwsSha256, validFrom: p.validFrom, validUntil: p.validUntil,
      status: "01", statusAt: now, statusIndex: statusIdx, supersedes: prev ? prev.rec.identifier : null, supersededBy: null,
      logIndex: -1, createdAt: now,
    };
    const event: TlogEvent = {
      type: TLOG_EVENTS.licenceIssued, subject: `licence:${id}`, actor: actorLabel(ic.actor), holder: p.holderHash,
      data: {
        id, typeCode: p.type.code, version, departmentId: ic.departmentId, certSerial: sealed.certSerial, jwsSha256: sealed.jwsSha256,
        statusIndex: statusIdx, ...(prev ? { supersedes: prev.rec.identifier } : {}),
      },
    };
    return { p, rec, event, json: d.json };
  }

  /** Signs and encrypts one draft on this thread. */
  async function sealHere(d: Draft): Promise<Built> {
    const signed = await signer.signCompact(d.ic.departmentId, TYP_LICENCE, b64u(d.json), d.p.type.profile);
    return finish(d, { signatureB64: signed.signatureB64, jwsSha256: sha256Hex(signed.jws), enc: pii.encrypt(d.json, `licence:${d.id}`), certSerial: signed.cert.serial });
  }

  async function build(p: Prepared, ic: IssuerContext, serialN: number, statusIdx: number, now: Date, prev?: { rec: LicenceRecord; version: string }): Promise<Built> {
    return sealHere(draft(p, ic, await department(ic.departmentId), serialN, statusIdx, now, prev));
  }

  /**
   * Signs and encrypts drafts: on the seal worker (a second core) when there is one, the group is big enough to be
   * worth a message, and the department's key can sign in this process; otherwise here, one by one.
   */
  async function sealMany(drafts: Draft[]): Promise<Built[]> {
    const worker = deps.sealWorker;
    if (!worker || drafts.length < WORKER_MIN) return Promise.all(drafts.map(sealHere));
    // Grouped by department and crypto profile (one signing key each).
    const byKey = indexesBy(drafts, (d) => `${d.ic.departmentId}|${d.p.type.profile}`);
    const out: Built[] = new Array(drafts.length);
    await Promise.all([...byKey].map(async ([, idx]) => {
      const deptId = drafts[idx[0]!]!.ic.departmentId;
      const profile = drafts[idx[0]!]!.p.type.profile;
      // A key retired since it was cached: sealHere looks the certificate up again.
      const k = await signer.inProcessKey(deptId, TYP_LICENCE, profile).catch(() => (signer.forget(deptId), null));
      if (!k) {
        for (const i of idx) out[i] = await sealHere(drafts[i]!);
        return;
      }
      const sealed = await worker.seal(k.key, pii.aeadKey, idx.map((i) => ({ headerB64: k.headerB64, json: drafts[i]!.json, aad: `licence:${drafts[i]!.id}` })), k.alg);
      idx.forEach((i, j) => (out[i] = finish(drafts[i]!, { ...sealed[j]!, certSerial: k.cert.serial })));
    }));
    return out;
  }

  /** Reserves numbers and builds (signs, encrypts) prepared licences, possibly of several issuers. */
  async function stage(prepared: Prepared[]): Promise<Built[]> {
    const now = clock.now();
    // Reserve serials per department + type and status indexes per department (outside the storing write).
    const groups = new Map<string, Prepared[]>();
    const add = (k: string, p: Prepared) => {
      const g = groups.get(k);
      if (g) g.push(p);
      else groups.set(k, [p]);
    };
    for (const p of prepared) {
      add(serialScope(p.ic.departmentId, p.type.code), p);
      add(statusScope(p.ic.departmentId), p);
    }
    const serials = new Map<Prepared, number>();
    const indexes = new Map<Prepared, number>();
    for (const [scope, ps] of groups) {
      const got = await take(scope, ps.length);
      const into = scope.startsWith("serial:") ? serials : indexes;
      ps.forEach((p, k) => into.set(p, got[k]!));
    }
    // Drafted without a pause per licence: a bulk import validates its next chunk meanwhile, and the signing should
    // reach the seal worker before that work, not interleaved with it.
    const depts = new Map<string, { name: string; uscc: string }>();
    for (const p of prepared) if (!depts.has(p.ic.departmentId)) depts.set(p.ic.departmentId, await department(p.ic.departmentId));
    return sealMany(prepared.map((p) => draft(p, p.ic, depts.get(p.ic.departmentId)!, serials.get(p)!, indexes.get(p)!, now)));
  }

  /** Stores built licences and their log entries in one write transaction; fills in their results. */
  async function store(built: Built[], results: BatchResult[], stored?: Array<Built | undefined>, onCommit?: () => void): Promise<void> {
    const now = clock.now();
    const outcome = await uow.write(async (repos, tx) => {
      if (onCommit) tx.afterCommit(onCommit);
      // Re-check idempotency keys inside the transaction: a concurrent retry may have committed meanwhile.
      let keep: Built[] = [];
      const replays: Array<{ b: Built; identifier?: string; conflict?: boolean }> = [];
      const inThisTx = new Map<string, Built>();
      for (const b of built) {
        const key = b.p.input.idempotencyKey;
        if (key !== undefined) {
          const k = `${b.p.ic.idempotencyScope}\u0000${key}`;
          const mate = inThisTx.get(k);
          if (mate) {
            replays.push(mate.p.requestHash === b.p.requestHash ? { b, identifier: mate.rec.identifier } : { b, conflict: true });
            continue;
          }
          const prior = await repos.licences.idempotency(b.p.ic.idempotencyScope, key);
          if (prior) {
            replays.push(prior.requestHash === b.p.requestHash ? { b, identifier: prior.identifier } : { b, conflict: true });
            continue;
          }
          inThisTx.set(k, b);
        }
        keep.push(b);
      }
      // Judged again as the catalogue stands when the licence is logged, since `prepare` read it: the issuer must still
      // hold its grant (the log time is the signing time a verifier judges), and the type must still allow the
      // holder's code type (its code types, or its holder kind before its first licence, may have changed).
      const typesNow = new Map<string, TypeNow>();
      const refusal = new Map<Built, AppError>();
      // A licence number is unique per type and department among current licences: taken by one on record, or by an
      // earlier licence of this transaction (a batch holding the same number twice).
      const numbers = new Map<string, string>();
      for (const b of keep) {
        const why = refusalNow(await typeNow(repos, b.p.type.code, typesNow), b.p.ic.departmentId, b.p.input.holder.codeType);
        if (why) {
          refusal.set(b, why === "HOLDER_CODE_TYPE_INVALID"
            ? new AppError(why, "The licence type no longer allows this holder code type (it changed while the licence was being issued).")
            : new AppError(why));
          continue;
        }
        const nk = `${b.p.numberHash}\u0000${b.p.ic.departmentId}\u0000${b.p.type.code}`;
        const taken = numbers.get(nk) ?? (await repos.licences.find(b.p.ic.departmentId, { numberHash: b.p.numberHash, typeCode: b.p.type.code, limit: 1 }))[0]?.identifier;
        if (taken !== undefined) refusal.set(b, numberTaken(taken));
        else numbers.set(nk, b.rec.identifier);
      }
      if (refusal.size > 0) keep = keep.filter((b) => !refusal.has(b));
      if (keep.length > 0) {
        const appended = await tlog.appendMany(repos, tx, keep.map((b) => b.event));
        keep.forEach((b, k) => (b.rec.logIndex = appended[k]!.index));
        await repos.licences.insertMany(keep.map((b) => b.rec));
        tx.afterCommit(() => {
          model.committed({ records: keep.map((b) => b.rec), issued: true });
        });
        for (const b of keep) {
          const key = b.p.input.idempotencyKey;
          if (key !== undefined) await repos.licences.insertIdempotency({ clientId: b.p.ic.idempotencyScope, key, requestHash: b.p.requestHash, identifier: b.rec.identifier, createdAt: now });
        }
      }
      return { keep, replays, refused: [...refusal].map(([b, e]) => ({ b, e })) };
    });
    for (const { b, e } of outcome.refused) {
      results[b.p.line] = { line: b.p.line + 1, ok: false, code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) };
    }
    for (const b of outcome.keep) {
      results[b.p.line] = { line: b.p.line + 1, ok: true, identifier: b.rec.identifier, replay: false };
      if (stored) stored[b.p.line] = b;
    }
    for (const r of outcome.replays) {
      if (r.conflict) {
        const e = new AppError("IDEMPOTENCY_CONFLICT");
        results[r.b.p.line] = { line: r.b.p.line + 1, ok: false, code: e.code, message: e.message };
      } else results[r.b.p.line] = { line: r.b.p.line + 1, ok: true, identifier: r.identifier!, replay: true };
    }
  }

  // Single issuance is group-committed: requests that arrive while a group is being signed and stored form the
  // next group (one transaction, one fsync for all of them). Each request still gets its own result.
  const singles: Array<{ p: Prepared; resolve(r: { r: BatchResult; built: Built | undefined }): void; reject(e: unknown): void }> = [];
  let singlesScheduled = false;
  let singlesRunning = false;
  function scheduleSingles(): void {
    if (singlesScheduled || singlesRunning || singles.length === 0) return;
    singlesScheduled = true;
    setImmediate(() => void runSingles());
  }
  /** The store of the group before: groups are stored in order, one after the other. */
  let singlesStoring: Promise<void> = Promise.resolve();
  async function runSingles(): Promise<void> {
    singlesScheduled = false;
    singlesRunning = true;
    const group = singles.splice(0, SINGLES_GROUP);
    const results: BatchResult[] = new Array(group.length);
    const stored: Array<Built | undefined> = new Array(group.length);
    // The group may hold several departments' requests. Each department is numbered and signed on its own, so one
    // whose key cannot sign (a revoked or lapsed certificate, say) fails its own requests only.
    const byDept = indexesBy(group, (g) => g.p.ic.departmentId);
    const failed = new Map<number, unknown>();
    const built: Built[] = [];
    await Promise.all([...byDept.values()].map(async (ks) => {
      try {
        built.push(...await stage(ks.map((k) => ({ ...group[k]!.p, line: k }))));
      } catch (e) {
        for (const k of ks) failed.set(k, e);
      }
    }));
    let done: Promise<void>;
    if (built.length > 0) {
      // Pipelined: once this group is signed, the next one may be signed (on the seal worker) while this one is
      // stored. Idempotency keys are re-checked inside each store, and stores keep their order: the next group's
      // store starts once this one has committed (or failed); it need not wait until this one is durable.
      ({ done, committed: singlesStoring } = inCommitOrder(singlesStoring, (onCommit) => store(built, results, stored, onCommit)));
    } else {
      // Nothing of this group is stored; the chain of stores stays as it was.
      done = Promise.resolve();
    }
    singlesRunning = false;
    scheduleSingles();
    let storeError: unknown;
    try {
      await done;
    } catch (e) {
      storeError = e ?? new Error("store failed");
    }
    group.forEach((g, k) => {
      if (failed.has(k)) g.reject(failed.get(k));
      else if (storeError !== undefined) g.reject(storeError);
      else g.resolve({ r: results[k]!, built: stored[k] });
    });
  }

  /** Issues one licence. Returns the licence and whether it was an idempotent replay. */
  async function issue(input: IssueInput, ic: IssuerContext): Promise<{ licence: LicenceView; replay: boolean }> {
    let r: BatchResult;
    let built: Built | undefined;
    const prior = await priorIssue(input, ic);
    if (prior) {
      // The first attempt may have committed a moment ago: answer only once it is durable.
      await uow.durable?.();
      r = { line: 1, ok: true, identifier: prior.identifier, replay: true };
    } else {
      const p = await prepare(0, input, ic, today());
      ({ r, built } = await new Promise<{ r: BatchResult; built: Built | undefined }>((resolve, reject) => {
        singles.push({ p, resolve, reject });
        scheduleSingles();
      }));
    }
    if (!r.ok) throw new AppError(r.code as AppError["code"], r.message, r.details ? { details: r.details } : {});
    // A licence stored just now is shown from what was stored (no read back, no decryption); a replay is read, and
    // shown only to the department that holds it (a client moved to another department since sees no data of it).
    if (built) return { licence: await view(built.rec, built.json), replay: r.replay };
    const rec = await record(r.identifier);
    if (rec.departmentId !== ic.departmentId) throw new AppError("FORBIDDEN_DEPARTMENT");
    return { licence: await view(rec), replay: r.replay };
  }

  return { issue, prepare, priorIssue, requestHashOf, build, stage, store };
}

export type Issuance<R extends LicenceRepos> = ReturnType<typeof createIssuance<R>>;
