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
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PDFDocument } from "pdf-lib";
import { pdflibAddPlaceholder } from "@signpdf/placeholder-pdf-lib";
import { SignPdf } from "@signpdf/signpdf";
import { Signer, SUBFILTER_ETSI_CADES_DETACHED } from "@signpdf/utils";
import { makePdf } from "../fixtures/pdf/make-pdf.js";
import { buildApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { createContext } from "../src/context.js";
import { appDeps } from "../src/server.js";
import { buildSignedData, CMS_OID } from "../src/pki/cms.js";
import { parseCertificate } from "../src/pki/reader.js";
import { latencies, Report } from "./lib.js";

const ACTOR = { kind: "system" as const, name: "bench" };

export async function run(report: Report): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sidian-bench-seals-"));
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
  const config = loadConfig({ SIDIAN_MODE: "test", SIDIAN_DB: path.join(dir, "b.db"), SIDIAN_KEYS_DIR: path.join(root, "keys-dev"), SIDIAN_DB_SYNC: "normal", SIDIAN_PUBLIC_RATE_LIMIT: "1000000" }, root);
  const ctx = await createContext(config, { autoCheckpoint: false, autoExpire: false } as Parameters<typeof createContext>[1]);
  try {
    const d = await ctx.directory.createDepartment({ name: "福州市市场监督管理局", uscc: "91350100M000100Y43", regionCode: "350100" }, ACTOR);
    const seal = await ctx.seals.createSeal({ departmentId: d.id, type: "04" }, ACTOR);
    const cert = (await ctx.uow.read.certificates.get(seal.certSerial))!;
    const info = parseCertificate(cert.der);
    const chain = [cert.der, ctx.material.issuingCa.cert.der, ctx.material.rootCert.der];

    class EcdsaSigner extends Signer {
      override async sign(data: Buffer): Promise<Buffer> {
        return buildSignedData({
          eContentType: CMS_OID.data, contentDigest: crypto.createHash("sha256").update(data).digest(),
          signer: { der: cert.der, issuerDer: info.issuerDer, serial: cert.serial }, certificates: chain,
          sign: (x) => ctx.pki.keyStore.sign(seal.keyId, x, { encoding: "der" }),
        });
      }
    }
    const signer = new EcdsaSigner();
    const stack = async (pdf: Buffer) => {
      const doc = await PDFDocument.load(pdf);
      pdflibAddPlaceholder({ pdfDoc: doc, reason: "bench", contactInfo: "", name: "bench", location: "", signatureLength: 8192, subFilter: SUBFILTER_ETSI_CADES_DETACHED });
      const saved = Buffer.from(await doc.save({ useObjectStreams: false }));
      return new SignPdf().sign(saved, signer);
    };
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
  } finally {
    await ctx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run(new Report("seals")).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
