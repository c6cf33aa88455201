/**
 * Containers benchmark (issue 18 §6): building and verifying an ASiC-E container of a 10 MB material against the
 * floors of the same work done by standard tools over the same bytes, in one run:
 *   sha256sum (the hash is the floor of any container: its manifest needs the digest), Info-ZIP `zip -0` (store) and
 *   `zip -6` (deflate), `unzip -t` (test an archive: CRC over every byte).
 * Sidian's build = sign the manifest (CAdES + an RFC 3161 time-stamp from the in-process TSA, dev keys) + stream the
 * zip to a file hashing the material as it passes (what GET /materials/:id/container does, minus HTTP and the
 * decryption of the stored chunks). Verify = `verifyAsice` from the file (bounded reader, CRC, SHA-256 of each file,
 * CMS, time-stamp, chain). Best of BENCH_CONTAINER_RUNS (default 3) each. BENCH_CONTAINER_MB scales the file.
 *
 *   npx tsx bench/run.ts containers
 */
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { signAsice, verifyAsice, writeAsice } from "../src/containers/asic/index.js";
import { createZipWriter, openZip } from "../src/containers/zip/index.js";
import { loadKeyMaterial, parseCertificatesPem } from "../src/pki/index.js";
import { createTsa } from "../src/pki/tsa.js";
import type { Report } from "./lib.js";

const MB = 1024 * 1024;

async function best(runs: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  let b = Infinity;
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    await fn();
    b = Math.min(b, performance.now() - s);
  }
  return b / 1000;
}

async function toFile(file: string, fill: (out: fs.WriteStream) => Promise<unknown>): Promise<void> {
  const out = fs.createWriteStream(file);
  await fill(out);
  await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
}

export async function run(r: Report): Promise<void> {
  const size = Number(process.env.BENCH_CONTAINER_MB ?? 10) * MB;
  const runs = Number(process.env.BENCH_CONTAINER_RUNS ?? 3);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sidian-bench-asice-"));
  try {
    const pdf = path.join(dir, "material.pdf");
    fs.writeFileSync(pdf, Buffer.concat([Buffer.from("%PDF-1.7\n"), crypto.randomBytes(size - 16), Buffer.from("\n%%EOF\n")]));
    const json = path.join(dir, "material.json");
    const row = (i: number) => `{"seq":${i},"holder":"350***********0016","item":"租赁合同 lease ${i % 97}","amount":${(i * 37) % 10000}}\n`;
    const rows: string[] = [];
    for (let n = 0, i = 0; n < size; i++) {
      const x = row(i);
      rows.push(x);
      n += Buffer.byteLength(x);
    }
    fs.writeFileSync(json, rows.join(""));
    console.log(`   load average ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}; ${size / MB} MB files; best of ${runs}`);
    const mbps = (s: number) => size / MB / s;
    const L = `${size / MB} MB`;

    const m = await loadKeyMaterial(path.join(process.cwd(), "keys-dev"));
    const tsa = createTsa({ material: m, clock: { now: () => new Date() } });
    const signer = { certificates: [m.token.cert.der, m.issuingCa.cert.der, m.rootCert.der], sign: (d: Buffer) => m.token.signingKey.sign(d, "der") };
    const bundle = parseCertificatesPem(m.trustBundlePem);
    const deps = { anchors: bundle.filter((c) => c.subject === c.issuer), intermediates: bundle, now: () => new Date() };

    // Baselines.
    r.add({ name: `sha256sum (${L} PDF)`, value: mbps(await best(runs, () => execFileSync("sha256sum", [pdf]))), unit: "MB/s" });
    r.add({ name: `zip -0 (store, ${L} PDF)`, value: mbps(await best(runs, () => { fs.rmSync(path.join(dir, "z0.zip"), { force: true }); execFileSync("zip", ["-q", "-0", "-j", path.join(dir, "z0.zip"), pdf]); })), unit: "MB/s" });
    r.add({ name: `zip -6 (deflate, ${L} JSON)`, value: mbps(await best(runs, () => { fs.rmSync(path.join(dir, "z6.zip"), { force: true }); execFileSync("zip", ["-q", "-6", "-j", path.join(dir, "z6.zip"), json]); })), unit: "MB/s" });

    // The tools' figures include starting a process (shown: the same tool on an empty file); the in-process floor is
    // SHA-256 streamed from the file by node itself.
    r.add({ name: "sha256sum of an empty file (process start)", value: 1000 * await best(runs, () => execFileSync("sha256sum", ["/dev/null"])), unit: "ms" });
    r.add({ name: `SHA-256 streamed in-process (${L} PDF)`, value: mbps(await best(runs, async () => {
      const h = crypto.createHash("sha256");
      for await (const c of fs.createReadStream(pdf, { highWaterMark: 1024 * 1024 })) h.update(c as Buffer);
      return h.digest();
    })), unit: "MB/s" });

    // Sidian: container build, streamed from the file (digest known in advance, as registration recorded it).
    const sha = crypto.createHash("sha256").update(fs.readFileSync(pdf)).digest();
    const asice = path.join(dir, "x.asice");
    const build = await best(runs, async () => {
      const signed = await signAsice([{ name: "material.pdf", mediaType: "application/pdf", data: () => fs.createReadStream(pdf, { highWaterMark: 1024 * 1024 }), sha256: sha }], { signer, tsa });
      await toFile(asice, (out) => writeAsice(out, signed));
    });
    r.add({ name: `ASiC-E build (sign + TSA + stream, ${L} PDF)`, value: mbps(build), unit: "MB/s", baseline: `sha256sum (${L} PDF)` });
    r.add({ name: "ASiC-E build vs zip -0", value: mbps(build), unit: "MB/s", baseline: `zip -0 (store, ${L} PDF)` });
    r.add({ name: "ASiC-E build vs in-process SHA-256", value: mbps(build), unit: "MB/s", baseline: `SHA-256 streamed in-process (${L} PDF)` });
    // The zip writer alone with deflate, against zip -6.
    const deflate = await best(runs, () => toFile(path.join(dir, "w6.zip"), async (out) => {
      const z = createZipWriter(out);
      await z.addFile("material.json", fs.createReadStream(json, { highWaterMark: 1024 * 1024 }));
      await z.finish();
    }));
    r.add({ name: `zip writer deflate (${L} JSON)`, value: mbps(deflate), unit: "MB/s", baseline: `zip -6 (deflate, ${L} JSON)` });

    // Verification.
    r.add({ name: `unzip -t (${L} PDF container)`, value: mbps(await best(runs, () => execFileSync("unzip", ["-tqq", asice]))), unit: "MB/s" });
    let verdict = "";
    const verify = await best(runs, async () => {
      verdict = (await verifyAsice(asice, deps)).result;
    });
    if (verdict !== "VALID") throw new Error(`the benchmark's container did not verify: ${verdict}`);
    r.add({ name: `verifyAsice (${L} PDF container)`, value: mbps(verify), unit: "MB/s", baseline: `unzip -t (${L} PDF container)` });
    r.add({ name: "verifyAsice vs sha256sum", value: mbps(verify), unit: "MB/s", baseline: `sha256sum (${L} PDF)` });
    r.add({ name: "verifyAsice vs in-process SHA-256", value: mbps(verify), unit: "MB/s", baseline: `SHA-256 streamed in-process (${L} PDF)` });
    const read = await best(runs, async () => {
      const z = await openZip(path.join(dir, "w6.zip"));
      for await (const c of z.openEntry(z.entries[0]!)) void c;
      await z.close();
    });
    r.add({ name: `zip reader inflate+CRC (${L} JSON)`, value: mbps(read), unit: "MB/s" });
    r.add({ name: "signing alone (manifest CMS + TSA)", value: 1000 * await best(runs, () => signAsice([{ name: "m.pdf", mediaType: "application/pdf", data: Buffer.alloc(1), sha256: sha }], { signer, tsa })), unit: "ms" });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
