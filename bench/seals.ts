/**
 * E-seal benchmark (issue 5). Baselines measured in the same run:
 *  - "stack": pdf-lib load → @signpdf/placeholder-pdf-lib → pdf-lib save → @signpdf/signpdf with an ECDSA CMS
 *    signer (same key store, no time-stamp, invisible: PAdES B-B);
 *  - pdfsig whole-process validation of the same stamped file.
 * Ours:
 *  - stamp core: parse + visible seal appearance + incremental update + CMS + RFC 3161 token (B-T), no database;
 *  - stamp service: the same through SealService.stamp (status checks, stamp record and log entry; SQLite
 *    synchronous=NORMAL);
 *  - validation of one signature through the warm HTTP endpoint (real socket, keep-alive).
 * Goals: 1-page stamp ≤ stack; 200-page stamp ≥ 5× faster than stack; HTTP validation faster than pdfsig.
 *
 *   npx tsx bench/seals.ts
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { makePdf } from "../fixtures/pdf/make-pdf.js";
import { buildApp } from "../src/app.js";
import { appDeps } from "../src/server.js";
import { latencies, Report } from "./lib.js";
import { BENCH_ACTOR as ACTOR, signpdfStamper, withBenchContext } from "./stamping.js";

export async function run(report: Report): Promise<void> {
  await withBenchContext("seals", async (ctx, d, dir) => {
    const seal = await ctx.seals.createSeal({ departmentId: d.id, type: "04" }, ACTOR);
    const stack = await signpdfStamper(ctx, seal);
    const stampCore = async (pdf: Buffer) => (await ctx.seals.stamp(seal.id, { pdf, placement: { page: 1, xMm: 150, yMm: 230 } }, ACTOR)).pdf;

    for (const pages of [1, 200]) {
      const pdf = makePdf({ pages, lines: (i) => Array.from({ length: 40 }, (_, j) => `Page ${i + 1} line ${j + 1}: the department approves the application as filed.`) });
      const n = pages === 1 ? 200 : 40;
      const base = await latencies(() => stack(pdf), n);
      report.add({ name: `stack B-B invisible, ${pages} page(s) (median)`, value: base.median, unit: "ms", note: `${(pdf.length / 1024).toFixed(0)} KiB input` });
      const ours = await latencies(() => stampCore(pdf), n);
      report.add({
        name: `stamp B-T visible seal, ${pages} page(s) (median)`, value: ours.median, unit: "ms",
        baseline: `stack B-B invisible, ${pages} page(s) (median)`, goal: pages === 1 ? "≤ stack" : "≥ 5× faster than stack",
        note: `p99 ${ours.p99.toFixed(2)} ms; includes status checks, stamp record and log entry (SQLite NORMAL)`,
      });
      const f = report.figures[report.figures.length - 1]!;
      if (f.ratio !== undefined) console.log(`    → ${(1 / f.ratio).toFixed(1)}× the stack's speed`);
    }

    // Validation: warm HTTP endpoint vs pdfsig whole process, same file.
    const signed = await stampCore(makePdf({ pages: 1 }));
    const file = path.join(dir, "signed.pdf");
    fs.writeFileSync(file, signed);
    const ps = await latencies(() => spawnSync("pdfsig", [file], { encoding: "utf8" }), 30);
    report.add({ name: "pdfsig validation, whole process (median)", value: ps.median, unit: "ms" });
    const app = await buildApp(appDeps(ctx, false));
    await app.listen({ host: "127.0.0.1", port: 0 });
    const addr = app.server.address() as { port: number };
    const url = `http://127.0.0.1:${addr.port}/verify/pdf`;
    const post = async () => {
      const r = await fetch(url, { method: "POST", headers: { "content-type": "application/pdf" }, body: signed });
      const v = (await r.json()) as { result: string };
      if (v.result !== "VALID") throw new Error(`bench verdict ${v.result}`);
    };
    const hv = await latencies(post, 300);
    report.add({ name: "POST /verify/pdf, warm HTTP (median)", value: hv.median, unit: "ms", baseline: "pdfsig validation, whole process (median)", goal: "< pdfsig", note: `p99 ${hv.p99.toFixed(2)} ms` });
    await app.close();
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run(new Report("seals")).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
