/**
 * E-licence benchmarks (issue 4). Seeds BENCH_LICENCES licences (default 1,000,000) through the bulk-import path
 * (validated, signed ES256, encrypted, logged: the real service, in-process, synchronous=FULL), then serves the
 * real app from a child process (bench/serve.ts `sidian` on the seeded file) and measures over HTTP, each with the
 * bare Fastify route measured in the same run as baseline:
 *   - bulk import, in-process (seeding) and over HTTP (POST /licences:batch, 10,000 lines per request);
 *   - single issuance over HTTP (POST /licences, distinct holders, autocannon -c 50);
 *   - 免证办 holder query (POST /holders/licences:query, consent-exempt matter; each query is recorded in the access
 *     log + transparency log before it returns): holders drawn uniformly from all seeded licences without repetition
 *     and with no warm-up (the figure a deployment should expect), and a skewed Zipf s=1.1 draw; throughput at -c 50,
 *     p99 latency at fixed rates (open loop, bench/lib.ts openLoop) beside a bare POST's; and its I/O ceiling: a bare
 *     POST of the same request bodies answering the same number of bytes with no work at all;
 *   - POST /verify of licence JWSs drawn the same way (20,000 distinct licences, none verified before).
 * A reused seed (BENCH_LICENCE_DB) is copied for each run, so every run measures the same database.
 * The holder query and verification figures also give the server's CPU time per answered request, which moves far
 * less than throughput on a machine shared with other work. (What each per-licence cache earned was measured with
 * BENCH_CACHE_AB at b8e12a2; none earned its keep, and they went: src/modules/licences/read-model.ts.)
 * Goals (issue 15, uniform draw): holder query ≥ 30% of its I/O ceiling and p99 ≤ 25 ms at 1,000 req/s open loop;
 * verify ≥ 25% of the bare route; single issuance ≥ 2,000/s; bulk import ≥ 8,000/s.
 *
 *   npx tsx bench/run.ts licences          (BENCH_LICENCES=100000 for a quicker run)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { citizenIdCheckChar, usccCheckChar } from "../src/codes/index.js";
import { loadConfig } from "../src/config.js";
import { createContext } from "../src/context.js";
import type { Actor } from "../src/modules/kernel.js";
import type { IssueInput } from "../src/modules/licences/index.js";
import { cpuMs, load, openLoop, startServer, type OpenLoopResult, type Report } from "./lib.js";

const N = Number(process.env.BENCH_LICENCES ?? 1_000_000);
const SEED_BATCH = 10_000;
const SYSTEM: Actor = { kind: "system", name: "bench" };
const BARE = "bare Fastify route (baseline)";
const ECHO = "bare Fastify POST of the same JWS bodies (I/O only)";
const HQ_CEILING = "bare Fastify POST of the holder query's bodies and answer size (I/O ceiling)";
/** Fixed rates for the open-loop latency figures (requests per second). */
const OPEN_RATES = [500, 1000] as const;

function uscc(n: number): string {
  const body = `91350100${String(n).padStart(9, "0")}`;
  return body + usccCheckChar(body);
}

/** Distinct valid citizen ID numbers: birth dates from 1950 on, 1000 sequence numbers per day. */
function citizenId(n: number): string {
  const day = new Date(Date.UTC(1950, 0, 1) + Math.floor(n / 1000) * 86_400_000);
  const ymd = day.toISOString().slice(0, 10).replace(/-/g, "");
  const body = `350102${ymd}${String(n % 1000).padStart(3, "0")}`;
  return body + citizenIdCheckChar(body);
}

function licence(typeCode: string, n: number): IssueInput {
  return {
    typeCode, number: `JY${String(n).padStart(12, "0")}`,
    holder: { name: "张三丰", code: citizenId(n), codeType: "111" },
    fields: { scope: "预包装食品销售（含冷藏冷冻食品）", area: 35.5, category: "食品销售经营者" },
    validFrom: "2024-01-01", validUntil: "2029-12-31",
  };
}

/** A seeded generator (mulberry32): every run draws the same holders. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `k` distinct numbers drawn uniformly from 0..n-1 (no repetition): a partial Fisher–Yates over a sparse map. */
function uniformDistinct(n: number, k: number, r: () => number): number[] {
  const swapped = new Map<number, number>();
  const out: number[] = [];
  for (let i = 0; i < Math.min(k, n); i++) {
    const j = i + Math.floor(r() * (n - i));
    const vj = swapped.get(j) ?? j;
    swapped.set(j, swapped.get(i) ?? i);
    out.push(vj);
  }
  return out;
}

/** `k` draws from 0..n-1 by Zipf's law with exponent `s` (rank 1 most asked), ranks scattered over the holders. */
function zipfDraws(n: number, k: number, s: number, r: () => number): number[] {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / Math.pow(i + 1, s);
  const out: number[] = [];
  for (let d = 0; d < k; d++) {
    const u = r() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    out.push((lo * 7919 + 13) % n); // a bijection of ranks onto holders while gcd(7919, n) = 1 (7919 is prime)
  }
  return out;
}

/** A 免证办 query about holder number `h` (the bench matter is exempt from consent). */
const queryBody = (h: number) => JSON.stringify({ holderCode: citizenId(h), holderCodeType: "111", matterCode: "BENCH-1", useCause: "行政检查核验经营许可" });

/** Distinct holders per figure: more than one figure's requests, so a uniform run never asks about a holder twice. */
const DRAWS = 60_000;

/**
 * POSTs of `bodies` in turn. With `serverPid`, also the server's CPU time per answered request (µs): on a machine
 * shared with other work this moves far less than throughput does, which depends on the CPU the server is given.
 */
async function rotating(opts: { url: string; headers: Record<string, string>; bodies: string[]; connections?: number; duration?: number; amount?: number; serverPid?: number }) {
  let i = 0;
  const cpu0 = cpuMs(opts.serverPid);
  const r = await autocannon({
    url: opts.url, method: "POST", connections: opts.connections ?? 50, ...(opts.amount ? { amount: opts.amount } : { duration: opts.duration ?? 5 }),
    headers: { "content-type": "application/json", ...opts.headers },
    requests: [{ method: "POST", setupRequest: (req) => ({ ...req, body: opts.bodies[i++ % opts.bodies.length]! }) }],
  });
  const cpuUs = ((cpuMs(opts.serverPid) - cpu0) * 1000) / Math.max(1, r.requests.total);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx, cpuUs };
}

/** What a later run needs to reuse a seeded database (BENCH_LICENCE_DB): written beside it as `<db>.json`. */
interface SeedMeta {
  n: number;
  seedRate: number;
  typeCode: string;
  departmentId: string;
  issuer: { id: string; secret: string };
  consumer: { id: string; secret: string };
  jwss: string[];
  /** Licence numbers already used by earlier runs on this database (new licences start above it). */
  nextNumber: number;
}

/** Licences per run of the seal-worker comparison (off, on, off, on: alternated so neither gets the warmer cache). */
const AB_N = 10_000;

/** Imports `n` licences numbered from meta.nextNumber, SEED_BATCH per call, checkpointing the log as it goes. */
async function importRange(ctx: Awaited<ReturnType<typeof createContext>>, meta: Pick<SeedMeta, "typeCode" | "departmentId" | "nextNumber">, n: number): Promise<void> {
  const ic = { actor: SYSTEM, departmentId: meta.departmentId, idempotencyScope: "bench" };
  for (let start = 0; start < n; start += SEED_BATCH) {
    const items = Array.from({ length: Math.min(SEED_BATCH, n - start) }, (_, k) => licence(meta.typeCode, meta.nextNumber + start + k));
    const res = await ctx.licences.issueBatch(items, ic);
    const bad = res.find((r) => !r.ok);
    if (bad) throw new Error(`bulk import failed: ${JSON.stringify(bad)}`);
    await ctx.tlog.maybeCheckpoint();
  }
}

/** A bulk import of AB_N licences on the same database with the seal worker on or off (a context of its own). */
async function importTimed(config: ReturnType<typeof loadConfig>, meta: Pick<SeedMeta, "typeCode" | "departmentId" | "nextNumber">, sealWorker: "on" | "off"): Promise<number> {
  const c = await createContext({ ...config, sealWorker }, { autoCheckpoint: false, autoExpire: false });
  try {
    const t0 = performance.now();
    await importRange(c, meta, AB_N);
    meta.nextNumber += AB_N;
    const rate = AB_N / ((performance.now() - t0) / 1000);
    await c.tlog.checkpoint();
    return rate;
  } finally {
    await c.close();
  }
}

export async function run(report: Report): Promise<void> {
  // BENCH_LICENCE_DB=/tmp/x.db keeps the seeded database (outside the repo) and reuses it on the next run; the
  // in-process bulk-import figure is then measured on 50,000 more licences instead of the whole seed.
  const keep = process.env.BENCH_LICENCE_DB;
  const dir = keep ? path.dirname(path.resolve(keep)) : fs.mkdtempSync(path.join(os.tmpdir(), "sidian-bench-licences-"));
  const dbPath = keep ? path.resolve(keep) : path.join(dir, "bench.db");
  const metaPath = `${dbPath}.json`;
  const reuse = keep !== undefined && fs.existsSync(dbPath) && fs.existsSync(metaPath);
  try {
    const config = loadConfig({ ...process.env, SIDIAN_MODE: "test", SIDIAN_DB: dbPath, SIDIAN_LOG_LEVEL: "silent" });
    const ctx = await createContext(config, { autoCheckpoint: false, autoExpire: false });
    let meta: SeedMeta;
    let seedNote: string;
    const ab = { on: [] as number[], off: [] as number[] };
    if (reuse) {
      meta = JSON.parse(fs.readFileSync(metaPath, "utf8")) as SeedMeta;
      console.log(`  reusing ${dbPath} (${meta.n.toLocaleString("en-US")} seeded licences), measured on a copy`);
      seedNote = `seeded rate of the reused ${meta.n}-licence DB (measured when it was seeded)`;
    } else {
      // ---- seed through the bulk-import path (in-process) ----
      const dept = await ctx.directory.createDepartment({ name: "福州市市场监督管理局", uscc: uscc(4242), regionCode: "350100" }, SYSTEM);
      const typeCode = uscc(7777) + "001";
      await ctx.catalogue.createType({
        code: typeCode, name: "食品经营许可证", holderKind: "person", holderCodeTypes: ["111"],
        fields: [
          { name: "scope", label: "经营项目", type: "string", required: true, maxLength: 200 },
          { name: "area", label: "经营面积", type: "number", minimum: 0 },
          { name: "category", label: "主体业态", type: "enum", enum: ["食品销售经营者", "餐饮服务经营者"] },
        ],
        validityDays: 1825, issuers: [dept.id],
      }, SYSTEM);
      await ctx.catalogue.createMatter({ code: "BENCH-1", name: "行政检查", licenceTypes: [typeCode], consentExempt: true, exemptBasis: "bench" }, SYSTEM);
      const issuer = await ctx.directory.createClient({ id: "bench-issuer", name: "bench issuer", role: "issuer", departmentId: dept.id }, SYSTEM);
      const consumer = await ctx.directory.createClient({ id: "bench-consumer", name: "bench consumer", role: "consumer", matters: ["BENCH-1"] }, SYSTEM);
      const ic = { actor: SYSTEM, departmentId: dept.id, idempotencyScope: "bench" };

      console.log(`  seeding ${N.toLocaleString("en-US")} licences through the bulk-import path…`);
      const t0 = performance.now();
      let lastLog = t0;
      const sampleIds: string[] = [];
      for (let start = 0; start < N; start += SEED_BATCH) {
        const items = Array.from({ length: Math.min(SEED_BATCH, N - start) }, (_, k) => licence(typeCode, start + k));
        const res = await ctx.licences.issueBatch(items, ic);
        const bad = res.find((r) => !r.ok);
        if (bad) throw new Error(`seed failed: ${JSON.stringify(bad)}`);
        if (sampleIds.length < 1000) for (const r of res.slice(0, 1000 - sampleIds.length)) if (r.ok) sampleIds.push(r.identifier);
        await ctx.tlog.maybeCheckpoint();
        if (performance.now() - lastLog > 15_000) {
          lastLog = performance.now();
          console.log(`    ${(start + items.length).toLocaleString("en-US")} (${Math.round((start + items.length) / ((lastLog - t0) / 1000))}/s)`);
        }
      }
      const seedRate = N / ((performance.now() - t0) / 1000);
      const jwss = await Promise.all(sampleIds.map(async (id) => ctx.licences.jwsOf(await ctx.licences.record(id))));
      meta = {
        n: N, seedRate, typeCode, departmentId: dept.id, jwss, nextNumber: N,
        issuer: { id: issuer.client.id, secret: issuer.secret }, consumer: { id: consumer.client.id, secret: consumer.secret },
      };
      seedNote = `${N} licences`;
    }
    // Verification draws licences as the holder query draws holders: uniformly, without repetition, none asked before.
    const verifyJwss: string[] = [];
    for (const h of uniformDistinct(meta.n, Math.min(meta.n, 20_000), rng(2))) {
      const got = await ctx.licences.forHolder(ctx.pii.lookupHash("111", citizenId(h)), { limit: 1 });
      if (got.items[0]) verifyJwss.push(got.items[0].jws);
    }
    await ctx.tlog.checkpoint();
    await ctx.close();
    // Every run measures on the same database: a reused seed is copied, and the copy takes this run's writes.
    const seedPath = dbPath;
    const runDb = keep ? path.join(fs.mkdtempSync(path.join(os.tmpdir(), "sidian-bench-run-")), "run.db") : dbPath;
    if (keep) fs.copyFileSync(seedPath, runDb);
    const runConfig = keep ? loadConfig({ ...process.env, SIDIAN_MODE: "test", SIDIAN_DB: runDb, SIDIAN_LOG_LEVEL: "silent" }) : config;
    // Seal worker A/B on the same database, each run in a context of its own (one log writer at a time).
    for (const w of ["off", "on", "off", "on"] as const) ab[w].push(await importTimed(runConfig, meta, w));
    const dbBytes = fs.statSync(runDb).size;
    const { typeCode, seedRate } = meta;
    const n = meta.n;
    // Numbers for this run's HTTP issuance (single + batch): 250,000 above anything used before.
    const runBase = meta.nextNumber;
    meta.nextNumber += 250_000;
    if (keep && !reuse) fs.writeFileSync(metaPath, JSON.stringify(meta));

    // ---- baseline ----
    const bareOpen = new Map<number, OpenLoopResult>();
    // Kept running (idle) until the end: the holder query's I/O ceiling is measured on it once its answer size is known.
    const bare = await startServer("bare");
    try {
      const r = await load({ url: `http://127.0.0.1:${bare.port}/bare` });
      report.add({ name: BARE, value: r.rps, unit: "req/s", note: `p99 ${r.p99} ms` });
      // The bytes of a verification without the work: the same JWS bodies in, a fixed answer of the verdict's size out.
      const sample = (await (await fetch(`http://127.0.0.1:${bare.port}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jws: verifyJwss[0] }) })).text()).length;
      const e = await rotating({ url: `http://127.0.0.1:${bare.port}/echo`, headers: {}, bodies: verifyJwss.map((jws) => JSON.stringify({ jws })) });
      report.add({ name: ECHO, value: e.rps, unit: "req/s", baseline: BARE, note: `same request bodies (~${JSON.stringify({ jws: verifyJwss[0] }).length} B), ${sample} B answer, no work` });
      // The machine's own latency floor at the open-loop rates: a bare POST, timed as the holder query is below.
      for (const rate of OPEN_RATES) {
        const o = await openLoop({ url: `http://127.0.0.1:${bare.port}/echo`, bodies: [JSON.stringify({ jws: verifyJwss[0] })], rate, duration: 5 });
        bareOpen.set(rate, o);
        report.add({ name: `bare POST p99 at ${rate}/s (open loop)`, value: o.p99, unit: "ms", note: `p50 ${o.p50} ms, max ${o.max} ms` });
      }
    } catch (e) {
      await bare.stop();
      throw e;
    }
    report.add({ name: "bulk import in-process (seed), signed+encrypted+logged", value: seedRate, unit: "licences/s", goal: "≥ 8,000/s", note: `${seedNote}, DB ${(dbBytes / 2 ** 20).toFixed(0)} MiB, synchronous=FULL, seal worker on` });
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    report.add({ name: "bulk import, seal worker off (A/B, main thread only)", value: mean(ab.off), unit: "licences/s", note: `runs of ${AB_N}: ${ab.off.map((x) => Math.round(x)).join(", ")}` });
    report.add({ name: "bulk import, seal worker on (A/B)", value: mean(ab.on), unit: "licences/s", baseline: "bulk import, seal worker off (A/B, main thread only)", note: `runs of ${AB_N}: ${ab.on.map((x) => Math.round(x)).join(", ")}; alternated off, on, off, on` });

    // ---- the real app on the seeded database ----
    const s = await startServer("sidian", { BENCH_DIR: path.dirname(runDb), BENCH_DB: runDb }).catch(async (e: unknown) => {
      await bare.stop();
      throw e;
    });
    try {
      const base = `http://127.0.0.1:${s.port}`;
      const tokenOf = async (id: string, secret: string) => {
        const res = await fetch(`${base}/oauth/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ grant_type: "client_credentials", client_id: id, client_secret: secret }) });
        return ((await res.json()) as { access_token: string }).access_token;
      };
      const issuerAuth = { authorization: `Bearer ${await tokenOf(meta.issuer.id, meta.issuer.secret)}` };
      const consumerAuth = { authorization: `Bearer ${await tokenOf(meta.consumer.id, meta.consumer.secret)}` };

      // holder query: holders drawn uniformly from every seeded licence, without repetition inside the run, and
      // none asked before (no warm-up): a city's approval systems ask about a holder about once per case.
      const body = queryBody;
      const drawn = uniformDistinct(n, Math.min(n, DRAWS * 3), rng(1));
      const queries = drawn.slice(0, DRAWS).map(body);
      const probe = await fetch(`${base}/holders/licences:query`, { method: "POST", headers: { ...consumerAuth, "content-type": "application/json" }, body: queries[0] });
      const probeText = await probe.text();
      const answerBytes = Buffer.byteLength(probeText);
      if (probe.status !== 200 || (JSON.parse(probeText) as { items: unknown[] }).items.length !== 1) throw new Error(`holder query probe: ${probe.status}`);
      const serverPid = s.proc.pid;
      const q = await rotating({ url: `${base}/holders/licences:query`, headers: consumerAuth, bodies: queries.slice(1), serverPid });
      report.add({ name: "POST /holders/licences:query, uniform draw (recorded, group commit)", value: q.rps, unit: "req/s", baseline: BARE, note: `${Math.min(n, DRAWS)} distinct holders of ${n}, none asked before; errors ${q.errors} non2xx ${q.non2xx}${q.rps * 5 > queries.length ? " (some holders asked twice: more requests than draws)" : ""}` });
      // A skewed draw (Zipf s = 1.1 over the holders): a few holders asked about often. The figure to expect is the
      // uniform one: each holder is asked about about once per case.
      const zq = zipfDraws(n, DRAWS, 1.1, rng(3)).map(body);
      const z = await rotating({ url: `${base}/holders/licences:query`, headers: consumerAuth, bodies: zq, serverPid });
      report.add({ name: "POST /holders/licences:query, Zipf s=1.1 draw", value: z.rps, unit: "req/s", baseline: BARE, note: `p99 ${z.p99} ms; ${new Set(zq).size} distinct holders in ${zq.length} draws` });
      // The ceiling for any implementation on this machine: the same request bodies and an answer of the same size,
      // with no work at all (no look-up, no record, no durability), on the bare server.
      const ceiling = await rotating({ url: `http://127.0.0.1:${bare.port}/answer?bytes=${answerBytes}`, headers: consumerAuth, bodies: queries });
      report.add({ name: HQ_CEILING, value: ceiling.rps, unit: "req/s", baseline: BARE, note: `the holder query's request bodies, a ${answerBytes}-byte answer, no work` });
      report.add({ name: "holder query vs its I/O ceiling", value: q.rps, unit: "req/s", baseline: HQ_CEILING, goal: "≥ 30% of the ceiling" });
      report.add({ name: "holder query p99 latency (uniform)", value: q.p99, unit: "ms", note: `p50 ${q.p50} ms, -c 50` });
      report.add({ name: "holder query, server CPU per request (uniform)", value: q.cpuUs, unit: "µs", note: `Zipf s=1.1: ${Math.round(z.cpuUs)} µs` });

      // verify (before the open-loop runs: a rate the server cannot keep up with leaves it busy for a while)
      const bodies = verifyJwss.map((jws) => JSON.stringify({ jws }));
      const v = await rotating({ url: `${base}/verify`, headers: {}, bodies, serverPid });
      report.add({ name: "POST /verify (licence JWS, full verdict + proof)", value: v.rps, unit: "req/s", baseline: BARE, goal: "≥ 25% of bare", note: `p99 ${v.p99} ms, errors ${v.errors} non2xx ${v.non2xx}, ${bodies.length} distinct licences drawn uniformly, none verified before; server CPU ${Math.round(v.cpuUs)} µs a request` });
      report.add({ name: "POST /verify vs the same I/O with no work", value: v.rps, unit: "req/s", baseline: ECHO });

      // Open loop: a fixed rate whatever the answers' pace, each request timed from when it was due.
      for (const rate of OPEN_RATES) {
        const o = await openLoop({ url: `${base}/holders/licences:query`, headers: consumerAuth, bodies: (drawn.length > DRAWS * 2 && rate !== OPEN_RATES[0] ? drawn.slice(DRAWS * 2) : drawn.slice(DRAWS)).concat(drawn.length > DRAWS ? [] : drawn).map(body), rate, duration: 5 });
        const b = bareOpen.get(rate);
        report.add({ name: `holder query p99 at ${rate}/s (open loop, uniform)`, value: o.p99, unit: "ms", goal: "≤ 25 ms", note: `p50 ${o.p50} ms, max ${o.max} ms, errors ${o.errors} non2xx ${o.non2xx}; bare POST at the same rate: p99 ${b?.p99} ms` });
      }

      // single issuance
      const singles = Array.from({ length: 200_000 }, (_, i) => JSON.stringify(licence(typeCode, runBase + i)));
      const iss = await rotating({ url: `${base}/licences`, headers: issuerAuth, bodies: singles });
      report.add({ name: "POST /licences (single issuance)", value: iss.rps, unit: "licences/s", baseline: BARE, goal: "≥ 2,000/s", note: `p99 ${iss.p99} ms, errors ${iss.errors} non2xx ${iss.non2xx}` });

      // bulk over HTTP: 5 requests of 10,000 lines, one at a time
      const first = runBase + 200_000;
      const t1 = performance.now();
      let done = 0;
      for (let b = 0; b < 5; b++) {
        const body = Array.from({ length: 10_000 }, (_, k) => JSON.stringify(licence(typeCode, first + b * 10_000 + k))).join("\n");
        const res = await fetch(`${base}/licences:batch`, { method: "POST", headers: { ...issuerAuth, "content-type": "application/x-ndjson" }, body });
        const out = (await res.json()) as { summary: { issued: number } };
        done += out.summary.issued;
      }
      report.add({ name: "POST /licences:batch (10,000 lines/request)", value: done / ((performance.now() - t1) / 1000), unit: "licences/s", goal: "≥ 8,000/s", note: `${done} issued over HTTP incl. NDJSON parse` });
    } finally {
      await s.stop();
      await bare.stop();
    }
    if (keep) fs.rmSync(path.dirname(runDb), { recursive: true, force: true });
  } finally {
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}
