/**
 * The SM2 (national profile) CA hierarchy beside the P-256 one (issue 20 §2): keys init makes both; every SM2
 * certificate is SM3withSM2 with the same extensions as its P-256 twin; OpenSSL 3 accepts every link of every SM2
 * chain (`openssl verify -vfyopt distid:1234567812345678`, link by link: OpenSSL 3.0 checks a chain's CA
 * signatures with an empty SM2 ID) and every signature over the TBS bytes (`openssl pkeyutl -verify -rawin -digest
 * sm3 -pkeyopt distid:1234567812345678`); the SM2 CRL; the committed keys-dev folder.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import t, { type Test } from "tap";
import { SM2_DEFAULT_ID } from "../../src/crypto/sm2.js";
import { AppError } from "../../src/errors.js";
import { fromPemAll, loadKeyMaterial, OID, parseCertificate, parseCrl, toPem, verifyChain, type CertInfo } from "../../src/pki/index.js";
import { verifyCrlSignature } from "../../src/pki/crl.js";
import { certSignedParts } from "../../src/pki/reader.js";
import { SM2_KEY_FILES } from "../../src/pki/sm2-material.js";
import { DEPT, openssl, pkiFixture, tmpDir, writeFile } from "./helpers.js";

const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
const SKIP = hasOpenssl ? false : "openssl not installed (Debian package: openssl)";
const distid = `distid:${SM2_DEFAULT_ID}`;

async function rejectsWith(t: Test, p: Promise<unknown>, code: string, message?: RegExp) {
  const e = await p.then(() => null, (err: unknown) => err);
  t.ok(e instanceof AppError && e.code === code && (!message || message.test(e.message)), `refused with ${code}${message ? ` ${message}` : ""}: ${String(e)}`);
}

/** Checks one certificate's signature over its TBS bytes with OpenSSL, given the issuer certificate. */
function pkeyutlVerifiesCert(t: Test, dir: string, cert: CertInfo, issuer: CertInfo, label: string) {
  const parts = certSignedParts(cert.der)!;
  const issuerPem = writeFile(dir, `${label}-issuer.pem`, toPem(issuer.der, "CERTIFICATE"));
  const pub = openssl(["x509", "-in", issuerPem, "-pubkey", "-noout"]);
  const pubFile = writeFile(dir, `${label}-pub.pem`, pub.stdout);
  const r = openssl(["pkeyutl", "-verify", "-pubin", "-inkey", pubFile, "-rawin", "-digest", "sm3", "-pkeyopt", distid,
    "-in", writeFile(dir, `${label}.tbs`, parts.tbs), "-sigfile", writeFile(dir, `${label}.sig`, parts.signature)]);
  t.equal(r.status, 0, `${label}: openssl pkeyutl verifies the SM3withSM2 signature over the TBS ${r.stdout}${r.stderr}`);
}

/** openssl verify of one link: `cert` under `issuer` (the issuer trusted for this check). */
function opensslLink(t: Test, dir: string, cert: CertInfo, issuer: CertInfo, label: string, extra: string[] = []) {
  const ca = writeFile(dir, `${label}-ca.pem`, toPem(issuer.der, "CERTIFICATE"));
  const leaf = writeFile(dir, `${label}-leaf.pem`, toPem(cert.der, "CERTIFICATE"));
  const partial = cert.issuer === issuer.subject && issuer.issuer !== issuer.subject ? ["-partial_chain"] : [];
  const r = openssl(["verify", "-vfyopt", distid, ...partial, ...extra, "-CAfile", ca, leaf]);
  t.equal(r.status, 0, `${label}: openssl verify ${r.stdout}${r.stderr}`);
}

t.test("keys init makes both hierarchies; the SM2 one is SM3withSM2 with the P-256 one's extensions", async (t) => {
  const f = await pkiFixture(t);
  const m = f.material;
  t.ok(m.sm2, "the material has an SM2 hierarchy");
  const sm2 = m.sm2!;
  for (const c of [sm2.rootCert, sm2.issuingCa.cert, sm2.tsa.cert]) {
    t.equal(c.signatureAlgorithm, OID.sm3WithSm2, `${c.subject} is SM3withSM2`);
  }
  const same = (a: CertInfo, b: CertInfo, what: string) => {
    t.same(a.basicConstraints, b.basicConstraints, `${what}: basicConstraints`);
    t.same(a.keyUsage, b.keyUsage, `${what}: keyUsage`);
    t.same(a.extKeyUsage, b.extKeyUsage, `${what}: extKeyUsage`);
    t.same(a.criticalExtensions, b.criticalExtensions, `${what}: critical extensions`);
  };
  same(sm2.rootCert, m.rootCert, "root");
  same(sm2.issuingCa.cert, m.issuingCa.cert, "issuing CA");
  same(sm2.tsa.cert, m.tsa.cert, "TSA");
  t.same(sm2.tsa.cert.crlUrls, ["http://127.0.0.1:8080/pki/sm2/crl"], "SM2 end entities point at the SM2 CRL");
  t.ok(sm2.rootCert.subject.includes("OU=DEV ONLY - NOT FOR PRODUCTION"), "dev subjects say so");
  const bundle = fromPemAll(m.trustBundlePem).map((b) => parseCertificate(b.der));
  t.same(bundle.map((c) => c.sha256), [m.rootCert.sha256, m.issuingCa.cert.sha256, sm2.rootCert.sha256, sm2.issuingCa.cert.sha256], "trust bundle: P-256 then SM2 anchors");
  t.equal((await verifyChain({ leaf: sm2.tsa.cert, intermediates: [sm2.issuingCa.cert], anchors: [sm2.rootCert], at: new Date() })).result, "VALID");
  t.equal((await verifyChain({ leaf: sm2.tsa.cert, intermediates: [sm2.issuingCa.cert], anchors: [m.rootCert], at: new Date() })).result, "INDETERMINATE", "an SM2 chain does not reach the P-256 root");
  t.equal((await verifyChain({ leaf: m.tsa.cert, intermediates: [m.issuingCa.cert], anchors: [sm2.rootCert], at: new Date() })).result, "INDETERMINATE", "nor a P-256 chain the SM2 root");
  const signed = await sm2.tsa.signingKey.sign(Buffer.from("x"));
  t.ok(signed.length > 60, "the SM2 TSA key signs");
});

t.test("OpenSSL accepts every link and every signature of the SM2 hierarchy and department certificates", { skip: SKIP }, async (t) => {
  const f = await pkiFixture(t);
  const dir = tmpDir(t);
  const sm2 = f.material.sm2!;
  const root = sm2.rootCert;
  const ica = sm2.issuingCa.cert;
  // The root's self-signature: OpenSSL's -check_ss_sig uses the empty SM2 ID, so pkeyutl checks it below.
  opensslLink(t, dir, root, root, "root (self-signed)");
  opensslLink(t, dir, ica, root, "issuing CA");
  opensslLink(t, dir, sm2.tsa.cert, ica, "TSA", ["-purpose", "timestampsign"]);
  pkeyutlVerifiesCert(t, dir, root, root, "root");
  pkeyutlVerifiesCert(t, dir, ica, root, "issuing");
  pkeyutlVerifiesCert(t, dir, sm2.tsa.cert, ica, "tsa");

  // Department (licence-signing, seal, signer) and personal-signing certificates of the SM2 profile.
  const issued = await f.uow.write(async (repos) => [
    await f.pki.issueDepartmentCertificate(repos, { department: DEPT, profile: "licence-signing", crypto: "sm2" }),
    await f.pki.issueDepartmentCertificate(repos, { department: DEPT, profile: "seal", sealId: "33010000000001", commonName: "某市市场监督管理局行政审批专用章", crypto: "sm2" }),
    await f.pki.issueDepartmentCertificate(repos, { department: DEPT, profile: "signer", commonName: "张三", crypto: "sm2" }),
    await f.pki.issuePersonCertificate(repos, { name: "李四", pseudonym: "person-0001", crypto: "sm2" }),
    await f.pki.issueDepartmentCertificate(repos, { department: DEPT, profile: "licence-signing" }),
  ]);
  const p256 = parseCertificate(issued[4]!.der);
  for (const c of issued.slice(0, 4)) {
    const info = parseCertificate(c.der);
    t.equal(info.signatureAlgorithm, OID.sm3WithSm2, `${c.profile}: SM3withSM2`);
    t.equal(c.issuerSerial, ica.serial, `${c.profile}: issued by the SM2 issuing CA`);
    t.same(info.keyUsage, p256.keyUsage, `${c.profile}: key usage as P-256`);
    t.same(info.basicConstraints, p256.basicConstraints, `${c.profile}: basic constraints as P-256`);
    t.same(info.crlUrls, ["http://127.0.0.1:8080/pki/sm2/crl"]);
    opensslLink(t, dir, info, ica, c.profile);
    pkeyutlVerifiesCert(t, dir, info, ica, c.profile);
    t.equal((await f.pki.checkCertificate(c.der, { keyUsage: ["digitalSignature", "nonRepudiation"] })).result, "VALID", `${c.profile}: the service's own check`);
    t.ok(c.chainPem.includes(toPem(ica.der, "CERTIFICATE")), `${c.profile}: chain PEM has the SM2 issuing CA`);
    const key = await f.uow.read.keys.get(c.keyId);
    t.equal(key?.alg, "SM2", `${c.profile}: the key store holds an SM2 key`);
  }
  t.equal(p256.signatureAlgorithm, OID.ecdsaWithSHA256, "the P-256 profile is unchanged");
  const sig = await f.pki.keyStore.sign(issued[0]!.keyId, Buffer.from("payload"));
  const pubFile = writeFile(dir, "dept-pub.pem", openssl(["x509", "-in", writeFile(dir, "dept.pem", issued[0]!.pem), "-pubkey", "-noout"]).stdout);
  const r = openssl(["pkeyutl", "-verify", "-pubin", "-inkey", pubFile, "-rawin", "-digest", "sm3", "-pkeyopt", distid, "-in", writeFile(dir, "payload", "payload"), "-sigfile", writeFile(dir, "payload.sig", sig)]);
  t.equal(r.status, 0, `a department SM2 key's signature verifies in OpenSSL ${r.stdout}${r.stderr}`);

  // Revocation: the SM2 CRL (SM3withSM2) lists the SM2 certificate; the P-256 CRL does not.
  await f.uow.write((repos) => f.pki.revokeCertificate(repos, issued[0]!.serial, "keyCompromise"));
  const crl = parseCrl(await f.pki.crl("sm2"));
  t.equal(crl.signatureAlgorithm, OID.sm3WithSm2);
  t.ok(crl.entries.has(issued[0]!.serial), "the SM2 CRL lists the revoked SM2 certificate");
  t.ok(verifyCrlSignature(crl, ica.spki), "the SM2 CRL verifies with the SM2 issuing CA key");
  t.notOk(verifyCrlSignature(crl, f.material.issuingCa.cert.spki), "not with the P-256 one");
  t.notOk(parseCrl(await f.pki.crl()).entries.has(issued[0]!.serial), "the P-256 CRL does not list it");
  const crlParts = { tbs: crl.tbs, sig: crl.signature };
  const ir = openssl(["pkeyutl", "-verify", "-pubin", "-inkey", writeFile(dir, "ica-pub.pem", openssl(["x509", "-in", writeFile(dir, "ica.pem", toPem(ica.der, "CERTIFICATE")), "-pubkey", "-noout"]).stdout),
    "-rawin", "-digest", "sm3", "-pkeyopt", distid, "-in", writeFile(dir, "crl.tbs", crlParts.tbs), "-sigfile", writeFile(dir, "crl.sig", crlParts.sig)]);
  t.equal(ir.status, 0, `openssl verifies the SM2 CRL signature ${ir.stdout}${ir.stderr}`);
  t.equal((await f.pki.checkCertificate(issued[0]!.der)).result, "INVALID", "the revoked SM2 certificate no longer checks");
});

t.test("a folder without the SM2 files loads without the profile; asking for it is a clean error", async (t) => {
  const f = await pkiFixture(t);
  const dir = f.material.dir;
  for (const file of Object.values(SM2_KEY_FILES)) fs.rmSync(path.join(dir, file));
  const m = await loadKeyMaterial(dir);
  t.equal(m.sm2, null);
  t.equal(fromPemAll(m.trustBundlePem).length, 2);
  const { createPkiService } = await import("../../src/pki/index.js");
  const pki = createPkiService({ uow: f.uow, material: m, clock: f.clock, publicUrl: "http://127.0.0.1:8080" });
  t.equal(pki.sm2Available, false);
  await rejectsWith(t, f.uow.write((repos) => pki.issueDepartmentCertificate(repos, { department: DEPT, profile: "licence-signing", crypto: "sm2" })), "CRYPTO_PROFILE_UNAVAILABLE");
  await rejectsWith(t, pki.crl("sm2"), "CRYPTO_PROFILE_UNAVAILABLE");
});

t.test("a damaged SM2 hierarchy is refused at load, naming the file", async (t) => {
  const f = await pkiFixture(t);
  const dir = f.material.dir;
  // The SM2 TSA key swapped for the issuing CA key: it no longer matches its certificate.
  fs.copyFileSync(path.join(dir, SM2_KEY_FILES.issuingKey), path.join(dir, SM2_KEY_FILES.tsaKey));
  await rejectsWith(t, loadKeyMaterial(dir), "KEYSTORE_LOCKED", /sm2-tsa\.key\.pem/);
  // A P-256 certificate in the SM2 root's place.
  fs.copyFileSync(path.join(dir, "root-ca.crt.pem"), path.join(dir, SM2_KEY_FILES.rootCert));
  await rejectsWith(t, loadKeyMaterial(dir), "KEYSTORE_LOCKED", /sm2-root-ca\.crt\.pem/);
});

t.test("the committed keys-dev folder has a valid SM2 hierarchy", { skip: SKIP }, async (t) => {
  const m = await loadKeyMaterial("keys-dev");
  t.ok(m.sm2, "keys-dev has the SM2 hierarchy");
  const dir = tmpDir(t);
  opensslLink(t, dir, m.sm2!.issuingCa.cert, m.sm2!.rootCert, "keys-dev issuing CA");
  opensslLink(t, dir, m.sm2!.tsa.cert, m.sm2!.issuingCa.cert, "keys-dev TSA", ["-purpose", "timestampsign"]);
});
