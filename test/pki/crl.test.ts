/**
 * CRL: revoke a certificate, publish the CRL, and check it with the real openssl:
 * `openssl crl -verify` accepts the CRL; `openssl verify -crl_check` rejects the revoked certificate and accepts
 * the others.
 */
import t from "tap";
import { gate, needs } from "../helpers/tools.js";
import { certPem, parseCrl, toPem, verifyCrlSignature } from "../../src/pki/index.js";
import { DEPT, openssl, pkiFixture, writeFile } from "./helpers.js";

/** Skips (with a visible line naming the Debian packages) where these tools are missing. */
const test = gate(t, needs("openssl"));

test("revoke → CRL → openssl", async (t) => {
  const f = await pkiFixture(t);
  const { pki, uow, material: m } = f;
  const [a, b, c] = await uow.write(async (repos) => [
    await pki.issueDepartmentCertificate(repos, { department: DEPT, profile: "licence-signing" }),
    await pki.issueDepartmentCertificate(repos, { department: DEPT, profile: "seal", sealId: "S-0001" }),
    await pki.issueDepartmentCertificate(repos, { department: DEPT, profile: "signer", commonName: "李四" }),
  ]);

  // Empty CRL first.
  const empty = parseCrl(await pki.crl());
  t.equal(empty.number, 1, "first CRL number is 1");
  t.equal(empty.entries.size, 0);
  t.equal(empty.issuer, m.issuingCa.cert.subject);
  t.equal(empty.authorityKeyId, m.issuingCa.cert.subjectKeyId, "CRL AKI = issuing CA SKI");
  t.ok(verifyCrlSignature(empty, m.issuingCa.cert.spki));
  t.equal(empty.nextUpdate!.getTime() - empty.thisUpdate.getTime(), 86_400_000, "nextUpdate = thisUpdate + 24 h");
  t.equal(await pki.crl(), await pki.crl(), "cached: the same bytes are served again");

  const revokedAt = new Date(f.clock.now().getTime() - 1000);
  const r = await uow.write((repos, tx) => pki.revokeCertificate(repos, a.serial, "keyCompromise", revokedAt, tx));
  t.equal(r.serial, a.serial);
  t.equal(r.keyId, a.keyId);
  t.equal(r.sha256, a.sha256);
  t.equal(r.reason, "keyCompromise");
  t.equal((await uow.read.keys.get(a.keyId))?.status, "retired", "the key of a revoked certificate is retired");
  await t.rejects(uow.write((repos) => pki.revokeCertificate(repos, a.serial, "superseded")), { code: "CONFLICT" }, "cannot revoke twice");
  await t.rejects(uow.write((repos) => pki.revokeCertificate(repos, "00ff", "superseded")), { code: "CERTIFICATE_NOT_FOUND" });
  await uow.write((repos, tx) => pki.revokeCertificate(repos, b.serial, "unspecified", undefined, tx));

  const der = await pki.crl();
  const crl = parseCrl(der);
  t.equal(crl.number, 2, "CRL number increased after revocation");
  t.equal(crl.entries.size, 2);
  t.equal(crl.entries.get(a.serial)?.reason, "keyCompromise");
  t.equal(crl.entries.get(a.serial)?.revokedAt.getTime(), Math.floor(revokedAt.getTime() / 1000) * 1000);
  t.equal(crl.entries.get(b.serial)?.reason, "unspecified");
  t.notOk(crl.entries.has(c.serial));

  const root = writeFile(f.dir, "root.pem", certPem(m.rootCert));
  const ica = writeFile(f.dir, "ica.pem", certPem(m.issuingCa.cert));
  const chain = writeFile(f.dir, "chain.pem", certPem(m.rootCert) + certPem(m.issuingCa.cert));
  const crlPem = writeFile(f.dir, "crl.pem", toPem(der, "X509 CRL"));
  writeFile(f.dir, "crl.der", der);

  const v = openssl(["crl", "-in", crlPem, "-CAfile", chain, "-noout", "-verify"]);
  t.equal(v.status, 0, `openssl crl -verify: ${v.stderr.trim()}`);
  t.match(v.stderr + v.stdout, /verify OK/);
  const der2 = openssl(["crl", "-inform", "DER", "-in", `${f.dir}/crl.der`, "-noout", "-text"]);
  t.equal(der2.status, 0, "openssl reads the DER form");
  t.match(der2.stdout, /Version 2/);
  t.match(der2.stdout, /X509v3 CRL Number:\s+2/);
  t.match(der2.stdout, /X509v3 Authority Key Identifier/);
  t.match(der2.stdout, /Key Compromise/);
  t.match(der2.stdout, new RegExp(`Serial Number: ${a.serial.toUpperCase()}`));
  t.match(der2.stdout, /Next Update/);

  const leaf = (name: string, pem: string) => writeFile(f.dir, name, pem);
  const revoked = openssl(["verify", "-crl_check", "-CAfile", root, "-untrusted", ica, "-CRLfile", crlPem, leaf("a.pem", a.pem)]);
  t.not(revoked.status, 0, "openssl verify -crl_check rejects the revoked certificate");
  t.match(revoked.stdout + revoked.stderr, /certificate revoked/);
  const revokedB = openssl(["verify", "-crl_check", "-CAfile", root, "-untrusted", ica, "-CRLfile", crlPem, leaf("b.pem", b.pem)]);
  t.match(revokedB.stdout + revokedB.stderr, /certificate revoked/, "revoked with reason unspecified too");
  const good = openssl(["verify", "-crl_check", "-CAfile", root, "-untrusted", ica, "-CRLfile", crlPem, leaf("c.pem", c.pem)]);
  t.equal(good.status, 0, `openssl verify -crl_check accepts the unrevoked certificate: ${good.stderr}`);

  // The service's own check agrees.
  const chk = await pki.checkCertificate(a.der);
  t.equal(chk.result, "INVALID");
  t.equal(chk.problem, "REVOKED");
  t.equal((await pki.checkCertificate(a.der, { at: new Date(revokedAt.getTime() - 60_000) })).result, "VALID", "valid before its revocation time");
  t.equal((await pki.checkCertificate(c.der, { keyUsage: ["nonRepudiation"] })).result, "VALID");
});

test("CRL numbers persist, CRLs are re-signed at half-life, and a restarted service reuses the current CRL", async (t) => {
  const f = await pkiFixture(t);
  const { pki, uow } = f;
  const first = parseCrl(await pki.crl());
  // A second service instance over the same database (e.g. after a restart) reuses the published CRL.
  const { createPkiService } = await import("../../src/pki/index.js");
  const other = createPkiService({ uow, material: f.material, clock: f.clock, publicUrl: "http://127.0.0.1:8080" });
  t.equal(parseCrl(await other.crl()).number, first.number, "no new number without a change");
  f.clock.advance(13 * 3600 * 1000);
  const later = parseCrl(await pki.crl());
  t.equal(later.number, first.number! + 1, "a new CRL after half its lifetime");
  t.ok(later.thisUpdate > first.thisUpdate);
  const latest = await uow.read.crls.latest(pki.issuingCaSerial);
  t.equal(latest?.number, later.number, "stored in the database");
});
