/**
 * PostgreSQL against SQLite (issue 16), same run, same machine: transparency-log appends (the write path every
 * trust event takes: one write transaction, the coordination row on PostgreSQL) with one instance on each store,
 * then two instances on one PostgreSQL database at once (combined leaves/s, then `sidian log audit`), and
 * inclusion-proof latency (the read path of every verdict's evidence). Two instances run in this process (two
 * stores, two log engines, sharing nothing but the database); the figures include the load generator.
 *
 *   npx tsx bench/pg.ts                 (BENCH_PG_SECONDS=3; SIDIAN_TEST_PG=postgres://… default the local server)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import pg from "pg";
import { openSqlite } from "../src/storage/db.js";
import { openPg, withUser } from "../src/storage/pg.js";
import { createPgUnitOfWork, createUnitOfWork, type Repos } from "../src/storage/repos/index.js";
import { silentLogger, systemClock, type UnitOfWork } from "../src/modules/kernel.js";
import { createTlog, type TlogEvent } from "../src/modules/tlog/index.js";
import { logAudit } from "../src/modules/tlog/cli.js";
import { latencies, Report } from "./lib.js";

const SECONDS = Number(process.env.BENCH_PG_SECONDS ?? 3);
const PG_URL = process.env.SIDIAN_TEST_PG || "postgres://127.0.0.1:5432/test";
const IN_FLIGHT = 32;
const { privateKey, publicKey } = generateKeyPairSync("ed25519");

function event(i: number): TlogEvent {
  return {
    type: "licence.issued", subject: `licence:${i.toString(16).padStart(12, "0")}`, actor: "client:issuer-0042",
    data: { sha256: createHash("sha256").update(String(i)).digest("hex"), typeCode: "11100000MB03271699001", version: "001" },
  };
}

function logOn(uow: UnitOfWork<Repos>) {
  return createTlog<Repos>({
    uow, clock: systemClock, signer: { name: "bench.sidian/log", privateKey, publicKey },
    checkpointIntervalSeconds: 1, checkpointMaxEntries: 100_000, log: silentLogger, autoCheckpoint: false,
  });
}

/** Leaves appended per second by IN_FLIGHT concurrent writers, `batch` events per write transaction. */
async function appendRate(uow: UnitOfWork<Repos>, tlog: ReturnType<typeof logOn>, batch: number, ms: number, base: number): Promise<number> {
  const end = performance.now() + ms;
  let n = 0;
  const worker = async (w: number) => {
    for (let k = 0; performance.now() < end; k++) {
      const events = Array.from({ length: batch }, (_, j) => event(base + w * 1e7 + k * batch + j));
      await uow.write((repos, tx) => tlog.appendMany(repos, tx, events));
      n += batch;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, (_, w) => worker(w)));
  return n / ((performance.now() - t0) / 1000);
}

async function pgAnswers(): Promise<boolean> {
  const c = new pg.Client({ connectionString: withUser(PG_URL), connectionTimeoutMillis: 2000 });
  c.on("error", () => undefined);
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function run(report: Report): Promise<void> {
  const ms = SECONDS * 1000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sidian-bench-pg-"));
  const h = openSqlite(path.join(dir, "bench.db"), { sync: "grouped" });
  const schema = `bench_${randomBytes(4).toString("hex")}`;
  const url = (() => {
    const u = new URL(PG_URL);
    u.searchParams.set("schema", schema);
    return u.toString();
  })();
  if (!(await pgAnswers())) {
    process.stderr.write(`bench pg: skipped, no PostgreSQL answers at ${PG_URL}\n`);
    await h.close();
    return;
  }
  const a = await openPg(url);
  const b = await openPg(url);
  try {
    const sUow = createUnitOfWork(h);
    const sLog = logOn(sUow);
    const aUow = createPgUnitOfWork(a);
    const bUow = createPgUnitOfWork(b);
    const aLog = logOn(aUow);
    const bLog = logOn(bUow);

    for (const batch of [1, 50]) {
      const s = await appendRate(sUow, sLog, batch, ms, 0);
      report.add({ name: `log append, ${batch}/transaction, SQLite (grouped fsync), one instance`, value: s, unit: "leaves/s" });
      const p = await appendRate(aUow, aLog, batch, ms, 1e9);
      report.add({ name: `log append, ${batch}/transaction, PostgreSQL, one instance`, value: p, unit: "leaves/s", note: `${((p / s) * 100).toFixed(0)}% of SQLite` });
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const [ra, rb] = await Promise.all([appendRate(aUow, aLog, batch, ms, 2e9), appendRate(bUow, bLog, batch, ms, 3e9)]);
      const wall = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      report.add({
        name: `log append, ${batch}/transaction, PostgreSQL, two instances at once (combined)`, value: ra + rb, unit: "leaves/s",
        ...(batch > 1 ? { goal: "≥ 5,000/s" } : {}),
        note: `A ${ra.toFixed(0)}/s + B ${rb.toFixed(0)}/s; this process (both instances and the load) used ${(((cpu.user + cpu.system) / 1e6 / wall) * 100).toFixed(0)}% of one core`,
      });
    }

    // Inclusion proofs (the evidence of every verdict): median latency at the size reached.
    for (const [name, tlog] of [["SQLite", sLog], ["PostgreSQL", aLog]] as const) {
      const size = await tlog.size();
      let seed = 7;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      await latencies(() => tlog.inclusionProof({ index: Math.floor(rnd() * size), treeSize: size }), 200);
      const lat = await latencies(() => tlog.inclusionProof({ index: Math.floor(rnd() * size), treeSize: size }), 2000);
      report.add({ name: `inclusion proof at ${size.toLocaleString("en-US")} leaves, ${name}`, value: lat.median * 1000, unit: "µs median", note: `p99 ${(lat.p99 * 1000).toFixed(0)} µs` });
    }

    // The log written by both instances audits clean.
    await aLog.checkpoint();
    const t0 = performance.now();
    const rep = await logAudit({ dbPath: url, vkey: aLog.publicKey().vkey, out: { write: () => undefined }, err: null });
    report.add({ name: `log audit of the two-instance log (${rep.leaves.toLocaleString("en-US")} leaves, snapshot + audit)`, value: (performance.now() - t0) / 1000, unit: "s", note: rep.ok ? "OK" : `FAILED: ${rep.problems.map((p) => p.kind).join(", ")}` });
  } finally {
    await a.close();
    await b.close();
    await h.close();
    fs.rmSync(dir, { recursive: true, force: true });
    const c = new pg.Client({ connectionString: withUser(PG_URL) });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const report = new Report("pg");
  await run(report);
  for (const f of report.figures) if (f.note) console.log(`  ${f.name}: ${f.note}`);
}
