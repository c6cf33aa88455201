/**
 * chain.ts: path building and validation verdicts.
 */
import crypto from "node:crypto";
import path from "node:path";
import t from "tap";
import {
  createCertificate,
  keyIdentifier,
  keyObjectSigner,
  keysInit,
  loadKeyMaterial,
  OID,
  parseCertificate,
  PROFILES,
  verifyChain,
  type CertInfo,
  type KeyMaterial,
} from "../../src/pki/index.js";
import { DEPT, pkiFixture, PUBLIC_URL, tmpDir } from "./helpers.js";

const DAY = 86_400_000;

async function issueUnder(issuerCert: CertInfo, issuerKey: crypto.KeyObject, profile: keyof typeof PROFILES, cn: string, days = 30) {
  const kp = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const now = Date.now();
  const der = await createCertificate({
    profile: PROFILES[profile],
    subject: [{ type: OID.country, value: "CN", printable: true }, { type: OID.commonName, value: cn }],
    publicKey: kp.publicKey,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + days * DAY),
    issuer: { nameDer: issuerCert.subjectDer, keyId: keyIdentifier(issuerCert.spki), notAfter: issuerCert.notAfter, signer: keyObjectSigner(issuerKey) },
    crlUrl: `${PUBLIC_URL}/pki/crl`,
  });
  return { cert: parseCertificate(der), key: kp.privateKey };
}

t.test("chain verdicts", async (t) => {
  const f = await pkiFixture(t);
  const m: KeyMaterial = f.material;
  const issued = await f.uow.write((repos) => f.pki.issueDepartmentCertificate(repos, { department: DEPT, profile: "licence-signing" }));
  const leaf = parseCertificate(issued.der);
  const base = { intermediates: [m.issuingCa.cert], anchors: [m.rootCert] };

  const ok = await verifyChain({ ...base, leaf, at: new Date() });
  t.equal(ok.result, "VALID");
  t.equal(ok.problem, undefined);
  t.same(ok.path.map((c) => c.serial), [leaf.serial, m.issuingCa.cert.serial, m.rootCert.serial], "path leaf → issuing → root");
  t.ok(ok.checks.every((c) => c.status === "PASSED"), "every check passed");
  t.same(ok.checks.map((c) => c.id), ["parse", "path", "signature", "validity", "constraints"]);

  const expired = await verifyChain({ ...base, leaf, at: new Date(leaf.notAfter.getTime() + DAY) });
  t.equal(expired.result, "INVALID", "expired leaf at a later time");
  t.equal(expired.problem, "EXPIRED");
  t.match(expired.checks.at(-1)?.detail, /expired at/);

  const early = await verifyChain({ ...base, leaf, at: new Date(leaf.notBefore.getTime() - DAY) });
  t.equal(early.problem, "NOT_YET_VALID");

  const otherDir = path.join(tmpDir(t), "other");
  await keysInit({ dir: otherDir, dev: true, publicUrl: PUBLIC_URL });
  const other = await loadKeyMaterial(otherDir);
  const wrongRoot = await verifyChain({ leaf, intermediates: [m.issuingCa.cert], anchors: [other.rootCert], at: new Date() });
  t.equal(wrongRoot.result, "INDETERMINATE", "wrong root");
  t.equal(wrongRoot.problem, "NO_PATH");
  t.match(wrongRoot.checks.at(-1)?.detail, /no issuer found for .*Sidian Issuing CA 1/);

  const foreignIca = await verifyChain({ leaf, intermediates: [other.issuingCa.cert], anchors: [other.rootCert], at: new Date() });
  t.equal(foreignIca.result, "INDETERMINATE", "an intermediate with the same name but another key (AKI mismatch) is no issuer");
  t.equal(foreignIca.problem, "NO_PATH");

  const missing = await verifyChain({ leaf, anchors: [m.rootCert], at: new Date() });
  t.equal(missing.result, "INDETERMINATE", "missing intermediate");
  t.equal(missing.problem, "NO_PATH");
  t.match(missing.checks.at(-1)?.detail, /issuer C=CN, O=Sidian, OU=DEV ONLY - NOT FOR PRODUCTION, CN=Sidian Issuing CA 1/);

  const tampered = new Uint8Array(leaf.der);
  tampered[tampered.length - 1]! ^= 0x01;
  const bad = await verifyChain({ ...base, leaf: tampered, at: new Date() });
  t.equal(bad.result, "INVALID", "tampered signature");
  t.equal(bad.problem, "BAD_SIGNATURE");

  const garbage = await verifyChain({ ...base, leaf: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), at: new Date() });
  t.equal(garbage.result, "INVALID");
  t.equal(garbage.problem, "MALFORMED");

  // An end-entity key cannot act as a CA.
  const underToken = await issueUnder(m.token.cert, m.token.privateKey!, "signer", "not really");
  const notCa = await verifyChain({ leaf: underToken.cert, intermediates: [m.issuingCa.cert, m.token.cert], anchors: [m.rootCert], at: new Date() });
  t.equal(notCa.result, "INVALID");
  t.equal(notCa.problem, "NOT_A_CA");

  // The issuing CA has pathlen 0: a sub-CA below it breaks the constraint.
  const sub = await issueUnder(m.issuingCa.cert, m.issuingCa.key!, "issuing-ca", "Sub CA");
  const underSub = await issueUnder(sub.cert, sub.key, "signer", "deep leaf");
  const tooDeep = await verifyChain({ leaf: underSub.cert, intermediates: [m.issuingCa.cert, sub.cert], anchors: [m.rootCert], at: new Date() });
  t.equal(tooDeep.result, "INVALID");
  t.equal(tooDeep.problem, "PATH_LENGTH");

  // Leaf usage.
  const tsa = await verifyChain({ ...base, leaf: m.tsa.cert, at: new Date(), extKeyUsage: OID.kpTimeStamping, keyUsage: ["digitalSignature"] });
  t.equal(tsa.result, "VALID", "TSA certificate for time stamping");
  const tokenAsTsa = await verifyChain({ ...base, leaf: m.token.cert, at: new Date(), extKeyUsage: OID.kpTimeStamping });
  t.equal(tokenAsTsa.problem, "EXT_KEY_USAGE", "token certificate is not a TSA certificate");
  const tokenNonRep = await verifyChain({ ...base, leaf: m.token.cert, at: new Date(), keyUsage: ["nonRepudiation"] });
  t.equal(tokenNonRep.problem, "KEY_USAGE");

  // Revocation callback.
  const unknown = await verifyChain({ ...base, leaf, at: new Date(), revocation: () => ({ status: "unknown", detail: "CRL unavailable" }) });
  t.equal(unknown.result, "INDETERMINATE");
  t.equal(unknown.problem, "REVOCATION_UNKNOWN");
  const revokedAt = new Date(Date.now() - 60_000);
  const revoked = await verifyChain({ ...base, leaf, at: new Date(), revocation: (c) => (c.serial === leaf.serial ? { status: "revoked", revokedAt, reason: "superseded" } : { status: "good" }) });
  t.equal(revoked.result, "INVALID");
  t.equal(revoked.problem, "REVOKED");
  const before = await verifyChain({ ...base, leaf, at: new Date(revokedAt.getTime() - 1000), revocation: () => ({ status: "revoked", revokedAt }) });
  t.equal(before.result, "VALID", "valid at a time before the revocation");

  // The root itself as leaf, anchored.
  t.equal((await verifyChain({ leaf: m.rootCert, anchors: [m.rootCert], at: new Date() })).result, "VALID");
});
