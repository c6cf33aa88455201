/**
 * GB/T 38540 SES_Signature export of SM2 stamps (issue 20 §4): POST /seals/:id/ses-signature with the stamped PDF
 * gives DER that `openssl asn1parse` reads in the standard's field order (TBS_Sign { version, eseal, timeInfo,
 * dataHash, propertyInfo }, cert, signatureAlgID, signature, [0] timeStamp); the reader gives back the same bytes;
 * the seal key's signature over TBS_Sign verifies with `openssl pkeyutl -verify -rawin -digest sm3 -pkeyopt
 * distid:1234567812345678`, the seal inside with the maker's, the time-stamp token over the signature value with the
 * SM2 TSA. Refused: P-256 seals, documents that are not a stamp of this seal, another department's issuer.
 * Malformed DER of any kind is a SesError, never another exception.
 */
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { makePdf } from "../../fixtures/pdf/make-pdf.js";
import { sm3 } from "../../src/crypto/sm2.js";
import {
  encodeTbsSign, parseSesSignature, sesSealSignatureValid, sesSignatureValid, SesError, SM3_WITH_SM2,
} from "../../src/modules/seals/ses.js";
import { parseCertificate, toPem } from "../../src/pki/index.js";
import { verifyTimestampToken } from "../../src/pki/tsa.js";
import { bearer, tempDir } from "../helpers/app.js";
import { stamp, withSeal } from "./helpers.js";

const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
const SKIP = hasOpenssl ? false : "openssl not installed (Debian package: openssl)";

function openssl(args: string[], input?: string) {
  const r = spawnSync("openssl", args, { encoding: "utf8", ...(input !== undefined ? { input } : {}) });
  return { status: r.status, stdout: r.stdout, out: `${r.stdout}${r.stderr}` };
}

/** openssl asn1parse lines as { depth, tag } (`    0:d=0  hl=4 l=1234 cons: SEQUENCE`). */
function asn1Lines(out: string): Array<{ depth: number; tag: string }> {
  return out.split("\n").flatMap((l) => {
    const m = /^\s*\d+:d=(\d+)\s+hl=\d+\s+l=\s*\d+\s+(?:prim|cons):\s*(.*)$/.exec(l);
    return m ? [{ depth: Number(m[1]), tag: m[2]!.trim().split(/\s+/)[0]!.replace(/:$/, "") }] : [];
  });
}

t.test("an SM2 stamp exported as SES_Signature: asn1parse order, round trip, OpenSSL verifies the signature", { skip: SKIP }, async (t) => {
  const base = await withSeal(t);
  const created = await base.h.app.inject({ method: "POST", url: "/seals", headers: bearer(base.admin), payload: { departmentId: base.dept.id, type: "04", profile: "sm2" } });
  t.equal(created.statusCode, 201, "the SM2 seal is made");
  const s = { ...base, sealId: created.json().id as string };
  const stamped = await stamp(s, makePdf({ pages: 1 }));
  t.equal(stamped.statusCode, 200);
  const pdf = stamped.rawPayload;
  const res = await s.h.app.inject({ method: "POST", url: `/seals/${s.sealId}/ses-signature`, headers: { ...bearer(s.issuer), "content-type": "application/pdf" }, payload: pdf });
  t.equal(res.statusCode, 200, res.statusCode === 200 ? "200 with the DER" : res.body.slice(0, 300));
  t.equal(res.headers["x-stamp-id"], stamped.headers["x-stamp-id"], "names the stamp it exports");
  const der = res.rawPayload;
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, "sig.ses"), der);

  // openssl asn1parse: the standard's field order.
  const a = openssl(["asn1parse", "-inform", "DER", "-in", path.join(dir, "sig.ses")]);
  t.equal(a.status, 0, "openssl asn1parse reads it");
  const lines = asn1Lines(a.stdout);
  t.same(lines.filter((l) => l.depth === 1).map((l) => l.tag), ["SEQUENCE", "OCTET", "OBJECT", "BIT", "cont"], "SES_Signature: toSign, cert, signatureAlgID, signature, [0] timeStamp");
  const tbsEnd = lines.findIndex((l, i) => i > 1 && l.depth === 1);
  t.same(lines.slice(0, tbsEnd).filter((l) => l.depth === 2).map((l) => l.tag), ["INTEGER", "SEQUENCE", "GENERALIZEDTIME", "BIT", "IA5STRING"], "TBS_Sign: version, eseal, timeInfo, dataHash, propertyInfo");

  // The reader, and the same bytes back.
  const p = parseSesSignature(der);
  t.equal(p.toSign.version, 4);
  t.same(encodeTbsSign(p.toSign), Buffer.from(p.tbsDer), "TBS_Sign re-encodes to the bytes that were signed");
  t.equal(p.signatureAlgID, SM3_WITH_SM2);
  t.same(Buffer.from(p.toSign.dataHash), sm3(pdf), "dataHash = SM3 of the stamped document");
  const rec = (await s.h.ctx.seals.stamps(s.sealId, { limit: 10 }))[0]!;
  t.equal(p.toSign.timeInfo.getTime(), Math.floor(rec.timestampAt.getTime() / 1000) * 1000, "timeInfo = the stamp's time-stamp time");
  t.match(p.toSign.propertyInfo, new RegExp(`stamp=${rec.id}; .*sha256=${rec.resultSha256}`));
  const signer = parseCertificate(p.signerCert);
  t.match(signer.subject, new RegExp(`serialNumber=${s.sealId}`), "signed by the seal's certificate");
  t.ok(sesSignatureValid(p), "Sidian's check of the signature");
  t.equal(p.seal.info.esID, s.sealId, "the seal inside is this seal");
  t.ok(sesSealSignatureValid(p.seal), "the seal inside carries the maker's valid signature");

  // OpenSSL: the seal key's SM2 signature over DER(TBS_Sign), the maker's over SES_SealInfo.
  const pub = (cert: Uint8Array, f: string) => fs.writeFileSync(path.join(dir, f), openssl(["x509", "-pubkey", "-noout"], toPem(cert, "CERTIFICATE")).stdout);
  const check = (pubFile: string, data: Uint8Array, sig: Uint8Array, label: string) => {
    fs.writeFileSync(path.join(dir, `${label}.dat`), data);
    fs.writeFileSync(path.join(dir, `${label}.sig`), sig);
    const v = openssl(["pkeyutl", "-verify", "-pubin", "-inkey", path.join(dir, pubFile), "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678",
      "-in", path.join(dir, `${label}.dat`), "-sigfile", path.join(dir, `${label}.sig`)]);
    t.equal(v.status, 0, `${label}: openssl pkeyutl -verify: ${v.out.trim()}`);
  };
  pub(p.signerCert, "seal.pub");
  pub(p.seal.makerCert, "maker.pub");
  check("seal.pub", p.tbsDer, p.signature, "tbs-sign");
  check("maker.pub", p.seal.sealInfoDer, p.seal.signature, "seal-info");
  const tampered = Buffer.from(p.tbsDer);
  tampered[tampered.length - 3] = tampered[tampered.length - 3]! ^ 1;
  fs.writeFileSync(path.join(dir, "bad.dat"), tampered);
  const bad = openssl(["pkeyutl", "-verify", "-pubin", "-inkey", path.join(dir, "seal.pub"), "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678",
    "-in", path.join(dir, "bad.dat"), "-sigfile", path.join(dir, "tbs-sign.sig")]);
  t.not(bad.status, 0, "openssl refuses a changed TBS_Sign");

  // The time-stamp of the signature value, from the SM2 TSA.
  const m = s.h.ctx.material.sm2!;
  t.ok(p.timeStamp, "timeStamp present");
  const tv = await verifyTimestampToken(Buffer.from(p.timeStamp!), Buffer.from(p.signature), { anchors: [m.rootCert], intermediates: [m.issuingCa.cert], knownTsaCerts: [m.tsa.cert] });
  t.equal(tv.result, "VALID", JSON.stringify(tv.checks));

  // Logged as a use of the seal.
  const entries = await s.h.sql.all<{ type: string }>("SELECT type FROM tlog_leaves WHERE type = ?", ["seal.ses-signed"]);
  t.equal(entries.length, 1, "the export is in the transparency log");

  // Refusals: a document that is not this seal's stamp; a P-256 seal; another department's issuer.
  const changed = Buffer.concat([pdf, Buffer.from("\n")]);
  const r404 = await s.h.app.inject({ method: "POST", url: `/seals/${s.sealId}/ses-signature`, headers: { ...bearer(s.issuer), "content-type": "application/pdf" }, payload: changed });
  t.equal(r404.json().code, "STAMP_NOT_FOUND");
  const p256 = await stamp(base, makePdf({ pages: 1 }));
  const rP256 = await s.h.app.inject({ method: "POST", url: `/seals/${base.sealId}/ses-signature`, headers: { ...bearer(s.issuer), "content-type": "application/pdf" }, payload: p256.rawPayload });
  t.equal(rP256.json().code, "CRYPTO_PROFILE_UNAVAILABLE", "P-256 seals make no GB/T 38540 signature");
  const otherDept = await s.h.department("另一个局");
  const other = (await s.h.client("issuer", { departmentId: otherDept.id })).token;
  const r403 = await s.h.app.inject({ method: "POST", url: `/seals/${s.sealId}/ses-signature`, headers: { ...bearer(other), "content-type": "application/pdf" }, payload: pdf });
  t.equal(r403.statusCode, 403);

  // Malformed input, whatever the damage: SesError, never another exception.
  const rnd = crypto.createHash("sha256").update("ses-signature").digest();
  let others = 0;
  for (let i = 0; i < 400; i++) {
    const b = Buffer.from(der);
    const mode = i % 4;
    let x: Buffer;
    if (mode === 0) x = b.subarray(0, (rnd[i % 32]! * 131 + i * 17) % b.length);
    else if (mode === 1) {
      const at = (rnd[i % 32]! * 257 + i * 31) % b.length;
      b[at] = b[at]! ^ (1 << (i % 8));
      x = b;
    } else if (mode === 2) x = Buffer.concat([b, Buffer.from([0])]);
    else x = Buffer.concat([b.subarray(0, 2), crypto.randomBytes(40)]);
    try {
      const q = parseSesSignature(x);
      if (mode === 1 && sesSignatureValid(q) && !Buffer.from(q.tbsDer).equals(Buffer.from(p.tbsDer))) others++;
    } catch (e) {
      if (!(e instanceof SesError)) others++;
    }
  }
  t.equal(others, 0, "every damaged SES_Signature is refused as SesError (or still parses without a valid signature over other bytes)");
});
