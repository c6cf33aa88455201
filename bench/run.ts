/**
 * `npm run bench [-- name…]`: runs the benchmarks (all, or the named ones) and writes bench/results/latest.{json,md}.
 * Each bench measures its own baseline in the same run. Not part of the test suite.
 */
import { Report, writeResults, type Figure } from "./lib.js";

const BENCHES: Record<string, () => Promise<{ run: (r: Report) => Promise<void> }>> = {
  foundation: () => import("./foundation.js"),
  tlog: () => import("./tlog.js"),
  seals: () => import("./seals.js"),
  pages: () => import("./pages.js"),
  licences: () => import("./licences.js"),
  documents: () => import("./documents.js"),
  keystore: () => import("./keystore.js"),
  metrics: () => import("./metrics.js"),
  sm2: () => import("./sm2.js"),
  pg: () => import("./pg.js"),
  signatures: () => import("./signatures.js"),
  archives: () => import("./archives.js"),
  materials: () => import("./materials.js"),
  containers: () => import("./containers.js"),
  "archives-check": () => import("./archives-check.js"),
};

async function main() {
  const only = process.argv.slice(2);
  const names = only.length ? only : Object.keys(BENCHES);
  const figures: Figure[] = [];
  for (const name of names) {
    const load = BENCHES[name];
    if (!load) throw new Error(`unknown bench ${name}; known: ${Object.keys(BENCHES).join(", ")}`);
    console.log(`\n== ${name}`);
    const report = new Report(name);
    const t0 = performance.now();
    await (await load()).run(report);
    console.log(`   (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    figures.push(...report.figures);
  }
  writeResults(figures);
  console.log("\nwritten: bench/results/latest.json, bench/results/latest.md");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
