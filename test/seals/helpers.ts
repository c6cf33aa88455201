/** Helpers for seal/PDF tests: a department with a seal and an issuer token, external tools (pdfsig, qpdf, openssl). */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { Test } from "tap";
import { bearer, build, tempDir, type Harness } from "../helpers/app.js";
import { openPdf } from "../../src/pdf/reader.js";
import { PdfString } from "../../src/pdf/objects.js";

export interface SealSetup {
  h: Harness;
  admin: string;
  issuer: string;
  dept: { id: string; uscc: string };
  sealId: string;
}

export async function withSeal(t: Test, opts: { type?: string; name?: string; h?: Harness } = {}): Promise<SealSetup> {
  const h = opts.h ?? (await build(t));
  const admin = (await h.client("admin")).token;
  const dept = await h.department(opts.name ?? "福州市市场监督管理局");
  const issuer = (await h.client("issuer", { departmentId: dept.id })).token;
  const res = await h.app.inject({ method: "POST", url: "/seals", headers: bearer(admin), payload: { departmentId: dept.id, type: opts.type ?? "04" } });
  if (res.statusCode !== 201) throw new Error(`seal: ${res.statusCode} ${res.body}`);
  return { h, admin, issuer, dept, sealId: res.json().id };
}

export async function stamp(s: SealSetup, pdf: Buffer, query = "page=1&x=150&y=200", token = s.issuer, sealId = s.sealId) {
  return s.h.app.inject({ method: "POST", url: `/seals/${sealId}/stamp?${query}`, headers: { ...bearer(token), "content-type": "application/pdf" }, payload: pdf });
}

export async function verify(h: Harness, pdf: Buffer) {
  const res = await h.app.inject({ method: "POST", url: "/verify/pdf", headers: { "content-type": "application/pdf" }, payload: pdf });
  if (res.statusCode !== 200) throw new Error(`verify: ${res.statusCode} ${res.body}`);
  return res.json();
}

/** pdfsig output; with `trustPem`, an NSS database trusting those certificates is used. */
export function pdfsig(t: Test, pdf: Buffer, trustPem?: string): string {
  const dir = tempDir(t, "sidian-pdfsig-");
  const f = path.join(dir, "doc.pdf");
  fs.writeFileSync(f, pdf);
  const args = [f];
  if (trustPem) {
    const db = path.join(dir, "nss");
    fs.mkdirSync(db);
    execFileSync("certutil", ["-N", "-d", `sql:${db}`, "--empty-password"]);
    const blocks = trustPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    blocks.forEach((b, i) => {
      const cf = path.join(dir, `c${i}.pem`);
      fs.writeFileSync(cf, b + "\n");
      execFileSync("certutil", ["-A", "-d", `sql:${db}`, "-n", `ca${i}`, "-t", i === 0 ? "C,C,C" : "c,c,c", "-i", cf]);
    });
    args.unshift("-nssdir", `sql:${db}`);
  }
  const r = spawnSync("pdfsig", args, { encoding: "utf8" });
  return r.stdout + r.stderr;
}

export function qpdfCheck(t: Test, pdf: Buffer): { status: number | null; out: string } {
  const dir = tempDir(t, "sidian-qpdf-");
  const f = path.join(dir, "doc.pdf");
  fs.writeFileSync(f, pdf);
  const r = spawnSync("qpdf", ["--check", f], { encoding: "utf8" });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** The CMS and signed bytes of signature `n` (0-based, in file order), for openssl. */
export function extractSignature(pdf: Buffer, n: number): { cms: Buffer; content: Buffer } {
  const doc = openPdf(pdf);
  const sigs: Array<{ br: number[]; contents: PdfString }> = [];
  for (const [num] of doc.xref) {
    const d = doc.dict(doc.get(num) ?? undefined);
    if (d?.name("Type") === "Sig") sigs.push({ br: d.get("ByteRange") as number[], contents: d.get("Contents") as PdfString });
  }
  sigs.sort((a, b) => a.br[1]! - b.br[1]!);
  const s = sigs[n]!;
  const [a, b, c, l] = s.br as [number, number, number, number];
  let cms = s.contents.bytes;
  // strip the zero padding after the DER
  const len = cms[1]! & 0x80 ? cms.readUIntBE(2, cms[1]! & 0x7f) + 2 + (cms[1]! & 0x7f) : cms[1]! + 2;
  cms = cms.subarray(0, len);
  return { cms, content: Buffer.concat([pdf.subarray(a, a + b), pdf.subarray(c, c + l)]) };
}

export function opensslCmsVerify(t: Test, pdf: Buffer, n: number, caPem: string): { ok: boolean; out: string } {
  const dir = tempDir(t, "sidian-cms-");
  const { cms, content } = extractSignature(pdf, n);
  fs.writeFileSync(path.join(dir, "sig.der"), cms);
  fs.writeFileSync(path.join(dir, "content.bin"), content);
  fs.writeFileSync(path.join(dir, "ca.pem"), caPem);
  const r = spawnSync("openssl", ["cms", "-verify", "-binary", "-inform", "DER", "-in", path.join(dir, "sig.der"), "-content", path.join(dir, "content.bin"), "-CAfile", path.join(dir, "ca.pem"), "-out", "/dev/null"], { encoding: "utf8" });
  return { ok: r.status === 0, out: r.stdout + r.stderr };
}
