/**
 * Signing with another tool chain: pdf-lib + @signpdf/placeholder-pdf-lib lay the file out (a full rewrite that
 * ends exactly at `%%EOF`, no end-of-line), @signpdf/signpdf fills the placeholder. The CMS comes from a caller's
 * signer: a Sidian seal key (chains to Sidian's root) or `openssl cms -sign -cades` with a key made by openssl (whose CA
 * also makes CRLs with `openssl ca -gencrl`, optionally revoking the signer first).
 */
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { PDFDocument } from "pdf-lib";
import { pdflibAddPlaceholder } from "@signpdf/placeholder-pdf-lib";
import { SignPdf } from "@signpdf/signpdf";
import { Signer, SUBFILTER_ADOBE_PKCS7_DETACHED, SUBFILTER_ETSI_CADES_DETACHED } from "@signpdf/utils";
import type { Context } from "../../src/context.js";
import { buildSignedData, CMS_OID } from "../../src/pki/cms.js";
import { parseCertificate } from "../../src/pki/reader.js";

export type CmsSigner = (data: Buffer) => Promise<Buffer>;

export interface SignpdfOptions {
  readonly objectStreams?: boolean;
  readonly subFilter?: "ETSI.CAdES.detached" | "adbe.pkcs7.detached";
  /** Visible widget rectangle (default invisible). */
  readonly rect?: [number, number, number, number];
}

export async function signWithSignpdf(pdf: Buffer, sign: CmsSigner, o: SignpdfOptions = {}): Promise<Buffer> {
  const doc = await PDFDocument.load(pdf);
  pdflibAddPlaceholder({
    pdfDoc: doc, reason: "approved elsewhere", contactInfo: "", name: "External Signer", location: "Fuzhou", signatureLength: 8192,
    subFilter: o.subFilter === "adbe.pkcs7.detached" ? SUBFILTER_ADOBE_PKCS7_DETACHED : SUBFILTER_ETSI_CADES_DETACHED,
    ...(o.rect ? { widgetRect: o.rect } : {}),
  });
  const saved = Buffer.from(await doc.save({ useObjectStreams: o.objectStreams ?? false }));
  class S extends Signer {
    override async sign(data: Buffer): Promise<Buffer> {
      return sign(data);
    }
  }
  return new SignPdf().sign(saved, new S());
}

/**
 * A CMS signer with a Sidian seal's key and certificate (chain: seal → issuing CA → root). `stolen`: the private key
 * is taken out of the key store now and used directly later (as a thief would, after the seal is revoked).
 */
export async function sealCmsSigner(ctx: Context, sealId: string, o: { stolen?: boolean } = {}): Promise<CmsSigner> {
  const seal = (await ctx.seals.get(sealId))!;
  const cert = (await ctx.uow.read.certificates.get(seal.certSerial))!;
  const info = parseCertificate(cert.der);
  const chain = [cert.der, ctx.material.issuingCa.cert.der, ctx.material.rootCert.der];
  const key = o.stolen ? (await ctx.pki.keyStore.inProcessKey!(seal.keyId))!.key : null;
  return async (data) => Buffer.from(await buildSignedData({
    eContentType: CMS_OID.data, contentDigest: crypto.createHash("sha256").update(data).digest(),
    signer: { der: cert.der, issuerDer: info.issuerDer, serial: cert.serial }, certificates: chain,
    sign: (x) => (key ? crypto.sign("sha256", x, { key, dsaEncoding: "der" }) : ctx.pki.keyStore.sign(seal.keyId, x, { encoding: "der" })),
  }));
}

/** An outside CA and signer made with openssl in `dir`; the CMS is made by `openssl cms -sign -cades`. */
export function opensslCa(dir: string): { caPem: string; crlPem: (o?: { revokeSigner?: boolean }) => string; sign: CmsSigner } {
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
    "-subj", "/CN=Outside Test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "signer.key", "-out", "signer.csr", "-subj", "/CN=Outside Signer"]);
  fs.writeFileSync(path.join(dir, "ext.cnf"), "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n");
  run(["x509", "-req", "-in", "signer.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "signer.pem", "-days", "20", "-extfile", "ext.cnf"]);
  fs.writeFileSync(path.join(dir, "index.txt"), "");
  fs.writeFileSync(path.join(dir, "crlnumber"), "01\n");
  fs.writeFileSync(path.join(dir, "ca.cnf"), "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 7\n");
  let n = 0;
  return {
    caPem: fs.readFileSync(path.join(dir, "ca.pem"), "utf8"),
    crlPem: (o = {}) => {
      if (o.revokeSigner) run(["ca", "-config", "ca.cnf", "-revoke", "signer.pem", "-keyfile", "ca.key", "-cert", "ca.pem"]);
      run(["ca", "-config", "ca.cnf", "-gencrl", "-keyfile", "ca.key", "-cert", "ca.pem", "-out", "crl.pem"]);
      return fs.readFileSync(path.join(dir, "crl.pem"), "utf8");
    },
    sign: async (data) => {
      const f = path.join(dir, `data-${++n}.bin`);
      fs.writeFileSync(f, data);
      return execFileSync("openssl", ["cms", "-sign", "-binary", "-cades", "-md", "sha256", "-outform", "DER", "-signer", "signer.pem", "-inkey", "signer.key",
        "-certfile", "ca.pem", "-in", f], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    },
  };
}
