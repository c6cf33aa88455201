/**
 * E-licences (电子证照): issuance (single, idempotent; bulk), lifecycle, history, status publication.
 *
 * Every write follows the same shape (kernel rule + DESIGN rule 5): validate and reserve numbers, sign OUTSIDE the
 * write transaction, then one `uow.write` that re-checks what may have changed, appends to the transparency log
 * and stores the change with the log index. A licence never exists without its log entry.
 */
import { gzipSync } from "node:zlib";
import { CanonicalJsonError, canonicalJson } from "../../crypto/canonical.js";
import { sha256Hex } from "../../crypto/hash.js";
import type { PiiProtector } from "../../crypto/pii.js";
import type { SealWorker } from "../../crypto/seal-worker.js";
import { Lru, TtlCache } from "../../util/lru.js";
import { textProblem } from "../../util/text.js";
import { formatLicenceId, parseLicenceId } from "../../codes/index.js";
import { AppError } from "../../errors.js";
import type { CatalogueService, FieldValue, IssuerGrant, LicenceType } from "../catalogue/index.js";
import { isDate, presentFields, validateFields } from "../catalogue/fields.js";
import { actorLabel, type Actor, type Clock, type Logger, type TxHooks, type UnitOfWork } from "../kernel.js";
import { TLOG_EVENTS } from "../tlog/events.js";
import type { TlogEvent } from "../tlog/index.js";
import { addDays, chinaDate } from "./dates.js";
import { checkHolderCode } from "./holder.js";
import { b64u } from "./jws.js";
import type { LicenceEventRecord, LicenceRecord, LicenceRepos, LicenceStatus, LifecycleAction } from "./ports.js";
import { STATUS_TEXT } from "./ports.js";
import { TYP_LICENCE, TYP_STATEMENT, TYP_STATUS_LIST, type Signer } from "./signing.js";

/** Entries per status list (W3C Bitstring Status List minimum, for herd privacy). */
export const LIST_SIZE = 131_072;
/** Bits per entry: the status code as a 4-bit value (0 = unassigned). */
export const STATUS_BITS = 4;
const STATUS_NIBBLE: Record<LicenceStatus, number> = { "01": 1, "02": 2, "03": 3, "04": 4, "05": 5, "07": 7, "99": 9 };
export const STATUS_MESSAGES = [
  { status: "0x0", message: "unassigned" },
  ...Object.entries(STATUS_NIBBLE).map(([code, n]) => ({ status: `0x${n.toString(16)}`, message: `${code} ${STATUS_TEXT[code as LicenceStatus]}` })),
];
const SERIAL_BLOCK = 256;
const CHUNK = 500;
/** Bulk-import chunks being signed at once (on the seal worker) while this thread validates and stores. */
const SIGN_AHEAD = 2;
/** How long verification reuses a licence record read from the database (see currentRecord). */
export const RECORD_CACHE_MS = 1000;
/** How long a record may be reused while no other process has committed to the database (see currentRecord). */
export const RECORD_KEEP_MS = 60_000;
/**
 * Holders whose licence records are kept for the 免证办 query (see holderRecords), and the records kept in all
 * (~1.5 KB each, so ~60 MB at most); a holder with more than HOLDER_KEPT_MAX_RECORDS is read every time.
 */
const HOLDERS_KEPT = 20_000;
const HOLDER_RECORDS_KEPT = 40_000;
const HOLDER_KEPT_MAX_RECORDS = 50;
/** The 免证办 answers kept as JSON (see answersForHolder), in bytes: ~4.5 KB a licence, so ~15,000 licences. */
const ANSWERS_KEPT_BYTES = 64 * 2 ** 20;
/** The most licences one answer about a holder lists (their own list, a 免证办 query); it says when there are more. */
export const HOLDER_ANSWER_MAX = 500;
/** Fewer licences than this are signed on the calling thread (a worker round trip costs more than it saves). */
const WORKER_MIN = 8;
/**
 * Most single issuances signed and stored together. Smaller than a batch chunk so that under load two groups are
 * in flight: one signed on the seal worker while the one before is stored on this thread.
 */
const SINGLES_GROUP = 32;
export const MAX_BATCH_LINES = 10_000;
/** How soon a kept status list is signed again to include licences issued since (see noteIssued). */
const ISSUED_LAG_MS = 5_000;
/** Licences the expiry sweep reads, signs and stores at a time. */
const EXPIRY_PAGE = 500;

/**
 * SHA-256 of a request's canonical JSON, to recognise a retry. JSON.parse lets a lone surrogate through, and canonical
 * JSON (RFC 8785) has no form for it: such a request is VALIDATION_FAILED, not an internal error.
 */
function hashOfRequest(value: unknown): string {
  try {
    return sha256Hex(canonicalJson(value));
  } catch (e) {
    if (e instanceof CanonicalJsonError) throw new AppError("VALIDATION_FAILED", "The request holds text that is not well-formed Unicode (a lone surrogate).", { cause: e });
    // Nesting deeper than the stack (the edge refuses nested field values; this is the last guard).
    if (e instanceof RangeError) throw new AppError("VALIDATION_FAILED", "The request is nested too deeply.", { cause: e });
    throw e;
  }
}

/** Text signed into a licence or statement must read as what it is (see util/text.ts): VALIDATION_FAILED otherwise. */
function checkText(field: string, value: string | null | undefined, multiline = false): void {
  if (typeof value !== "string") return;
  const problem = textProblem(value, { multiline });
  if (problem) throw new AppError("VALIDATION_FAILED", `${field} ${problem}.`, { details: { field } });
}

/** The text of a licence's data: holder name and number on one line each; field values may span lines. */
function checkLicenceText(input: { number?: string; holderName?: string; fields?: Readonly<Record<string, unknown>> }): void {
  checkText("number", input.number);
  checkText("holder.name", input.holderName);
  for (const [k, v] of Object.entries(input.fields ?? {})) if (typeof v === "string") checkText(`fields.${k}`, v, true);
}

/** A licence type as it stands inside a write transaction: its open and closed issuer grants, its holder code types. */
interface TypeNow {
  grants: IssuerGrant[];
  codeTypes: readonly string[];
}
type CatalogueRefusal = "LICENCE_TYPE_NOT_ALLOWED" | "HOLDER_CODE_TYPE_INVALID";

/** Reads a type as it stands in the transaction of `repos` (once per code with a `memo`). */
async function typeNow(repos: LicenceRepos, code: string, memo?: Map<string, TypeNow>): Promise<TypeNow> {
  let t = memo?.get(code);
  if (!t) {
    t = { grants: await repos.issuerGrants.ofType(code), codeTypes: (await repos.licenceTypes.byCode(code))?.holderCodeTypes ?? [] };
    memo?.set(code, t);
  }
  return t;
}

/** Why a department may not sign a licence of the type for this holder code type now, or null when it may. */
function refusalNow(t: TypeNow, departmentId: string, codeType: string): CatalogueRefusal | null {
  if (!t.grants.some((g) => g.departmentId === departmentId && g.validTo === null)) return "LICENCE_TYPE_NOT_ALLOWED";
  if (!t.codeTypes.includes(codeType)) return "HOLDER_CODE_TYPE_INVALID";
  return null;
}

/** The indexes of `items` grouped by `key`, groups in the order first seen. */
function indexesBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  items.forEach((item, i) => {
    const k = key(item);
    const g = out.get(k);
    if (g) g.push(i);
    else out.set(k, [i]);
  });
  return out;
}

/**
 * Stores in commit order without waiting for durability: `run` starts once `after` has settled and is handed the
 * hook its transaction calls on commit; `committed` settles at that commit (or when `run` ends, failed or not), so
 * the next store may start while this one is made durable.
 */
function inCommitOrder(after: Promise<void>, run: (onCommit: () => void) => Promise<void>): { done: Promise<void>; committed: Promise<void> } {
  let onCommit!: () => void;
  const committed = new Promise<void>((r) => (onCommit = r));
  const done = after.then(() => run(onCommit));
  done.then(onCommit, onCommit);
  return { done, committed };
}

/** The transparency-log port as licences use it (TlogEvent: may carry the holder's keyed hash). */
export interface LicenceLog<R> {
  append(repos: R, tx: TxHooks, event: TlogEvent): Promise<{ index: number }>;
  appendMany(repos: R, tx: TxHooks, events: readonly TlogEvent[]): Promise<ReadonlyArray<{ index: number }>>;
}

export interface LicencesDeps<R extends LicenceRepos> {
  uow: UnitOfWork<R>;
  clock: Clock;
  tlog: LicenceLog<R>;
  pii: PiiProtector;
  signer: Signer;
  catalogue: CatalogueService;
  publicUrl: string;
  log?: Logger;
  /** Seconds a signed status list is served from memory before it is rebuilt (default 60). */
  statusListCacheSeconds?: number;
  /** Signs and encrypts bulk issuance on a second core (optional: without it, everything runs on this thread). */
  sealWorker?: SealWorker;
}

export interface HolderInput {
  name: string;
  code: string;
  codeType: string;
}

export interface IssueInput {
  typeCode: string;
  /** 证照编号 as printed on the licence. */
  number: string;
  holder: HolderInput;
  fields: Record<string, FieldValue>;
  issueDate?: string;
  validFrom?: string;
  /** null = long-term (长期); omitted = the type's default validity. */
  validUntil?: string | null;
  idempotencyKey?: string;
}

/** Who issues: the actor, its department, and the scope in which idempotency keys are unique (the client id). */
export interface IssuerContext {
  actor: Actor;
  departmentId: string;
  idempotencyScope: string;
}

/** The signed licence data (JWS payload). GB/T 36903 core metadata, plus where the status is published. */
export interface LicencePayload {
  v: 1;
  id: string;
  name: string;
  typeCode: string;
  number: string;
  issuer: { name: string; code: string };
  issueDate: string;
  holder: { name: string; code: string; codeType: string };
  validFrom: string;
  validUntil: string | null;
  fields: Record<string, FieldValue>;
  version: string;
  supersedes?: string;
  status: { list: string; index: number; size: number; purpose: "message" };
  signedAt: string;
}

export interface LicenceView {
  identifier: string;
  typeCode: string;
  name: string;
  version: string;
  departmentId: string;
  status: LicenceStatus;
  statusText: string;
  statusAt: Date;
  validFrom: string;
  validUntil: string | null;
  supersedes: string | null;
  supersededBy: string | null;
  statusList: { url: string; index: number };
  logIndex: number;
  createdAt: Date;
  data: LicencePayload;
  jws: string;
}

export type BatchResult =
  | { line: number; ok: true; identifier: string; replay: boolean }
  | { line: number; ok: false; code: string; message: string; details?: Record<string, unknown> };

/** Lifecycle table: action → statuses it may start from → resulting status. Everything else is 409. */
export const TRANSITIONS: Record<"suspend" | "resume" | "cancel" | "deregister" | "revoke", { from: readonly LicenceStatus[]; to: LicenceStatus }> = {
  suspend: { from: ["01"], to: "02" },
  resume: { from: ["02"], to: "01" },
  cancel: { from: ["01", "02"], to: "03" },
  deregister: { from: ["01", "02"], to: "04" },
  revoke: { from: ["01", "02"], to: "07" },
};
export type ManualAction = keyof typeof TRANSITIONS;
/** A change (new version) is allowed only from a valid licence. */
export const CHANGE_FROM: readonly LicenceStatus[] = ["01"];
/** Idempotency keys of changes are stored under this prefix + the client id ('/' is in no issuance scope). */
export const CHANGE_IDEMPOTENCY_PREFIX = "versions/";

/** What a change (new version) may set; everything else is carried over from the current version. */
export interface ChangePatch {
  number?: string;
  holderName?: string;
  fields?: Record<string, FieldValue>;
  issueDate?: string;
  validFrom?: string;
  validUntil?: string | null;
  reason: string;
}

/** Status with automatic expiry applied: a valid or suspended licence past its validity end is expired (05). */
export function effectiveStatus(rec: { status: LicenceStatus; validUntil: string | null }, today: string): LicenceStatus {
  if ((rec.status === "01" || rec.status === "02") && rec.validUntil !== null && rec.validUntil < today) return "05";
  return rec.status;
}

interface Prepared {
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

interface Built {
  p: Prepared;
  rec: LicenceRecord;
  event: TlogEvent;
  /** The signed payload's JSON (what rec.payloadEnc encrypts): a new licence's view needs no decryption. */
  json: string;
}

/** The refusal of a licence number that a current licence of the same type and department already has. */
export function numberTaken(identifier: string): AppError {
  return new AppError("LICENCE_NUMBER_TAKEN", `This licence number is already used by licence ${identifier} of this type and department.`, { details: { identifier } });
}

function appErr(e: unknown): AppError {
  return e instanceof AppError ? e : new AppError("INTERNAL", undefined, { cause: e });
}

export function createLicenceService<R extends LicenceRepos>(deps: LicencesDeps<R>) {
  const { uow, clock, tlog, pii, signer, catalogue } = deps;
  const publicUrl = deps.publicUrl.replace(/\/+$/, "");
  const listTtl = (deps.statusListCacheSeconds ?? 60) * 1000;
  /** The keyed hash a licence number is stored and found by (the number itself is only in the encrypted payload). */
  const numberHashOf = (n: string) => pii.lookupHash("licence-number", n);

  // ---- departments (name + USCC go into the signed data) ----
  const departments = new TtlCache<string, { name: string; uscc: string }>(1000, 30_000, () => clock.now().getTime());
  function department(id: string): Promise<{ name: string; uscc: string }> {
    return departments.get(id, async () => {
      const d = await uow.read.departments.byId(id);
      if (!d) throw new AppError("DEPARTMENT_NOT_FOUND");
      return { name: d.name, uscc: d.uscc };
    });
  }

  // ---- counters: serials per department+type, status-list indexes per department; reserved in blocks ----
  const blocks = new Map<string, { next: number; end: number }>();
  const refills = new Map<string, Promise<void>>();
  async function take(scope: string, n: number): Promise<number[]> {
    const out: number[] = [];
    while (out.length < n) {
      const b = blocks.get(scope);
      if (b && b.next < b.end) {
        while (out.length < n && b.next < b.end) out.push(b.next++);
        continue;
      }
      let p = refills.get(scope);
      if (!p) {
        // Twice what is still needed: a bulk import's next chunk finds its numbers waiting (no write of its own).
        const want = Math.max(SERIAL_BLOCK, 2 * (n - out.length));
        // No fsync of its own: every licence numbered from this block is committed after it with an fsync, which
        // makes the block durable too (the WAL is written in order). A block lost in a power cut was never used.
        p = uow.write((repos) => repos.licences.reserve(scope, want), { relaxed: true })
          .then((first) => void blocks.set(scope, { next: first, end: first + want }))
          .finally(() => refills.delete(scope));
        refills.set(scope, p);
      }
      await p;
    }
    return out;
  }
  const serialScope = (deptId: string, typeCode: string) => `serial:${deptId}:${typeCode}`;
  const statusScope = (deptId: string) => `status:${deptId}`;
  const formatSerial = (n: number) => String(n + 1).padStart(10, "0");

  // ---- status-list cache generations (bumped after a committed status change) ----
  const gens = new Map<string, number>();
  const bump = (deptId: string) => gens.set(deptId, (gens.get(deptId) ?? 0) + 1);
  /**
   * Licences issued into each list (department/list number) by this process. A kept list that lacks some is signed
   * again once it is ISSUED_LAG_MS old, so a new licence reads "unassigned" for seconds rather than the list's ttl,
   * while a bulk import cannot make every request rebuild it.
   */
  const issuedInto = new Map<string, number>();
  const noteIssued = (recs: ReadonlyArray<{ departmentId: string; statusIndex: number }>) => {
    for (const r of recs) {
      const key = `${r.departmentId}/${Math.floor(r.statusIndex / LIST_SIZE)}`;
      issuedInto.set(key, (issuedInto.get(key) ?? 0) + 1);
    }
  };

  const listUrl = (deptId: string, listNo: number) => `${publicUrl}/status-lists/${deptId}/${listNo}`;

  function today(): string {
    return chinaDate(clock.now());
  }

  // ---- reading stored licences ----
  function openPayload(rec: LicenceRecord): { json: string; payload: LicencePayload } {
    const json = pii.decrypt(rec.payloadEnc, `licence:${rec.identifier}`);
    return { json, payload: JSON.parse(json) as LicencePayload };
  }

  async function jwsOf(rec: LicenceRecord, json?: string): Promise<string> {
    const j = json ?? openPayload(rec).json;
    return `${await signer.header(rec.certSerial, TYP_LICENCE)}.${b64u(j)}.${rec.signature}`;
  }

  async function view(rec: LicenceRecord, plain?: string): Promise<LicenceView> {
    const { json, payload } = plain !== undefined ? { json: plain, payload: JSON.parse(plain) as LicencePayload } : openPayload(rec);
    const st = effectiveStatus(rec, today());
    return {
      identifier: rec.identifier, typeCode: rec.typeCode, name: payload.name, version: rec.version, departmentId: rec.departmentId,
      status: st, statusText: STATUS_TEXT[st], statusAt: rec.statusAt, validFrom: rec.validFrom, validUntil: rec.validUntil,
      supersedes: rec.supersedes, supersededBy: rec.supersededBy,
      statusList: { url: payload.status.list, index: payload.status.index }, logIndex: rec.logIndex, createdAt: rec.createdAt,
      data: payload, jws: await jwsOf(rec, json),
    };
  }

  /**
   * The stored record for verification. A status change committed by this process drops it at once. Where the
   * store can tell that another process has committed (UnitOfWork.changeMark), the record is reused while none has
   * (for at most RECORD_KEEP_MS), so a change made elsewhere also shows at once (within the mark's lag, 20 ms on
   * SQLite); where it cannot, the record is reused for RECORD_CACHE_MS. Licences not (yet) on record are not
   * remembered.
   */
  const recent = new Lru<string, { rec: LicenceRecord; at: number; mark: number | undefined }>(20_000);
  /**
   * Bumped after every committed licence write of this process (issuance, lifecycle, expiry). A read that saw the
   * epoch change while it ran may have read the state before that commit, so it is returned but not kept.
   */
  let epoch = 0;
  const fresh = (hit: { at: number; mark: number | undefined }, now: number) =>
    hit.mark === undefined ? now - hit.at < RECORD_CACHE_MS : now - hit.at < RECORD_KEEP_MS && hit.mark === uow.changeMark?.();
  async function currentRecord(identifier: string): Promise<LicenceRecord | undefined> {
    const now = Date.now();
    const hit = recent.get(identifier);
    if (hit && fresh(hit, now)) return hit.rec;
    const mark = uow.changeMark?.();
    const seen = epoch;
    const rec = await uow.read.licences.byId(identifier);
    if (rec && seen === epoch) recent.set(identifier, { rec, at: now, mark });
    else recent.delete(identifier);
    return rec;
  }

  /**
   * A holder's current records (not superseded) in identifier order, at most HOLDER_ANSWER_MAX + 1 (one more tells
   * that there are more), for the 免证办 query and the holder's own list: kept by keyed hash
   * under the same rule as currentRecord (until this process writes one of the holder's licences, another process
   * commits, or RECORD_KEEP_MS passes). The records keep their ciphertext; the 免证办 answer's JSON made from them is
   * kept apart, bounded in bytes (answersForHolder). Otherwise a query
   * reads a random holder-index page and a random table page of a file far bigger than SQLite's page cache, and
   * while the access log's group commit is open it reads on the reader connection, whose cache SQLite drops after
   * every commit (storage/repos/index.ts).
   */
  const holders = new Lru<string, { recs: LicenceRecord[]; at: number; mark: number | undefined }>(HOLDERS_KEPT, { weigh: (e) => e.recs.length, maxWeight: HOLDER_RECORDS_KEPT });
  /** The holder's current records, and whether they are kept (the same objects are returned next time). */
  async function holderRecords(holderHash: string): Promise<{ recs: LicenceRecord[]; kept: boolean }> {
    const now = Date.now();
    const hit = holders.get(holderHash);
    if (hit && fresh(hit, now)) return { recs: hit.recs, kept: true };
    const mark = uow.changeMark?.();
    const seen = epoch;
    const recs = await uow.read.licences.byHolder(holderHash, { current: true, limit: HOLDER_ANSWER_MAX + 1 });
    const keep = seen === epoch && recs.length <= HOLDER_KEPT_MAX_RECORDS;
    if (keep) holders.set(holderHash, { recs, at: now, mark });
    else holders.delete(holderHash);
    return { recs, kept: keep };
  }

  /** After a commit that wrote these licence records: drop what is kept of them and of their holders. */
  function written(recs: ReadonlyArray<{ identifier: string; holderHash: string }>): void {
    epoch++;
    for (const r of recs) {
      recent.delete(r.identifier);
      holders.delete(r.holderHash);
    }
  }

  async function record(identifier: string): Promise<LicenceRecord> {
    const parsed = parseLicenceId(identifier);
    if (!parsed.ok) throw new AppError("LICENCE_ID_INVALID", `The licence identifier is not valid (${parsed.problem}).`, { details: { problem: parsed.problem } });
    const rec = await uow.read.licences.byId(identifier);
    if (!rec) throw new AppError("LICENCE_NOT_FOUND");
    return rec;
  }

  /**
   * Issuers act on their own department's licences only; admins and the system on any. Another department's licence
   * is LICENCE_NOT_FOUND, the very error (status, code, message, no details) of an identifier not on record, so an
   * issuer cannot learn which identifiers exist elsewhere (issue 14 §4).
   */
  function checkOwner(actor: Actor, rec: LicenceRecord): void {
    if (actor.kind === "system") return;
    if (actor.kind === "client" && actor.role === "admin") return;
    if (actor.kind === "client" && actor.role === "issuer" && actor.departmentId === rec.departmentId) return;
    throw new AppError("LICENCE_NOT_FOUND");
  }

  // ---- issuance ----

  function validity(type: LicenceType, input: { issueDate?: string; validFrom?: string; validUntil?: string | null }, t: string) {
    const issueDate = input.issueDate ?? t;
    const validFrom = input.validFrom ?? issueDate;
    for (const [k, v] of [["issueDate", issueDate], ["validFrom", validFrom]] as const) {
      if (!isDate(v)) throw new AppError("VALIDITY_INVALID", `${k} must be a date YYYY-MM-DD.`, { details: { field: k } });
    }
    let validUntil: string | null;
    if (input.validUntil === undefined) validUntil = type.validityDays === null ? null : addDays(validFrom, type.validityDays - 1);
    else validUntil = input.validUntil;
    if (validUntil !== null && !isDate(validUntil)) throw new AppError("VALIDITY_INVALID", "validUntil must be a date YYYY-MM-DD or null (long-term).", { details: { field: "validUntil" } });
    if (validUntil !== null && validUntil < validFrom) throw new AppError("VALIDITY_INVALID", "validUntil is before validFrom.", { details: { field: "validUntil" } });
    return { issueDate, validFrom, validUntil };
  }

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
    const signed = await signer.signCompact(d.ic.departmentId, TYP_LICENCE, b64u(d.json));
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
    const byDept = indexesBy(drafts, (d) => d.ic.departmentId);
    const out: Built[] = new Array(drafts.length);
    await Promise.all([...byDept].map(async ([deptId, idx]) => {
      // A key retired since it was cached: sealHere looks the certificate up again.
      const k = await signer.inProcessKey(deptId, TYP_LICENCE).catch(() => (signer.forget(deptId), null));
      if (!k) {
        for (const i of idx) out[i] = await sealHere(drafts[i]!);
        return;
      }
      const sealed = await worker.seal(k.key, pii.aeadKey, idx.map((i) => ({ headerB64: k.headerB64, json: drafts[i]!.json, aad: `licence:${drafts[i]!.id}` })));
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

  /**
   * Issues a batch (1 to MAX_BATCH_LINES); returns one result per input, in order. Each licence is all or nothing
   * (row + log entry in one transaction); chunks of CHUNK share a transaction. Idempotency keys are honoured.
   *
   * Pipelined: while chunks k+1 and k+2 are signed and encrypted (on the seal worker), this thread validates the
   * next and stores chunk k. A key repeated across chunks is caught by the re-check inside the storing transaction.
   */
  async function issueBatch(inputs: ReadonlyArray<IssueInput | { error: AppError }>, ic: IssuerContext, onProgress?: (done: number) => void): Promise<BatchResult[]> {
    if (inputs.length > MAX_BATCH_LINES) throw new AppError("BATCH_TOO_LARGE", undefined, { details: { maxLines: MAX_BATCH_LINES } });
    const results: BatchResult[] = new Array(inputs.length);
    let reported = 0;
    const fail = (line: number, e: unknown) => {
      const a = appErr(e);
      if (a.code === "INTERNAL") deps.log?.error({ err: e }, "licence issuance failed");
      results[line] = { line: line + 1, ok: false, code: a.code, message: a.message, ...(a.details ? { details: a.details } : {}) };
    };

    interface Chunk {
      end: number;
      prepared: Prepared[];
      seenKeys: Map<string, Prepared>;
      dupes: Array<{ line: number; key: string; hash: string }>;
    }
    async function prep(start: number): Promise<Chunk> {
      const end = Math.min(inputs.length, start + CHUNK);
      const t = today();
      const c: Chunk = { end, prepared: [], seenKeys: new Map(), dupes: [] };
      for (let i = start; i < end; i++) {
        const item = inputs[i]!;
        if ("error" in item) {
          fail(i, item.error);
          continue;
        }
        try {
          const key = item.idempotencyKey;
          if (key !== undefined) {
            // A key already used: answered as before, whatever the catalogue says now (see priorIssue).
            const prior = await priorIssue(item, ic);
            if (prior) {
              results[i] = { line: i + 1, ok: true, identifier: prior.identifier, replay: true };
              continue;
            }
          }
          const p = await prepare(i, item, ic, t);
          if (key !== undefined) {
            const first = c.seenKeys.get(key);
            if (first) {
              c.dupes.push({ line: i, key, hash: p.requestHash });
              continue;
            }
            c.seenKeys.set(key, p);
          }
          c.prepared.push(p);
        } catch (e) {
          fail(i, e);
        }
      }
      return c;
    }
    type Staged = { ok: true; built: Built[] } | { ok: false; e: unknown } | null;
    const stageOf = (c: Chunk): Promise<Staged> =>
      c.prepared.length === 0 ? Promise.resolve(null) : stage(c.prepared).then((built) => ({ ok: true as const, built }), (e: unknown) => ({ ok: false as const, e }));
    async function finishChunk(c: Chunk, st: Staged, onCommit: () => void): Promise<void> {
      if (st) {
        try {
          if (!st.ok) throw st.e;
          await store(st.built, results, undefined, onCommit);
        } catch (e) {
          for (const p of c.prepared) fail(p.line, e);
        }
      }
      for (const d of c.dupes) {
        try {
          const prior = await uow.read.licences.idempotency(ic.idempotencyScope, d.key);
          if (!prior) fail(d.line, results[c.seenKeys.get(d.key)!.line]?.ok === false ? new AppError("CONFLICT", "The first line with this Idempotency-Key failed.") : new AppError("INTERNAL"));
          else if (prior.requestHash !== d.hash) fail(d.line, new AppError("IDEMPOTENCY_CONFLICT"));
          else results[d.line] = { line: d.line + 1, ok: true, identifier: prior.identifier, replay: true };
        } catch (e) {
          fail(d.line, e);
        }
      }
      if (c.end > reported) onProgress?.((reported = c.end));
    }

    if (inputs.length === 0) return results;
    // Up to SIGN_AHEAD chunks are being signed while this thread validates the next and stores the oldest signed
    // one. A chunk's store starts once the one before has committed (or failed); it need not wait until that one
    // is durable, and this thread validates meanwhile. The batch returns when every chunk is durable.
    const signing: Array<{ c: Chunk; st: Promise<Staged> }> = [];
    const finishing: Array<Promise<void>> = [];
    let lastCommitted: Promise<void> = Promise.resolve();
    let pos = 0;
    while (pos < inputs.length || signing.length > 0) {
      while (pos < inputs.length && signing.length < SIGN_AHEAD) {
        const c = await prep(pos);
        pos = c.end;
        signing.push({ c, st: stageOf(c) });
      }
      const { c, st } = signing.shift()!;
      const staged = await st;
      const { done, committed } = inCommitOrder(lastCommitted, (onCommit) => finishChunk(c, staged, onCommit));
      lastCommitted = committed;
      finishing.push(done);
    }
    await Promise.all(finishing);
    // Replays were answered from what was read: those earlier commits must be durable too.
    await uow.durable?.();
    return results;
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
          written(keep.map((b) => b.rec));
          noteIssued(keep.map((b) => b.rec));
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

  // ---- lifecycle ----

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
        bump(rec.departmentId);
        written([rec]);
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
        bump(old.departmentId);
        written([old, b.rec]);
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
        const depts = new Set(done.map((it) => it.rec.departmentId));
        tx.afterCommit(() => {
          depts.forEach(bump);
          written(done.map((it) => it.rec));
        });
        return done.length;
      });
      expired += n;
      // Each row of a page is expired, changed meanwhile (no longer due) or of a department now passed over; a page
      // that expired nothing and passed over no one new would come back the same, so stop rather than spin.
      if (n === 0 && passedOver.size === passedBefore) break;
    }
    return expired;
  }

  // ---- reads ----

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

  /** A holder's current records as asked (types, page), at most `limit`, and whether there are more. */
  async function holderPage(holderHash: string, opts: { typeCodes?: readonly string[]; after?: string; limit?: number }): Promise<{ recs: LicenceRecord[]; truncated: boolean; kept: boolean }> {
    const limit = Math.min(opts.limit ?? HOLDER_ANSWER_MAX, HOLDER_ANSWER_MAX);
    const asAsked = () => uow.read.licences.byHolder(holderHash, {
      current: true, limit: limit + 1, ...(opts.after !== undefined ? { after: opts.after } : {}), ...(opts.typeCodes ? { typeCodes: opts.typeCodes } : {}),
    });
    let recs: LicenceRecord[];
    // Whether the records are the holder's kept ones (the same objects next time), or read for this call only.
    let kept = false;
    // A page past the first, or a short one, is read as asked; the kept records serve the common whole answer.
    if (opts.after !== undefined || limit < HOLDER_ANSWER_MAX) recs = await asAsked();
    else {
      ({ recs, kept } = await holderRecords(holderHash));
      // More than one answer's worth of every type: the types asked for are read on their own.
      if (opts.typeCodes) {
        if (recs.length > HOLDER_ANSWER_MAX) {
          recs = await asAsked();
          kept = false;
        } else recs = recs.filter((r) => opts.typeCodes!.includes(r.typeCode));
      }
    }
    return { recs: recs.length > limit ? recs.slice(0, limit) : recs, truncated: recs.length > limit, kept };
  }

  /**
   * A holder's current licences (of `typeCodes` when given), decrypted, in identifier order: for the holder themself
   * or an entitled consumer. At most `limit` (≤ HOLDER_ANSWER_MAX); `truncated` says there are more, and the holder
   * asks for them `after` the last identifier listed.
   */
  async function forHolder(holderHash: string, opts: { typeCodes?: readonly string[]; after?: string; limit?: number } = {}): Promise<{ items: LicenceView[]; truncated: boolean }> {
    const { recs, truncated } = await holderPage(holderHash, opts);
    return { items: await Promise.all(recs.map((r) => view(r))), truncated };
  }

  /**
   * The 免证办 answer's licences as UTF-8 JSON, each `{identifier, typeCode, name, version, status, statusText,
   * validFrom, validUntil, data, jws` without its closing brace (the caller adds the copy link). `data` is the
   * signed payload's text as decrypted, not parsed and written again. Kept per record and status (ANSWERS_KEPT_BYTES
   * in all; a record object is replaced whenever its licence changes, see `written`), so a holder asked about
   * again is answered without decrypting, parsing or serialising. (Kept decrypted: the process holds the key that
   * opens the ciphertext anyway; at rest, personal data stays encrypted.)
   */
  const answers = new Lru<LicenceRecord, { st: LicenceStatus; json: Buffer }>(HOLDER_RECORDS_KEPT, { weigh: (e) => e.json.length, maxWeight: ANSWERS_KEPT_BYTES });
  async function answerJson(rec: LicenceRecord, st: LicenceStatus, keep: boolean): Promise<Buffer> {
    const { json, payload } = openPayload(rec);
    const q = JSON.stringify;
    const text = `{"identifier":${q(rec.identifier)},"typeCode":${q(rec.typeCode)},"name":${q(payload.name)},"version":${q(rec.version)},"status":${q(st)},"statusText":${q(STATUS_TEXT[st])},`
      + `"validFrom":${q(rec.validFrom)},"validUntil":${q(rec.validUntil)},"data":${json},"jws":${q(await jwsOf(rec, json))}`;
    const buf = Buffer.from(text, "utf8");
    // Only for a record that is kept: one read for this call alone is never asked about again.
    if (keep) answers.set(rec, { st, json: buf });
    return buf;
  }

  async function answersForHolder(holderHash: string, typeCodes: readonly string[]): Promise<{ items: Array<{ identifier: string; json: Buffer }>; truncated: boolean }> {
    const { recs, truncated, kept } = await holderPage(holderHash, { typeCodes });
    const t = today();
    const items: Array<{ identifier: string; json: Buffer }> = [];
    for (const r of recs) {
      const st = effectiveStatus(r, t);
      const hit = kept ? answers.get(r) : undefined;
      items.push({ identifier: r.identifier, json: hit && hit.st === st ? hit.json : await answerJson(r, st, kept) });
    }
    return { items, truncated };
  }

  /** Online status (public): no personal data. */
  async function status(identifier: string) {
    const rec = await record(identifier);
    const st = effectiveStatus(rec, today());
    const listNo = Math.floor(rec.statusIndex / LIST_SIZE);
    return {
      identifier, status: st, statusText: STATUS_TEXT[st], since: st === "05" && rec.status !== "05" ? rec.validUntil : rec.statusAt.toISOString(),
      version: rec.version, validFrom: rec.validFrom, validUntil: rec.validUntil, supersededBy: rec.supersededBy,
      statusList: { url: listUrl(rec.departmentId, listNo), index: rec.statusIndex % LIST_SIZE },
    };
  }

  // ---- status lists (W3C Bitstring Status List style, statusPurpose "message", 4 bits per entry) ----
  const lists = new Map<string, { jws: string; etag: string; at: number; gen: number; day: string; issued: number }>();
  const building = new Map<string, Promise<{ jws: string; etag: string }>>();

  async function statusList(departmentId: string, listNo: number): Promise<{ jws: string; etag: string; maxAge: number }> {
    const dept = await department(departmentId).catch((e: unknown) => {
      throw e instanceof AppError && e.code === "DEPARTMENT_NOT_FOUND" ? new AppError("STATUS_LIST_NOT_FOUND") : e;
    });
    const next = await uow.read.licences.peek(statusScope(departmentId));
    if (!Number.isSafeInteger(listNo) || listNo < 0 || listNo * LIST_SIZE >= next) throw new AppError("STATUS_LIST_NOT_FOUND");
    const key = `${departmentId}/${listNo}`;
    const gen = gens.get(departmentId) ?? 0;
    const now = clock.now();
    const day = chinaDate(now);
    const hit = lists.get(key);
    const maxAge = Math.ceil(listTtl / 1000);
    const issued = issuedInto.get(key) ?? 0;
    const age = hit ? now.getTime() - hit.at : Infinity;
    if (hit && hit.gen === gen && hit.day === day && age < listTtl && (hit.issued === issued || age < ISSUED_LAG_MS)) return { jws: hit.jws, etag: hit.etag, maxAge };
    let p = building.get(key);
    if (!p) {
      p = (async () => {
        const rows = await uow.read.licences.statusRange(departmentId, listNo * LIST_SIZE, (listNo + 1) * LIST_SIZE);
        const bits = Buffer.alloc((LIST_SIZE * STATUS_BITS) / 8);
        for (const r of rows) {
          const pos = r.statusIndex - listNo * LIST_SIZE;
          const v = STATUS_NIBBLE[effectiveStatus(r, day)];
          // entry i occupies bits 4i..4i+3, most significant bit first (index 0 = leftmost bit).
          bits[pos >> 1]! |= pos % 2 === 0 ? v << 4 : v;
        }
        const url = listUrl(departmentId, listNo);
        const vc = {
          "@context": ["https://www.w3.org/ns/credentials/v2"],
          id: url,
          type: ["VerifiableCredential", "BitstringStatusListCredential"],
          issuer: `urn:uscc:${dept.uscc}`,
          validFrom: now.toISOString(),
          validUntil: new Date(now.getTime() + 24 * 3600_000).toISOString(),
          credentialSubject: {
            id: `${url}#list`, type: "BitstringStatusList", statusPurpose: "message", statusSize: STATUS_BITS,
            statusMessages: STATUS_MESSAGES, ttl: listTtl, encodedList: `u${gzipSync(bits).toString("base64url")}`,
          },
        };
        const { jws, cert } = await signer.signCompact(departmentId, TYP_STATUS_LIST, b64u(JSON.stringify(vc))).catch((e: unknown) => {
          throw e instanceof AppError && e.code === "SIGNING_KEY_UNAVAILABLE" ? new AppError("STATUS_LIST_UNAVAILABLE", undefined, { cause: e }) : e;
        });
        // Weak: a list signed again the same day, by the same certificate, with the same statuses (only validFrom and
        // the signature differ) is the same list, so a client's copy stays good (304) across rebuilds and instances.
        // The day bounds it: a copy made on day D is valid 24 h, past the end of D, when a new day changes the tag.
        const etag = `W/"${sha256Hex(`${url}\n${day}\n${cert.serial}\n${vc.credentialSubject.encodedList}`).slice(0, 32)}"`;
        lists.set(key, { jws, etag, at: now.getTime(), gen, day, issued });
        return { jws, etag };
      })().finally(() => building.delete(key));
      building.set(key, p);
    }
    return { ...(await p), maxAge };
  }

  return {
    issue,
    issueBatch,
    transition,
    change,
    expireDue,
    get,
    history,
    list,
    find,
    numberStoredLicences,
    forHolder,
    answersForHolder,
    status,
    statusList,
    record,
    currentRecord,
    view,
    openPayload,
    jwsOf,
    department,
  };
}

export type LicenceService = ReturnType<typeof createLicenceService>;
