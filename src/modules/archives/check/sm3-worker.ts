/**
 * SM3 on a second thread while the main thread computes SHA-256 of the same bytes: OpenSSL's SM3 runs at a fraction
 * of SHA-256's speed (no CPU instructions for it), so over a big package the two digests together cost about what
 * SM3 alone costs. A few lines of plain JavaScript run with `eval: true` (as src/crypto/seal-worker.ts), so it works
 * the same under tsx, tap and the compiled build. Bounded: at most `maxQueuedBytes` wait for the worker; `update`
 * waits (the caller's read pauses) beyond that.
 */
import { Worker } from "node:worker_threads";

const SOURCE = `
const { parentPort } = require("node:worker_threads");
const crypto = require("node:crypto");
const open = new Map();
parentPort.on("message", (m) => {
  if (m.t === "u") {
    let h = open.get(m.id);
    if (!h) { h = crypto.createHash("sm3"); open.set(m.id, h); }
    h.update(m.b);
    parentPort.postMessage({ t: "a", n: m.b.byteLength });
  } else if (m.t === "d") {
    const h = open.get(m.id) || crypto.createHash("sm3");
    open.delete(m.id);
    parentPort.postMessage({ t: "d", id: m.id, hex: h.digest("hex") });
  }
});
`;

export interface Sm3Hasher {
  update(id: number, chunk: Uint8Array): Promise<void>;
  digest(id: number): Promise<string>;
  close(): Promise<void>;
}

export function createSm3Hasher(maxQueuedBytes = 32 * 1024 * 1024): Sm3Hasher {
  const w = new Worker(SOURCE, { eval: true });
  w.unref();
  let queued = 0;
  let waiter: (() => void) | null = null;
  let broken: Error | null = null;
  const digests = new Map<number, { resolve: (hex: string) => void; reject: (e: Error) => void }>();
  w.on("message", (m: { t: "a"; n: number } | { t: "d"; id: number; hex: string }) => {
    if (m.t === "a") {
      queued -= m.n;
      if (waiter && queued <= maxQueuedBytes / 2) {
        const go = waiter;
        waiter = null;
        go();
      }
    } else {
      digests.get(m.id)?.resolve(m.hex);
      digests.delete(m.id);
    }
  });
  const fail = (e: Error) => {
    broken ??= e;
    for (const d of digests.values()) d.reject(e);
    digests.clear();
    waiter?.();
    waiter = null;
  };
  w.on("error", fail);
  w.on("exit", (code) => fail(new Error(`the SM3 worker exited (${code})`)));
  return {
    async update(id, chunk) {
      if (broken) throw broken;
      queued += chunk.byteLength;
      w.postMessage({ t: "u", id, b: chunk });
      if (queued > maxQueuedBytes) await new Promise<void>((resolve) => (waiter = resolve));
    },
    digest(id) {
      if (broken) return Promise.reject(broken);
      return new Promise<string>((resolve, reject) => {
        digests.set(id, { resolve, reject });
        w.postMessage({ t: "d", id });
      });
    },
    async close() {
      w.removeAllListeners("exit");
      await w.terminate();
    },
  };
}
