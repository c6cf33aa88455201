/**
 * keysInit → loadKeyMaterial → every chain accepted by the real `openssl verify`, and the extensions of each
 * profile as `openssl x509 -text` prints them.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { gate, needs } from "../helpers/tools.js";
import { createLocalJWKSet, jwtVerify, SignJWT } from "jose";
import { certPem, keysInit, keysShow, loadKeyMaterial, formatKeysSummary, KEY_FILES } from "../../src/pki/index.js";
import { SM2_KEY_FILES } from "../../src/pki/sm2-material.js";
import { DEPT, openssl, pkiFixture, PUBLIC_URL, tmpDir, writeFile } from "./helpers.js";

/** Skips (with a visible line naming the Debian packages) where these tools are missing. */
const test = gate(t, needs("openssl"));

test("keysInit writes a dev folder that loads and says DEV ONLY", async (t) => {
  const dir = path.join(tmpDir(t), "keys");
  const r = await keysInit({ dir, dev: true, publicUrl: PUBLIC_URL });
  t.equal(r.dev, true);
  t.same([...r.files].sort(), [...Object.values(KEY_FILES), ...Object.values(SM2_KEY_FILES)].sort(), "every file of the layout is written (P-256 and SM2)");
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"));
  t.equal(manifest.dev, true);
  t.match(manifest.warning, /DEV ONLY/);
  for (const f of [KEY_FILES.rootKey, KEY_FILES.issuingKey, KEY_FILES.tsaKey, KEY_FILES.tokenKey, KEY_FILES.logKey, KEY_FILES.idpKey, KEY_FILES.kek]) {
    t.equal(fs.statSync(path.join(dir, f)).mode & 0o077, 0, `${f} is readable by its owner only`);
  }
  const m = await loadKeyMaterial(dir);
  t.equal(m.dev, true);
  t.match(m.rootCert.subject, /OU=DEV ONLY - NOT FOR PRODUCTION/);
  t.equal(m.kek.length, 32);
  t.equal(m.log.privateKey!.asymmetricKeyType, "ed25519");
  t.ok(m.idp.privateKey, "dev material has the IdP signing key");
  t.equal(m.idp.jwks.keys.length, 1);
  t.equal(m.tsa.chain.length, 3, "TSA chain is tsa → issuing → root");

  await t.rejects(keysInit({ dir, dev: true, publicUrl: PUBLIC_URL }), { code: "CONFLICT" }, "refuses to overwrite without force");
  const again = await keysInit({ dir, dev: true, force: true, publicUrl: PUBLIC_URL });
  t.not(again.rootSha256, r.rootSha256, "force makes a new hierarchy");

  const show = await keysShow(dir);
  t.equal(show.dev, true);
  t.equal(show.certificates.length, 7, "P-256 root, issuing, TSA, token; SM2 root, issuing, TSA");
  t.notMatch(JSON.stringify(show), Buffer.from(m.kek).toString("base64"), "the summary never contains the KEK");
  t.match(formatKeysSummary(show), /DEV ONLY/);
});

test("production folder: no IdP private key, dev false; relabelled dev material stays dev", async (t) => {
  const dir = path.join(tmpDir(t), "prod");
  const r = await keysInit({ dir, dev: false, publicUrl: "https://sidian.example.gov.cn" });
  t.equal(r.dev, false);
  t.notOk(fs.existsSync(path.join(dir, KEY_FILES.idpKey)));
  t.match(r.notes.join("\n"), /offline/);
  const m = await loadKeyMaterial(dir);
  t.equal(m.dev, false);
  t.equal(m.idp.privateKey, null);
  t.notMatch(m.rootCert.subject, /DEV ONLY/);
  t.same(m.tsa.cert.crlUrls, ["https://sidian.example.gov.cn/pki/crl"]);
  t.match(m.warnings.join("\n"), /root-ca\.key\.pem is present; keep the root CA key offline/);
  t.notMatch(m.warnings.join("\n"), /readable by group/, "init writes private keys 0600");
  fs.chmodSync(path.join(dir, KEY_FILES.issuingKey), 0o644);
  t.match(m.warnings.join("\n"), /sm2-root-ca\.key\.pem is present; keep the SM2 root CA key offline/);
  fs.rmSync(path.join(dir, KEY_FILES.rootKey));
  fs.rmSync(path.join(dir, SM2_KEY_FILES.rootKey));
  t.same((await loadKeyMaterial(dir)).warnings, [`${path.join(dir, KEY_FILES.issuingKey)} is readable by group or others; chmod 600 it`]);

  const devDir = path.join(tmpDir(t), "dev");
  await keysInit({ dir: devDir, dev: true, publicUrl: PUBLIC_URL });
  fs.rmSync(path.join(devDir, KEY_FILES.idpKey));
  const mf = JSON.parse(fs.readFileSync(path.join(devDir, KEY_FILES.manifest), "utf8"));
  fs.writeFileSync(path.join(devDir, KEY_FILES.manifest), JSON.stringify({ ...mf, dev: false }));
  t.equal((await loadKeyMaterial(devDir)).dev, true, "the DEV ONLY subjects keep dev = true");
});

test("openssl verify accepts every chain and prints the expected extensions", async (t) => {
  const f = await pkiFixture(t);
  const { material: m, pki, uow } = f;
  const w = (name: string, pem: string) => writeFile(f.dir, name, pem);
  const root = w("root.pem", certPem(m.rootCert));
  const issuing = w("issuing.pem", certPem(m.issuingCa.cert));

  const issued = await uow.write(async (repos) => ({
    licence: await pki.issueDepartmentCertificate(repos, { department: DEPT, profile: "licence-signing" }),
    seal: await pki.issueDepartmentCertificate(repos, { department: DEPT, profile: "seal", sealId: "3301000000001", commonName: "某市市场监督管理局行政审批专用章" }),
    signer: await pki.issueDepartmentCertificate(repos, { department: DEPT, profile: "signer", commonName: "张三" }),
  }));

  const leaves: Record<string, string> = {
    tsa: certPem(m.tsa.cert),
    token: certPem(m.token.cert),
    "licence-signing": issued.licence.pem,
    seal: issued.seal.pem,
    signer: issued.signer.pem,
  };
  for (const [name, pem] of Object.entries(leaves)) {
    const leaf = w(`${name}.pem`, pem);
    const r = openssl(["verify", "-CAfile", root, "-untrusted", issuing, leaf]);
    t.equal(r.status, 0, `openssl verify ${name}: ${r.stdout.trim()} ${r.stderr.trim()}`);
    t.match(r.stdout, /: OK/);
  }
  for (const name of ["licence-signing", "seal", "signer"]) {
    const r = openssl(["verify", "-purpose", "smimesign", "-CAfile", root, "-untrusted", issuing, path.join(f.dir, `${name}.pem`)]);
    t.equal(r.status, 0, `${name} passes openssl's smimesign purpose (what openssl cms -verify checks): ${r.stderr.trim()}`);
  }
  const rIca = openssl(["verify", "-CAfile", root, issuing]);
  t.equal(rIca.status, 0, "issuing CA verifies against the root");
  const rTsa = openssl(["verify", "-purpose", "timestampsign", "-CAfile", root, "-untrusted", issuing, path.join(f.dir, "tsa.pem")]);
  t.equal(rTsa.status, 0, `TSA passes openssl's timestampsign purpose: ${rTsa.stderr}`);
  const wrongPurpose = openssl(["verify", "-purpose", "timestampsign", "-CAfile", root, "-untrusted", issuing, path.join(f.dir, "token.pem")]);
  t.not(wrongPurpose.status, 0, "the token certificate is not a TSA certificate");

  const text = (file: string) => openssl(["x509", "-in", file, "-noout", "-text", "-nameopt", "utf8,sep_comma_plus_space"]).stdout;

  const rootText = text(root);
  t.match(rootText, /Basic Constraints: critical\s+CA:TRUE, pathlen:1/);
  t.match(rootText, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
  t.match(rootText, /Subject Key Identifier/);
  t.notMatch(rootText, /CRL Distribution Points/, "the offline root has no CRL DP");
  t.match(rootText, /Signature Algorithm: ecdsa-with-SHA256/);
  t.match(rootText, /ASN1 OID: prime256v1/);

  const icaText = text(issuing);
  t.match(icaText, /Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
  t.match(icaText, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
  t.match(icaText, /Authority Key Identifier:\s+([0-9A-F]{2}:){19}[0-9A-F]{2}/);

  const skiOf = (s: string) => /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(s)?.[1];
  const akiOf = (s: string) => /Authority Key Identifier:\s+(?:keyid:)?([0-9A-F:]+)/.exec(s)?.[1];
  t.equal(akiOf(icaText), skiOf(rootText), "issuing CA AKI = root SKI");

  const tsaText = text(path.join(f.dir, "tsa.pem"));
  t.match(tsaText, /Basic Constraints: critical\s+CA:FALSE/);
  t.match(tsaText, /Key Usage: critical\s+Digital Signature, Non Repudiation/);
  t.match(tsaText, /Extended Key Usage: critical\s+Time Stamping\n/, "TSA EKU is critical and timeStamping only");
  t.match(tsaText, new RegExp(`URI:${PUBLIC_URL}/pki/crl`));
  t.equal(akiOf(tsaText), skiOf(icaText), "TSA AKI = issuing CA SKI");

  const tokenText = text(path.join(f.dir, "token.pem"));
  t.match(tokenText, /Key Usage: critical\s+Digital Signature\n/);
  t.notMatch(tokenText, /Extended Key Usage/);

  for (const [name, pem] of Object.entries({ licence: issued.licence.pem, seal: issued.seal.pem, signer: issued.signer.pem })) {
    const tx = text(path.join(f.dir, `${name === "licence" ? "licence-signing" : name}.pem`));
    t.equal(pem, fs.readFileSync(path.join(f.dir, `${name === "licence" ? "licence-signing" : name}.pem`), "utf8"));
    t.match(tx, /Basic Constraints: critical\s+CA:FALSE/, `${name}: basic constraints`);
    t.match(tx, /Key Usage: critical\s+Digital Signature, Non Repudiation/, `${name}: key usage`);
    t.notMatch(tx, /Extended Key Usage/, `${name}: no EKU (document signing)`);
    t.match(tx, /Subject Key Identifier/, `${name}: SKI`);
    t.equal(akiOf(tx), skiOf(icaText), `${name}: AKI = issuing CA SKI`);
    t.match(tx, new RegExp(`URI:${PUBLIC_URL}/pki/crl`), `${name}: CRL DP`);
    t.match(tx, new RegExp(`organizationIdentifier ?= ?${DEPT.uscc}`), `${name}: USCC in organizationIdentifier`);
    t.match(tx, new RegExp(`O ?= ?${DEPT.name}`), `${name}: department name in O`);
    t.match(tx, /OU ?= ?DEV ONLY - NOT FOR PRODUCTION/, `${name}: dev label`);
  }
  t.match(text(path.join(f.dir, "seal.pem")), /serialNumber ?= ?3301000000001/, "seal ID in subject serialNumber");
  t.match(text(path.join(f.dir, "signer.pem")), /CN ?= ?张三/);

  // Serial numbers: 16 random bytes, positive.
  for (const c of [m.rootCert, m.issuingCa.cert, m.tsa.cert, m.token.cert]) {
    t.equal(c.serial.length, 32, "16-byte serial");
    t.ok(parseInt(c.serial.slice(0, 2), 16) < 0x80, "positive serial");
  }
});

test("JWKS: a token signed with the token key verifies with jose from the published JWKS alone", async (t) => {
  const { material: m, pki } = await pkiFixture(t);
  const jwks = pki.jwks();
  t.equal(jwks.keys.length, 1);
  const k = jwks.keys[0]!;
  t.equal(k.kid, m.token.kid);
  t.equal(k.alg, "ES256");
  t.equal(k.use, "sig");
  t.notOk("d" in k, "no private part");
  t.equal(k.x5c?.length, 2);
  t.equal(Buffer.from(k.x5c![0]!, "base64").toString("hex"), Buffer.from(m.token.cert.der).toString("hex"), "x5c[0] is the token certificate");
  const jwt = await new SignJWT({ sub: "x" }).setProtectedHeader({ alg: "ES256", kid: m.token.kid }).setIssuedAt().setExpirationTime("5m").sign(m.token.privateKey!);
  const { payload } = await jwtVerify(jwt, createLocalJWKSet(JSON.parse(JSON.stringify(jwks))));
  t.equal(payload.sub, "x");
  // kid is the RFC 7638 thumbprint: recompute by hand.
  const canon = JSON.stringify({ crv: k.crv, kty: k.kty, x: k.x, y: k.y });
  t.equal(k.kid, crypto.createHash("sha256").update(canon).digest("base64url"));
});

test("trust bundle holds the roots and the issuing CAs (P-256 and SM2)", async (t) => {
  const { pki, material: m, dir } = await pkiFixture(t);
  const bundle = pki.trustBundlePem();
  t.equal(bundle.match(/BEGIN CERTIFICATE/g)?.length, 4);
  const file = writeFile(dir, "bundle.pem", bundle);
  const leaf = writeFile(dir, "leaf.pem", certPem(m.token.cert));
  t.equal(openssl(["verify", "-CAfile", file, leaf]).status, 0, "openssl verify -CAfile <bundle> accepts a leaf");
});

test("issuance rolls back with the caller's transaction", async (t) => {
  const { pki, uow } = await pkiFixture(t);
  let serial = "";
  await t.rejects(
    uow.write(async (repos) => {
      serial = (await pki.issueDepartmentCertificate(repos, { department: DEPT, profile: "licence-signing" })).serial;
      throw new Error("tlog append failed");
    }),
    /tlog append failed/,
  );
  t.equal(await uow.read.certificates.get(serial), null, "no certificate row");
  t.same(await uow.read.keys.list({ departmentId: DEPT.id }), [], "no key row");
});

test("department profile input is checked", async (t) => {
  const { pki, uow } = await pkiFixture(t);
  const issue = (input: Parameters<typeof pki.issueDepartmentCertificate>[1]) => uow.write((repos) => pki.issueDepartmentCertificate(repos, input));
  await t.rejects(issue({ department: DEPT, profile: "seal" }), { code: "CERTIFICATE_PROFILE_INVALID" }, "seal without esID");
  await t.rejects(issue({ department: DEPT, profile: "licence-signing", sealId: "1" }), { code: "CERTIFICATE_PROFILE_INVALID" }, "esID on a non-seal");
  await t.rejects(issue({ department: DEPT, profile: "signer" }), { code: "CERTIFICATE_PROFILE_INVALID" }, "signer without a name");
  await t.rejects(issue({ department: { ...DEPT, uscc: "11330100MB00000010" }, profile: "licence-signing" }), { code: "CERTIFICATE_PROFILE_INVALID" }, "bad USCC check char");
  await t.rejects(issue({ department: DEPT, profile: "root-ca" as never }), { code: "CERTIFICATE_PROFILE_INVALID" }, "not a department profile");
  await t.rejects(issue({ department: DEPT, profile: "licence-signing", validityDays: 100_000 }), { code: "CERTIFICATE_PROFILE_INVALID" }, "validity too long");
  const ok = await issue({ department: DEPT, profile: "licence-signing", validityDays: 30 });
  t.ok(ok.notAfter.getTime() - ok.notBefore.getTime() <= 30 * 86_400_000 + 5 * 60_000);
  const rec = await uow.read.certificates.get(ok.serial);
  t.equal(rec?.keyId, ok.keyId);
  t.equal(rec?.sha256, ok.sha256);
  t.equal(rec?.subject, ok.subject);
});
