/**
 * The seal worker produces exactly what the in-thread code does: an ES256 signature that verifies, the SHA-256 of
 * the compact JWS, and an AES-256-GCM ciphertext PiiProtector.decrypt opens (bound to its AAD).
 */
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { needs } from "../helpers/tools.js";
import t from "tap";
import { sm2GenerateKey, sm2Pkcs8Der, sm2Verify } from "../../src/crypto/sm2.js";
import { integer, seq } from "../../src/pki/der.js";
import { sm2KeyObject } from "../../src/pki/signing-key.js";
import { derivePiiProtector } from "../../src/crypto/pii.js";
import { createSealWorker } from "../../src/crypto/seal-worker.js";

t.test("seal worker: signatures, hashes and ciphertexts match the in-thread code", async (t) => {
  const worker = createSealWorker();
  t.teardown(() => worker.close());
  const pii = derivePiiProtector(crypto.randomBytes(32));
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const headerB64 = Buffer.from(JSON.stringify({ alg: "ES256", typ: "sidian-licence+jws" })).toString("base64url");
  const jobs = Array.from({ length: 50 }, (_, i) => ({ headerB64, json: JSON.stringify({ n: i, name: "张三丰", note: "预包装食品销售" }), aad: `licence:${i}` }));
  const out = await worker.seal(privateKey, pii.aeadKey, jobs);
  t.equal(out.length, jobs.length);
  for (const [i, r] of out.entries()) {
    const job = jobs[i]!;
    t.equal(r.payloadB64, Buffer.from(job.json).toString("base64url"));
    const input = `${headerB64}.${r.payloadB64}`;
    const sig = Buffer.from(r.signatureB64, "base64url");
    t.equal(sig.length, 64, "P-1363 r‖s");
    t.ok(crypto.verify("sha256", Buffer.from(input), { key: publicKey, dsaEncoding: "ieee-p1363" }, sig), `signature ${i} verifies`);
    t.equal(r.jwsSha256, crypto.createHash("sha256").update(`${input}.${r.signatureB64}`).digest("hex"));
    t.equal(pii.decrypt(r.enc, job.aad), job.json, "decrypts with the protector");
    t.throws(() => pii.decrypt(r.enc, `licence:other`), "bound to its AAD");
    if (i > 3) break;
  }
  t.equal(new Set(out.map((r) => r.enc.slice(0, 16))).size, out.length, "a fresh IV per ciphertext");

  // A second key and a second batch on the same worker; an empty batch needs no round trip.
  const other = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const [r2] = await worker.seal(other.privateKey, pii.aeadKey, [jobs[0]!]);
  t.ok(crypto.verify("sha256", Buffer.from(`${headerB64}.${r2!.payloadB64}`), { key: other.publicKey, dsaEncoding: "ieee-p1363" }, Buffer.from(r2!.signatureB64, "base64url")));
  t.same(await worker.seal(privateKey, pii.aeadKey, []), []);
  t.notOk(Object.keys(pii).includes("aeadKey"), "the AEAD key is not enumerable (never logged with the protector)");

  // After close, the worker starts again on demand and is sent the keys again.
  await worker.close();
  const [r3] = await worker.seal(privateKey, pii.aeadKey, [jobs[1]!]);
  t.equal(pii.decrypt(r3!.enc, jobs[1]!.aad), jobs[1]!.json, "restarts after close");
});

t.test("two worker threads split a chunk and give the results in order", async (t) => {
  const worker = createSealWorker({ threads: 2 });
  t.teardown(() => worker.close());
  const pii = derivePiiProtector(crypto.randomBytes(32));
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const headerB64 = Buffer.from(JSON.stringify({ alg: "ES256" })).toString("base64url");
  const jobs = Array.from({ length: 37 }, (_, i) => ({ headerB64, json: JSON.stringify({ n: i }), aad: `licence:${i}` }));
  const out = await worker.seal(privateKey, pii.aeadKey, jobs);
  t.equal(out.length, 37);
  out.forEach((r, i) => {
    t.equal(pii.decrypt(r.enc, `licence:${i}`), JSON.stringify({ n: i }), `result ${i} in its place`);
    t.ok(crypto.verify("sha256", Buffer.from(`${headerB64}.${r.payloadB64}`), { key: publicKey, dsaEncoding: "ieee-p1363" }, Buffer.from(r.signatureB64, "base64url")));
  });
});

t.test("seal worker: GmSM2 signatures (SM2 over SM3(Z‖header.payload), r‖s) that src/crypto/sm2.ts and OpenSSL verify", async (t) => {
  const worker = createSealWorker();
  t.teardown(() => worker.close());
  const pii = derivePiiProtector(crypto.randomBytes(32));
  const key = sm2GenerateKey();
  const privateKey = sm2KeyObject(sm2Pkcs8Der(key));
  const headerB64 = Buffer.from(JSON.stringify({ alg: "GmSM2", typ: "sidian-licence+jws" })).toString("base64url");
  const jobs = Array.from({ length: 20 }, (_, i) => ({ headerB64, json: JSON.stringify({ n: i, name: "张三丰" }), aad: `licence:${i}` }));
  const out = await worker.seal(privateKey, pii.aeadKey, jobs, "SM2");
  t.equal(out.length, jobs.length);
  let ok = 0;
  for (const r of out) {
    const sig = Buffer.from(r.signatureB64, "base64url");
    if (sig.length === 64 && sm2Verify(key.publicKey, Buffer.from(`${headerB64}.${r.payloadB64}`), sig, { encoding: "raw" })) ok++;
  }
  t.equal(ok, jobs.length, "every signature verifies with the SM2 public key");
  t.equal(new Set(out.map((r) => r.signatureB64)).size, out.length, "a fresh k per signature");
  t.notOk(sm2Verify(key.publicKey, Buffer.from(`${headerB64}.x${out[0]!.payloadB64}`), Buffer.from(out[0]!.signatureB64, "base64url"), { encoding: "raw" }), "bound to its input");
  const noOpenssl = needs("openssl");
  if (noOpenssl) t.comment(`skipped the openssl cross-check: ${noOpenssl}`);
  else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sidian-sm2w-"));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const raw = Buffer.from(out[1]!.signatureB64, "base64url");
    fs.writeFileSync(path.join(dir, "in"), `${headerB64}.${out[1]!.payloadB64}`);
    fs.writeFileSync(path.join(dir, "sig"), seq(integer(raw.subarray(0, 32)), integer(raw.subarray(32))));
    fs.writeFileSync(path.join(dir, "pub"), crypto.createPublicKey(privateKey).export({ type: "spki", format: "pem" }));
    const v = spawnSync("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", path.join(dir, "pub"), "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678", "-in", path.join(dir, "in"), "-sigfile", path.join(dir, "sig")], { encoding: "utf8" });
    t.equal(v.status, 0, `openssl pkeyutl verifies a worker GmSM2 signature: ${v.stdout}${v.stderr}`);
  }
});
