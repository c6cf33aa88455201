/**
 * The national profile against P-256 (issue 20 "Performance"), every ratio measured in one run on one core:
 *
 *   - SM2 sign / verify (src/crypto/sm2.ts: sm-crypto-v2 on @noble/curves, SM3 from node:crypto) against node:crypto
 *     ECDSA P-256 sign / verify (OpenSSL, assembly-optimised). Goal: ≥ 20% each.
 *     Verification is measured both for a key seen for the first time and for a key seen before (its precomputed
 *     table cached: the common case, a few CA and department keys verify almost everything).
 *
 *   - An SM2 stamp (SM3/SM2 CMS, SM2 chain, SM2 time-stamp: SealService.stamp with a seal of the sm2 profile, stamp
 *     record and log entry included) on a 200-page PDF against pdf-lib + @signpdf's P-256 signature of the same
 *     file (invisible, no time-stamp, the key store signing). Goal: ≥ 5× faster.
 *
 * Figures are noisy: the machine's two cores are shared with other work while this runs.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PDFDocument } from "pdf-lib";
import { pdflibAddPlaceholder } from "@signpdf/placeholder-pdf-lib";
import { SignPdf } from "@signpdf/signpdf";
import { Signer, SUBFILTER_ETSI_CADES_DETACHED } from "@signpdf/utils";
import { makePdf } from "../fixtures/pdf/make-pdf.js";
import { loadConfig } from "../src/config.js";
import { createContext } from "../src/context.js";
import { sm2GenerateKey, sm2Sign, sm2Verify } from "../src/crypto/sm2.js";
import { buildSignedData, CMS_OID } from "../src/pki/cms.js";
import { parseCertificate } from "../src/pki/reader.js";
import { latencies, opsPerSecond, type Report } from "./lib.js";

const ACTOR = { kind: "system" as const, name: "bench" };

async function stamps(r: Report): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sidian-bench-sm2-"));
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
  const config = loadConfig({ SIDIAN_MODE: "test", SIDIAN_DB: path.join(dir, "b.db"), SIDIAN_KEYS_DIR: path.join(root, "keys-dev"), SIDIAN_DB_SYNC: "normal" }, root);
  const ctx = await createContext(config, { autoCheckpoint: false, autoExpire: false } as Parameters<typeof createContext>[1]);
  try {
    const d = await ctx.directory.createDepartment({ name: "福州市市场监督管理局", uscc: "91350100M000100Y43", regionCode: "350100" }, ACTOR);
    const p256Seal = await ctx.seals.createSeal({ departmentId: d.id, type: "04" }, ACTOR);
    const sm2Seal = await ctx.seals.createSeal({ departmentId: d.id, type: "02", crypto: "sm2" }, ACTOR);
    const cert = (await ctx.uow.read.certificates.get(p256Seal.certSerial))!;
    const info = parseCertificate(cert.der);
    const chain = [cert.der, ctx.material.issuingCa.cert.der, ctx.material.rootCert.der];
    class EcdsaSigner extends Signer {
      override async sign(data: Buffer): Promise<Buffer> {
        return buildSignedData({
          eContentType: CMS_OID.data, contentDigest: crypto.createHash("sha256").update(data).digest(),
          signer: { der: cert.der, issuerDer: info.issuerDer, serial: cert.serial }, certificates: chain,
          sign: (x) => ctx.pki.keyStore.sign(p256Seal.keyId, x, { encoding: "der" }),
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
    const pdf = makePdf({ pages: 200, lines: (i) => Array.from({ length: 40 }, (_, j) => `Page ${i + 1} line ${j + 1}: the department approves the application as filed.`) });
    const n = 20;
    // Warm-up (JIT, PDF worker start) so the order of the series does not decide the figures.
    for (let i = 0; i < 3; i++) {
      await stack(pdf);
      await ctx.seals.stamp(p256Seal.id, { pdf, placement: { page: 1, xMm: 150, yMm: 230 } }, ACTOR);
      await ctx.seals.stamp(sm2Seal.id, { pdf, placement: { page: 1, xMm: 150, yMm: 230 } }, ACTOR);
    }
    const base = await latencies(() => stack(pdf), n);
    r.add({ name: "pdf-lib + @signpdf P-256, 200 pages (median)", value: base.median, unit: "ms", note: `${(pdf.length / 1024).toFixed(0)} KiB input; invisible, no time-stamp` });
    const p256 = await latencies(async () => (await ctx.seals.stamp(p256Seal.id, { pdf, placement: { page: 1, xMm: 150, yMm: 230 } }, ACTOR)).pdf, n);
    r.add({ name: "P-256 stamp B-T visible seal, 200 pages (median)", value: p256.median, unit: "ms", note: "the same path with a P-256 seal, for comparison" });
    const ours = await latencies(async () => (await ctx.seals.stamp(sm2Seal.id, { pdf, placement: { page: 1, xMm: 150, yMm: 230 } }, ACTOR)).pdf, n);
    r.add({ name: "SM2 stamp B-T visible seal, 200 pages (median)", value: ours.median, unit: "ms", note: `p99 ${ours.p99.toFixed(1)} ms; SM3/SM2 CMS + SM2 time-stamp, stamp record and log entry` });
    console.log(`    → the SM2 stamp is ${(base.median / ours.median).toFixed(1)}× as fast as pdf-lib + @signpdf (goal ≥ 5×)`);
  } finally {
    await ctx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(r: Report): Promise<void> {
  const msg = crypto.randomBytes(256);
  const p256 = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const p256Sig = crypto.sign("sha256", msg, { key: p256.privateKey, dsaEncoding: "der" });
  r.add({ name: "P-256 sign (node:crypto)", value: await opsPerSecond(() => crypto.sign("sha256", msg, { key: p256.privateKey, dsaEncoding: "der" })), unit: "ops/s" });
  r.add({ name: "P-256 verify (node:crypto)", value: await opsPerSecond(() => crypto.verify("sha256", msg, { key: p256.publicKey, dsaEncoding: "der" }, p256Sig)), unit: "ops/s" });

  const sm2 = sm2GenerateKey();
  const sm2Sig = sm2Sign(sm2, msg);
  r.add({ name: "SM2 sign (sm-crypto-v2)", value: await opsPerSecond(() => sm2Sign(sm2, msg)), unit: "ops/s", baseline: "P-256 sign (node:crypto)", goal: "≥ 20%" });
  r.add({ name: "SM2 verify, known key (sm-crypto-v2)", value: await opsPerSecond(() => sm2Verify(sm2.publicKey, msg, sm2Sig)), unit: "ops/s", baseline: "P-256 verify (node:crypto)", goal: "≥ 20%" });
  // Keys never seen before (each verified once): the path without a precomputed table.
  const fresh = Array.from({ length: 300 }, () => {
    const k = sm2GenerateKey();
    return { k, sig: sm2Sign(k, msg) };
  });
  const t0 = performance.now();
  for (const f of fresh) if (!sm2Verify(f.k.publicKey, msg, f.sig)) throw new Error("SM2 verify failed");
  r.add({ name: "SM2 verify, new key each time (sm-crypto-v2)", value: fresh.length / ((performance.now() - t0) / 1000), unit: "ops/s", baseline: "P-256 verify (node:crypto)" });
  await stamps(r);
}
