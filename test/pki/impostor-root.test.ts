/**
 * A self-signed certificate that copies the trust anchor's name (subject = issuer = the root's DN) is an impostor:
 * the chain is FAILED / INVALID, not INDETERMINATE ("no path") — whatever key identifiers it carries, as a licence's
 * x5c or a seal's certificate would present it (issue 15 §6, a leftover of issue 4).
 */
import crypto from "node:crypto";
import t from "tap";
import { createCertificate, keyObjectSigner, parseCertificate, PROFILES, verifyChain } from "../../src/pki/index.js";
import { caSubject } from "../../src/pki/profiles.js";
import { pkiFixture } from "./helpers.js";

t.test("a self-signed certificate with the root's name is FAILED", async (t) => {
  const f = await pkiFixture(t);
  const root = f.material.rootCert;
  const kp = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const now = Date.now();
  const der = await createCertificate({
    profile: PROFILES["root-ca"], subject: caSubject("root", true), publicKey: kp.publicKey,
    notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000), issuer: { self: keyObjectSigner(kp.privateKey) },
  });
  const impostor = parseCertificate(der);
  t.ok(Buffer.from(impostor.subjectDer).equals(Buffer.from(root.subjectDer)), "the impostor copies the root's name byte for byte");
  t.notOk(Buffer.from(impostor.der).equals(Buffer.from(root.der)), "but is not the root");

  for (const [why, leaf, intermediates] of [
    ["presented alone", impostor, []],
    ["with the real issuing CA beside it", impostor, [f.material.issuingCa.cert]],
  ] as const) {
    const r = await verifyChain({ leaf, intermediates: [...intermediates], anchors: [root], at: new Date() });
    t.equal(r.result, "INVALID", why);
    const path = r.checks.find((c) => c.id === "path");
    t.equal(path?.status, "FAILED", `${why}: ${path?.detail}`);
    t.match(path?.detail, /Sidian Root CA/);
  }
  // The real root still anchors its own chain.
  t.equal((await verifyChain({ leaf: f.material.issuingCa.cert, anchors: [root], at: new Date() })).result, "VALID");
});
