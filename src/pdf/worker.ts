/**
 * What a PDF worker thread runs (pool.ts): validation and the document half of stamping, on untrusted bytes.
 *
 * Tasks and answers are plain data. Errors travel as `{code, message, details}` (a thread boundary keeps only an
 * Error's message), so a PDF_LIMIT_EXCEEDED raised here reaches the client unchanged. The validator's online
 * questions (is this certificate revoked? what was this seal's status?) are asked of the main thread over the
 * task's MessagePort, where the database is; the trust anchors come with the task as DER.
 */
import { isMainThread, type MessagePort } from "node:worker_threads";
import { move, transferableSymbol, valueSymbol } from "piscina";
import { AppError, type ErrorCode } from "../errors.js";
import { cachedCertificate } from "../pki/cache.js";
import type { CertInfo } from "../pki/reader.js";
import type { RevocationStatus } from "../pki/chain.js";
import { prepareStamp, type StampOptions, type StampPrepared } from "./stamp.js";
import { verifyPdf, type PdfVerdict, type SealStatusInfo, type VerifyPdfDeps } from "./verify.js";
import { runSigningOp, type SigningAnswer, type SigningOp } from "../modules/signatures/pdf-tasks.js";

/** The validator's dependencies as plain data (certificates as DER) plus which online questions may be asked. */
export interface TrustData {
  anchors: Uint8Array[];
  intermediates: Uint8Array[];
  knownTsaCerts: Uint8Array[];
  sealIssuers: Uint8Array[];
  /** The validation time (deps.now() when the task was submitted). */
  now: Date;
  revocation: boolean;
  sealStatus: boolean;
  /** Offline seal-status evidence handed to the verifier (VerifyPdfDeps.sealStatusEvidence). */
  sealStatusEvidence?: Uint8Array[];
}

/**
 * `started`: 8 shared bytes where the worker writes when it began (Date.now(), Atomics), so the pool times the
 * task from its start without a message; `port`: the validator's line to the main thread (validation only).
 */
export type PdfTask =
  | { kind: "verify"; pdf: Uint8Array; trust: TrustData; port: MessagePort; started: SharedArrayBuffer }
  | { kind: "stamp"; pdf: Uint8Array; options: StampOptions; started: SharedArrayBuffer }
  /** E-signatures' document work (src/modules/signatures/pdf-tasks.ts). */
  | { kind: "signing"; pdf: Uint8Array; op: SigningOp; started: SharedArrayBuffer };

export interface WireError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
  /** For INTERNAL: the original error's stack, for the server log. */
  cause?: string;
}

export type TaskAnswer =
  /** The verdict as JSON, serialised here: a verdict on thousands of signatures costs the event loop one copy. */
  | { ok: true; kind: "verify"; result: PdfVerdict["result"]; json: string }
  | { ok: true; kind: "stamp"; prepared: StampPrepared }
  | { ok: true; kind: "signing"; answer: SigningAnswer }
  | { ok: false; error: WireError };

/** Messages on a task's port: worker → main. */
export type PortUp =
  | { t: "call"; id: number; method: "revocation"; args: [Uint8Array, Uint8Array] }
  | { t: "call"; id: number; method: "sealStatus"; args: [string, Date] };
/** main → worker. */
export type PortDown = { t: "reply"; id: number; value?: unknown; error?: string };

function rpc(port: MessagePort) {
  let next = 1;
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  port.on("message", (m: PortDown) => {
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.error !== undefined) w.reject(new Error(m.error));
    else w.resolve(m.value);
  });
  return {
    call<T>(msg: Omit<Extract<PortUp, { t: "call" }>, "id" | "t">): Promise<T> {
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
        port.postMessage({ t: "call", id, ...msg } as PortUp);
      });
    },
    close: () => port.close(),
  };
}

function depsOf(trust: TrustData, call: ReturnType<typeof rpc>["call"]): VerifyPdfDeps {
  const certs = (l: Uint8Array[]): CertInfo[] => l.map((d) => cachedCertificate(d));
  const now = new Date(trust.now.getTime());
  return {
    anchors: certs(trust.anchors),
    intermediates: certs(trust.intermediates),
    knownTsaCerts: certs(trust.knownTsaCerts),
    ...(trust.sealIssuers.length ? { sealIssuers: certs(trust.sealIssuers) } : {}),
    now: () => now,
    ...(trust.revocation ? { revocation: (c: CertInfo, i: CertInfo) => call<RevocationStatus>({ method: "revocation", args: [c.der, i.der] }) } : {}),
    ...(trust.sealStatus ? { sealStatus: (id: string, at: Date) => call<SealStatusInfo | null>({ method: "sealStatus", args: [id, at] }) } : {}),
    ...(trust.sealStatusEvidence?.length ? { sealStatusEvidence: trust.sealStatusEvidence.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)) } : {}),
  };
}

export function wireError(e: unknown): WireError {
  if (e instanceof AppError) return { code: e.code, message: e.message, ...(e.details ? { details: e.details as Record<string, unknown> } : {}) };
  const err = e instanceof Error ? e : new Error(String(e));
  return { code: "INTERNAL", message: "An unexpected failure.", cause: err.stack ?? err.message };
}

/** Runs one task (in a worker thread, or in-thread for the CLI). */
export async function runTask(task: PdfTask): Promise<TaskAnswer> {
  Atomics.store(new BigInt64Array(task.started), 0, BigInt(Date.now()));
  const port = task.kind === "verify" ? rpc(task.port) : null;
  try {
    if (task.kind === "verify") {
      const pdf = Buffer.from(task.pdf.buffer, task.pdf.byteOffset, task.pdf.byteLength);
      const verdict = await verifyPdf(pdf, depsOf(task.trust, port!.call));
      return { ok: true, kind: "verify", result: verdict.result, json: JSON.stringify(verdict) };
    }
    const pdf = Buffer.from(task.pdf.buffer, task.pdf.byteOffset, task.pdf.byteLength);
    if (task.kind === "signing") return { ok: true, kind: "signing", answer: await runSigningOp(pdf, task.op) };
    return { ok: true, kind: "stamp", prepared: prepareStamp(pdf, task.options) };
  } catch (e) {
    return { ok: false, error: wireError(e) };
  } finally {
    port?.close();
  }
}

/** The pool's entry point: the stamped bytes are moved (not copied) back when they own their memory. */
export default async function run(task: PdfTask): Promise<unknown> {
  const answer = await runTask(task);
  if (isMainThread || !answer.ok) return answer;
  const b: Uint8Array | null = answer.kind === "stamp" ? answer.prepared.bytes
    : answer.kind === "signing" ? (answer.answer.op === "send" ? answer.answer.bytes : answer.answer.op === "inspect" ? null : answer.answer.prepared.bytes) : null;
  if (b && b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return move({ [transferableSymbol]: b.buffer, [valueSymbol]: answer } as never);
  return answer;
}
