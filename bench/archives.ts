/**
 * Archive packages (issue 19): building the package of a case with 200 files / 500 MB (BagIt: SHA-256 and SM3 of
 * every file, metadata, events with log proofs, CAdES-T signature; zipped and stored in sealed chunks) against the
 * in-run baseline `sha256sum` over the same bytes (files on disk, page cache warm). Also: streaming the stored
 * package back (decrypting every chunk), and the process's peak RSS while building (the package is never whole in
 * memory). Goal: building ≥ 50% of sha256sum's throughput.
 *
 *   npx tsx bench/archives.ts                      (BENCH_ARCHIVE_MB=50 BENCH_ARCHIVE_FILES=200 for a quick run)
 *
 * The case's files are put in place through the repositories (as attached stamped documents would be, sealed): the
 * bench measures the archive, not 200 stamping round trips.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../src/config.js";
import { createContext } from "../src/context.js";
import type { Actor } from "../src/modules/kernel.js";
import { Report } from "./lib.js";

const MB = Number(process.env.BENCH_ARCHIVE_MB ?? 500);
const FILES = Number(process.env.BENCH_ARCHIVE_FILES ?? 200);
const SYSTEM: Actor = { kind: "system", name: "bench" };

export async function run(report: Report): Promise<void> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sidian-bench-archives-"));
  const config = loadConfig({ SIDIAN_MODE: "test", SIDIAN_DB: path.join(dir, "b.db"), SIDIAN_KEYS_DIR: path.join(root, "keys-dev"), SIDIAN_DB_SYNC: "normal" }, root);
  const ctx = await createContext(config, { autoCheckpoint: false, autoExpire: false });
  try {
    const dept = await ctx.directory.createDepartment({ name: "福州市行政审批局", uscc: "91350100000000001" + usccCheck("91350100000000001"), regionCode: "350100" }, SYSTEM);
    await ctx.catalogue.createMatter({ code: "M-BENCH", name: "基准事项", licenceTypes: [] }, SYSTEM);
    const consumer = await ctx.directory.createClient({ role: "consumer", name: "bench", matters: ["M-BENCH"] }, SYSTEM);
    const actor: Actor = { kind: "client", clientId: consumer.client.id, role: "consumer", departmentId: null, matters: ["M-BENCH"], scopes: [] };
    const open = async (caseNo: string) => ctx.cases.open({
      caseNo, matterCode: "M-BENCH", title: "基准办件", departmentId: dept.id,
      applicant: { name: "张三", codeType: "111", code: "11010519491231002X" }, staff: { name: "李四" },
    }, actor);
    const cases = [await open("BENCH-0001"), await open("BENCH-0002")];

    // 200 files of the total size (sizes vary ±50% around the mean), sealed into each case as attached documents.
    const total = MB * 1024 * 1024;
    const mean = total / FILES;
    const filesDir = path.join(dir, "files");
    fs.mkdirSync(filesDir);
    let octets = 0;
    for (let i = 0; i < FILES; i++) {
      const size = i === FILES - 1 ? Math.max(1, total - octets) : Math.round(mean * (0.5 + ((i * 7919) % 1000) / 1000));
      const bytes = randomBytes(size);
      octets += size;
      fs.writeFileSync(path.join(filesDir, `f${i}.bin`), bytes);
      const sha = createHash("sha256").update(bytes).digest("hex");
      for (const c of cases) {
        await ctx.uow.write(async (repos) => {
          const itemId = await repos.caseItems.insert({ caseId: c.id, kind: "document", ref: `bench-${i}`, clientId: actor.clientId, verdict: null, detail: {}, logIndex: c.logIndex, at: new Date() });
          await repos.caseFiles.insert({ itemId, name: `文件-${i}.pdf`, mediaType: "application/pdf", sha256: sha, size, bytes: ctx.pii.sealBytes(bytes, `case-file:${itemId}:${sha}`) });
        });
      }
    }
    for (const c of cases) await ctx.cases.close(c.id, { result: "approved" }, actor);
    console.log(`  ${FILES} files, ${(octets / 1048576).toFixed(1)} MiB in each of two cases`);

    // Baseline: sha256sum over the same bytes (twice; the second, warm, counts).
    const names = fs.readdirSync(filesDir).map((f) => path.join(filesDir, f));
    execFileSync("sha256sum", names, { stdio: "ignore", maxBuffer: 1 << 26 });
    let t0 = performance.now();
    execFileSync("sha256sum", names, { stdio: "ignore", maxBuffer: 1 << 26 });
    const shaSecs = (performance.now() - t0) / 1000;
    report.add({ name: "sha256sum over the same bytes (baseline)", value: octets / 1048576 / shaSecs, unit: "MiB/s" });

    let a = null as Awaited<ReturnType<typeof ctx.archives.archive>> | null;
    for (const [i, hashOn] of (["inline", "worker"] as const).entries()) {
      let peak = process.memoryUsage().rss;
      const rss0 = peak;
      const sampler = setInterval(() => void (peak = Math.max(peak, process.memoryUsage().rss)), 20);
      t0 = performance.now();
      a = await ctx.archives.archive(cases[i]!.id, actor, { hashOn });
      const buildSecs = (performance.now() - t0) / 1000;
      clearInterval(sampler);
      report.add({ name: `build the package (${FILES} files), digests ${hashOn === "worker" ? "on a worker thread" : "inline"}`, value: octets / 1048576 / buildSecs, unit: "MiB/s", baseline: "sha256sum over the same bytes (baseline)", goal: "≥ 50% of sha256sum" });
      report.add({ name: `  peak RSS above the start (${hashOn})`, value: (peak - rss0) / 1048576, unit: `MiB (package ${(a.packageSize! / 1048576).toFixed(1)} MiB)` });
    }
    t0 = performance.now();
    const p = await ctx.archives.packageStream(a!.id, actor, { held: true });
    const h = createHash("sha256");
    for await (const ch of p.stream) h.update(ch as Buffer);
    const readSecs = (performance.now() - t0) / 1000;
    if (h.digest("hex") !== a!.packageSha256) throw new Error("the streamed package is not the stored one");
    report.add({ name: "stream the stored package back (decrypt + SHA-256)", value: p.size / 1048576 / readSecs, unit: "MiB/s", baseline: "sha256sum over the same bytes (baseline)" });
  } finally {
    await ctx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function usccCheck(first17: string): string {
  const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  const w = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
  let s = 0;
  for (let i = 0; i < 17; i++) s += alphabet.indexOf(first17[i]!) * w[i]!;
  const c = 31 - (s % 31);
  return alphabet[c === 31 ? 0 : c]!;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(`archives (${FILES} files, ${MB} MiB, Node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")})`);
  await run(new Report("archives"));
}
