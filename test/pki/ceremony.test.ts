/**
 * The production key ceremony (`sidian keys init --production`, issue 21): the root CA key leaves the process once,
 * encrypted, outside the keys folder; the issuing CA and the service keys are in the chosen key store (files, or a
 * SoftHSM2 token); the folder loads as production material; the command prints its steps and fails in one line.
 */
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import t, { type Test } from "tap";
import { gate, needs } from "../helpers/tools.js";
import { keysInit, loadKeyMaterial, KEY_FILES } from "../../src/pki/index.js";
import { readEncryptedRootKey } from "../../src/pki/cli.js";
import { tokenServiceKeyGenerator, tokenServiceKeys } from "../../src/pki/pkcs11/keystore.js";
import { openToken } from "../../src/pki/pkcs11/token.js";
import { parsePkcs11Uri } from "../../src/pki/pkcs11/uri.js";
import { ROOT } from "../helpers/app.js";
import { SOFTHSM_SKIP, softhsm } from "../helpers/softhsm.js";
import { openssl, tmpDir } from "./helpers.js";

/** Skips (with a visible line naming the Debian packages) where these tools are missing. */
const test = gate(t, needs("openssl"));

const URL_ = "https://sidian.example.gov.cn";
const PASS = "correct horse battery staple 2026";

function rootChecks(t: Test, dir: string, rootFile: string, rootSha256: string) {
  t.notOk(fs.existsSync(path.join(dir, KEY_FILES.rootKey)), "no root key in the keys folder");
  const text = fs.readFileSync(rootFile, "utf8");
  t.match(text, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/, "the root key is encrypted PKCS#8");
  t.equal(fs.statSync(rootFile).mode & 0o077, 0, "readable by its owner only");
  // An independent tool opens it with the passphrase, and its public key is the root certificate's.
  const passFile = path.join(path.dirname(rootFile), "pass.txt");
  fs.writeFileSync(passFile, `${PASS}\n`, { mode: 0o600 });
  const pub = openssl(["pkey", "-in", rootFile, "-passin", `file:${passFile}`, "-pubout"]);
  t.equal(pub.status, 0, pub.stderr);
  const cert = openssl(["x509", "-in", path.join(dir, KEY_FILES.rootCert), "-pubkey", "-noout"]);
  t.equal(pub.stdout, cert.stdout, "openssl: the encrypted key belongs to the root certificate");
  t.equal(openssl(["pkey", "-in", rootFile, "-passin", "pass:wrong passphrase here", "-noout"]).status === 0, false, "a wrong passphrase does not open it");
  t.throws(() => readEncryptedRootKey(rootFile, "wrong passphrase here!"), { code: "CONFIG_INVALID", message: /Wrong passphrase/ });
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, KEY_FILES.manifest), "utf8"));
  t.equal(manifest.dev, false);
  t.equal(manifest.ceremony.rootSha256, rootSha256, "the manifest records the ceremony's root");
}

test("file key store: root offline and encrypted, the rest in the folder", async (t) => {
  const base = tmpDir(t);
  const dir = path.join(base, "keys");
  const rootFile = path.join(base, "root-ca.key.enc.pem");
  const steps: string[] = [];
  const r = await keysInit({ dir, dev: false, publicUrl: URL_, offlineRoot: { file: rootFile, passphrase: PASS }, progress: (s) => steps.push(s) });
  t.equal(r.rootKeyFile, rootFile);
  t.ok(steps.length >= 5, `progress: ${steps.join(" | ")}`);
  rootChecks(t, dir, rootFile, r.rootSha256);
  const m = await loadKeyMaterial(dir);
  t.equal(m.dev, false, "production material");
  t.equal(m.keyStore, "file");
  t.same(m.warnings, [], "nothing to warn about: no root key beside the service");
  t.notMatch(m.rootCert.subject, /DEV ONLY/);

  // The root key is written once: never over a file, never into the folder, never with a weak passphrase.
  const again = path.join(base, "again");
  await t.rejects(keysInit({ dir: again, dev: false, publicUrl: URL_, offlineRoot: { file: rootFile, passphrase: PASS } }), { code: "CONFLICT", message: /written once/ });
  await t.rejects(keysInit({ dir: again, dev: false, publicUrl: URL_, offlineRoot: { file: path.join(again, "root.pem"), passphrase: PASS } }), { code: "CONFIG_INVALID", message: /outside the keys folder/ });
  await t.rejects(keysInit({ dir: again, dev: false, publicUrl: URL_, offlineRoot: { file: path.join(base, "r2.pem"), passphrase: "short" } }), { code: "CONFIG_INVALID", message: /at least 16/ });
  await t.rejects(keysInit({ dir: again, dev: true, publicUrl: URL_, offlineRoot: { file: path.join(base, "r3.pem"), passphrase: PASS } }), { code: "CONFIG_INVALID" });
  t.notOk(fs.existsSync(path.join(again, KEY_FILES.manifest)), "nothing written when refused");
  t.notOk(fs.existsSync(path.join(base, "r2.pem")));
});

test("the command: steps on stderr, a record on stdout, one-line errors", async (t) => {
  const base = tmpDir(t);
  const passFile = path.join(base, "pass");
  fs.writeFileSync(passFile, `${PASS}\n`, { mode: 0o600 });
  const run = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "src/main.ts"), "keys", "init", ...args], {
    encoding: "utf8", cwd: ROOT, env: { ...process.env, SIDIAN_MODE: "production", SIDIAN_PUBLIC_URL: URL_, SIDIAN_DB: path.join(base, "db.sqlite"), SIDIAN_KEYSTORE: "file", ...env },
  });
  const dir = path.join(base, "keys");
  const ok = run(["--production", "--dir", dir, "--root-key-out", path.join(base, "root.enc.pem"), "--passphrase-file", passFile]);
  t.equal(ok.status, 0, ok.stderr);
  t.match(ok.stderr, /^\[1\] root CA/m, "progress, step by step");
  t.match(ok.stdout, /Key ceremony record/);
  t.match(ok.stdout, /root CA SHA-256 +[0-9a-f]{64}/);
  const m = await loadKeyMaterial(dir);
  t.equal(m.dev, false);

  const twice = run(["--production", "--dir", dir, "--root-key-out", path.join(base, "root2.enc.pem"), "--passphrase-file", passFile]);
  t.equal(twice.status, 1);
  t.equal(twice.stderr.trim().split("\n").length, 1, `one line: ${twice.stderr}`);
  t.match(twice.stderr, /^sidian: CONFLICT: Key material already exists/);
  const noPass = run(["--production", "--dir", path.join(base, "k2"), "--root-key-out", path.join(base, "root3.enc.pem"), "--passphrase-file", path.join(base, "missing")]);
  t.equal(noPass.status, 2);
  t.match(noPass.stderr, /^sidian: cannot read the passphrase file .*missing \(ENOENT\)\n$/);
  const http = run(["--production", "--dir", path.join(base, "k3"), "--root-key-out", path.join(base, "root4.enc.pem"), "--passphrase-file", passFile], { SIDIAN_PUBLIC_URL: "http://127.0.0.1:8080", SIDIAN_MODE: "development" });
  t.equal(http.status, 2);
  t.match(http.stderr, /must be https for production keys/);
  t.equal(http.stderr.trim().split("\n").length, 1, `one line: ${http.stderr}`);
  t.notOk(fs.existsSync(path.join(base, "root4.enc.pem")));
});

test("SoftHSM2: issuing CA and service keys generated on the token", { skip: SOFTHSM_SKIP }, async (t) => {
  const hsm = softhsm(t);
  const tok = hsm.token("sidian-ceremony");
  const base = tmpDir(t);
  const dir = path.join(base, "keys");
  const rootFile = path.join(base, "root-ca.key.enc.pem");
  const token = await openToken({ uri: parsePkcs11Uri(tok.url).uri!, probeSeconds: 0 });
  t.teardown(() => token.close());
  const r = await keysInit({ dir, dev: false, publicUrl: URL_, offlineRoot: { file: rootFile, passphrase: PASS }, serviceKeys: tokenServiceKeyGenerator(token) });
  rootChecks(t, dir, rootFile, r.rootSha256);
  for (const f of [KEY_FILES.issuingKey, KEY_FILES.tsaKey, KEY_FILES.tokenKey, KEY_FILES.logKey]) t.notOk(fs.existsSync(path.join(dir, f)), `${f} is not a file: the key is on the token`);
  const m = await loadKeyMaterial(dir, { serviceKeys: tokenServiceKeys(token) });
  t.equal(m.keyStore, "pkcs11");
  t.equal(m.dev, false);
  const data = crypto.randomBytes(64);
  const sig = await m.issuingCa.signingKey.sign(data);
  t.ok(crypto.verify("sha256", data, m.issuingCa.signingKey.publicKey, sig), "the issuing CA signs through the token");
  await t.rejects(loadKeyMaterial(dir), { code: "KEYSTORE_LOCKED", message: /PKCS#11 token/ }, "without the token the folder does not load");
});
