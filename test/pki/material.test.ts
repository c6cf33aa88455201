/**
 * loadKeyMaterial refuses a broken keys folder with AppError KEYSTORE_LOCKED naming the file.
 */
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { AppError } from "../../src/errors.js";
import { KEY_FILES, keysInit, loadKeyMaterial } from "../../src/pki/index.js";
import { PUBLIC_URL, tmpDir } from "./helpers.js";

async function fresh(t: { teardown(fn: () => void): void }, dev = true): Promise<string> {
  const dir = path.join(tmpDir(t), "keys");
  await keysInit({ dir, dev, publicUrl: PUBLIC_URL });
  return dir;
}

async function lockedOn(t: Pick<typeof import("tap").default, "ok" | "equal" | "match" | "fail">, dir: string, file: string, problem: RegExp, what: string) {
  try {
    await loadKeyMaterial(dir);
    t.fail(`${what}: expected KEYSTORE_LOCKED`);
  } catch (e) {
    t.ok(e instanceof AppError, `${what}: AppError`);
    t.equal((e as AppError).code, "KEYSTORE_LOCKED", `${what}: code`);
    t.match((e as AppError).message, path.join(dir, file), `${what}: names ${file}`);
    t.match((e as AppError).message, problem, `${what}: says what is wrong`);
    t.equal((e as AppError).details?.file, path.join(dir, file));
  }
}

t.test("missing files", async (t) => {
  for (const file of [KEY_FILES.manifest, KEY_FILES.rootCert, KEY_FILES.issuingKey, KEY_FILES.tsaCert, KEY_FILES.tokenKey, KEY_FILES.logPub, KEY_FILES.idpJwks, KEY_FILES.kek]) {
    const dir = await fresh(t);
    fs.rmSync(path.join(dir, file));
    await lockedOn(t, dir, file, /file is missing/, `missing ${file}`);
  }
  const dir = await fresh(t);
  fs.rmSync(path.join(dir, KEY_FILES.rootKey));
  t.ok(await loadKeyMaterial(dir), "the root CA key is not needed (kept offline)");
});

t.test("corrupted PEM", async (t) => {
  let dir = await fresh(t);
  const p = path.join(dir, KEY_FILES.issuingCert);
  fs.writeFileSync(p, fs.readFileSync(p, "utf8").replace(/\n[A-Za-z0-9+/]{10}/, "\n!!!!!!!!!!"));
  await lockedOn(t, dir, KEY_FILES.issuingCert, /not a valid PEM certificate/, "garbled base64");

  dir = await fresh(t);
  const c = path.join(dir, KEY_FILES.tsaCert);
  const der = Buffer.from(fs.readFileSync(c, "utf8").replace(/-----[^-]+-----/g, "").replace(/\s/g, ""), "base64");
  const cut = der.subarray(0, der.length - 20).toString("base64").match(/.{1,64}/g)!.join("\n");
  fs.writeFileSync(c, `-----BEGIN CERTIFICATE-----\n${cut}\n-----END CERTIFICATE-----\n`);
  await lockedOn(t, dir, KEY_FILES.tsaCert, /not a valid PEM certificate/, "truncated DER");

  dir = await fresh(t);
  fs.writeFileSync(path.join(dir, KEY_FILES.tokenKey), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
  await lockedOn(t, dir, KEY_FILES.tokenKey, /not a valid PKCS#8 PEM private key/, "bad private key");

  dir = await fresh(t);
  fs.writeFileSync(path.join(dir, KEY_FILES.manifest), "{ not json");
  await lockedOn(t, dir, KEY_FILES.manifest, /not a valid manifest/, "bad manifest");

  dir = await fresh(t);
  fs.writeFileSync(path.join(dir, KEY_FILES.kek), "c2hvcnQ=\n");
  await lockedOn(t, dir, KEY_FILES.kek, /exactly 32 bytes/, "short KEK");

  dir = await fresh(t);
  fs.writeFileSync(path.join(dir, KEY_FILES.idpJwks), JSON.stringify({ keys: [{ kty: "EC", crv: "P-256", x: "a", y: "b", d: "c", kid: "k" }] }));
  await lockedOn(t, dir, KEY_FILES.idpJwks, /private or secret/, "private IdP JWK");
});

t.test("material that does not fit together", async (t) => {
  const a = await fresh(t);
  const b = await fresh(t);
  // A key that does not match its certificate.
  fs.copyFileSync(path.join(b, KEY_FILES.tsaKey), path.join(a, KEY_FILES.tsaKey));
  await lockedOn(t, a, KEY_FILES.tsaKey, /does not match the public key in tsa.crt.pem/, "swapped TSA key");

  // An issuing CA from another hierarchy.
  const c = await fresh(t);
  for (const f of [KEY_FILES.issuingCert, KEY_FILES.issuingKey]) fs.copyFileSync(path.join(b, f), path.join(c, f));
  await lockedOn(t, c, KEY_FILES.issuingCert, /does not chain to root-ca.crt.pem/, "foreign issuing CA");

  // The TSA certificate swapped for the token certificate (and key): no timeStamping EKU.
  const d = await fresh(t);
  fs.copyFileSync(path.join(d, KEY_FILES.tokenCert), path.join(d, KEY_FILES.tsaCert));
  fs.copyFileSync(path.join(d, KEY_FILES.tokenKey), path.join(d, KEY_FILES.tsaKey));
  await lockedOn(t, d, KEY_FILES.tsaCert, /extended key usage/, "TSA without timeStamping");

  // Production material must not hold the IdP private key.
  const e = await fresh(t, false);
  fs.copyFileSync(path.join(a, KEY_FILES.idpKey), path.join(e, KEY_FILES.idpKey));
  await lockedOn(t, e, KEY_FILES.idpKey, /must not be present in production/, "IdP key in production material");

  // Expired material (checked at a time after the token certificate's notAfter).
  const ok = await fresh(t);
  const later = new Date(Date.now() + 4 * 365 * 86_400_000);
  await t.rejects(loadKeyMaterial(ok, { now: later }), { code: "KEYSTORE_LOCKED", message: /token\.crt\.pem.*expired/ }, "expired token certificate");
});
