/**
 * Grouped reads for PostgreSQL (issue 16): reads of one kind asked for while `inFlight` statements of that kind are
 * already on their way wait, and go together in the next statement (`… WHERE key = ANY(?)`), as writes queued during
 * a group go into the next transaction (pg.ts). A read asked for when fewer are in flight goes at once: a lone read
 * waits for nothing, and under load one round trip answers many requests. Each statement still reads the last
 * committed state when it runs, so a grouped read is never older than the call. Nothing is kept after it answers.
 *
 * Why: on a loaded machine every round trip costs more than the statement (the write to the socket hands the CPU to
 * the PostgreSQL backend and the process waits for its turn back), so many requests' reads in one statement are
 * much cheaper than one each. Only for reads through the pool (never inside a write transaction).
 */
export interface ReadBatcher<K, V> {
  /** The values of `keys` in order (undefined where there is none). Rejects with the statement's error. */
  load(keys: readonly K[]): Promise<Array<V | undefined>>;
}

interface Waiter<K, V> {
  keys: readonly K[];
  resolve(v: Array<V | undefined>): void;
  reject(e: unknown): void;
}

export function createReadBatcher<K, V>(fetch: (keys: K[]) => Promise<Map<K, V>>, opts: { maxKeys?: number; inFlight?: number } = {}): ReadBatcher<K, V> {
  const maxKeys = opts.maxKeys ?? 512;
  const limit = opts.inFlight ?? 2;
  const queue: Array<Waiter<K, V>> = [];
  let running = 0;

  function pump(): void {
    while (running < limit && queue.length > 0) {
      // Whole waiters, up to maxKeys keys (a waiter asking for more than that goes alone).
      const batch: Array<Waiter<K, V>> = [];
      const keys = new Set<K>();
      while (queue.length > 0 && (batch.length === 0 || keys.size + queue[0]!.keys.length <= maxKeys)) {
        const w = queue.shift()!;
        batch.push(w);
        for (const k of w.keys) keys.add(k);
      }
      running++;
      fetch([...keys]).then(
        (found) => {
          for (const w of batch) w.resolve(w.keys.map((k) => found.get(k)));
        },
        (e: unknown) => {
          for (const w of batch) w.reject(e);
        },
      ).finally(() => {
        running--;
        pump();
      });
    }
  }

  return {
    load(keys) {
      if (keys.length === 0) return Promise.resolve([]);
      return new Promise((resolve, reject) => {
        queue.push({ keys, resolve, reject });
        pump();
      });
    },
  };
}
