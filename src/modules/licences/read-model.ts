/**
 * The licences' read model: everything this process keeps in memory about licences. Use cases ask it; routes never
 * see it.
 *
 * WHAT IS KEPT: the signed status lists (one per department and LIST_SIZE licences), and nothing per licence or per
 * holder. Records, a holder's records and their 免证办 answer JSON were kept too until issue 15 measured them under
 * the traffic a deployment should expect — each holder asked about about once per case, each licence verified about
 * once — where none of them is asked for again while kept (a hit rate of 0 by construction). In alternated runs at
 * 1,000,000 licences (bench/licences.ts BENCH_CACHE_AB=only at b8e12a2) the server's CPU time per request was
 * 1,202 / 1,095 µs with nothing kept and 1,090 / 1,358 µs with records and holders kept (holder query, uniform),
 * 1,112 µs with the answers too: no gain, let alone the 10% each had to earn (README, "E-licences (issue 15)"). So
 * they went: a record or a holder's records are read from the store on every call (one indexed read) and are as
 * fresh as the store. Verification's per-licence memory (verify*.ts `remember`: verdicts, a JWS's facts, log entries
 * and proofs) showed no gain either (1,344 / 1,717 µs without, 1,510 µs with) and is the next to go; it stays for
 * now because the verification page (issue 6) renders once per reused verdict and its benchmark, which asks about
 * one token over and over, must first be redrawn as this one was.
 *
 * ONE FRESHNESS RULE. A kept list is served until the first of:
 *   1. a commit of this process changes a status in its department — the one invalidation path: use cases call
 *      `committed(change)` from their transaction's afterCommit hook. A commit that issues licences into it makes it
 *      stale too, but it is served for up to ISSUED_LAG_MS more (a new licence reads "unassigned" for seconds, and
 *      a bulk import cannot make every request sign it again);
 *   2. it is older than the list's published ttl, or the day (China time) changed.
 * Another writer's commit is not a reason: a list promises its ttl, and a change made elsewhere shows within it, as
 * on a client's copy. (A per-licence cache added later would need that signal: UnitOfWork.changeMark, as the
 * catalogue uses it.) Lists are aged by the service clock (their ttl is published).
 *
 * MEMORY BOUND: LISTS_KEPT lists (each at most 64 KB of bits, gzipped and signed), the least recently asked going
 * first; a counter per department and per list.
 */
import { Lru } from "../../util/lru.js";

/** How soon a kept status list is signed again to include licences issued into it since. */
const ISSUED_LAG_MS = 5_000;
/** Entries per status list (W3C Bitstring Status List minimum, for herd privacy). */
export const LIST_SIZE = 131_072;
const LISTS_KEPT = 1000;

/** What a commit of this process changed (the one invalidation path). */
export interface LicenceChange {
  records: ReadonlyArray<{ departmentId: string; statusIndex: number }>;
  /** New licences (their status lists gain an entry). */
  issued?: boolean;
  /** Status changes (their departments' status lists change). */
  statusChanged?: boolean;
}

export interface KeptList {
  jws: string;
  etag: string;
}

export function createLicenceReadModel() {
  // ---- status lists: generation per department (this process's status changes), licences issued per list ----
  const gens = new Map<string, number>();
  const issuedInto = new Map<string, number>();
  const lists = new Lru<string, KeptList & { at: number; gen: number; day: string; issued: number }>(LISTS_KEPT);
  const listKey = (departmentId: string, listNo: number) => `${departmentId}/${listNo}`;

  /**
   * A kept status list, while no status in its department changed here, the day is the same, it is younger than
   * `ttl`, and no licence was issued into it here — or one was, but the list is younger than ISSUED_LAG_MS.
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

  /** THE invalidation path: after a commit of this process, mark what it changed. */
  function committed(change: LicenceChange): void {
    const depts = new Set<string>();
    for (const r of change.records) {
      if (change.statusChanged) depts.add(r.departmentId);
      if (change.issued) {
        const k = listKey(r.departmentId, Math.floor(r.statusIndex / LIST_SIZE));
        issuedInto.set(k, (issuedInto.get(k) ?? 0) + 1);
      }
    }
    for (const d of depts) gens.set(d, (gens.get(d) ?? 0) + 1);
  }

  return { keptList, listStamp, keepList, committed };
}

export type LicenceReadModel = ReturnType<typeof createLicenceReadModel>;
