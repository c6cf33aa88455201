/**
 * src/crypto/sm2.ts: the standards' test vectors (fixtures/sm2/vectors.json names each source) and cross-checks
 * with OpenSSL 3 in both directions (our signatures verify with `openssl pkeyutl -verify -rawin -digest sm3
 * -pkeyopt distid:…`, OpenSSL's verify with ours; key files go both ways).
 */
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import t from "tap";
import { sm2 as lib, sm3 as libSm3 } from "sm-crypto-v2";
import {
  SM2_DEFAULT_ID,
  SM2_N,
  sm2Digest,
  sm2GenerateKey,
  sm2KeyFromPkcs8,
  sm2KeyFromPrivate,
  sm2Pkcs8Der,
  sm2PublicKeyFromSpki,
  sm2Sign,
  sm2SignatureRaw,
  sm2SignDigest,
  sm2SpkiDer,
  sm2Verify,
  sm2Z,
  sm3,
  sm4GcmDecrypt,
  sm4GcmEncrypt,
} from "../../src/crypto/sm2.js";
import { integer, seq } from "../../src/pki/der.js";
import vectors from "../../fixtures/sm2/vectors.json" with { type: "json" };

const h = (s: string) => Buffer.from(s, "hex");
const upper = (b: Uint8Array) => Buffer.from(b).toString("hex").toUpperCase();
const pem = (label: string, der: Uint8Array) => `-----BEGIN ${label}-----\n${Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n").replace(/\n$/, "")}\n-----END ${label}-----\n`;

const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
function openssl(args: string[]) {
  const r = spawnSync("openssl", args, { encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}
function tmp(t: { teardown(fn: () => void): void }) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "sidian-sm2-"));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

t.test("SM3: GB/T 32905 Appendix A; node's SM3 agrees with the library's on many lengths", async (t) => {
  for (const c of vectors.sm3.cases) t.equal(upper(sm3(c.messageAscii)), c.digest, c.name);
  for (const n of [0, 1, 55, 56, 63, 64, 65, 1000, 100_000]) {
    const m = crypto.randomBytes(n);
    t.equal(sm3(m).toString("hex"), libSm3(m), `${n} bytes`);
  }
  t.equal(sm3([Buffer.from("ab"), Buffer.from("c")]).toString("hex"), sm3("abc").toString("hex"), "parts are concatenated");
});

t.test("SM2: GB/T 32918.5 signature example (key, e = SM3(Z‖M), r and s with the fixed k)", async (t) => {
  const v = vectors.sm2Signature;
  const key = sm2KeyFromPrivate(h(v.privateKey));
  t.equal(upper(key.publicKey), "04" + v.publicKeyX + v.publicKeyY, "public key = dG");
  const e = sm2Digest(key.publicKey, Buffer.from(v.messageAscii), v.id);
  t.equal(upper(e), v.e, "e");
  const x1 = BigInt("0x" + Buffer.from(sm2KeyFromPrivate(h(v.k)).publicKey.subarray(1, 33)).toString("hex"));
  const raw = sm2SignDigest(key, e, "raw", [{ k: BigInt("0x" + v.k), x1 }]);
  t.equal(upper(raw.subarray(0, 32)), v.r, "r");
  t.equal(upper(raw.subarray(32)), v.s, "s");
  t.ok(sm2Verify(key.publicKey, Buffer.from(v.messageAscii), h(v.r + v.s), { encoding: "raw" }), "the standard's signature verifies");
  t.notOk(sm2Verify(key.publicKey, Buffer.from("message digesT"), h(v.r + v.s), { encoding: "raw" }), "another message does not");
  t.notOk(sm2Verify(key.publicKey, Buffer.from(v.messageAscii), h(v.r + v.s), { encoding: "raw", id: "1234567812345679" }), "another signer ID does not");
  // Z by its definition: SM3(ENTL‖ID‖a‖b‖xG‖yG‖xA‖yA), computed here from the curve constants of GB/T 32918.5.
  const a = "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC";
  const b = "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93";
  const gx = "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7";
  const gy = "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0";
  const z = sm3(Buffer.concat([Buffer.from([0x00, 0x80]), Buffer.from(v.id), h(a + b + gx + gy + v.publicKeyX + v.publicKeyY)]));
  t.equal(sm2Z(key.publicKey, v.id).toString("hex"), z.toString("hex"), "Z = SM3(ENTL‖ID‖a‖b‖xG‖yG‖xA‖yA)");
  t.equal(SM2_DEFAULT_ID, v.id);
});

t.test("SM4 (GB/T 32907 via node's OpenSSL) and SM4-GCM (RFC 8998 A.1 via the library)", async (t) => {
  const c = crypto.createCipheriv("sm4-ecb", h(vectors.sm4.key), null);
  c.setAutoPadding(false);
  t.equal(upper(Buffer.concat([c.update(h(vectors.sm4.plaintext)), c.final()])), vectors.sm4.ciphertext, "SM4 block");
  const g = vectors.sm4Gcm;
  const sealed = sm4GcmEncrypt(h(g.key), h(g.iv), h(g.plaintext), h(g.aad));
  t.equal(upper(sealed), g.ciphertext + g.tag, "ciphertext‖tag");
  t.equal(upper(sm4GcmDecrypt(h(g.key), h(g.iv), sealed, h(g.aad))), g.plaintext, "opens");
  for (const [what, mutate] of [
    ["ciphertext", (b: Buffer) => (b[0]! ^= 1)],
    ["tag", (b: Buffer) => (b[b.length - 1]! ^= 1)],
  ] as const) {
    const bad = Buffer.from(sealed);
    mutate(bad);
    t.throws(() => sm4GcmDecrypt(h(g.key), h(g.iv), bad, h(g.aad)), /authentication failed/, `a changed ${what} is refused`);
  }
  t.throws(() => sm4GcmDecrypt(h(g.key), h(g.iv), sealed, Buffer.from("other aad")), /authentication failed/, "other AAD is refused");
  t.throws(() => sm4GcmDecrypt(h(g.key), h(g.iv), sealed.subarray(0, 10)), /authentication failed/, "a truncated box is refused");
});

t.test("keys: SPKI and PKCS#8 round trip; malformed keys are refused", async (t) => {
  const k = sm2GenerateKey();
  t.same(sm2PublicKeyFromSpki(sm2SpkiDer(k.publicKey)), k.publicKey);
  t.same(sm2KeyFromPkcs8(sm2Pkcs8Der(k)).d, k.d);
  const p256 = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  t.equal(sm2PublicKeyFromSpki(p256.publicKey.export({ type: "spki", format: "der" })), null, "a P-256 key is not an SM2 key");
  t.throws(() => sm2KeyFromPkcs8(p256.privateKey.export({ type: "pkcs8", format: "der" })), RangeError);
  const offCurve = Buffer.from(k.publicKey);
  offCurve[64] = offCurve[64]! ^ 1;
  t.equal(sm2PublicKeyFromSpki(sm2SpkiDer(offCurve)), null, "a point off the curve is refused");
  t.equal(sm2PublicKeyFromSpki(Buffer.from([0x30, 0x03, 0x02, 0x01])), null, "truncated DER gives null");
  t.throws(() => sm2KeyFromPrivate(Buffer.alloc(32)), RangeError, "d = 0");
  t.throws(() => sm2KeyFromPrivate(h((SM2_N - 1n).toString(16))), RangeError, "d = n-1");
});

t.test("verification refuses malformed and out-of-range signatures without throwing", async (t) => {
  const k = sm2GenerateKey();
  const m = Buffer.from("签名数据");
  const sig = sm2Sign(k, m);
  t.ok(sm2Verify(k.publicKey, m, sig));
  const raw = sm2SignatureRaw(sig)!;
  t.ok(sm2Verify(k.publicKey, m, raw, { encoding: "raw" }), "raw r‖s form");
  const n = h(SM2_N.toString(16));
  const r = raw.subarray(0, 32);
  const s = raw.subarray(32);
  const cases: [string, Uint8Array][] = [
    ["r = 0", seq(integer(0), integer(s))],
    ["s = 0", seq(integer(r), integer(0))],
    ["s = n", seq(integer(r), integer(n))],
    ["r + n", seq(integer(h((BigInt("0x" + r.toString("hex")) + SM2_N).toString(16).padStart(66, "0"))), integer(s))],
    ["trailing bytes", Buffer.concat([sig, Buffer.from([0])])],
    ["not DER", Buffer.from("hello")],
    ["empty", Buffer.alloc(0)],
    ["non-minimal INTEGER", seq(Buffer.concat([Buffer.from([0x02, 33, 0]), Buffer.from([0x01]), Buffer.alloc(31)]), integer(s))],
  ];
  for (const [what, bad] of cases) t.equal(sm2Verify(k.publicKey, m, bad), false, what);
  t.equal(sm2Verify(Buffer.alloc(65, 4), m, sig), false, "a public key off the curve");
  t.equal(sm2Verify(k.publicKey, m, raw.subarray(0, 63), { encoding: "raw" }), false, "short raw signature");
  // Repeated verification (the precomputed-table path) gives the same answers.
  for (let i = 0; i < 3; i++) {
    t.ok(sm2Verify(k.publicKey, m, sig), `verify again ${i}`);
    t.notOk(sm2Verify(k.publicKey, Buffer.from("x"), sig), `mismatch again ${i}`);
  }
  // Interop with the library's own hashing path (hash: true computes SM3(Z‖M) in JavaScript).
  t.ok(lib.doVerifySignature(m, sig.toString("hex"), Buffer.from(k.publicKey).toString("hex"), { der: true, hash: true }), "the library's own verify agrees");
});

t.test("OpenSSL 3 cross-checks", { skip: hasOpenssl ? false : "openssl not installed (Debian package: openssl)" }, async (t) => {
  const dir = tmp(t);
  const k = sm2GenerateKey();
  const msg = path.join(dir, "msg");
  fs.writeFileSync(msg, crypto.randomBytes(3000));
  fs.writeFileSync(path.join(dir, "pub.pem"), pem("PUBLIC KEY", sm2SpkiDer(k.publicKey)));
  fs.writeFileSync(path.join(dir, "key.pem"), pem("PRIVATE KEY", sm2Pkcs8Der(k)));
  const verifyArgs = (sig: string, pub: string, id = SM2_DEFAULT_ID) => ["pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-digest", "sm3", "-pkeyopt", `distid:${id}`, "-in", msg, "-sigfile", sig];

  // Ours → OpenSSL, default ID and another ID.
  fs.writeFileSync(path.join(dir, "sig"), sm2Sign(k, fs.readFileSync(msg)));
  let r = openssl(verifyArgs(path.join(dir, "sig"), path.join(dir, "pub.pem")));
  t.equal(r.status, 0, `openssl verifies our signature: ${r.out}`);
  t.match(r.out, /Signature Verified Successfully/);
  fs.writeFileSync(path.join(dir, "sig-alice"), sm2Sign(k, fs.readFileSync(msg), { id: "ALICE123@YAHOO.COM" }));
  r = openssl(verifyArgs(path.join(dir, "sig-alice"), path.join(dir, "pub.pem"), "ALICE123@YAHOO.COM"));
  t.equal(r.status, 0, `another signer ID: ${r.out}`);
  r = openssl(verifyArgs(path.join(dir, "sig-alice"), path.join(dir, "pub.pem")));
  t.not(r.status, 0, "and OpenSSL refuses it under the default ID");

  // The standard's example signature verifies in OpenSSL too.
  const v = vectors.sm2Signature;
  const vk = sm2KeyFromPrivate(h(v.privateKey));
  fs.writeFileSync(path.join(dir, "vpub.pem"), pem("PUBLIC KEY", sm2SpkiDer(vk.publicKey)));
  fs.writeFileSync(path.join(dir, "vmsg"), v.messageAscii);
  fs.writeFileSync(path.join(dir, "vsig"), seq(integer(h(v.r)), integer(h(v.s))));
  r = openssl(["pkeyutl", "-verify", "-pubin", "-inkey", path.join(dir, "vpub.pem"), "-rawin", "-digest", "sm3", "-pkeyopt", `distid:${v.id}`, "-in", path.join(dir, "vmsg"), "-sigfile", path.join(dir, "vsig")]);
  t.equal(r.status, 0, `the GB/T 32918.5 example verifies in OpenSSL: ${r.out}`);

  // OpenSSL reads our private key and signs; we verify.
  r = openssl(["pkeyutl", "-sign", "-inkey", path.join(dir, "key.pem"), "-rawin", "-digest", "sm3", "-pkeyopt", `distid:${SM2_DEFAULT_ID}`, "-in", msg, "-out", path.join(dir, "osig")]);
  t.equal(r.status, 0, `openssl signs with our PKCS#8: ${r.out}`);
  t.ok(sm2Verify(k.publicKey, fs.readFileSync(msg), fs.readFileSync(path.join(dir, "osig"))), "we verify OpenSSL's signature");

  // OpenSSL's own key: we read its PKCS#8 and SPKI and sign with it; OpenSSL verifies.
  r = openssl(["genpkey", "-algorithm", "SM2", "-out", path.join(dir, "okey.pem")]);
  t.equal(r.status, 0, r.out);
  r = openssl(["pkey", "-in", path.join(dir, "okey.pem"), "-pubout", "-out", path.join(dir, "opub.pem")]);
  t.equal(r.status, 0, r.out);
  const pemDer = (f: string) => Buffer.from(fs.readFileSync(f, "utf8").replace(/-----[^-]+-----|\s/g, ""), "base64");
  const ok = sm2KeyFromPkcs8(pemDer(path.join(dir, "okey.pem")));
  t.same(sm2PublicKeyFromSpki(pemDer(path.join(dir, "opub.pem"))), ok.publicKey, "OpenSSL's SPKI is the public key of its PKCS#8");
  fs.writeFileSync(path.join(dir, "sig2"), sm2Sign(ok, fs.readFileSync(msg)));
  r = openssl(verifyArgs(path.join(dir, "sig2"), path.join(dir, "opub.pem")));
  t.equal(r.status, 0, `OpenSSL verifies a signature made with its own key: ${r.out}`);
});
