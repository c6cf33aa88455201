/**
 * SM2 stamps (issue 20 §4): a seal of the national profile stamps with a CMS of SM3 digests and an SM2 signature,
 * its SM2 chain and an SM2 time-stamp from the SM2 TSA. OpenSSL verifies every SM2 signature inside over the bytes
 * CMS says are signed (the signed attributes; the TSTInfo's signed attributes); Sidian's validator says VALID and
 * refuses tampering; a verifier that trusts only the P-256 root answers INDETERMINATE with a reason, not a crash.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import t, { type Test } from "tap";
import { makePdf } from "../../fixtures/pdf/make-pdf.js";
import { sm3 } from "../../src/crypto/sm2.js";
import { offlineVerifyDeps } from "../../src/modules/seals/verifier.js";
import { verifyPdf } from "../../src/pdf/verify.js";
import { attr, CMS_OID, parseSignedData } from "../../src/pki/cms.js";
import { contentOf } from "../../src/pki/der.js";
import { parseCertificate, toPem, type CertInfo } from "../../src/pki/index.js";
import { bearer, tempDir } from "../helpers/app.js";
import { embeddedEvidence, readSealStatus } from "../../src/pki/seal-status.js";
import { parseCertificatesPem } from "../../src/pki/index.js";
import { extractSignature, stamp, verify, withSeal, type SealSetup } from "./helpers.js";

const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
const SKIP = hasOpenssl ? false : "openssl not installed (Debian package: openssl)";

function pkeyutlVerify(t: Test, dir: string, cert: Uint8Array, data: Uint8Array, sig: Uint8Array, label: string) {
  const pub = spawnSync("openssl", ["x509", "-pubkey", "-noout"], { input: toPem(cert, "CERTIFICATE"), encoding: "utf8" }).stdout;
  fs.writeFileSync(path.join(dir, `${label}.pub`), pub);
  fs.writeFileSync(path.join(dir, `${label}.dat`), data);
  fs.writeFileSync(path.join(dir, `${label}.sig`), sig);
  const r = spawnSync("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", path.join(dir, `${label}.pub`), "-rawin", "-digest", "sm3",
    "-pkeyopt", "distid:1234567812345678", "-in", path.join(dir, `${label}.dat`), "-sigfile", path.join(dir, `${label}.sig`)], { encoding: "utf8" });
  t.equal(r.status, 0, `${label}: openssl pkeyutl -verify -rawin -digest sm3 ${r.stdout}${r.stderr}`);
}

t.test("an SM2 seal stamps with SM3/SM2, its SM2 chain and an SM2 time-stamp; OpenSSL and Sidian verify", { skip: SKIP }, async (t) => {
  const base = await withSeal(t);
  const created = await base.h.app.inject({ method: "POST", url: "/seals", headers: bearer(base.admin), payload: { departmentId: base.dept.id, type: "04", profile: "sm2" } });
  t.equal(created.statusCode, 201, created.body);
  const s = { ...base, sealId: created.json().id as string };
  const pdf = makePdf({ pages: 2 });
  const res = await stamp(s, pdf);
  t.equal(res.statusCode, 200, res.body.slice(0, 300));
  const out = res.rawPayload;
  const dir = tempDir(t);
  const m = s.h.ctx.material.sm2!;

  const { cms, content } = extractSignature(out, 0);
  const sd = parseSignedData(cms);
  const si = sd.signerInfos[0]!;
  t.equal(si.digestAlgorithm, CMS_OID.sm3, "digestAlgorithm SM3");
  t.equal(si.signatureAlgorithm, CMS_OID.sm3WithSm2, "signatureAlgorithm SM3withSM2");
  t.same(contentOf(attr(si, CMS_OID.messageDigest)!), sm3(content), "message digest = SM3 of the signed byte ranges");
  const certs = sd.certificates.map((c) => parseCertificate(c));
  const signer = certs[0]!;
  t.match(signer.subject, new RegExp(`serialNumber=${s.sealId}`));
  t.ok(certs.some((c) => c.sha256 === m.issuingCa.cert.sha256), "the SM2 issuing CA is embedded");
  t.ok(certs.some((c) => c.sha256 === m.rootCert.sha256), "the SM2 root is embedded");
  pkeyutlVerify(t, dir, signer.der, si.signedAttrsDer!, si.signature, "signer");

  // The signature time-stamp: an SM2 TSA token with an SM3 imprint of the signature value.
  const tstAttr = attr(si, CMS_OID.signatureTimeStampToken, true)!;
  const token = parseSignedData(Buffer.from(tstAttr.buf.subarray(tstAttr.start, tstAttr.end)));
  const tsi = token.signerInfos[0]!;
  t.equal(tsi.digestAlgorithm, CMS_OID.sm3);
  t.equal(tsi.signatureAlgorithm, CMS_OID.sm3WithSm2);
  const tsaCert = token.certificates.map((c) => parseCertificate(c)).find((c) => c.sha256 === m.tsa.cert.sha256);
  t.ok(tsaCert, "the token carries the SM2 TSA certificate");
  pkeyutlVerify(t, dir, m.tsa.cert.der, tsi.signedAttrsDer!, tsi.signature, "tsa");

  // Sidian's validator: VALID; a changed byte in the signed range: INVALID.
  const v = await verify(s.h, out);
  t.equal(v.result, "VALID", JSON.stringify(v).slice(0, 1500));
  const bad = Buffer.from(out);
  const at = bad.indexOf(Buffer.from("/Type /Page")) + 1;
  bad[at] = bad[at]! ^ 0x20;
  const v2 = await verify(s.h, bad);
  t.equal(v2.result, "INVALID", "tampering is detected for SM2 stamps too");

  // A verifier that trusts only the P-256 hierarchy: INDETERMINATE with a reason, no crash.
  const p256Only: CertInfo[] = [s.h.ctx.material.rootCert, s.h.ctx.material.issuingCa.cert];
  const offline = await verifyPdf(out, offlineVerifyDeps(p256Only));
  t.equal(offline.result, "INDETERMINATE", "an SM2 stamp under P-256-only trust is INDETERMINATE");
  t.match(JSON.stringify(offline), /trust anchor|no issuer|not trusted|chain/i, "with a reason");
  // And the other way round: a P-256 stamp under SM2-only trust.
  const p256Stamp = await stamp(base, pdf);
  const sm2Only = await verifyPdf(p256Stamp.rawPayload, offlineVerifyDeps([m.rootCert, m.issuingCa.cert]));
  t.equal(sm2Only.result, "INDETERMINATE", "a P-256 stamp under SM2-only trust is INDETERMINATE");
});

async function sm2Seal(t: Test): Promise<SealSetup> {
  const base = await withSeal(t);
  const created = await base.h.app.inject({ method: "POST", url: "/seals", headers: bearer(base.admin), payload: { departmentId: base.dept.id, type: "04", profile: "sm2" } });
  t.equal(created.statusCode, 201, created.body);
  t.equal(created.json().profile, "sm2", "the seal names its profile");
  return { ...base, sealId: created.json().id as string };
}

t.test("SM2 stamps get the seal-registry check online and carry status evidence signed by the SM2 issuing CA", { skip: SKIP }, async (t) => {
  const s = await sm2Seal(t);
  const m = s.h.ctx.material.sm2!;
  const out = (await stamp(s, makePdf({ pages: 1 }))).rawPayload;
  const dir = tempDir(t);

  // Online: the registry is asked about the SM2 seal.
  const v = await verify(s.h, out);
  t.equal(v.result, "VALID", JSON.stringify(v).slice(0, 800));
  const seal = v.signatures[0].checks.find((c: { id: string }) => c.id === "seal");
  t.equal(seal?.status, "PASSED", "the seal check runs for SM2 stamps");
  t.match(seal?.detail, new RegExp(`seal ${s.sealId} was active at`));

  // The embedded evidence: an SM3/SM2 CMS by the SM2 issuing CA (OpenSSL checks its signature), not by the P-256 CA.
  const si = parseSignedData(extractSignature(out, 0).cms).signerInfos[0]!;
  const ev = embeddedEvidence(si.unsignedAttrs);
  t.equal(ev.length, 1, "the stamp carries its status evidence");
  const r = readSealStatus(ev[0]!, m.issuingCa.cert);
  t.ok("statement" in r && r.statement.sealId === s.sealId, JSON.stringify(r).slice(0, 300));
  t.ok("problem" in readSealStatus(ev[0]!, s.h.ctx.material.issuingCa.cert), "the P-256 issuing CA did not sign it");
  const esi = parseSignedData(ev[0]!).signerInfos[0]!;
  t.equal(esi.digestAlgorithm, CMS_OID.sm3);
  t.equal(esi.signatureAlgorithm, CMS_OID.sm3WithSm2);
  pkeyutlVerify(t, dir, m.issuingCa.cert.der, esi.signedAttrsDer!, esi.signature, "evidence");

  // Offline (sidian verify with the trust bundle of both profiles): the seal's status is judged from the evidence.
  const bundle = parseCertificatesPem(s.h.ctx.pki.trustBundlePem());
  const off = await verifyPdf(out, offlineVerifyDeps(bundle, () => s.h.clock.now()));
  t.equal(off.result, "VALID", JSON.stringify(off).slice(0, 800));
  t.match(off.signatures[0]!.checks.find((c) => c.id === "seal")?.detail, /was active at .*status evidence produced/);

  // GET /seals/:id/status-evidence of an SM2 seal: signed by the SM2 CA; after a suspension it says so.
  t.equal((await s.h.app.inject({ method: "POST", url: `/seals/${s.sealId}/status`, headers: bearer(s.admin), payload: { status: "suspended", reason: "test" } })).statusCode, 200);
  const got = await s.h.app.inject({ url: `/seals/${s.sealId}/status-evidence` });
  t.equal(got.statusCode, 200, got.body);
  const r2 = readSealStatus(got.rawPayload, m.issuingCa.cert);
  t.ok("statement" in r2, JSON.stringify(r2).slice(0, 300));
  if ("statement" in r2) t.same(r2.statement.events.map((e) => e.status), ["active", "suspended"]);
  t.equal((await stamp(s, makePdf({ pages: 1 }))).json().code, "SEAL_SUSPENDED", "a suspended SM2 seal does not stamp");
});

t.test("a P-256 seal still stamps exactly as before (SHA-256, ecdsa-with-SHA256)", async (t) => {
  const s = await withSeal(t);
  const res = await stamp(s, makePdf({ pages: 1 }));
  t.equal(res.statusCode, 200);
  const si = parseSignedData(extractSignature(res.rawPayload, 0).cms).signerInfos[0]!;
  t.equal(si.digestAlgorithm, CMS_OID.sha256);
  t.equal(si.signatureAlgorithm, CMS_OID.ecdsaWithSha256);
});
