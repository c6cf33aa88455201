/**
 * Untrusted PDFs are read on the PDF worker pool (src/pdf/pool.ts, issue 14 §1): /healthz keeps answering within
 * 100 ms over real HTTP while hostile documents (fixtures/pdf/make-hostile.ts: every class over a limit, and the
 * costly ones within every limit) are validated and stamped; a document over the time or memory budget gets 422
 * PDF_BUDGET_EXCEEDED and its worker is replaced; a full pool answers 503 PDF_WORKERS_BUSY; the pool closes with
 * the service.
 *
 * The probe is checked against itself: the same polling while a costly document is validated on the event loop
 * (the in-thread work the service did before) sees a stall, so the 100 ms assertion is one that code fails.
 */
import { Worker } from "node:worker_threads";
import t from "tap";
import { COSTLY, HOSTILE, rand } from "../../fixtures/pdf/make-hostile.js";
import { inThreadPdfWork } from "../../src/pdf/pool.js";
import { bearer, build } from "../helpers/app.js";
import { withSeal, type SealSetup } from "../seals/helpers.js";

const BOUND_MS = 100;

/**
 * Polls GET /healthz over HTTP from a worker thread (its own event loop, like an outside client), one request at a
 * time every 10 ms, until stopped; returns each answer's latency (ms).
 */
const POLLER = `
const { parentPort, workerData } = require("node:worker_threads");
let stop = false;
parentPort.on("message", () => { stop = true; });
(async () => {
  while (!stop) {
    const t0 = performance.now();
    const r = await fetch(workerData + "/healthz");
    await r.arrayBuffer();
    parentPort.postMessage({ ms: performance.now() - t0, status: r.status });
    await new Promise((res) => setTimeout(res, 10));
  }
  parentPort.postMessage({ done: true });
})().catch((e) => parentPort.postMessage({ error: String(e) }));
`;

function poll(base: string) {
  const latencies: number[] = [];
  const w = new Worker(POLLER, { eval: true, workerData: base });
  let error: string | null = null;
  const done = new Promise<void>((resolve) => {
    w.on("message", (m: { ms?: number; status?: number; done?: boolean; error?: string }) => {
      if (m.ms !== undefined) latencies.push(m.status === 200 ? m.ms : Infinity);
      if (m.error) error = m.error;
      if (m.done || m.error) resolve();
    });
    w.on("exit", () => resolve());
  });
  return {
    latencies,
    stop: async () => {
      w.postMessage("stop");
      await done;
      await w.terminate();
      if (error) throw new Error(`poller: ${error}`);
      return latencies;
    },
  };
}

const stats = (l: number[]) => {
  const s = [...l].sort((a, b) => a - b);
  return { n: s.length, max: Math.round(s[s.length - 1] ?? 0), p50: Math.round(s[Math.floor(s.length / 2)] ?? 0) };
};

async function listen(s: SealSetup): Promise<string> {
  await s.h.app.listen({ port: 0, host: "127.0.0.1" });
  const a = s.h.app.server.address();
  if (!a || typeof a === "string") throw new Error("no address");
  return `http://127.0.0.1:${a.port}`;
}

async function post(base: string, url: string, pdf: Buffer, headers: Record<string, string> = {}) {
  const r = await fetch(`${base}${url}`, { method: "POST", headers: { "content-type": "application/pdf", ...headers }, body: pdf });
  const body = Buffer.from(await r.arrayBuffer());
  return { status: r.status, body, json: () => JSON.parse(body.toString("utf8")) as { code?: string; details?: Record<string, unknown> }, headers: r.headers };
}

t.test("/healthz answers within 100 ms while hostile PDFs are validated and stamped", async (t) => {
  // A generous budget: here the costly documents are to be read to the end, on the workers.
  const s = await withSeal(t, { h: await build(t, { SIDIAN_PDF_TIME_BUDGET_MS: "60000" }) });
  const base = await listen(s);
  const small = HOSTILE["page-tree-cycle"]!(rand);
  t.equal((await post(base, "/verify/pdf", small)).status, 200, "a worker is up");

  // The machine's own noise: the same polling while another thread keeps one core busy (as a worker reading a
  // document does) but nothing blocks the event loop.
  const spinner = new Worker("const end = Date.now() + 2000; while (Date.now() < end) {}", { eval: true });
  const idle = poll(base);
  await new Promise((r) => spinner.once("exit", r));
  const quiet = stats(await idle.stop());
  // A loaded test machine delays threads now and then whatever the code does: what is allowed beyond 100 ms is
  // what that calibration showed (at most 400 ms more), still far below the stalls of reading a document on the
  // event loop (the control below shows one).
  const bound = BOUND_MS + Math.min(quiet.max, 400);
  t.comment(`calibration: ${quiet.n} polls, max ${quiet.max} ms, median ${quiet.p50} ms → bound ${bound} ms`);

  // Built before polling starts: the generator runs in this process and would stall the probe itself.
  const hostile = Object.entries(HOSTILE).map(([name, make]) => ({ name, pdf: make(rand) }));
  const costly = Object.entries(COSTLY).map(([name, c]) => ({ name, pdf: c.make(rand), anchor: c.anchor }));
  const p = poll(base);
  const answered: string[] = [];
  const auth = { ...bearer(s.issuer) };
  let seen = 0;
  const debug = (name: string) => {
    if (process.env.DEBUG_POLL) console.error(name, stats(p.latencies.slice(seen)));
    seen = p.latencies.length;
  };
  for (const { name, pdf } of hostile) {
    const v = await post(base, "/verify/pdf", pdf);
    const st = await post(base, `/seals/${s.sealId}/stamp?anchor=zz`, pdf, auth);
    t.ok([200, 422].includes(v.status) && st.status === 422, `${name}: verify ${v.status}, stamp ${st.status} ${st.json().code}`);
    answered.push(name);
    debug(name);
  }
  for (const { name, pdf, anchor } of costly) {
    const t0 = performance.now();
    const v = await post(base, "/verify/pdf", pdf);
    const tv = performance.now() - t0;
    debug(`${name} verify`);
    const st = await post(base, `/seals/${s.sealId}/stamp?${anchor ? "anchor=zz" : "page=1&x=50&y=50"}`, pdf, auth);
    const ts = performance.now() - t0 - tv;
    t.equal(v.status, 200, `${name} (${(pdf.length / 1024).toFixed(0)} KB): verdict in ${tv.toFixed(0)} ms`);
    t.ok(st.status === 200 || st.status === 422, `${name}: stamp ${st.status} ${st.status === 200 ? "" : st.json().code} in ${ts.toFixed(0)} ms`);
    answered.push(name);
    debug(`${name} stamp`);
  }
  const busy = stats(await p.stop());
  t.ok(busy.n >= 20, `${busy.n} polls while ${answered.length} documents were read`);
  t.ok(busy.max < bound, `every /healthz within ${bound} ms (100 ms + calibration max ${quiet.max} ms, capped): max ${busy.max} ms, median ${busy.p50} ms`);

  // Control: the same probe while a costly document is validated on the event loop (the old in-thread code).
  s.h.ctx.pdf = inThreadPdfWork();
  t.equal(costly[0]!.name, "many-pages");
  const c = poll(base);
  await new Promise((r) => setTimeout(r, 50));
  const v = await post(base, "/verify/pdf", costly[0]!.pdf);
  t.equal(v.status, 200);
  const blocked = stats(await c.stop());
  t.ok(blocked.max >= bound, `in-thread reading stalls /healthz: max ${blocked.max} ms (the probe detects it; bound ${bound} ms)`);
});

t.test("over the time budget: the worker is terminated, 422 PDF_BUDGET_EXCEEDED, and the next request is served", async (t) => {
  const s = await withSeal(t, { h: await build(t, { SIDIAN_PDF_TIME_BUDGET_MS: "1000" }) });
  const costly = COSTLY["many-pages"]!.make(() => 100_000);
  const t0 = Date.now();
  const r = await s.h.app.inject({ method: "POST", url: `/seals/${s.sealId}/stamp?anchor=zz`, headers: { ...bearer(s.issuer), "content-type": "application/pdf" }, payload: costly });
  const took = Date.now() - t0;
  t.equal(r.statusCode, 422, r.body.slice(0, 200));
  t.equal(r.json().code, "PDF_BUDGET_EXCEEDED");
  t.same(r.json().details, { budget: "time", max: 1000 });
  t.ok(r.json().requestId, "with a request id");
  t.ok(took < 15_000, `stopped after ${took} ms (reading it to the end takes several seconds)`);
  t.equal(s.h.ctx.pdf.stats().running, 0, "nothing left running");
  // The pool goes on with a fresh worker.
  const ok = await s.h.app.inject({ method: "POST", url: `/seals/${s.sealId}/stamp?page=1&x=50&y=50`, headers: { ...bearer(s.issuer), "content-type": "application/pdf" }, payload: COSTLY["many-pages"]!.make(() => 3) });
  t.equal(ok.statusCode, 200, "stamped after the budget was exceeded");
  t.equal(ok.rawPayload.subarray(0, 5).toString(), "%PDF-");
  const v = await s.h.app.inject({ method: "POST", url: "/verify/pdf", headers: { "content-type": "application/pdf" }, payload: costly });
  t.equal(v.statusCode, 422, "validation has the same budget");
  t.equal(v.json().code, "PDF_BUDGET_EXCEEDED");
});

t.test("over the memory budget: 422 PDF_BUDGET_EXCEEDED, the service goes on", async (t) => {
  const s = await withSeal(t, { h: await build(t, { SIDIAN_PDF_WORKER_MEMORY_MB: "64", SIDIAN_PDF_TIME_BUDGET_MS: "120000" }) });
  const big = COSTLY["many-pages"]!.make(() => 100_000);
  const r = await s.h.app.inject({ method: "POST", url: "/verify/pdf", headers: { "content-type": "application/pdf" }, payload: big });
  t.equal(r.statusCode, 422, r.body.slice(0, 200));
  t.equal(r.json().code, "PDF_BUDGET_EXCEEDED");
  t.same(r.json().details, { budget: "memory", max: 64 });
  const ok = await s.h.app.inject({ method: "POST", url: "/verify/pdf", headers: { "content-type": "application/pdf" }, payload: COSTLY["many-pages"]!.make(() => 3) });
  t.equal(ok.statusCode, 200, "the next document is read");
});

t.test("a full pool answers 503 PDF_WORKERS_BUSY with Retry-After; the pool closes with the service", async (t) => {
  const s = await withSeal(t, { h: await build(t, { SIDIAN_PDF_WORKERS: "1", SIDIAN_PDF_QUEUE: "0", SIDIAN_PDF_TIME_BUDGET_MS: "3000" }) });
  const long = s.h.app.inject({ method: "POST", url: "/verify/pdf", headers: { "content-type": "application/pdf" }, payload: COSTLY["many-pages"]!.make(() => 100_000) });
  const until = Date.now() + 30_000;
  while (s.h.ctx.pdf.stats().running === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  t.equal(s.h.ctx.pdf.stats().running, 1, "the only worker is busy");
  const r = await s.h.app.inject({ method: "POST", url: "/verify/pdf", headers: { "content-type": "application/pdf" }, payload: HOSTILE["page-tree-cycle"]!(rand) });
  t.equal(r.statusCode, 503, r.body.slice(0, 200));
  t.equal(r.json().code, "PDF_WORKERS_BUSY");
  t.equal(r.headers["retry-after"], "3");
  const first = await long;
  t.ok([200, 422].includes(first.statusCode), `the first one still gets its answer (${first.statusCode})`);
  t.ok(s.h.ctx.pdf.stats().threads >= 0);
  await s.h.app.close();
  await s.h.ctx.close();
  t.same(s.h.ctx.pdf.stats(), { threads: 0, running: 0, queued: 0 }, "no worker left after close");
  await t.rejects(s.h.ctx.pdf.verify(Buffer.from("%PDF-1.7"), { anchors: [], now: () => new Date() }), { code: "NOT_READY" });
});
