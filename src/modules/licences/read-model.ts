/**
 * The licences' read model: everything this process keeps in memory about licences — stored records (for
 * verification), a holder's current records and their 免证办 answer JSON (for the holder query), and signed status
 * lists. Use cases ask it; routes never see it. (Verdicts, in verify.ts, are reused only while the record this model
 * returns is the one they were made from, so they follow the same rule.)
 *
 * ONE FRESHNESS RULE. An entry read from the store is served until the first of:
 *   1. a commit of this process changes it — the one invalidation path: use cases call `committed(change)` from
 *      their transaction's afterCommit hook;
 *   2. another writer commits — the injected `othersCommitted` signal changes its mark (SQLite: PRAGMA data_version
 *      through UnitOfWork.changeMark, ≤ 20 ms late; PostgreSQL: LISTEN/NOTIFY, see /work/coord/READMODEL.md);
 *   3. it is KEEP_MS old (60 s), or REUSE_MS old (1 s) when no signal is injected (the store cannot tell).
 * A read that overlapped a commit of this process is returned but not kept. Status lists are a published artifact
 * with a max-age: they follow 1 (a status change or a new licence in the list's department) and 3 with the list's
 * own ttl and day, not 2 (another writer's change shows within the ttl the list promises, as on a client's copy).
 * Records and holders are aged by the wall clock; status lists by the service clock (their ttl is published).
 *
 * MEMORY BOUND: RECORDS_KEPT records (~1.5 KB each), HOLDERS_KEPT holders holding HOLDER_RECORDS_KEPT records in
 * all, ANSWER_BYTES_KEPT bytes of answer JSON, and the status lists of the departments asked about (64 KB each).
 * Decrypted answer JSON is kept only for holders whose records are kept (DESIGN rule 7: a bounded copy).
 */
import { Lru } from "../../util/lru.js";
import type { LicenceRecord, LicenceRepo, LicenceStatus } from "./ports.js";

/** How long an entry is reused while the store can tell that no other writer has committed (rule 3). */
export const RECORD_KEEP_MS = 60_000;
/** How long an entry is reused where the store cannot tell (no signal injected) (rule 3). */
export const RECORD_CACHE_MS = 1000;
const RECORDS_KEPT = 20_000;
const HOLDERS_KEPT = 20_000;
const HOLDER_RECORDS_KEPT = 40_000;
/** A holder with more current licences than this is read every time. */
const HOLDER_KEPT_MAX_RECORDS = 50;
const ANSWER_BYTES_KEPT = 64 * 2 ** 20;
/** How soon a kept status list is signed again to include licences issued into it since. */
const ISSUED_LAG_MS = 5_000;
/** Entries per status list (W3C Bitstring Status List minimum, for herd privacy). */
export const LIST_SIZE = 131_072;

/**
 * "Another writer committed": a mark that changes whenever a writer other than this process has committed to the
 * store since it was last read (it may lag by a stated bound). This process's own commits need not change it.
 */
export interface CommitSignal {
  mark(): number;
}

/** What a commit of this process changed (the one invalidation path). */
export interface LicenceChange {
  records: ReadonlyArray<{ identifier: string; holderHash: string; departmentId: string; statusIndex: number }>;
  /** New licences (their status lists gain an entry). */
  issued?: boolean;
  /** Status changes (their departments' status lists change). */
  statusChanged?: boolean;
}

/** What is kept (all by default); the benchmark turns each off to measure what it earns. */
export interface ReadModelOptions {
  records?: boolean;
  holders?: boolean;
  answers?: boolean;
  /** Verification's per-licence memory (verdicts, a JWS's facts, log entries and proofs: verify.ts `remember`). */
  verdicts?: boolean;
}

export interface KeptList {
  jws: string;
  etag: string;
}

export function createLicenceReadModel(deps: {
  /** The store's last committed state. */
  read(): Pick<LicenceRepo, "byId" | "byHolder">;
  othersCommitted?: CommitSignal;
  /** Monotonic-enough wall clock for ages (Date.now by default). */
  now?: () => number;
  keep?: ReadModelOptions;
}) {
  const now = deps.now ?? Date.now;
  const keep = { records: true, holders: true, answers: true, ...deps.keep };
  const mark = () => deps.othersCommitted?.mark();
  const maxAge = deps.othersCommitted ? RECORD_KEEP_MS : RECORD_CACHE_MS;
  /** Bumped by every commit of this process: a read that saw it change may hold the state before that commit. */
  let epoch = 0;
  interface Stamp { at: number; mark: number | undefined }
  const fresh = (s: Stamp, t: number) => t - s.at < maxAge && s.mark === mark();

  const records = new Lru<string, Stamp & { rec: LicenceRecord }>(RECORDS_KEPT);
  const holders = new Lru<string, Stamp & { recs: LicenceRecord[] }>(HOLDERS_KEPT, { weigh: (e) => e.recs.length, maxWeight: HOLDER_RECORDS_KEPT });
  /** By record object: a kept record is replaced (a new object) whenever its licence changes. */
  const answers = new Lru<LicenceRecord, { st: LicenceStatus; json: Buffer }>(HOLDER_RECORDS_KEPT, { weigh: (e) => e.json.length, maxWeight: ANSWER_BYTES_KEPT });

  /** The stored record of a licence (undefined when not on record; such an answer is not kept). */
  async function record(identifier: string): Promise<LicenceRecord | undefined> {
    const t = now();
    const hit = keep.records ? records.get(identifier) : undefined;
    if (hit && fresh(hit, t)) return hit.rec;
    const m = mark();
    const seen = epoch;
    const rec = await deps.read().byId(identifier);
    if (keep.records && rec && seen === epoch) records.set(identifier, { rec, at: t, mark: m });
    else records.delete(identifier);
    return rec;
  }

  /**
   * A holder's current records (not superseded) in identifier order, at most `max` + 1 (one more tells that there
   * are more), and whether they are kept (the same objects are returned next time, so their answers can be kept).
   */
  async function holder(holderHash: string, max: number): Promise<{ recs: LicenceRecord[]; kept: boolean }> {
    const t = now();
    const hit = keep.holders ? holders.get(holderHash) : undefined;
    if (hit && fresh(hit, t)) return { recs: hit.recs, kept: true };
    const m = mark();
    const seen = epoch;
    const recs = await deps.read().byHolder(holderHash, { current: true, limit: max + 1 });
    const kept = keep.holders && seen === epoch && recs.length <= HOLDER_KEPT_MAX_RECORDS;
    if (kept) holders.set(holderHash, { recs, at: t, mark: m });
    else holders.delete(holderHash);
    return { recs, kept };
  }

  /**
   * The 免证办 answer JSON of a record in a status: kept for a kept record (one read for a single call is never asked
   * about again), made by `make` otherwise. Fresh with its record: a changed licence is a new record object.
   */
  async function answer(rec: LicenceRecord, st: LicenceStatus, kept: boolean, make: () => Promise<Buffer>): Promise<Buffer> {
    const hit = kept && keep.answers ? answers.get(rec) : undefined;
    if (hit && hit.st === st) return hit.json;
    const json = await make();
    if (kept && keep.answers) answers.set(rec, { st, json });
    return json;
  }

  // ---- status lists: generation per department (this process's status changes), licences issued per list ----
  const gens = new Map<string, number>();
  const issuedInto = new Map<string, number>();
  const lists = new Map<string, KeptList & { at: number; gen: number; day: string; issued: number }>();
  const listKey = (departmentId: string, listNo: number) => `${departmentId}/${listNo}`;

  /**
   * A kept status list, while no status in its department changed here, the day is the same, it is younger than
   * `ttl`, and no licence was issued into it here — or one was, but the list is younger than ISSUED_LAG_MS (a new
   * licence reads "unassigned" for seconds, and a bulk import cannot make every request rebuild it).
   */
  function keptList(departmentId: string, listNo: number, day: string, ttl: number, t: number): KeptList | undefined {
    const hit = lists.get(listKey(departmentId, listNo));
    if (!hit) return undefined;
    const age = t - hit.at;
    const issued = issuedInto.get(listKey(departmentId, listNo)) ?? 0;
    const ok = hit.gen === (gens.get(departmentId) ?? 0) && hit.day === day && age < ttl && (hit.issued === issued || age < ISSUED_LAG_MS);
    return ok ? hit : undefined;
  }

  /** What a list built now must be compared against later (read before the build starts; `t` by the service clock). */
  function listStamp(departmentId: string, listNo: number, t: number) {
    return { gen: gens.get(departmentId) ?? 0, issued: issuedInto.get(listKey(departmentId, listNo)) ?? 0, at: t };
  }

  function keepList(departmentId: string, listNo: number, day: string, stamp: ReturnType<typeof listStamp>, list: KeptList): void {
    lists.set(listKey(departmentId, listNo), { ...list, ...stamp, day });
  }

  /** THE invalidation path: after a commit of this process, drop what it changed. */
  function committed(change: LicenceChange): void {
    epoch++;
    const depts = new Set<string>();
    for (const r of change.records) {
      records.delete(r.identifier);
      holders.delete(r.holderHash);
      if (change.statusChanged) depts.add(r.departmentId);
      if (change.issued) {
        const k = listKey(r.departmentId, Math.floor(r.statusIndex / LIST_SIZE));
        issuedInto.set(k, (issuedInto.get(k) ?? 0) + 1);
      }
    }
    for (const d of depts) gens.set(d, (gens.get(d) ?? 0) + 1);
  }

  return { record, holder, answer, keptList, listStamp, keepList, committed };
}

export type LicenceReadModel = ReturnType<typeof createLicenceReadModel>;
