/**
 * Transparency log benchmark (issue 3). Figures, each with the in-run baseline (raw SHA-256 of the same bytes):
 *  - append: leaves/s in batched write transactions (1000 per transaction) on a temp SQLite file, synchronous=FULL;
 *  - inclusion proof latency (median, p99) at 1,000,000 leaves, through the service (size read, leaf read, plan,
 *    node reads, fold);
 *  - `sidian log audit` of the whole log (recompute every leaf and node hash, verify every checkpoint).
 * Goals: append ≥ 20,000 leaves/s; proof median < 1 ms; audit of 1,000,000 leaves < 15 s.
 *
 *   npx tsx bench/tlog.ts            (BENCH_TLOG_LEAVES=200000 for a quicker run)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash, generateKeyPairSync } from "node:crypto";
import { fileURLToPath } from "node:url";
import { openSqlite } from "../src/storage/db.js";
import { createUnitOfWork } from "../src/storage/repos/index.js";
import { silentLogger, systemClock } from "../src/modules/kernel.js";
import { createTlog, leafFor, type TlogEvent } from "../src/modules/tlog/index.js";
import { logAudit } from "../src/modules/tlog/cli.js";
import { latencies, Report } from "./lib.js";

const N = Number(process.env.BENCH_TLOG_LEAVES ?? 1_000_000);
const BATCH = 1000;

function event(i: number): TlogEvent {
  return {
    type: "licence.issued",
    subject: `licence:${i.toString(16).padStart(12, "0")}`,
    actor: "client:issuer-0042",
    data: { sha256: createHash("sha256").update(String(i)).digest("hex"), typeCode: "11100000MB03271699001", version: "001" },
  };
}

export async function run(report: Report): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sidian-bench-tlog-"));
  const file = path.join(dir, "bench.sqlite");
  const h = openSqlite(file, { sync: "full" });
  try {
    const uow = createUnitOfWork(h);
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const tlog = createTlog({
      uow, clock: systemClock, signer: { name: "bench.sidian/log", privateKey, publicKey },
      checkpointIntervalSeconds: 10, checkpointMaxEntries: 100_000, log: silentLogger, autoCheckpoint: false,
    });

    // Baseline: raw SHA-256 over the very leaf bytes the log will hash (one digest per leaf).
    const sample = Math.min(N, 200_000);
    const now = new Date();
    const leaves = Array.from({ length: sample }, (_, i) => Buffer.from(leafFor(event(i), now).leaf, "utf8"));
    const avgLeaf = leaves.reduce((s, l) => s + l.length, 0) / leaves.length;
    let t0 = performance.now();
    for (const l of leaves) createHash("sha256").update(l).digest();
    const shaRate = sample / ((performance.now() - t0) / 1000);
    report.add({ name: "raw SHA-256 of the leaf bytes (baseline)", value: shaRate, unit: `leaves/s (avg ${avgLeaf.toFixed(0)} B)` });

    // Append N leaves in transactions of BATCH (this also builds the tree for the proof and audit figures).
    t0 = performance.now();
    let lastReport = t0;
    for (let i = 0; i < N; i += BATCH) {
      const events = Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => event(i + k));
      await uow.write((repos, tx) => tlog.appendMany(repos, tx, events));
      if ((i / BATCH) % 100 === 99) {
        await tlog.checkpoint(); // a checkpoint every 100,000 leaves, for the audit to check
        if (performance.now() - lastReport > 5000) {
          lastReport = performance.now();
          process.stderr.write(`  … ${i + BATCH} leaves\n`);
        }
      }
    }
    const appendSecs = (performance.now() - t0) / 1000;
    await tlog.checkpoint();
    report.add({ name: `append, ${BATCH} per transaction, ${N.toLocaleString("en-US")} leaves`, value: N / appendSecs, unit: "leaves/s", baseline: "raw SHA-256 of the leaf bytes (baseline)", goal: "≥ 20,000/s" });

    // Inclusion proofs at N leaves, random indexes.
    const size = await tlog.size();
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    await latencies(() => tlog.inclusionProof({ index: Math.floor(rnd() * size), treeSize: size }), 500); // warm-up
    const lat = await latencies(() => tlog.inclusionProof({ index: Math.floor(rnd() * size), treeSize: size }), 5000);
    const shaUs = 1e6 / shaRate;
    report.add({ name: `inclusion proof at ${size.toLocaleString("en-US")} leaves, median`, value: lat.median * 1000, unit: `µs (${(lat.median * 1000 / shaUs).toFixed(0)}× one leaf SHA-256)`, goal: "< 1000 µs" });
    report.add({ name: `inclusion proof at ${size.toLocaleString("en-US")} leaves, p99`, value: lat.p99 * 1000, unit: "µs" });
    const cons = await latencies(() => tlog.consistencyProof(Math.floor(rnd() * size), size), 2000);
    report.add({ name: `consistency proof at ${size.toLocaleString("en-US")} leaves, median`, value: cons.median * 1000, unit: "µs" });

    // The audit, as `sidian log audit` runs it (its own read-only connection).
    const vkey = tlog.publicKey().vkey;
    await tlog.close();
    t0 = performance.now();
    const audit = await logAudit({ dbPath: file, vkey, out: { write: () => undefined }, err: null });
    const auditSecs = (performance.now() - t0) / 1000;
    if (!audit.ok) throw new Error(`audit failed: ${JSON.stringify(audit.problems.slice(0, 3))}`);
    report.add({ name: `log audit of ${audit.leaves.toLocaleString("en-US")} leaves (${audit.checkpoints} checkpoints)`, value: auditSecs, unit: "s", goal: "< 15 s" });
    report.add({ name: "log audit throughput", value: audit.leaves / auditSecs, unit: "leaves/s", baseline: "raw SHA-256 of the leaf bytes (baseline)" });
    const dbBytes = fs.statSync(file).size + (fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0);
    report.add({ name: "database size per leaf", value: dbBytes / N, unit: "bytes" });
  } finally {
    h.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(`tlog (${N.toLocaleString("en-US")} leaves, Node ${process.version}, ${os.cpus().length} CPUs)`);
  await run(new Report("tlog"));
}
