/**
 * One instance on PostgreSQL against one on SQLite (issue 16, performance), same run, same machine, the same
 * service in-process driven through its HTTP routes (app.inject: routes, auth, validation, signing, logging; no
 * sockets, so the figures leave out the network and load-generator costs alike):
 *   - bulk import (POST /licences:batch, BENCH_STORES_SEED lines in batches of 2,000);
 *   - single issuance (POST /licences, 32 in flight);
 *   - 免证办 holder query (POST /holders/licences:query, consent-exempt matter, holders drawn uniformly; each query
 *     recorded in the access log and the transparency log before it answers);
 *   - POST /verify of seeded licences drawn uniformly.
 * SQLite with SIDIAN_DB_SYNC=grouped (the service's default), PostgreSQL 15 on the same machine (synchronous_commit
 * on). Goals: issuance ≥ 50% of SQLite's, holder query ≥ 50%, verify ≥ 80%, bulk import ≥ 50%.
 *
 * Verification draws each seeded licence at most once (a shuffled order, no repetition, no warm-up): the traffic a
 * deployment should expect, where each licence is verified about once. BENCH_STORES_ONLY=verify (comma-separated:
 * issue, query, verify) measures only those figures after the seeding import (the bulk figure is always taken).
 *
 *   npx tsx bench/stores.ts            (BENCH_STORES_SECONDS=3, BENCH_STORES_SEED=10000, BENCH_STORES_ONLY=verify)
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { withUser } from "../src/storage/pg.js";
import { TEST_PG } from "../test/helpers/pg.js";

process.env.TEST_DB_SYNC ??= "grouped";
const { world, personLicence, bearer } = await import("../test/licences/helpers.js");

const SECONDS = Number(process.env.BENCH_STORES_SECONDS ?? 3);
const SEED = Number(process.env.BENCH_STORES_SEED ?? 10_000);
const IN_FLIGHT = 32;
const ONLY = new Set((process.env.BENCH_STORES_ONLY ?? "issue,query,verify").split(",").map((x) => x.trim()));
const SKIPPED = { perSecond: NaN, failed: 0 };

type Teardown = () => unknown;
function fakeTest() {
  const fns: Teardown[] = [];
  return { t: { teardown: (f: Teardown) => void fns.push(f) } as never, async end() { for (const f of fns.reverse()) await f(); } };
}

async function rate(work: (i: number) => Promise<boolean>, seconds: number): Promise<{ perSecond: number; failed: number }> {
  const end = performance.now() + seconds * 1000;
  let n = 0;
  let failed = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (performance.now() < end) {
      if (await work(next++)) n++;
      else failed++;
    }
  }));
  return { perSecond: n / ((performance.now() - t0) / 1000), failed };
}

async function measure(store: "sqlite" | "pg") {
  const ft = fakeTest();
  let env: Record<string, string> = {};
  let schema: string | null = null;
  if (store === "pg") {
    schema = `bench_${randomBytes(4).toString("hex")}`;
    const u = new URL(TEST_PG);
    u.searchParams.set("schema", schema);
    env = { SIDIAN_DB: u.toString() };
  }
  try {
    const w = await world(ft.t, { ...env, SIDIAN_PUBLIC_RATE_LIMIT: "1000000" });
    const cpu0 = process.cpuUsage();
    // Bulk import.
    const ids: string[] = [];
    const codes: string[] = [];
    const t0 = performance.now();
    for (let start = 0; start < SEED; start += 2000) {
      const lines: string[] = [];
      for (let i = start; i < Math.min(SEED, start + 2000); i++) {
        const b = personLicence(w, 100_000 + i, { number: `S${i}` });
        codes.push(b.holder.code);
        lines.push(JSON.stringify(b));
      }
      const r = await w.h.app.inject({ method: "POST", url: "/licences:batch", headers: { ...bearer(w.tokens.issuer), "content-type": "application/x-ndjson" }, payload: lines.join("\n") });
      if (r.statusCode !== 200) throw new Error(`batch: ${r.statusCode} ${r.body.slice(0, 200)}`);
      for (const x of r.json().results as Array<{ identifier?: string }>) if (x.identifier) ids.push(x.identifier);
    }
    const bulk = ids.length / ((performance.now() - t0) / 1000);
    let seed = 12345;
    const rnd = (k: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % k);
    const issue = !ONLY.has("issue") ? SKIPPED : await rate(async (i) => {
      const r = await w.h.app.inject({ method: "POST", url: "/licences", headers: bearer(w.tokens.issuer), payload: personLicence(w, 500_000 + i, { number: `I${i}-${store}` }) });
      return r.statusCode === 201;
    }, SECONDS);
    const query = !ONLY.has("query") ? SKIPPED : await rate(async () => {
      const r = await w.h.app.inject({ method: "POST", url: "/holders/licences:query", headers: bearer(w.tokens.consumer), payload: { holderCode: codes[rnd(codes.length)], holderCodeType: "111", matterCode: w.exemptMatter, useCause: "行政检查" } });
      return r.statusCode === 200;
    }, SECONDS);
    // Each licence at most once, in a shuffled order (Fisher–Yates with the seeded generator).
    const order = ids.slice();
    for (let i = order.length - 1; i > 0; i--) {
      const j = rnd(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const verify = !ONLY.has("verify") ? SKIPPED : await rate(async (i) => {
      if (i >= order.length) throw new Error(`verify: more than the ${order.length} seeded licences were asked for; seed more (BENCH_STORES_SEED)`);
      const r = await w.h.app.inject({ method: "POST", url: "/verify", payload: { identifier: order[i] } });
      return r.statusCode === 200 && r.json().result === "VALID";
    }, SECONDS);
    const cpu = process.cpuUsage(cpu0);
    return { bulk, issue, query, verify, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  } finally {
    await ft.end();
    if (schema) {
      const c = new pg.Client({ connectionString: withUser(TEST_PG) });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    }
  }
}

const s = await measure("sqlite");
const p = await measure("pg");
const row = (name: string, a: number, b: number, goal: number, failed = "") =>
  console.log(`${name.padEnd(44)} SQLite ${a.toFixed(0).padStart(7)}/s   PostgreSQL ${b.toFixed(0).padStart(7)}/s   ${((b / a) * 100).toFixed(0).padStart(4)}% (goal ≥ ${goal}%)${failed}`);
console.log(`stores bench: ${SEED} seeded licences, ${SECONDS} s per figure, ${IN_FLIGHT} in flight, in-process (app.inject)`);
row("bulk import (POST /licences:batch)", s.bulk, p.bulk, 50);
row("single issuance (POST /licences)", s.issue.perSecond, p.issue.perSecond, 50, s.issue.failed + p.issue.failed ? ` (failed: ${s.issue.failed}/${p.issue.failed})` : "");
row("免证办 holder query", s.query.perSecond, p.query.perSecond, 50, s.query.failed + p.query.failed ? ` (failed: ${s.query.failed}/${p.query.failed})` : "");
row("POST /verify", s.verify.perSecond, p.verify.perSecond, 80, s.verify.failed + p.verify.failed ? ` (failed: ${s.verify.failed}/${p.verify.failed})` : "");
console.log(`load average (1/5/15 min) at the end: ${(await import("node:os")).loadavg().map((x) => x.toFixed(2)).join(" ")}`);
console.log(`process CPU: SQLite run ${s.cpuSeconds.toFixed(1)} s, PostgreSQL run ${p.cpuSeconds.toFixed(1)} s`);
process.exit(0);
