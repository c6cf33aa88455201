/**
 * Where the holder query's time goes: a CPU profile of the real app (bench/serve.ts `sidian`, node --cpu-prof) while
 * it answers 免证办 holder queries drawn uniformly from a seeded database's holders (no repetition, no warm-up), as
 * bench/licences.ts measures them. Prints the top functions by self time, the time by file group and the inclusive
 * time of the query's steps, and keeps the .cpuprofile (open it in Chrome DevTools or speedscope). The profile covers
 * the server's whole life, start-up included: on a loaded machine start-up can outweigh the queries (README).
 *
 *   BENCH_LICENCE_DB=/work/bench-1m.db npx tsx bench/holder-profile.ts     (a seed made by bench/licences.ts)
 *   BENCH_PROFILE_SECONDS=20 (default), BENCH_PROFILE_DIR=/tmp/x (default: a temp dir), BENCH_READ_MODEL as serve.ts
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { citizenIdCheckChar } from "../src/codes/index.js";
import { startServer } from "./lib.js";

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

function citizenId(n: number): string {
  const day = new Date(Date.UTC(1950, 0, 1) + Math.floor(n / 1000) * 86_400_000);
  const body = `350102${day.toISOString().slice(0, 10).replace(/-/g, "")}${String(n % 1000).padStart(3, "0")}`;
  return body + citizenIdCheckChar(body);
}

/** Self and inclusive milliseconds per function, by file group, and the profile's span. */
export function summarise(p: Profile) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (n: Node) => {
    const f = n.callFrame;
    const file = f.url.replace(/^file:\/\//, "").replace(/^.*?\/(src|node_modules|bench)\//, "$1/");
    return f.url ? `${f.functionName || "(anonymous)"} ${file}:${f.lineNumber + 1}` : f.functionName;
  };
  const group = (n: Node) => {
    const u = n.callFrame.url;
    if (!u) return n.callFrame.functionName.startsWith("(") ? n.callFrame.functionName : "(native)";
    if (u.includes("/node_modules/")) return `node_modules/${u.split("/node_modules/")[1]!.split("/").slice(0, u.includes("/node_modules/@") ? 2 : 1).join("/")}`;
    if (u.startsWith("node:")) return "node: (core)";
    return u.replace(/^file:\/\//, "").replace(/^.*?\/src\//, "src/").replace(/\/[^/]*$/, "/");
  };
  const selfBy = new Map<string, number>();
  const groupBy = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    selfBy.set(name(n), (selfBy.get(name(n)) ?? 0) + ms);
    groupBy.set(group(n), (groupBy.get(group(n)) ?? 0) + ms);
    // inclusive: every distinct function on the stack gets the sample once
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = name(byId.get(cur)!);
      if (!seen.has(k)) incl.set(k, (incl.get(k) ?? 0) + ms), seen.add(k);
    }
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = selfBy.get("(idle)") ?? 0;
  return { total, idle, selfBy, groupBy, incl };
}

async function main() {
  const seed = process.env.BENCH_LICENCE_DB;
  if (!seed || !fs.existsSync(`${seed}.json`)) throw new Error("BENCH_LICENCE_DB must name a seed made by bench/licences.ts (with its .json)");
  const meta = JSON.parse(fs.readFileSync(`${seed}.json`, "utf8")) as { n: number; consumer: { id: string; secret: string } };
  const seconds = Number(process.env.BENCH_PROFILE_SECONDS ?? 20);
  const run = fs.mkdtempSync(path.join(os.tmpdir(), "sidian-profile-"));
  const profDir = process.env.BENCH_PROFILE_DIR ?? path.join(run, "prof");
  fs.mkdirSync(profDir, { recursive: true });
  try {
    const db = path.join(run, "run.db");
    fs.copyFileSync(seed, db);
    process.env.BENCH_NODE_ARGS = `--cpu-prof --cpu-prof-dir=${profDir}`;
    const srv = await startServer("sidian", { BENCH_DIR: run, BENCH_DB: db });
    let rps = 0;
    try {
      const base = `http://127.0.0.1:${srv.port}`;
      const res = await fetch(`${base}/oauth/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ grant_type: "client_credentials", client_id: meta.consumer.id, client_secret: meta.consumer.secret }) });
      const auth = `Bearer ${((await res.json()) as { access_token: string }).access_token}`;
      // Holders from the far end of a multiplicative walk: uniform enough, distinct, none asked by the bench's draws first.
      const holders = Array.from({ length: 100_000 }, (_, i) => (i * 7919 + 104_729) % meta.n);
      let i = 0;
      const r = await autocannon({
        url: `${base}/holders/licences:query`, method: "POST", connections: 50, duration: seconds,
        headers: { "content-type": "application/json", authorization: auth },
        requests: [{ method: "POST", setupRequest: (req) => ({ ...req, body: JSON.stringify({ holderCode: citizenId(holders[i++ % holders.length]!), holderCodeType: "111", matterCode: "BENCH-1", useCause: "行政检查核验经营许可" }) }) }],
      });
      rps = r.requests.average;
      console.log(`holder query under the profiler: ${Math.round(rps)} req/s, p99 ${r.latency.p99} ms, non2xx ${r.non2xx}, errors ${r.errors}`);
    } finally {
      await srv.stop();
    }
    const file = fs.readdirSync(profDir).filter((f) => f.endsWith(".cpuprofile")).map((f) => path.join(profDir, f)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
    if (!file) throw new Error("no profile written");
    const s = summarise(JSON.parse(fs.readFileSync(file, "utf8")) as Profile);
    const busy = s.total - s.idle;
    const pct = (ms: number) => `${((ms / busy) * 100).toFixed(1)}%`;
    console.log(`\nprofile ${file}: ${(s.total / 1000).toFixed(1)} s, idle ${(s.idle / 1000).toFixed(1)} s; shares below are of the busy ${(busy / 1000).toFixed(1)} s`);
    console.log("\nself time by file group:");
    for (const [k, v] of [...s.groupBy].filter(([k]) => k !== "(idle)").sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${pct(v).padStart(6)}  ${k}`);
    console.log("\ntop functions by self time:");
    for (const [k, v] of [...s.selfBy].filter(([k]) => k !== "(idle)").sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${pct(v).padStart(6)}  ${k}`);
    console.log("\ninclusive time of the app's own functions (src/):");
    for (const [k, v] of [...s.incl].filter(([k]) => k.includes(" src/")).sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`  ${pct(v).padStart(6)}  ${k}`);
  } finally {
    // The profile stays when BENCH_PROFILE_DIR names where (outside the run's directory).
    fs.rmSync(run, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
