/**
 * A worker thread for the CPU-heavy half of issuing licences in bulk: for each licence, the ES256 or GmSM2 signature
 * over `header.payload`, the SHA-256 of the compact JWS and the AES-256-GCM encryption of the payload at rest.
 * GmSM2 (src/modules/licences/jws.ts) is signed as src/crypto/sm2.ts signs: e = SM3(Z‖input) with node's SM3 from
 * the SM3 state after Z, then sm-crypto-v2's `doSignature` over e with a fresh (k, [k]G) from the library's own
 * point class (the worker loads the same library file as this thread). The main
 * thread validates the next chunk and writes the previous one meanwhile, so bulk import uses a second core.
 *
 * The worker is a few lines of plain JavaScript run with `eval: true`, so it needs no TypeScript loader and works
 * the same under tsx, tap and the compiled dist. Keys reach it by postMessage (KeyObjects are cloneable) and stay in
 * this process; results are byte-for-byte what the in-thread code produces (tests compare them).
 */
import { createRequire } from "node:module";
import os from "node:os";
import { Worker } from "node:worker_threads";
import type { KeyObject } from "node:crypto";
import { sm2Z } from "./sm2.js";
import { sm2KeyOf } from "../pki/signing-key.js";

export interface SealJob {
  /** base64url protected header. */
  headerB64: string;
  /** The payload JSON (UTF-8); signed as base64url and encrypted as is. */
  json: string;
  /** AES-GCM additional data binding the ciphertext to its row. */
  aad: string;
}

export interface SealResult {
  payloadB64: string;
  /** base64url ES256 signature (r‖s). */
  signatureB64: string;
  /** hex SHA-256 of the compact JWS. */
  jwsSha256: string;
  /** base64url(iv12 ‖ ciphertext ‖ tag16), as PiiProtector.encrypt. */
  enc: string;
}

export interface SealWorker {
  /** Signs with `signingKey` (ES256, P-1363; or SM2, r‖s, when `alg` is "SM2") and encrypts with the 32-byte `aeadKey`. */
  seal(signingKey: KeyObject, aeadKey: Uint8Array, jobs: readonly SealJob[], alg?: "ES256" | "SM2"): Promise<SealResult[]>;
  close(): Promise<void>;
}

const SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const crypto = require("node:crypto");
const keys = new Map();
let sm2lib = null;
let G = null;
const N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;
const G_HEX = "0432c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0";
function sm2Sign(k, input) {
  if (!sm2lib) {
    sm2lib = require(workerData.sm2Lib).sm2;
    G = sm2lib.precomputePublicKey(G_HEX, 1).constructor.BASE;
  }
  const e = k.zState.copy().update(input).digest();
  let kk;
  do kk = BigInt("0x" + crypto.randomBytes(32).toString("hex")); while (kk < 1n || kk >= N);
  const hex = sm2lib.doSignature(e, k.d, { der: false, hash: false, pointPool: [{ k: kk, x1: G.multiply(kk).toAffine().x }] });
  if (hex.length !== 128) throw new Error("SM2 signing returned a malformed signature");
  return Buffer.from(hex, "hex").toString("base64url");
}
// GCM nonces from a pool of CSPRNG bytes (one random fill per 341 nonces), each slice used once (as in pii.ts).
const ivPool = Buffer.alloc(12 * 341);
let ivNext = ivPool.length;
function freshIv() {
  if (ivNext === ivPool.length) {
    crypto.randomFillSync(ivPool);
    ivNext = 0;
  }
  const iv = ivPool.subarray(ivNext, ivNext + 12);
  ivNext += 12;
  return iv;
}
parentPort.on("message", (m) => {
  try {
    if (m.key) keys.set(m.keyId, m.key);
    if (m.sm2) keys.set(m.keyId, { d: m.sm2.d, zState: crypto.createHash("sm3").update(Buffer.from(m.sm2.z)) });
    if (m.aeadKey) keys.set(m.aeadId, Buffer.from(m.aeadKey));
    const key = keys.get(m.keyId);
    const aead = keys.get(m.aeadId);
    if (!key || !aead) throw new Error("unknown key");
    const n = m.headers.length;
    const out = { payloadB64: new Array(n), signatureB64: new Array(n), jwsSha256: new Array(n), enc: new Array(n) };
    for (let i = 0; i < n; i++) {
      const payloadB64 = Buffer.from(m.jsons[i], "utf8").toString("base64url");
      const input = m.headers[i] + "." + payloadB64;
      const sig = key.zState ? sm2Sign(key, Buffer.from(input, "ascii")) : crypto.sign("sha256", Buffer.from(input, "ascii"), { key, dsaEncoding: "ieee-p1363" }).toString("base64url");
      out.payloadB64[i] = payloadB64;
      out.signatureB64[i] = sig;
      out.jwsSha256[i] = crypto.createHash("sha256").update(input + "." + sig).digest("hex");
      const iv = freshIv();
      const c = crypto.createCipheriv("aes-256-gcm", aead, iv);
      c.setAAD(Buffer.from(m.aads[i]));
      const body = Buffer.concat([c.update(m.jsons[i], "utf8"), c.final()]);
      out.enc[i] = Buffer.concat([iv, body, c.getAuthTag()]).toString("base64url");
    }
    parentPort.postMessage({ id: m.id, out });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String((e && e.message) || e) });
  }
});
`;

/** The SM2 library file this thread uses, for the worker to load the same one. */
const SM2_LIB = createRequire(import.meta.url).resolve("sm-crypto-v2");

interface Reply {
  id: number;
  out?: { payloadB64: string[]; signatureB64: string[]; jwsSha256: string[]; enc: string[] };
  error?: string;
}

/** One worker thread, started on first use and again after it dies. */
function createLane() {
  let worker: Worker | null = null;
  let nextId = 1;
  const pending = new Map<number, { resolve(r: Reply): void; reject(e: Error): void }>();
  // Keys already sent (by object identity), so each crosses the thread boundary once.
  let sentKeys = new WeakMap<KeyObject, number>();
  let sentAead = new Map<string, number>();

  function start(): Worker {
    if (worker) return worker;
    const w = new Worker(SOURCE, { eval: true, workerData: { sm2Lib: SM2_LIB } });
    w.unref();
    w.on("message", (r: Reply) => {
      const p = pending.get(r.id);
      if (!p) return;
      pending.delete(r.id);
      p.resolve(r);
    });
    const fail = (e: Error) => {
      if (worker !== w) return;
      // A new worker starts empty: keys are sent again.
      worker = null;
      sentKeys = new WeakMap();
      sentAead = new Map();
      for (const p of pending.values()) p.reject(e);
      pending.clear();
    };
    w.on("error", fail);
    w.on("exit", (code) => fail(new Error(`seal worker exited (${code})`)));
    worker = w;
    return w;
  }

  return {
    async seal(signingKey: KeyObject, aeadKey: Uint8Array, jobs: readonly SealJob[], alg: "ES256" | "SM2" = "ES256"): Promise<SealResult[]> {
      const w = start();
      const id = nextId++;
      const msg: Record<string, unknown> = {
        id, headers: jobs.map((j) => j.headerB64), jsons: jobs.map((j) => j.json), aads: jobs.map((j) => j.aad),
      };
      let keyId = sentKeys.get(signingKey);
      if (keyId === undefined) {
        keyId = nextId++;
        sentKeys.set(signingKey, keyId);
        if (alg === "SM2") {
          const k = sm2KeyOf(signingKey);
          msg.sm2 = { d: Buffer.from(k.d).toString("hex"), z: new Uint8Array(sm2Z(k.publicKey)) };
        } else msg.key = signingKey;
      }
      msg.keyId = keyId;
      const aeadHex = Buffer.from(aeadKey).toString("hex");
      let aeadId = sentAead.get(aeadHex);
      if (aeadId === undefined) {
        aeadId = nextId++;
        sentAead.set(aeadHex, aeadId);
        msg.aeadKey = new Uint8Array(aeadKey);
      }
      msg.aeadId = aeadId;
      const r = await new Promise<Reply>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        w.postMessage(msg);
      });
      if (r.error || !r.out) throw new Error(`seal worker: ${r.error ?? "no result"}`);
      const o = r.out;
      return jobs.map((_, i) => ({ payloadB64: o.payloadB64[i]!, signatureB64: o.signatureB64[i]!, jwsSha256: o.jwsSha256[i]!, enc: o.enc[i]! }));
    },
    async close() {
      const w = worker;
      worker = null;
      sentKeys = new WeakMap();
      sentAead = new Map();
      if (w) await w.terminate();
    },
  };
}

/**
 * `threads` worker threads: a chunk is split evenly between them. Default: one on a machine of two cores or fewer,
 * two otherwise. On two cores a second worker only competes with the event loop and the WAL checkpointer for them:
 * alternated bulk imports ran 8,240 / 8,519 licences/s with one against 7,584 / 7,889 with two (a fresh file), and
 * 4,045 / 5,439 against 3,186 / 4,668 on a 1.5M-licence file (2026-11-22). Bulk import keeps two chunks being signed
 * ahead, so one worker does not leave the event loop waiting.
 */
export function createSealWorker(opts: { threads?: number } = {}): SealWorker {
  const lanes = Array.from({ length: Math.max(1, opts.threads ?? (os.availableParallelism() <= 2 ? 1 : 2)) }, createLane);
  return {
    async seal(signingKey, aeadKey, jobs, alg) {
      if (jobs.length === 0) return [];
      const n = Math.min(lanes.length, Math.ceil(jobs.length / 4));
      const size = Math.ceil(jobs.length / n);
      const parts = await Promise.all(Array.from({ length: n }, (_, k) => lanes[k]!.seal(signingKey, aeadKey, jobs.slice(k * size, (k + 1) * size), alg)));
      return parts.flat();
    },
    async close() {
      await Promise.all(lanes.map((l) => l.close()));
    },
  };
}
