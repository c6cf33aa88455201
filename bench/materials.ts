/**
 * E-material benchmarks (issue 18), each beside its baseline measured in the same run:
 *   - registering a 10 MB PDF in-process (streamed from a file: SHA-256 + SM3 + content check + AES-256-GCM staging +
 *     one transaction with the row, 10 chunks and the log entry) vs `sha256sum` over the same file (goal ≥ 50%);
 *   - registering 50 KB materials over HTTP (POST /materials, raw body, -c 50; goal ≥ 1,000/s), beside a bare POST
 *     of the same body;
 *   - the reuse query (POST /holders/materials:query, consent-exempt matter, recorded and logged before it answers)
 *     for holders drawn without repetition, vs its I/O ceiling: a bare POST of the same request bodies answering the
 *     same number of bytes (goal ≥ 30%).
 *
 *   npx tsx bench/run.ts materials        (BENCH_MATERIAL_HOLDERS=2000 holders seeded for the reuse query)
 */
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { citizenIdCheckChar } from "../src/codes/index.js";
import { loadConfig } from "../src/config.js";
import { createContext } from "../src/context.js";
import type { Actor } from "../src/modules/kernel.js";
import { load, startServer, type Report } from "./lib.js";

const HOLDERS = Number(process.env.BENCH_MATERIAL_HOLDERS ?? 2000);
const SYSTEM: Actor = { kind: "system", name: "bench" };
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

function citizenId(n: number): string {
  const day = new Date(Date.UTC(1950, 0, 1) + Math.floor(n / 1000) * 86_400_000);
  const body = `350102${day.toISOString().slice(0, 10).replace(/-/g, "")}${String(n % 1000).padStart(3, "0")}`;
  return body + citizenIdCheckChar(body);
}

/** A PDF-shaped file of `size` bytes (random body: nothing compresses or repeats). */
function pdfOf(size: number, seed = 0): Buffer {
  const b = crypto.randomBytes(size);
  Buffer.from(`%PDF-1.7\n%${seed}\n`).copy(b, 0);
  Buffer.from("\n%%EOF\n").copy(b, size - 7);
  return b;
}

async function rotating(opts: { url: string; headers: Record<string, string>; bodies: string[]; contentType?: string; connections?: number; duration?: number }) {
  let i = 0;
  const r = await autocannon({
    url: opts.url, method: "POST", connections: opts.connections ?? 50, duration: opts.duration ?? 5,
    headers: { "content-type": opts.contentType ?? "application/json", ...opts.headers },
    requests: [{ method: "POST", setupRequest: (req) => ({ ...req, body: opts.bodies[i++ % opts.bodies.length]! }) }],
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx };
}

export async function run(report: Report): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sidian-bench-materials-"));
  try {
    // ---- 10 MB registration vs sha256sum ----
    const file = path.join(dir, "ten.pdf");
    const ten = pdfOf(10 * 1024 * 1024);
    fs.writeFileSync(file, ten);
    const MB = ten.length / 1048576;
    const best = (f: () => number, n = 3) => Math.min(...Array.from({ length: n }, f));
    const shaSecs = best(() => {
      const t0 = performance.now();
      const r = spawnSync("sha256sum", [file]);
      if (r.status !== 0) throw new Error("sha256sum failed");
      return (performance.now() - t0) / 1000;
    });
    report.add({ name: "sha256sum over a 10 MB file (baseline)", value: MB / shaSecs, unit: "MB/s", note: "process start included; best of 3" });
    const config = loadConfig({ SIDIAN_MODE: "test", SIDIAN_DB: path.join(dir, "bench.db"), SIDIAN_KEYS_DIR: path.join(ROOT, "keys-dev"), SIDIAN_LOG_LEVEL: "silent" }, ROOT);
    const ctx = await createContext(config, { autoCheckpoint: false, autoExpire: false });
    try {
      await ctx.catalogue.createMatter({ code: "BENCH-M", name: "基准事项", licenceTypes: [] }, SYSTEM);
      await ctx.materials.types.create({ code: "BIG", name: "大文件", matters: ["BENCH-M"], mediaTypes: ["pdf"], maxBytes: 64 * 1024 * 1024 }, SYSTEM);
      const holder: Actor = { kind: "holder", subjectHash: ctx.pii.lookupHash("111", citizenId(1)), codeType: "111", scopes: ["holder"] };
      let k = 0;
      const regSecs: number[] = [];
      for (let i = 0; i < 4; i++) {
        const t0 = performance.now();
        await ctx.materials.register(holder, { typeCode: "BIG", name: `ten-${k++}.pdf` }, fs.createReadStream(file, { highWaterMark: 256 * 1024 }), { contentType: "application/pdf" });
        regSecs.push((performance.now() - t0) / 1000);
      }
      const regBest = Math.min(...regSecs.slice(1));
      report.add({ name: "register a 10 MB PDF (in-process, streamed)", value: MB / regBest, unit: "MB/s", baseline: "sha256sum over a 10 MB file (baseline)", goal: "≥ 50% of sha256sum", note: `SHA-256 + SM3 + content check + AES-GCM staging + one transaction (row, 10 chunks, log entry); best of 3 after one warm-up; runs ${regSecs.map((s) => (s * 1000).toFixed(0)).join("/")} ms` });
    } finally {
      await ctx.close();
    }

    // ---- over HTTP ----
    const bare = await startServer("bare");
    const s = await startServer("sidian", { BENCH_DIR: dir, BENCH_DB: path.join(dir, "http.db") });
    try {
      const base = `http://127.0.0.1:${s.port}`;
      const post = async (url: string, token: string, body: unknown) => {
        const r = await fetch(`${base}${url}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
        if (r.status >= 300) throw new Error(`${url}: ${r.status} ${await r.text()}`);
        return r.json() as Promise<Record<string, unknown>>;
      };
      const tokenOf = async (id: string, secret: string) => ((await (await fetch(`${base}/oauth/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ grant_type: "client_credentials", client_id: id, client_secret: secret }) })).json()) as { access_token: string }).access_token;
      const admin = await tokenOf(s.info.clientId!, s.info.secret!);
      await post("/matters", admin, { code: "BENCH-X", name: "免同意基准事项", licenceTypes: [], consentExempt: true, exemptBasis: "基准测试" });
      await post("/material-types", admin, { code: "SMALL", name: "小材料", matters: ["BENCH-X"], mediaTypes: ["pdf"], maxBytes: 1_000_000 });
      const c = await post("/clients", admin, { name: "bench consumer", role: "consumer", matters: ["BENCH-X"] }) as { client: { id: string }; secret: string } & Record<string, unknown>;
      const consumerId = (c.client as { id: string } | undefined)?.id ?? (c.id as string);
      const consumer = await tokenOf(consumerId, c.secret);
      const auth = { authorization: `Bearer ${consumer}` };

      // 50 KB registrations: one body (ASCII, so autocannon sends it as is), a different holder per request.
      const small = Buffer.concat([Buffer.from("%PDF-1.7\n"), Buffer.from("x".repeat(50 * 1024 - 16)), Buffer.from("\n%%EOF\n")]).toString("latin1");
      const metas = Array.from({ length: 5000 }, (_, i) => Buffer.from(JSON.stringify({ typeCode: "SMALL", holder: { code: citizenId(100_000 + i), codeType: "111" }, matterCode: "BENCH-X" })).toString("base64url"));
      const bareSmall = await load({ url: `http://127.0.0.1:${bare.port}/answer?bytes=1900`, method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ pad: small.slice(0, 50 * 1024 - 20) }) });
      report.add({ name: "bare POST of a 50 KB body (baseline)", value: bareSmall.rps, unit: "req/s" });
      let m = 0;
      const reg = await autocannon({
        url: `${base}/materials`, method: "POST", connections: 50, duration: 5,
        headers: { ...auth, "content-type": "application/pdf" },
        requests: [{ method: "POST", setupRequest: (req) => ({ ...req, headers: { ...req.headers, "x-material-meta": metas[m++ % metas.length]! }, body: small }) }],
      });
      report.add({ name: "POST /materials, 50 KB PDF (raw body)", value: reg.requests.average, unit: "req/s", baseline: "bare POST of a 50 KB body (baseline)", goal: "≥ 1,000/s", note: `p99 ${reg.latency.p99} ms; errors ${reg.errors} non2xx ${reg.non2xx}; each: hashes, content check, encrypted staging, row + chunk + log entry in one transaction, signed receipt` });

      // Reuse: holders with two materials each, asked about once each.
      const seedMetas: string[] = [];
      for (let i = 0; i < HOLDERS; i++) for (let j = 0; j < 2; j++) seedMetas.push(Buffer.from(JSON.stringify({ typeCode: "SMALL", holder: { code: citizenId(i), codeType: "111" }, matterCode: "BENCH-X" })).toString("base64url"));
      const doc = pdfOf(2048).toString("latin1").replace(/[^\x20-\x7e\n]/g, "a");
      let sI = 0;
      await autocannon({
        url: `${base}/materials`, method: "POST", connections: 20, amount: seedMetas.length,
        headers: { ...auth, "content-type": "application/pdf" },
        requests: [{ method: "POST", setupRequest: (req) => ({ ...req, headers: { ...req.headers, "x-material-meta": seedMetas[sI++]! }, body: doc }) }],
      });
      const bodies = Array.from({ length: HOLDERS }, (_, i) => JSON.stringify({ holderCode: citizenId(i), holderCodeType: "111", matterCode: "BENCH-X", useCause: "审批核验申请材料" }));
      const probe = await fetch(`${base}/holders/materials:query`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: bodies[0] });
      const probeText = await probe.text();
      const items = (JSON.parse(probeText) as { items?: unknown[] }).items?.length;
      if (probe.status !== 200 || items !== 2) throw new Error(`reuse probe: ${probe.status} ${probeText.slice(0, 200)}`);
      const answerBytes = Buffer.byteLength(probeText);
      const q = await rotating({ url: `${base}/holders/materials:query`, headers: auth, bodies: bodies.slice(1) });
      const ceiling = await rotating({ url: `http://127.0.0.1:${bare.port}/answer?bytes=${answerBytes}`, headers: auth, bodies });
      report.add({ name: "reuse query I/O ceiling (bare POST, same bodies and answer size)", value: ceiling.rps, unit: "req/s", note: `${answerBytes}-byte answer` });
      report.add({ name: "POST /holders/materials:query (recorded, logged)", value: q.rps, unit: "req/s", baseline: "reuse query I/O ceiling (bare POST, same bodies and answer size)", goal: "≥ 30% of its ceiling", note: `p99 ${q.p99} ms; ${HOLDERS} holders with 2 materials each (2 receipts signed per answer), each asked once${q.rps * 5 > bodies.length ? " (then again: more requests than holders)" : ""}; errors ${q.errors} non2xx ${q.non2xx}` });
    } finally {
      await s.stop();
      await bare.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
