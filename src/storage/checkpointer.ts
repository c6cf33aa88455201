/**
 * A background WAL checkpointer: a worker thread with its own connection that copies committed WAL frames back
 * into the database file (`PRAGMA wal_checkpoint(PASSIVE)`) while the main thread goes on serving.
 *
 * Why: with SQLite's automatic checkpoint, the COMMIT that pushes the WAL past 1,000 pages also copies them into
 * the main file and fsyncs it, on the caller's thread. better-sqlite3 is synchronous, so that commit stalls the
 * event loop: measured on the 1M-licence file, a group commit of 50 access records took 1.5 ms at the median but
 * 3.9 ms on average, the difference being those checkpoints (random pages of a 3.6 GB file, then an fsync).
 *
 * Contract:
 *  - PASSIVE never blocks writers or readers; it backfills what no open read snapshot still needs.
 *  - The writer keeps an automatic checkpoint at a high threshold (FALLBACK_PAGES) as a safety net, so the WAL
 *    stays bounded even if this worker stops or falls behind.
 *  - The worker is plain JavaScript run with `eval: true` (no TypeScript loader needed under tsx, tap or dist).
 *    better-sqlite3 is resolved here and passed to it by path.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/** The writer's own automatic checkpoint while the background one runs (pages of 4 KiB: 64 MiB). */
export const FALLBACK_PAGES = 16_384;

export interface Checkpointer {
  /** Checkpoints run so far and frames copied (for tests and metrics). */
  stats(): Promise<{ runs: number; copied: number; lastError: string | null }>;
  /** Asks the worker to checkpoint now (tests); resolves with the PRAGMA's answer. */
  now(): Promise<{ busy: number; log: number; checkpointed: number }>;
  stop(): Promise<void>;
}

const SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma("busy_timeout = 100");
db.pragma("synchronous = FULL");
let runs = 0, copied = 0, lastError = null, timer = null, stopped = false;
function once() {
  try {
    const r = db.pragma("wal_checkpoint(PASSIVE)")[0];
    runs++;
    copied += Math.max(0, r.checkpointed);
    return r;
  } catch (e) {
    lastError = String(e && e.message || e);
    return { busy: 1, log: -1, checkpointed: -1 };
  }
}
function tick() {
  if (stopped) return;
  const r = once();
  // Behind (a long WAL not yet copied): go again soon; otherwise idle at the normal interval.
  const behind = r.log > 0 && r.log - r.checkpointed > workerData.busyPages;
  timer = setTimeout(tick, behind ? 5 : workerData.intervalMs);
}
parentPort.on("message", (m) => {
  if (m.op === "stats") parentPort.postMessage({ id: m.id, runs, copied, lastError });
  else if (m.op === "now") parentPort.postMessage({ id: m.id, result: once() });
  else if (m.op === "stop") {
    stopped = true;
    if (timer) clearTimeout(timer);
    try { db.close(); } catch {}
    parentPort.postMessage({ id: m.id });
    parentPort.close();
  }
});
timer = setTimeout(tick, workerData.intervalMs);
`;

export function startCheckpointer(file: string, opts: { intervalMs?: number; onError?: (e: unknown) => void } = {}): Checkpointer {
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  const w = new Worker(SOURCE, { eval: true, workerData: { file, driver, intervalMs: opts.intervalMs ?? 50, busyPages: 256 } });
  w.unref();
  let seq = 0;
  let stopped: Promise<void> | null = null;
  const waiting = new Map<number, (m: Record<string, unknown>) => void>();
  w.on("message", (m: { id: number }) => {
    const f = waiting.get(m.id);
    waiting.delete(m.id);
    f?.(m);
  });
  // A dead checkpointer must not take the service down: the writer's fallback checkpoint keeps the WAL bounded.
  w.on("error", (e) => opts.onError?.(e));
  w.on("exit", () => {
    for (const f of waiting.values()) f({ gone: true });
    waiting.clear();
  });
  function ask<T>(op: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const id = ++seq;
      waiting.set(id, (m) => (m.gone ? reject(new Error("the checkpointer has stopped")) : resolve(m as T)));
      w.postMessage({ op, id });
    });
  }
  return {
    stats: () => ask("stats"),
    now: async () => (await ask<{ result: { busy: number; log: number; checkpointed: number } }>("now")).result,
    stop() {
      stopped ??= ask("stop").then(() => undefined, () => undefined).finally(() => void w.terminate());
      return stopped;
    },
  };
}
