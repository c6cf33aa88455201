/**
 * Personal data at rest (DESIGN rule 7): a keyed hash for lookup and AES-256-GCM for display.
 * Both keys are derived from the key-encryption key with HKDF-SHA-256 under distinct labels, so a leaked lookup
 * hash tells nothing about the ciphertext key and vice versa.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomFillSync } from "node:crypto";
import { hmacSha256 } from "./hash.js";

/**
 * GCM nonces are drawn from a pool of CSPRNG bytes refilled 4 KiB at a time (one random-fill call per 341
 * nonces instead of one per nonce); each 12-byte slice is used once. Per thread: a worker has its own pool.
 */
const IV_POOL = Buffer.alloc(12 * 341);
let ivNext = IV_POOL.length;
export function freshIv(): Buffer {
  if (ivNext === IV_POOL.length) {
    randomFillSync(IV_POOL);
    ivNext = 0;
  }
  const iv = IV_POOL.subarray(ivNext, ivNext + 12);
  ivNext += 12;
  return iv;
}

export interface PiiProtector {
  /** Deterministic keyed hash (hex) of a holder code, namespaced by its code type. */
  lookupHash(codeType: string, code: string): string;
  /** AES-256-GCM: base64url(iv12 ‖ ciphertext ‖ tag16). `aad` binds the ciphertext to its row/field. */
  encrypt(plain: string, aad: string): string;
  decrypt(sealed: string, aad: string): string;
  /** AES-256-GCM of bytes (stored documents): iv12 ‖ ciphertext ‖ tag16. */
  sealBytes(plain: Uint8Array, aad: string): Buffer;
  /** Opens what sealBytes made; throws when the bytes were altered or the `aad` differs. */
  openBytes(sealed: Uint8Array, aad: string): Buffer;
  /** The AES-256-GCM key, for encrypting on a worker thread of this process (bulk issuance): same format as `encrypt`. */
  readonly aeadKey: Uint8Array;
}

export function derivePiiProtector(kek: Uint8Array): PiiProtector {
  if (kek.length !== 32) throw new RangeError("the key-encryption key must be 32 bytes");
  const macKey = Buffer.from(hkdfSync("sha256", kek, Buffer.alloc(0), "sidian/pii/lookup/v1", 32));
  const encKey = Buffer.from(hkdfSync("sha256", kek, Buffer.alloc(0), "sidian/pii/encrypt/v1", 32));
  const lookup = hmacSha256(macKey);
  /** iv12 ‖ ciphertext ‖ tag16; `aad` binds it to its row or field. */
  function sealBytes(plain: Uint8Array, aad: string): Buffer {
    // A view into the pool: used (and copied into the output) before this call returns.
    const iv = freshIv();
    const c = createCipheriv("aes-256-gcm", encKey, iv);
    c.setAAD(Buffer.from(aad));
    const body = c.update(plain);
    const last = c.final();
    return Buffer.concat([iv, body, last, c.getAuthTag()]);
  }
  function openBytes(sealed: Uint8Array, aad: string): Buffer {
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    if (buf.length < 28) throw new Error("ciphertext too short");
    const d = createDecipheriv("aes-256-gcm", encKey, buf.subarray(0, 12));
    d.setAAD(Buffer.from(aad));
    d.setAuthTag(buf.subarray(buf.length - 16));
    return Buffer.concat([d.update(buf.subarray(12, buf.length - 16)), d.final()]);
  }
  const protector: Omit<PiiProtector, "aeadKey"> = {
    lookupHash(codeType, code) {
      return lookup(`${codeType}:${code}`, "hex");
    },
    encrypt(plain, aad) {
      return sealBytes(Buffer.from(plain, "utf8"), aad).toString("base64url");
    },
    decrypt(sealed, aad) {
      return openBytes(Buffer.from(sealed, "base64url"), aad).toString("utf8");
    },
    sealBytes,
    openBytes,
  };
  // Not enumerable: the key never shows up when the protector is logged or serialised.
  return Object.defineProperty(protector, "aeadKey", { value: new Uint8Array(encKey), enumerable: false }) as PiiProtector;
}
