/**
 * A bounded least-recently-used map for in-process memoisation (verified signatures, parsed certificates…).
 * Bounded so that hostile input cannot grow it without limit.
 *
 * A hit moves the entry to the young end only while the map is more than half full: below that nothing can be
 * evicted before another max/2 insertions, and moving costs a delete and an insert on every hit of a hot path.
 * Eviction order is therefore exact LRU among the entries used since the map was last half full.
 */
export class Lru<K, V> {
  private readonly m = new Map<K, V>();
  private readonly half: number;
  private weight = 0;
  /**
   * At most `max` entries; with `weigh`, also at most `maxWeight` in all (the oldest go first), for values whose
   * size varies (a holder with one licence or with fifty).
   */
  constructor(
    private readonly max: number,
    private readonly bound?: { weigh(v: V): number; maxWeight: number },
  ) {
    this.half = max >> 1;
  }

  get(k: K): V | undefined {
    const v = this.m.get(k);
    if (v !== undefined && this.m.size > this.half) {
      this.m.delete(k);
      this.m.set(k, v);
    }
    return v;
  }

  set(k: K, v: V): void {
    this.delete(k);
    this.m.set(k, v);
    if (this.bound) this.weight += this.bound.weigh(v);
    while (this.m.size > this.max || (this.bound && this.weight > this.bound.maxWeight && this.m.size > 1)) {
      this.delete(this.m.keys().next().value as K);
    }
  }

  delete(k: K): void {
    if (this.bound) {
      const old = this.m.get(k);
      if (old !== undefined) this.weight -= this.bound.weigh(old);
    }
    this.m.delete(k);
  }

  get size(): number {
    return this.m.size;
  }
}

/**
 * A read-through cache over an Lru: a value is loaded once and reused for `ttlMs` by the given clock, then loaded
 * again. `keep` decides which loaded values are remembered (e.g. not "not found"); a load that throws is not.
 */
export class TtlCache<K, V> {
  private readonly lru: Lru<K, { v: V; at: number }>;
  constructor(
    max: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly keep: (v: V) => boolean = () => true,
  ) {
    this.lru = new Lru(max);
  }

  async get(k: K, load: (k: K) => Promise<V>): Promise<V> {
    const now = this.now();
    const hit = this.lru.get(k);
    if (hit && now - hit.at < this.ttlMs) return hit.v;
    const v = await load(k);
    if (this.keep(v)) this.lru.set(k, { v, at: now });
    else this.lru.delete(k);
    return v;
  }

  delete(k: K): void {
    this.lru.delete(k);
  }
}
