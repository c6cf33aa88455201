/**
 * Digests computed on a worker thread while the main thread writes the zip and stores it (SM3 is the slowest step
 * of a build: ~4× SHA-256 in OpenSSL). The bytes are copied to the worker as they pass; at most MAX_INFLIGHT bytes
 * wait there (the writer pauses beyond that), so memory stays bounded whatever the file's size. One worker per
 * build, closed with it. Where workers cannot start, digests are computed inline (same results).
 */
import { createHash, type Hash } from "node:crypto";
import { Worker } from "node:worker_threads";

const MAX_INFLIGHT = 32 * 1024 * 1024;

const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const open = new Map();
parentPort.on("message", (m) => {
  if (m.op === "open") open.set(m.id, m.algs.map((a) => createHash(a)));
  else if (m.op === "update") { for (const h of open.get(m.id)) h.update(m.buf); parentPort.postMessage({ op: "ack", n: m.buf.byteLength }); }
  else if (m.op === "digest") { const hs = open.get(m.id); open.delete(m.id); parentPort.postMessage({ op: "digest", id: m.id, hex: hs.map((h) => h.digest("hex")) }); }
});
`;

export interface StreamDigest {
  update(chunk: Uint8Array): Promise<void>;
  /** Hex digests, in the order of the algorithms asked. */
  digest(): Promise<string[]>;
}

export interface Hasher {
  stream(algs: readonly string[]): StreamDigest;
  close(): Promise<void>;
}

/** Inline digests (no worker). */
export function inlineHasher(): Hasher {
  return {
    stream(algs) {
      const hs: Hash[] = algs.map((a) => createHash(a));
      return { update: async (c) => void hs.forEach((h) => h.update(c)), digest: async () => hs.map((h) => h.digest("hex")) };
    },
    close: async () => undefined,
  };
}

export function workerHasher(): Hasher {
  let worker: Worker;
  try {
    worker = new Worker(WORKER_SOURCE, { eval: true });
  } catch {
    return inlineHasher();
  }
  worker.unref();
  let inflight = 0;
  let seq = 0;
  let failed: Error | null = null;
  const waiting: Array<() => void> = [];
  const digests = new Map<number, { resolve: (hex: string[]) => void; reject: (e: Error) => void }>();
  worker.on("message", (m: { op: "ack"; n: number } | { op: "digest"; id: number; hex: string[] }) => {
    if (m.op === "ack") {
      inflight -= m.n;
      while (inflight < MAX_INFLIGHT && waiting.length) waiting.shift()!();
    } else {
      digests.get(m.id)?.resolve(m.hex);
      digests.delete(m.id);
    }
  });
  worker.on("error", (e) => {
    failed = e;
    for (const w of waiting.splice(0)) w();
    for (const d of digests.values()) d.reject(e);
    digests.clear();
  });
  return {
    stream(algs) {
      const id = ++seq;
      worker.postMessage({ op: "open", id, algs: [...algs] });
      return {
        async update(chunk) {
          if (failed) throw failed;
          // A copy goes to the worker (the caller keeps its bytes for the zip).
          const copy = new Uint8Array(chunk.byteLength);
          copy.set(chunk);
          inflight += copy.byteLength;
          worker.postMessage({ op: "update", id, buf: copy }, [copy.buffer]);
          if (inflight >= MAX_INFLIGHT) await new Promise<void>((r) => waiting.push(r));
          if (failed) throw failed;
        },
        digest() {
          if (failed) return Promise.reject(failed);
          return new Promise<string[]>((resolve, reject) => {
            digests.set(id, { resolve, reject });
            worker.postMessage({ op: "digest", id });
          });
        },
      };
    },
    close: () => worker.terminate().then(() => undefined),
  };
}
