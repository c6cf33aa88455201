/**
 * Live QR tokens (亮证): short-lived, signed, compact enough for a phone screen.
 *
 * Wire format — only characters of the QR alphanumeric set (0-9 A-Z . and upper-case base32), so the QR code uses
 * alphanumeric mode (5.5 bits a character instead of 8):
 *
 *     token   = idSuffix "." base32(payload ‖ signature)
 *     idSuffix = the licence identifier without its fixed root "1.2.156.3005.2." (type.issuer.serial.version.check)
 *     payload = 0x01 (version) ‖ keyHint[4] ‖ iat u32 ‖ ttl u16 ‖ nonce[8]                      (19 bytes)
 *     signed  = "SIDIAN-LIVE-QR-V1\0" ‖ payload ‖ idSuffix                                   (domain separation)
 *     signature: ES256, IEEE P1363 (64 bytes)                    → about 190 characters for a typical identifier
 *
 * `keyHint` is the first 4 bytes of the signing key's RFC 7638 thumbprint (its JWKS `kid`), so an offline verifier
 * holding the published JWKS picks the key without a lookup. Verification never throws.
 */
import { createPublicKey, randomBytes, sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";
import { LICENCE_ID_ROOT, parseLicenceId } from "../../codes/index.js";

const VERSION = 0x01;
const DOMAIN = Buffer.from("SIDIAN-LIVE-QR-V1\0", "latin1");
const PAYLOAD_LEN = 1 + 4 + 4 + 2 + 8;
const BLOB_CHARS = Math.ceil(((PAYLOAD_LEN + 64) * 8) / 5);
const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

export function base32(buf: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of buf) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

export function unbase32(s: string): Buffer | null {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of s) {
    const v = B32.indexOf(ch);
    if (v < 0) return null;
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

export interface LiveTokenKey {
  /** First 4 bytes of the key's RFC 7638 thumbprint (base64url `kid` decoded). */
  hint: Buffer;
  privateKey?: KeyObject;
  publicKey: KeyObject;
  /** Signs (ES256, r‖s) where the private key is not in this process (a PKCS#11 token); see mintLiveTokenAsync. */
  sign?: (data: Uint8Array) => Promise<Uint8Array>;
}

export function keyHintFromKid(kid: string): Buffer {
  return Buffer.from(kid, "base64url").subarray(0, 4);
}

export interface LiveTokenClaims {
  /** The full licence identifier (GB/T 36904). */
  identifier: string;
  /** Issued at, seconds since the epoch. */
  iat: number;
  /** Lifetime, seconds (1..65535). */
  ttl: number;
  /** 8 random bytes, hex. */
  nonce: string;
}

function signedBytes(payload: Uint8Array, suffix: string): Buffer {
  return Buffer.concat([DOMAIN, payload, Buffer.from(suffix, "latin1")]);
}

function livePayload(key: LiveTokenKey, identifier: string, now: Date, ttlSeconds: number): { payload: Buffer; suffix: string; claims: LiveTokenClaims } {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > 65535) throw new RangeError("ttl must be 1..65535 s");
  if (!parseLicenceId(identifier).ok) throw new RangeError("not a valid licence identifier");
  const suffix = identifier.slice(LICENCE_ID_ROOT.length + 1);
  const iat = Math.floor(now.getTime() / 1000);
  const nonce = randomBytes(8);
  const payload = Buffer.alloc(PAYLOAD_LEN);
  payload[0] = VERSION;
  key.hint.copy(payload, 1, 0, 4);
  payload.writeUInt32BE(iat, 5);
  payload.writeUInt16BE(ttlSeconds, 9);
  nonce.copy(payload, 11);
  return { payload, suffix, claims: { identifier, iat, ttl: ttlSeconds, nonce: nonce.toString("hex") } };
}

/** Mints a token with the private key in this process. */
export function mintLiveToken(key: LiveTokenKey, identifier: string, now: Date, ttlSeconds: number): { token: string; claims: LiveTokenClaims } {
  if (!key.privateKey) throw new Error("live token key has no private part");
  const { payload, suffix, claims } = livePayload(key, identifier, now, ttlSeconds);
  const sig = nodeSign("sha256", signedBytes(payload, suffix), { key: key.privateKey, dsaEncoding: "ieee-p1363" });
  return { token: `${suffix}.${base32(Buffer.concat([payload, sig]))}`, claims };
}

/** Mints a token through `key.sign` (a key on a token) or, without one, with the private key in this process. */
export async function mintLiveTokenAsync(key: LiveTokenKey, identifier: string, now: Date, ttlSeconds: number): Promise<{ token: string; claims: LiveTokenClaims }> {
  if (!key.sign) return mintLiveToken(key, identifier, now, ttlSeconds);
  const { payload, suffix, claims } = livePayload(key, identifier, now, ttlSeconds);
  const sig = Buffer.from(await key.sign(signedBytes(payload, suffix)));
  if (sig.length !== 64) throw new Error("the live token key returned a signature that is not 64 bytes");
  return { token: `${suffix}.${base32(Buffer.concat([payload, sig]))}`, claims };
}

export type LiveTokenResult =
  | { status: "VALID"; claims: LiveTokenClaims; expiresAt: Date }
  | { status: "EXPIRED"; claims: LiveTokenClaims; expiresAt: Date }
  | { status: "NOT_YET_VALID"; claims: LiveTokenClaims; expiresAt: Date }
  | { status: "MALFORMED" | "UNKNOWN_KEY" | "BAD_SIGNATURE"; detail: string };

/** Checks a token against the given keys at `now` (clock skew tolerance 30 s). Never throws. */
export function verifyLiveToken(token: string, keys: readonly LiveTokenKey[], now: Date): LiveTokenResult {
  const t = token.toUpperCase();
  const dot = t.lastIndexOf(".");
  const suffix = dot > 0 ? t.slice(0, dot) : "";
  const blob = dot > 0 && t.length - dot - 1 === BLOB_CHARS ? unbase32(t.slice(dot + 1)) : null;
  if (!blob || blob.length !== PAYLOAD_LEN + 64 || suffix.length > 100) return { status: "MALFORMED", detail: "not a Sidian live QR token" };
  const identifier = `${LICENCE_ID_ROOT}.${suffix}`;
  if (!parseLicenceId(identifier).ok) return { status: "MALFORMED", detail: "the licence identifier in the token is not valid" };
  const payload = blob.subarray(0, PAYLOAD_LEN);
  if (payload[0] !== VERSION) return { status: "MALFORMED", detail: `unknown token version ${payload[0]}` };
  const key = keys.find((k) => k.hint.equals(payload.subarray(1, 5)));
  if (!key) return { status: "UNKNOWN_KEY", detail: "the token was signed by a key this verifier does not hold" };
  const ok = nodeVerify("sha256", signedBytes(payload, suffix), { key: key.publicKey, dsaEncoding: "ieee-p1363" }, blob.subarray(PAYLOAD_LEN));
  if (!ok) return { status: "BAD_SIGNATURE", detail: "the signature does not match" };
  const claims: LiveTokenClaims = { identifier, iat: payload.readUInt32BE(5), ttl: payload.readUInt16BE(9), nonce: payload.subarray(11, 19).toString("hex") };
  return liveTokenTimeStatus(claims, now);
}

/** The time part of a check, for claims whose signature was already verified. */
export function liveTokenTimeStatus(claims: LiveTokenClaims, now: Date): Extract<LiveTokenResult, { claims: LiveTokenClaims }> {
  const nowS = now.getTime() / 1000;
  const expiresAt = new Date((claims.iat + claims.ttl) * 1000);
  if (claims.iat - 30 > nowS) return { status: "NOT_YET_VALID", claims, expiresAt };
  if (claims.iat + claims.ttl < nowS) return { status: "EXPIRED", claims, expiresAt };
  return { status: "VALID", claims, expiresAt };
}

/** A verifier key from a public JWK of the published JWKS (offline mode). */
export function liveTokenKeyFromJwk(jwk: { kid: string } & Record<string, unknown>): LiveTokenKey {
  return { hint: keyHintFromKid(jwk.kid), publicKey: createPublicKey({ key: jwk as import("node:crypto").JsonWebKey, format: "jwk" }) };
}
