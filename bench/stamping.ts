/**
 * Set-up shared by the stamping benchmarks (bench/seals.ts, bench/sm2.ts): a throw-away context on a temporary
 * SQLite file with the committed dev keys and one department, and the comparison stamper — pdf-lib + @signpdf
 * signing with a seal's P-256 key through the key store (invisible, no time-stamp).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PDFDocument } from "pdf-lib";
import { pdflibAddPlaceholder } from "@signpdf/placeholder-pdf-lib";
import { SignPdf } from "@signpdf/signpdf";
import { Signer, SUBFILTER_ETSI_CADES_DETACHED } from "@signpdf/utils";
import { loadConfig } from "../src/config.js";
import { createContext, type Context } from "../src/context.js";
import type { Department } from "../src/modules/directory/index.js";
import type { Seal } from "../src/modules/seals/index.js";
import { buildSignedData, CMS_OID } from "../src/pki/cms.js";
import { parseCertificate } from "../src/pki/reader.js";

export const BENCH_ACTOR = { kind: "system" as const, name: "bench" };

/** Runs `fn` with a fresh context (temporary database, keys-dev) and a department; removes everything after. */
export async function withBenchContext<T>(name: string, fn: (ctx: Context, dept: Department, dir: string) => Promise<T>, env: Record<string, string> = {}): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sidian-bench-${name}-`));
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
  const config = loadConfig({
    SIDIAN_MODE: "test", SIDIAN_DB: path.join(dir, "b.db"), SIDIAN_KEYS_DIR: path.join(root, "keys-dev"), SIDIAN_DB_SYNC: "normal",
    SIDIAN_PUBLIC_RATE_LIMIT: "1000000", ...env,
  }, root);
  const ctx = await createContext(config, { autoCheckpoint: false, autoExpire: false } as Parameters<typeof createContext>[1]);
  try {
    const dept = await ctx.directory.createDepartment({ name: "福州市市场监督管理局", uscc: "91350100M000100Y43", regionCode: "350100" }, BENCH_ACTOR);
    return await fn(ctx, dept, dir);
  } finally {
    await ctx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** pdf-lib + @signpdf's P-256 signature of a PDF with the seal's key (the baseline of the stamping goals). */
export async function signpdfStamper(ctx: Context, seal: Seal): Promise<(pdf: Buffer) => Promise<Buffer>> {
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
  return async (pdf: Buffer) => {
    const doc = await PDFDocument.load(pdf);
    pdflibAddPlaceholder({ pdfDoc: doc, reason: "bench", contactInfo: "", name: "bench", location: "", signatureLength: 8192, subFilter: SUBFILTER_ETSI_CADES_DETACHED });
    const saved = Buffer.from(await doc.save({ useObjectStreams: false }));
    return new SignPdf().sign(saved, signer);
  };
}
