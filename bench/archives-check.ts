/**
 * Archive checks benchmark (issue 19 §Performance): DA/T 70 四性检测 of a package of 200 files / 500 MB (signed
 * PDFs with a large image stream, PNG and JPEG scans, JSON and text) against `sha256sum` over the same bytes, in one
 * run. The checker reads every byte once through SHA-256 and SM3, validates every signed PDF on the worker pool,
 * walks every PNG chunk (CRC) and JPEG marker, verifies the package signature, time-stamp and log proofs.
 * Goal: ≥ 40% of sha256sum's throughput. BENCH_ARCHIVE_MB (default 500) and BENCH_ARCHIVE_FILES (default 200) scale it.
 * The package is made by the test fixture builder (test/archives/fixture.ts: dev keys, real CMS, real log proofs);
 * a few distinct signed PDFs are repeated under different paths (making each anew only slows the set-up).
 *
 *   npx tsx bench/run.ts archives-check
 */
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { checkPackage, CHECK_LIMITS, openDirectorySource } from "../src/modules/archives/check/index.js";
import { createPdfPool } from "../src/pdf/pool.js";
import { buildFixture, departmentSigner, devTrust, TINY_JPEG, type FixtureFile } from "../test/archives/fixture.js";
import { signWithSignpdf } from "../test/pdf/signpdf.js";
import { cades } from "../test/archives/fixture.js";
import type { Report } from "./lib.js";

const MB = 1024 * 1024;

/** A one-page PDF showing one large image (random bytes declared as DCT: the validator does not decode images). */
function bigPdf(bytes: number, seed: number): Buffer {
  const img = crypto.randomBytes(bytes);
  img[0] = seed & 0xff;
  const content = Buffer.from("q 500 0 0 700 50 50 cm /Im1 Do Q");
  const objs: Buffer[] = [
    Buffer.from("<< /Type /Catalog /Pages 2 0 R >>"),
    Buffer.from("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
    Buffer.from("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im1 4 0 R >> >> /Contents 5 0 R >>"),
    Buffer.concat([Buffer.from(`<< /Type /XObject /Subtype /Image /Width 1000 /Height 1400 /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode /Length ${img.length} >>\nstream\n`), img, Buffer.from("\nendstream")]),
    Buffer.concat([Buffer.from(`<< /Length ${content.length} >>\nstream\n`), content, Buffer.from("\nendstream")]),
  ];
  const parts: Buffer[] = [Buffer.from("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "latin1")];
  const offsets: number[] = [];
  let off = parts[0]!.length;
  objs.forEach((o, i) => {
    offsets.push(off);
    const b = Buffer.concat([Buffer.from(`${i + 1} 0 obj\n`), o, Buffer.from("\nendobj\n")]);
    parts.push(b);
    off += b.length;
  });
  const xref = `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`).join("")}trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${off}\n%%EOF\n`;
  parts.push(Buffer.from(xref));
  return Buffer.concat(parts);
}

/** A PNG whose IDAT holds `bytes` of stored (uncompressed deflate) random rows: valid chunks and CRCs. */
function bigPng(bytes: number): Buffer {
  const w = 1024;
  const h = Math.max(1, Math.floor(bytes / (w * 3 + 1)));
  const raw = crypto.randomBytes(h * (w * 3 + 1));
  for (let y = 0; y < h; y++) raw[y * (w * 3 + 1)] = 0;
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", zlib.deflateSync(raw, { level: 0 })), chunk("IEND", Buffer.alloc(0))]);
}

/** A JPEG: the tiny fixture's headers, then `bytes` of entropy-coded data (no 0xFF), then EOI. */
function bigJpeg(bytes: number): Buffer {
  const sos = TINY_JPEG.indexOf(Buffer.from([0xff, 0xda]));
  const sosLen = TINY_JPEG.readUInt16BE(sos + 2);
  const head = TINY_JPEG.subarray(0, sos + 2 + sosLen);
  const data = crypto.randomBytes(bytes);
  for (let i = 0; i < data.length; i++) if (data[i] === 0xff) data[i] = 0xfe;
  return Buffer.concat([head, data, Buffer.from([0xff, 0xd9])]);
}

export async function run(report: Report): Promise<void> {
  const totalMb = Number(process.env.BENCH_ARCHIVE_MB ?? 500);
  const nFiles = Number(process.env.BENCH_ARCHIVE_FILES ?? 200);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "sidian-bench-arc-"));
  try {
    const s = await departmentSigner();
    // 20% of the files are signed PDFs holding 40% of the bytes, 40% PNG (40%), 30% JPEG (20%), 10% JSON/text.
    const nPdf = Math.round(nFiles * 0.2), nPng = Math.round(nFiles * 0.4), nJpg = Math.round(nFiles * 0.3);
    const nSmall = nFiles - nPdf - nPng - nJpg;
    const pdfBytes = (totalMb * MB * 0.4) / nPdf, pngBytes = (totalMb * MB * 0.4) / nPng, jpgBytes = (totalMb * MB * 0.2) / nJpg;
    const distinct = await Promise.all([0, 1, 2, 3].map(async (i) => signWithSignpdf(bigPdf(Math.floor(pdfBytes), i), (d) => cades(d, s, { tsa: false }))));
    const files: FixtureFile[] = [];
    for (let i = 0; i < nPdf; i++) files.push({ path: `data/documents/d${i}.pdf`, bytes: distinct[i % 4]!, format: "application/pdf", role: "document" });
    for (let i = 0; i < nPng; i++) files.push({ path: `data/materials/p${i}/扫描件.png`, bytes: bigPng(Math.floor(pngBytes)), format: "image/png", role: "material" });
    for (let i = 0; i < nJpg; i++) files.push({ path: `data/materials/j${i}/照片.jpg`, bytes: bigJpeg(Math.floor(jpgBytes)), format: "image/jpeg", role: "material" });
    for (let i = 0; i < nSmall; i++) files.push({ path: `data/materials/t${i}/说明.json`, bytes: Buffer.from(JSON.stringify({ i, note: "材料说明".repeat(50) })), format: "application/json", role: "material" });
    const f = await buildFixture(root, { files, signer: s });
    files.length = 0;
    const all = execFileSync("find", [f.dir, "-type", "f"], { encoding: "utf8" }).trim().split("\n");
    const bytes = all.reduce((n, p) => n + fs.statSync(p).size, 0);
    console.log(`  package: ${all.length} files, ${(bytes / MB).toFixed(0)} MB; load average ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}; ${os.availableParallelism()} cores`);

    const sha256sum = () => {
      const t0 = performance.now();
      execFileSync("sha256sum", all, { stdio: ["ignore", "ignore", "inherit"], maxBuffer: 1 << 26 });
      return performance.now() - t0;
    };
    sha256sum(); // page cache warm for both
    const base = [sha256sum()];
    const pool = createPdfPool({ threads: 2, queue: 64, timeBudgetMs: 60_000, memoryMb: 512 });
    const trust = await devTrust();
    const checkOnce = async (sm3Thread = true) => {
      const src = await openDirectorySource(f.dir, CHECK_LIMITS);
      const t0 = performance.now();
      const r = await checkPackage(src, { trust, pdf: pool, pdfConcurrency: 2, sm3Thread });
      const ms = performance.now() - t0;
      if (r.result !== "pass") throw new Error(`the bench package does not pass: ${r.items.filter((i) => i.result === "fail").map((i) => `${i.id}: ${i.found}`).join("; ")}`);
      return ms;
    };
    const checks = [await checkOnce()];
    const oneThread = [await checkOnce(false)];
    base.push(sha256sum());
    checks.push(await checkOnce());
    oneThread.push(await checkOnce(false));
    await pool.close();
    const mbps = (ms: number) => bytes / MB / (ms / 1000);
    const baseMs = Math.min(...base);
    const checkMs = Math.min(...checks);
    report.add({ name: "sha256sum over the package's bytes", value: mbps(baseMs), unit: "MB/s", note: `${all.length} files, ${(bytes / MB).toFixed(0)} MB, best of ${base.length}` });
    report.add({
      name: "四性检测 (sidian archive check, directory)", value: mbps(checkMs), unit: "MB/s", baseline: "sha256sum over the package's bytes", goal: "≥ 40% of sha256sum",
      note: `best of ${checks.length}; SM3 of big files on a second thread; SHA-256 + SM3 of every byte, ${nPdf} signed PDFs validated on 2 pool threads, PNG CRCs, JPEG markers, signature, time-stamp, log proofs; load average ${os.loadavg()[0]!.toFixed(1)}`,
    });
    report.add({
      name: "四性检测, SM3 on the main thread too", value: mbps(Math.min(...oneThread)), unit: "MB/s", baseline: "sha256sum over the package's bytes",
      note: `best of ${oneThread.length}; the same check without the SM3 thread`,
    });
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

