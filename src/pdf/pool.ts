/**
 * The PDF worker pool (DESIGN rule 8, issue 14 §1): validation, the document half of stamping and every reading of
 * an e-signature request's document (upload, send, each signature, the completion report) run on worker
 * threads (piscina 5, MIT), never on the event loop, each under a time budget, so /healthz and every other route
 * keep answering while an untrusted PDF is being read.
 *
 * - Bounded: at most `threads` workers (SIDIAN_PDF_WORKERS), started on demand and stopped after a minute idle;
 *   at most `queue` tasks wait for one (SIDIAN_PDF_QUEUE); one more is refused at once with 503 PDF_WORKERS_BUSY,
 *   and so is a task that waited longer than its time budget + 5 s for a worker.
 * - Time budget: once a task starts on a worker it has `timeBudgetMs` (SIDIAN_PDF_TIME_BUDGET_MS); over it, the
 *   worker is terminated (its memory goes with it), a fresh one replaces it on demand, and the client gets 422
 *   PDF_BUDGET_EXCEEDED. The same answer when the worker's heap passes `memoryMb` (SIDIAN_PDF_WORKER_MEMORY_MB).
 * - Errors raised in a worker (PDF_LIMIT_EXCEEDED, PDF_INVALID, …) reach the caller as the same AppError.
 * - `close()` terminates the workers (the service closes the pool after its last request, so nothing hangs on exit).
 *
 * Workers load ./worker.ts through tsx when the service runs from its TypeScript sources (worker-boot.mjs) and
 * ./worker.js directly in the compiled build.
 */
import { MessageChannel, type MessagePort } from "node:worker_threads";
import { Piscina } from "piscina";
import { AppError } from "../errors.js";
import { cachedCertificate } from "../pki/cache.js";
import { prepareStamp, type StampOptions, type StampPrepared } from "./stamp.js";
import { verifyPdf, type PdfVerdict, type VerifyPdfDeps } from "./verify.js";
import { runSigningOp, type SigningAnswer, type SigningOp } from "../modules/signatures/pdf-tasks.js";
import { type PdfTask, type PortDown, type PortUp, type TaskAnswer, type TrustData, type WireError } from "./worker.js";

export interface PdfPoolOptions {
  /** Worker threads at most (SIDIAN_PDF_WORKERS). */
  threads: number;
  /** Tasks that may wait for a free worker (SIDIAN_PDF_QUEUE); 0: none wait. */
  queue: number;
  /** How long one task may run on its worker, ms (SIDIAN_PDF_TIME_BUDGET_MS). */
  timeBudgetMs: number;
  /** Old-generation heap of each worker, MB (SIDIAN_PDF_WORKER_MEMORY_MB). */
  memoryMb: number;
}

/** What the service asks of untrusted PDFs. */
export interface PdfWork {
  /** Validates every signature (src/pdf/verify.ts); online questions are answered here from `deps`. */
  verify(pdf: Buffer, deps: VerifyPdfDeps): Promise<PdfVerdict>;
  /** The same verdict already serialised as JSON (what a route sends as is). */
  verifyJson(pdf: Buffer, deps: VerifyPdfDeps): Promise<{ result: PdfVerdict["result"]; json: string }>;
  /** Places a stamp and prepares its signature (src/pdf/stamp.ts). */
  prepareStamp(pdf: Buffer, options: StampOptions): Promise<StampPrepared>;
  /** E-signatures' work on a request's untrusted document (src/modules/signatures/pdf-tasks.ts). */
  signing(pdf: Buffer, op: SigningOp): Promise<SigningAnswer>;
  /** Workers running, tasks running and tasks waiting. */
  stats(): { threads: number; running: number; queued: number };
  close(): Promise<void>;
}

type TaskBody = PdfTask extends infer T ? (T extends PdfTask ? Omit<T, "port" | "started"> : never) : never;

/** Extra wait allowed in the queue beyond the time budget (a worker may need to start). */
const QUEUE_GRACE_MS = 5000;
const IDLE_MS = 60_000;

function workerFile(): string {
  const here = import.meta.url;
  return new URL(here.endsWith(".ts") ? "./worker-boot.mjs" : "./worker.js", here).href;
}

function trustOf(deps: VerifyPdfDeps): TrustData {
  const der = (l: readonly { der: Uint8Array }[] | undefined) => (l ?? []).map((c) => c.der);
  return {
    anchors: der(deps.anchors),
    intermediates: der(deps.intermediates),
    knownTsaCerts: der(deps.knownTsaCerts),
    sealIssuers: der(deps.sealIssuers),
    now: deps.now(),
    revocation: !!deps.revocation,
    sealStatus: !!deps.sealStatus,
    ...(deps.sealStatusEvidence?.length ? { sealStatusEvidence: deps.sealStatusEvidence.map((b) => Uint8Array.from(b)) } : {}),
  };
}

function fromWire(e: WireError): AppError {
  if (e.code === "INTERNAL") {
    const cause = new Error("PDF worker failure");
    cause.stack = e.cause ?? e.message;
    return new AppError("INTERNAL", undefined, { cause });
  }
  return new AppError(e.code, e.message, e.details ? { details: e.details } : {});
}

/** Answers the worker's online questions for one task. */
function serve(port: MessagePort, deps: VerifyPdfDeps): void {
  port.on("message", (m: PortUp) => {
    const reply = (r: Omit<PortDown, "t" | "id">) => {
      try {
        port.postMessage({ t: "reply", id: m.id, ...r } satisfies PortDown);
      } catch {
        // the task is over (its port closed): nobody waits for this answer
      }
    };
    void (async () => {
      if (m.method === "revocation" && deps.revocation) {
        return deps.revocation(cachedCertificate(m.args[0]), cachedCertificate(m.args[1]));
      }
      if (m.method === "sealStatus" && deps.sealStatus) return deps.sealStatus(m.args[0], m.args[1]);
      throw new Error(`no answer for ${m.method}`);
    })().then((value) => reply({ value }), (e: unknown) => reply({ error: e instanceof Error ? e.message : String(e) }));
  });
}

function answerOf<K extends TaskAnswer & { ok: true }>(a: TaskAnswer, kind: K["kind"]): K {
  if (!a.ok) throw fromWire(a.error);
  if (a.kind !== kind) throw new AppError("INTERNAL", undefined, { cause: new Error(`PDF worker answered ${a.kind} to ${kind}`) });
  return a as K;
}

const bufferOf = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

function preparedOf(p: StampPrepared): StampPrepared {
  return { ...p, bytes: bufferOf(p.bytes as Uint8Array), digest: new Uint8Array(p.digest) };
}

/** A signing answer with Buffers again (a thread boundary leaves Uint8Arrays). */
function signingOf(a: SigningAnswer): SigningAnswer {
  if (a.op === "send") return { ...a, bytes: bufferOf(a.bytes) };
  if (a.op === "sign" || a.op === "report") return { ...a, prepared: preparedOf(a.prepared) };
  return a;
}

export function createPdfPool(o: PdfPoolOptions): PdfWork {
  const pool = new Piscina({
    filename: workerFile(),
    minThreads: 0,
    maxThreads: o.threads,
    maxQueue: o.queue,
    idleTimeout: IDLE_MS,
    concurrentTasksPerWorker: 1,
    // No loader flags from the parent: worker-boot.mjs brings tsx when it is needed.
    execArgv: [],
    resourceLimits: { maxOldGenerationSizeMb: o.memoryMb },
  });
  let closed = false;
  /** When each submitted task started on a worker (0: not yet). */
  const active = new Set<BigInt64Array>();
  const startOf = (a: BigInt64Array) => Number(Atomics.load(a, 0));

  async function submit(task: TaskBody, deps: VerifyPdfDeps | null): Promise<TaskAnswer> {
    if (closed) throw new AppError("NOT_READY", "The service is shutting down.");
    const started = new SharedArrayBuffer(8);
    const at = new BigInt64Array(started);
    active.add(at);
    const ac = new AbortController();
    let why: "queue" | "time" | null = null;
    const submitted = Date.now();
    // One timer, re-armed: a task may wait for a worker up to budget + grace, then run for the budget.
    const check = () => {
      const now = Date.now();
      const s = startOf(at);
      const left = s === 0 ? submitted + o.timeBudgetMs + QUEUE_GRACE_MS - now : s + o.timeBudgetMs - now;
      if (left > 0) {
        timer = setTimeout(check, s === 0 ? Math.min(left, o.timeBudgetMs) : left);
        return;
      }
      why = s === 0 ? "queue" : "time";
      ac.abort();
    };
    let timer = setTimeout(check, o.timeBudgetMs);
    let port: MessagePort | null = null;
    const transferList: MessagePort[] = [];
    let body: PdfTask;
    if (task.kind === "verify") {
      const ch = new MessageChannel();
      serve(ch.port1, deps!);
      port = ch.port1;
      transferList.push(ch.port2);
      body = { ...task, port: ch.port2, started };
    } else body = { ...task, started };
    try {
      return (await pool.run(body, { transferList, signal: ac.signal })) as TaskAnswer;
    } catch (e) {
      const err = e as Error & { code?: string };
      if (why === "time") {
        throw new AppError("PDF_BUDGET_EXCEEDED", `Reading the PDF took longer than ${o.timeBudgetMs} ms; the work was stopped.`, { details: { budget: "time", max: o.timeBudgetMs } });
      }
      if (why === "queue" || /queue is at limit|no task queue/i.test(err.message)) {
        throw new AppError("PDF_WORKERS_BUSY", undefined, { details: { retryAfterSeconds: Math.max(1, Math.ceil(o.timeBudgetMs / 1000)) } });
      }
      if (err.code === "ERR_WORKER_OUT_OF_MEMORY") {
        throw new AppError("PDF_BUDGET_EXCEEDED", `Reading the PDF needed more than the ${o.memoryMb} MB a worker may use; the work was stopped.`, { details: { budget: "memory", max: o.memoryMb } });
      }
      if (closed) throw new AppError("NOT_READY", "The service is shutting down.", { cause: e });
      throw new AppError("INTERNAL", undefined, { cause: e });
    } finally {
      clearTimeout(timer);
      active.delete(at);
      port?.close();
    }
  }

  const verifyJson: PdfWork["verifyJson"] = async (pdf, deps) => {
    const a = answerOf<Extract<TaskAnswer, { kind: "verify" }>>(await submit({ kind: "verify", pdf, trust: trustOf(deps) }, deps), "verify");
    return { result: a.result, json: a.json };
  };
  return {
    verify: async (pdf, deps) => JSON.parse((await verifyJson(pdf, deps)).json) as PdfVerdict,
    verifyJson,
    async prepareStamp(pdf, options) {
      return preparedOf(answerOf<Extract<TaskAnswer, { kind: "stamp" }>>(await submit({ kind: "stamp", pdf, options }, null), "stamp").prepared);
    },
    async signing(pdf, op) {
      return signingOf(answerOf<Extract<TaskAnswer, { kind: "signing" }>>(await submit({ kind: "signing", pdf, op }, null), "signing").answer);
    },
    stats: () => ({ threads: pool.threads.length, running: [...active].filter((a) => startOf(a) !== 0).length, queued: pool.queueSize }),
    async close() {
      if (closed) return;
      closed = true;
      await pool.destroy();
    },
  };
}

/**
 * The same work on the calling thread, for the command line (`sidian verify`, `sidian stamp`: one document, no
 * event loop shared with anyone) and for comparing with the pool in tests. No time budget.
 */
export function inThreadPdfWork(): PdfWork {
  return {
    verify: async (pdf, deps) => verifyPdf(pdf, deps),
    async verifyJson(pdf, deps) {
      const v = await verifyPdf(pdf, deps);
      return { result: v.result, json: JSON.stringify(v) };
    },
    prepareStamp: async (pdf, options) => prepareStamp(pdf, options),
    signing: (pdf, op) => runSigningOp(pdf, op),
    stats: () => ({ threads: 0, running: 0, queued: 0 }),
    async close() {},
  };
}
