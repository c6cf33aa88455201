/**
 * Runtime key store: generate, sign (DER / P1363 / Ed25519), verify with node:crypto; wrapped keys that were
 * altered, moved to another key id, or opened with another KEK fail with KEYSTORE_LOCKED.
 */
import crypto from "node:crypto";
import t from "tap";
import { fixedClock } from "../../src/modules/kernel.js";
import { createFileKeyStore, unwrapPrivateKey, wrapPrivateKey, type KeyRecord, type KeyRepo } from "../../src/pki/index.js";
import { openSqlite } from "../../src/storage/db.js";
import { createUnitOfWork } from "../../src/storage/repos/index.js";

const clock = fixedClock("2026-01-01T00:00:00Z");
const data = new TextEncoder().encode("电子证照 payload");

function db(t: { teardown(fn: () => void): void }) {
  const h = openSqlite(":memory:");
  t.teardown(() => h.close());
  return createUnitOfWork(h);
}

t.test("generate → sign → verify (ES256 DER and P1363, Ed25519)", async (t) => {
  const uow = db(t);
  const kek = crypto.randomBytes(32);
  const ks = createFileKeyStore({ kek, repo: uow.read.keys, clock });
  const es = await uow.write((repos) => ks.generate({ purpose: "seal", label: "seal:test", departmentId: "d1" }, repos.keys));
  t.match(es.keyId, /^key_[0-9a-f-]{36}$/);
  t.equal(es.alg, "ES256");
  t.equal(es.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");

  const der = await ks.sign(es.keyId, data);
  t.ok(crypto.verify("sha256", data, { key: es.publicKey, dsaEncoding: "der" }, der), "DER signature verifies");
  t.equal(der[0], 0x30, "DER signature is an ASN.1 SEQUENCE");
  const p1363 = await ks.sign(es.keyId, data, { encoding: "p1363" });
  t.equal(p1363.length, 64, "P1363 signature is r‖s, 64 bytes");
  t.ok(crypto.verify("sha256", data, { key: es.publicKey, dsaEncoding: "ieee-p1363" }, p1363), "P1363 signature verifies");
  t.notOk(crypto.verify("sha256", new TextEncoder().encode("other"), { key: es.publicKey, dsaEncoding: "der" }, der), "does not verify other data");

  const ed = await uow.write((repos) => ks.generate({ alg: "Ed25519", purpose: "other", label: "ed" }, repos.keys));
  const edSig = await ks.sign(ed.keyId, data);
  t.equal(edSig.length, 64);
  t.ok(crypto.verify(null, data, ed.publicKey, edSig), "Ed25519 signature verifies");

  const pub = await ks.publicKey(es.keyId);
  t.ok(pub.equals(es.publicKey), "publicKey() returns the generated public key");

  const rec = await uow.read.keys.get(es.keyId);
  t.equal(rec?.departmentId, "d1");
  t.equal(rec?.status, "active");
  const blob = rec!.wrappedPrivateKey;
  const d = Buffer.from(unwrapPrivateKey(kek, es.keyId, blob).export({ format: "jwk" }).d!, "base64url");
  t.equal(d.length, 32);
  t.notOk(Buffer.from(blob).includes(d), "the stored blob does not contain the private scalar in clear");

  await t.rejects(ks.sign("key_missing", data), { code: "KEY_NOT_FOUND" });
  await uow.write((repos) => repos.keys.setStatus(es.keyId, "retired"));
  ks.forget(es.keyId);
  await t.rejects(ks.sign(es.keyId, data), { code: "CONFLICT" }, "a retired key no longer signs");
});

t.test("a key generated inside a transaction can sign through that transaction's repo", async (t) => {
  const uow = db(t);
  const ks = createFileKeyStore({ kek: crypto.randomBytes(32), repo: uow.read.keys, clock });
  await uow.write(async (repos) => {
    const k = await ks.generate({ purpose: "seal", label: "x" }, repos.keys);
    const sig = await ks.sign(k.keyId, data, { repo: repos.keys });
    t.ok(crypto.verify("sha256", data, k.publicKey, sig));
  });
});

/** A KeyRepo over a Map whose stored blob the test can alter. */
function memRepo(): KeyRepo & { rows: Map<string, KeyRecord> } {
  const rows = new Map<string, KeyRecord>();
  return {
    rows,
    async insert(r) {
      if (rows.has(r.id)) throw new Error("duplicate");
      rows.set(r.id, r);
    },
    async get(id) {
      return rows.get(id) ?? null;
    },
    async list() {
      return [...rows.values()];
    },
    async setStatus(id, status) {
      const r = rows.get(id);
      if (!r) return false;
      rows.set(id, { ...r, status });
      return true;
    },
  };
}

t.test("tampered wrapped key fails cleanly", async (t) => {
  const repo = memRepo();
  const kek = crypto.randomBytes(32);
  const k = await createFileKeyStore({ kek, repo, clock }).generate({ purpose: "seal", label: "x" });
  const rec = repo.rows.get(k.keyId)!;
  for (const [what, pos] of [["ciphertext", rec.wrappedPrivateKey.length - 1], ["tag", 30], ["iv", 15]] as const) {
    const bad = new Uint8Array(rec.wrappedPrivateKey);
    bad[pos]! ^= 0x01;
    repo.rows.set(k.keyId, { ...rec, wrappedPrivateKey: bad });
    const fresh = createFileKeyStore({ kek, repo, clock });
    await t.rejects(fresh.sign(k.keyId, data), { code: "KEYSTORE_LOCKED", message: /failed authentication/ }, `flipped bit in ${what}`);
  }
  repo.rows.set(k.keyId, { ...rec, wrappedPrivateKey: rec.wrappedPrivateKey.subarray(0, 20) });
  await t.rejects(createFileKeyStore({ kek, repo, clock }).sign(k.keyId, data), { code: "KEYSTORE_LOCKED", message: /not in a known format/ }, "truncated blob");
  // The same blob under another key id (AAD mismatch) does not open.
  repo.rows.set("key_other", { ...rec, id: "key_other" });
  await t.rejects(createFileKeyStore({ kek, repo, clock }).sign("key_other", data), { code: "KEYSTORE_LOCKED" }, "blob moved to another key id");
  repo.rows.set(k.keyId, rec);
  const ok = await createFileKeyStore({ kek, repo, clock }).sign(k.keyId, data);
  t.ok(crypto.verify("sha256", data, k.publicKey, ok), "the untouched blob still works");
});

t.test("wrong KEK fails cleanly", async (t) => {
  const repo = memRepo();
  const k = await createFileKeyStore({ kek: crypto.randomBytes(32), repo, clock }).generate({ purpose: "seal", label: "x" });
  await t.rejects(createFileKeyStore({ kek: crypto.randomBytes(32), repo, clock }).sign(k.keyId, data), {
    code: "KEYSTORE_LOCKED",
    message: /different key-encryption key/,
  });
  t.throws(() => createFileKeyStore({ kek: crypto.randomBytes(16), repo, clock }), { code: "KEYSTORE_LOCKED" }, "KEK must be 32 bytes");
});

t.test("wrap/unwrap round trip", async (t) => {
  const kek = crypto.randomBytes(32);
  const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const pkcs8 = privateKey.export({ type: "pkcs8", format: "der" });
  const blob = wrapPrivateKey(kek, "key_a", pkcs8);
  t.equal(Buffer.from(blob.subarray(0, 4)).toString(), "SKW1");
  t.notOk(Buffer.from(blob).includes(pkcs8.subarray(-40)), "ciphertext does not contain the key");
  t.ok(unwrapPrivateKey(kek, "key_a", blob).equals(privateKey));
  t.throws(() => unwrapPrivateKey(kek, "key_b", blob), { code: "KEYSTORE_LOCKED" });
});
