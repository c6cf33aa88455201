/**
 * The national profile's primitives (国密): SM3 hashing, SM2 signatures with the Z value of GB/T 32918.2, SM2 key
 * encodings (SPKI / PKCS#8, as OpenSSL 3 reads them) and SM4-GCM (RFC 8998) for encryption at rest.
 *
 * Where each piece comes from (nothing here is hand-written cryptography):
 * - SM3: node:crypto's `sm3` (OpenSSL, native), so a 200-page PDF is hashed at native speed. Its results agree with
 *   the library's SM3 and with GB/T 32905 (test/crypto/sm2.test.ts).
 * - SM2 key generation, Z (`getZ`), signing and verification: `sm-crypto-v2` (MIT; SM2 on @noble/curves'
 *   short-Weierstrass code). Node's own SM2 signing and verification are wrong (nodejs/node#53761) and are never
 *   used. The message digest e = SM3(Z‖M) is computed here with node's SM3 over Z from the library, then the
 *   library signs/verifies e (`hash: false`), so large messages are not hashed in JavaScript.
 * - SM4-GCM: `sm-crypto-v2`'s SM4 (node's OpenSSL build has SM4 but no SM4-GCM).
 *
 * Z = SM3(ENTL‖ID‖a‖b‖xG‖yG‖xA‖yA) with ENTL the bit length of ID as two bytes; the default signer ID is
 * `1234567812345678` (GB/T 35276-2017 §5.3, the value OpenSSL's `distid` option and GM/T 0009 use).
 *
 * Signature encodings: `der` is SM2-Signature ::= SEQUENCE { r INTEGER, s INTEGER } (GB/T 35276 §7.3, what X.509,
 * CMS and SES use); `raw` is r‖s, 32 bytes each (compact tokens).
 *
 * Verification checks what the library leaves out: r and s in [1, n-1] (GB/T 32918.2 §7.1 B1, B2), the public key a
 * point on the curve, a well-formed DER signature; any malformed input gives `false`, never an exception.
 */
import { createHash, hash, randomBytes, type Hash } from "node:crypto";
import { sm2 as lib, sm4 as libSm4 } from "sm-crypto-v2";
import { children, contentOf, DerError, expectTag, readNode } from "../pki/der.js";
import { algId, integer, octets, oid, seq, tlv, explicit } from "../pki/der.js";

export const SM2_OID = {
  /** sm2p256v1, also the SM2 key algorithm (GM/T 0006). */
  sm2: "1.2.156.10197.1.301",
  sm3: "1.2.156.10197.1.401",
  sm3WithSm2: "1.2.156.10197.1.501",
  ecPublicKey: "1.2.840.10045.2.1",
} as const;

/** The default signer ID (GB/T 35276-2017 §5.3). */
export const SM2_DEFAULT_ID = "1234567812345678";

/** The order n of the SM2 recommended curve (GB/T 32918.5-2017 §3). */
export const SM2_N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;

// ------------------------------------------------------------------------------------------------ SM3

/** SM3 (GB/T 32905) of the bytes, or of the parts concatenated. */
export function sm3(data: Uint8Array | string | readonly Uint8Array[]): Buffer {
  if (Array.isArray(data)) return hash("sm3", Buffer.concat(data as readonly Uint8Array[]), "buffer");
  return hash("sm3", data as Uint8Array | string, "buffer");
}

// ------------------------------------------------------------------------------------------------ keys

export interface Sm2PrivateKey {
  /** The private scalar d, 32 bytes big-endian. */
  readonly d: Uint8Array;
  /** The public point, uncompressed: 04‖x‖y (65 bytes). */
  readonly publicKey: Uint8Array;
}

const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
const fromHex = (h: string): Buffer => Buffer.from(h, "hex");

/** A fresh SM2 key pair (the library's generator over the platform CSPRNG). */
export function sm2GenerateKey(): Sm2PrivateKey {
  const kp = lib.generateKeyPairHex();
  return { d: fromHex(kp.privateKey.padStart(64, "0")), publicKey: fromHex(kp.publicKey) };
}

/** The key pair of a private scalar (32 bytes); throws RangeError when d is not in [1, n-2]. */
export function sm2KeyFromPrivate(d: Uint8Array): Sm2PrivateKey {
  if (d.length !== 32) throw new RangeError("an SM2 private key is 32 bytes");
  const v = BigInt("0x" + toHex(d));
  if (v < 1n || v > SM2_N - 2n) throw new RangeError("the SM2 private key is out of range");
  return { d: Buffer.from(d), publicKey: fromHex(lib.getPublicKeyFromPrivateKey(toHex(d))) };
}

/** True when the bytes are an uncompressed point on the SM2 curve. */
export function sm2IsPublicKey(p: Uint8Array): boolean {
  if (p.length !== 65 || p[0] !== 0x04) return false;
  try {
    return lib.verifyPublicKey(toHex(p));
  } catch {
    return false;
  }
}

/** SubjectPublicKeyInfo DER: id-ecPublicKey with the sm2p256v1 curve, as OpenSSL 3 and GM/T 0015 write it. */
export function sm2SpkiDer(publicKey: Uint8Array): Buffer {
  return seq(algId(SM2_OID.ecPublicKey, oid(SM2_OID.sm2)), tlv(0x03, [Buffer.from([0]), publicKey]));
}

/** PKCS#8 PrivateKeyInfo DER holding an RFC 5915 ECPrivateKey with the public key (OpenSSL's layout). */
export function sm2Pkcs8Der(key: Sm2PrivateKey): Buffer {
  const ecPrivateKey = seq(integer(1), octets(key.d), explicit(1, tlv(0x03, [Buffer.from([0]), key.publicKey])));
  return seq(integer(0), algId(SM2_OID.ecPublicKey, oid(SM2_OID.sm2)), octets(ecPrivateKey));
}

function isSm2Alg(node: ReturnType<typeof readNode>): boolean {
  const parts = children(expectTag(node, 0x30, "AlgorithmIdentifier"));
  if (parts.length !== 2) return false;
  const alg = contentOf(parts[0]!).toString("hex");
  const curve = contentOf(parts[1]!).toString("hex");
  return alg === contentOf(readNode(oid(SM2_OID.ecPublicKey))).toString("hex") && curve === contentOf(readNode(oid(SM2_OID.sm2))).toString("hex");
}

/** The public point of an SM2 SubjectPublicKeyInfo, or null when the DER is not an SM2 key on the curve. */
export function sm2PublicKeyFromSpki(der: Uint8Array): Uint8Array | null {
  try {
    const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
    const top = readNode(buf);
    if (top.end !== buf.length) return null;
    const [alg, bits] = children(expectTag(top, 0x30, "SubjectPublicKeyInfo"));
    if (!alg || !bits || !isSm2Alg(alg)) return null;
    const c = contentOf(expectTag(bits, 0x03, "subjectPublicKey"));
    if (c[0] !== 0) return null;
    const p = c.subarray(1);
    return sm2IsPublicKey(p) ? Buffer.from(p) : null;
  } catch (e) {
    if (e instanceof DerError) return null;
    throw e;
  }
}

/** Reads an SM2 PKCS#8 private key (unencrypted); throws RangeError when it is not one. */
export function sm2KeyFromPkcs8(der: Uint8Array): Sm2PrivateKey {
  try {
    const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
    const [version, alg, pk] = children(expectTag(readNode(buf), 0x30, "PrivateKeyInfo"));
    if (!version || !alg || !pk || !isSm2Alg(alg)) throw new RangeError("not an SM2 PKCS#8 private key");
    const inner = contentOf(expectTag(pk, 0x04, "privateKey"));
    const [, dNode] = children(expectTag(readNode(inner), 0x30, "ECPrivateKey"));
    const d = contentOf(expectTag(dNode, 0x04, "ECPrivateKey.privateKey"));
    const padded = Buffer.alloc(32);
    if (d.length > 32) throw new RangeError("the SM2 private key is too long");
    d.copy(padded, 32 - d.length);
    return sm2KeyFromPrivate(padded);
  } catch (e) {
    if (e instanceof DerError) throw new RangeError(`not an SM2 PKCS#8 private key: ${e.message}`);
    throw e;
  }
}

// ------------------------------------------------------------------------------------------------ signatures

export type Sm2SigEncoding = "der" | "raw";

/**
 * Z of GB/T 32918.2 §5.5 for a public key and signer ID, and an SM3 state that has absorbed it (so e = SM3(Z‖M) costs
 * only M's blocks: `state.copy().update(M)`). Cached: the same few keys sign and verify again and again.
 */
const zCache = new Map<string, { z: Buffer; state: Hash }>();
function zOf(publicKey: Uint8Array, id: string): { z: Buffer; state: Hash } {
  if (Buffer.byteLength(id, "utf8") > 8191) throw new RangeError("the SM2 signer ID is too long (ENTL is 16 bits)");
  const k = `${id}\u0000${toHex(publicKey)}`;
  let got = zCache.get(k);
  if (!got) {
    const z = Buffer.from(lib.getZ(toHex(publicKey), id));
    got = { z, state: createHash("sm3").update(z) };
    if (zCache.size >= 1024) zCache.delete(zCache.keys().next().value!);
    zCache.set(k, got);
  }
  return got;
}

export function sm2Z(publicKey: Uint8Array, id: string = SM2_DEFAULT_ID): Buffer {
  return zOf(publicKey, id).z;
}

/** e = SM3(Z‖M), the digest an SM2 signature signs (GB/T 32918.2 §6.1 A1–A2). */
export function sm2Digest(publicKey: Uint8Array, message: Uint8Array, id: string = SM2_DEFAULT_ID): Buffer {
  return zOf(publicKey, id).state.copy().update(message).digest();
}

function rawToDer(raw: Uint8Array): Buffer {
  return seq(integer(raw.subarray(0, 32)), integer(raw.subarray(32, 64)));
}

/** r‖s (32 bytes each) of a DER SM2-Signature; null when malformed or out of range. */
export function sm2SignatureRaw(sig: Uint8Array, encoding: Sm2SigEncoding = "der"): Buffer | null {
  let r: bigint;
  let s: bigint;
  if (encoding === "raw") {
    if (sig.length !== 64) return null;
    r = BigInt("0x" + toHex(sig.subarray(0, 32)));
    s = BigInt("0x" + toHex(sig.subarray(32)));
  } else {
    try {
      const buf = Buffer.from(sig.buffer, sig.byteOffset, sig.byteLength);
      const top = readNode(buf);
      if (top.end !== buf.length || top.tag !== 0x30) return null;
      const parts = children(top);
      if (parts.length !== 2 || parts[0]!.tag !== 0x02 || parts[1]!.tag !== 0x02) return null;
      const ri = contentOf(parts[0]!);
      const si = contentOf(parts[1]!);
      // DER: minimal, positive INTEGERs only.
      for (const i of [ri, si]) {
        if (i.length === 0 || i.length > 33 || i[0]! & 0x80 || (i.length > 1 && i[0] === 0 && (i[1]! & 0x80) === 0)) return null;
      }
      r = BigInt("0x" + ri.toString("hex"));
      s = BigInt("0x" + si.toString("hex"));
    } catch (e) {
      if (e instanceof DerError) return null;
      throw e;
    }
  }
  if (r < 1n || r >= SM2_N || s < 1n || s >= SM2_N) return null;
  return Buffer.from(r.toString(16).padStart(64, "0") + s.toString(16).padStart(64, "0"), "hex");
}

/** The library's point class and G (its window-8 table is the library's own), reached through a public function. */
const G_HEX = "0432c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0";
type LibPoint = ReturnType<typeof lib.precomputePublicKey>;
const BASE = (lib.precomputePublicKey(G_HEX, 1).constructor as unknown as { BASE: LibPoint & { multiply(k: bigint): LibPoint & { toAffine(): { x: bigint } } } }).BASE;

/**
 * A fresh (k, x1) for one signature (GB/T 32918.2 §6.1 A3–A4): k uniform in [1, n−1] from the platform CSPRNG by
 * rejection, x1 the x-coordinate of [k]G computed by the library's constant-time multiplication on its precomputed
 * table of G. The library takes it through its documented `pointPool` option; this only skips its detour through
 * a hex-encoded key pair and a re-parsed point (about a fifth of a signature's time).
 */
function freshPoint(): { k: bigint; x1: bigint } {
  for (;;) {
    const k = BigInt("0x" + randomBytes(32).toString("hex"));
    if (k >= 1n && k < SM2_N) return { k, x1: BASE.multiply(k).toAffine().x };
  }
}

/**
 * Signs the digest e with d. `pool` hands the library precomputed (k, x1 = (kG).x) pairs: only the standard's worked
 * example passes one (its k is fixed); otherwise each signature gets a fresh pair (freshPoint).
 * @internal
 */
export function sm2SignDigest(key: Sm2PrivateKey, e: Uint8Array, encoding: Sm2SigEncoding = "der", pool?: { k: bigint; x1: bigint }[]): Buffer {
  if (e.length !== 32) throw new RangeError("an SM2 digest is 32 bytes");
  const raw = fromHex(lib.doSignature(e, toHex(key.d), { der: false, hash: false, pointPool: pool ?? [freshPoint()] }));
  if (raw.length !== 64) throw new Error("SM2 signing returned a malformed signature");
  return encoding === "raw" ? raw : rawToDer(raw);
}

/** SM2 signature over the message with SM3 and Z (the full GB/T 32918.2 procedure). */
export function sm2Sign(key: Sm2PrivateKey, message: Uint8Array, opts: { id?: string; encoding?: Sm2SigEncoding } = {}): Buffer {
  return sm2SignDigest(key, sm2Digest(key.publicKey, message, opts.id), opts.encoding ?? "der");
}

/**
 * Public keys seen by verification (bounded, oldest out first). A key is checked to be on the curve once; it gets a
 * window-4 precomputed table on its second verification (the table costs about ten verifications' time, so a key
 * seen once is not worth it) and a window-8 one on its 64th (about 1.5× faster again, costs ~50 verifications and
 * ~1 MB, so kept for at most 32 keys: the CA, TSA and department keys that verify almost everything).
 */
interface Known {
  uses: number;
  table: LibPoint | null;
  wide: boolean;
}
const known = new Map<string, Known>();
let wideTables = 0;
const MAX_KNOWN = 256;
const MAX_WIDE = 32;
const WIDE_AFTER = 64;

/** The library's key argument for a public key (hex or precomputed point), or null when it is not an SM2 point. */
function keyFor(publicKey: Uint8Array): string | LibPoint | null {
  if (publicKey.length !== 65) return null;
  const hex = toHex(publicKey);
  let k = known.get(hex);
  if (!k) {
    if (!sm2IsPublicKey(publicKey)) return null;
    if (known.size >= MAX_KNOWN) {
      const [oldest, o] = known.entries().next().value!;
      if (o.wide) wideTables--;
      known.delete(oldest);
    }
    k = { uses: 0, table: null, wide: false };
    known.set(hex, k);
  }
  k.uses++;
  if (k.uses === 2) k.table = lib.precomputePublicKey(hex, 4);
  else if (k.uses === WIDE_AFTER && wideTables < MAX_WIDE) {
    k.table = lib.precomputePublicKey(hex, 8);
    k.wide = true;
    wideTables++;
  }
  return k.table ?? hex;
}

function verifyWith(point: string | LibPoint, e: Uint8Array, sig: Uint8Array, encoding: Sm2SigEncoding): boolean {
  const raw = sm2SignatureRaw(sig, encoding);
  if (!raw) return false;
  try {
    return lib.doVerifySignature(e, toHex(raw), point, { der: false, hash: false });
  } catch {
    return false;
  }
}

/** Verifies an SM2 signature over e = SM3(Z‖M); false for any malformed key, signature or mismatch. */
export function sm2VerifyDigest(publicKey: Uint8Array, e: Uint8Array, sig: Uint8Array, encoding: Sm2SigEncoding = "der"): boolean {
  if (e.length !== 32) return false;
  const point = keyFor(publicKey);
  return point !== null && verifyWith(point, e, sig, encoding);
}

export function sm2Verify(publicKey: Uint8Array, message: Uint8Array, sig: Uint8Array, opts: { id?: string; encoding?: Sm2SigEncoding } = {}): boolean {
  const point = keyFor(publicKey);
  return point !== null && verifyWith(point, sm2Digest(publicKey, message, opts.id), sig, opts.encoding ?? "der");
}

// ------------------------------------------------------------------------------------------------ SM4-GCM

/** SM4-GCM (RFC 8998 §3.1: 12-byte nonce, 16-byte tag) → ciphertext‖tag. */
export function sm4GcmEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array = new Uint8Array(0)): Buffer {
  if (key.length !== 16) throw new RangeError("an SM4 key is 16 bytes");
  if (iv.length !== 12) throw new RangeError("an SM4-GCM nonce is 12 bytes");
  const r = libSm4.encrypt(plaintext, key, { mode: "gcm", iv, associatedData: aad, output: "array", outputTag: true, padding: "none" });
  if (!r.tag || r.tag.length !== 16) throw new Error("SM4-GCM produced no tag");
  return Buffer.concat([r.output, r.tag]);
}

/** Opens ciphertext‖tag; throws Error("SM4-GCM authentication failed") when the tag does not match. */
export function sm4GcmDecrypt(key: Uint8Array, iv: Uint8Array, sealed: Uint8Array, aad: Uint8Array = new Uint8Array(0)): Buffer {
  if (key.length !== 16) throw new RangeError("an SM4 key is 16 bytes");
  if (iv.length !== 12) throw new RangeError("an SM4-GCM nonce is 12 bytes");
  if (sealed.length < 16) throw new Error("SM4-GCM authentication failed");
  const ct = sealed.subarray(0, sealed.length - 16);
  const tag = sealed.subarray(sealed.length - 16);
  let out: Uint8Array;
  try {
    out = libSm4.decrypt(ct, key, { mode: "gcm", iv, associatedData: aad, tag, output: "array", padding: "none" });
  } catch {
    throw new Error("SM4-GCM authentication failed");
  }
  return Buffer.from(out);
}

/** A fresh 12-byte nonce. */
export const sm4GcmNonce = (): Buffer => randomBytes(12);
