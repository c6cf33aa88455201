/**
 * Live QR tokens (亮证): short-lived, signed, compact enough for a phone screen.
 *
 * Wire format (all upper-case RFC 4648 base32 without padding, so the QR code uses alphanumeric mode):
 *
 *     payload  = 0x01 (version) ‖ keyHint[4] ‖ licenceId[16] (UUID bytes) ‖ iat u32 ‖ ttl u16 ‖ nonce[8]   (35 bytes)
 *     token    = base32(payload ‖ ES256 signature[64], IEEE P1363)                                        (159 chars)
 *     signed   = "SIDIAN-LIVE-QR-V1\0" ‖ payload                                                   (domain separation)
 *
 * `keyHint` is the first 4 bytes of the signing key's RFC 7638 thumbprint (its JWKS `kid`), so an offline verifier
 * holding the published JWKS picks the key without a lookup. Verification never throws.
 */
import { createPublicKey, randomBytes, sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";

const VERSION = 0x01;
const DOMAIN = Buffer.from("SIDIAN-LIVE-QR-V1\0", "latin1");
const PAYLOAD_LEN = 1 + 4 + 16 + 4 + 2 + 8;
const SIG_LEN = 64;
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

function uuidBytes(id: string): Buffer {
  const hex = id.replace(/-/g, "");
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new RangeError("licence id must be a UUID");
  return Buffer.from(hex, "hex");
}

function uuidString(b: Uint8Array): string {
  const h = Buffer.from(b).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export interface LiveTokenKey {
  /** First 4 bytes of the key's RFC 7638 thumbprint (base64url `kid` decoded). */
  hint: Buffer;
  privateKey?: KeyObject;
  publicKey: KeyObject;
}

export function keyHintFromKid(kid: string): Buffer {
  return Buffer.from(kid, "base64url").subarray(0, 4);
}

export interface LiveTokenClaims {
  licenceId: string;
  /** Issued at, seconds since the epoch. */
  iat: number;
  /** Lifetime, seconds (1..65535). */
  ttl: number;
  /** 8 random bytes, hex. */
  nonce: string;
}

export function mintLiveToken(key: LiveTokenKey, licenceId: string, now: Date, ttlSeconds: number): { token: string; claims: LiveTokenClaims } {
  if (!key.privateKey) throw new Error("live token key has no private part");
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > 65535) throw new RangeError("ttl must be 1..65535 s");
  const iat = Math.floor(now.getTime() / 1000);
  const nonce = randomBytes(8);
  const payload = Buffer.alloc(PAYLOAD_LEN);
  let o = 0;
  payload[o++] = VERSION;
  key.hint.copy(payload, o, 0, 4);
  o += 4;
  uuidBytes(licenceId).copy(payload, o);
  o += 16;
  payload.writeUInt32BE(iat, o);
  o += 4;
  payload.writeUInt16BE(ttlSeconds, o);
  o += 2;
  nonce.copy(payload, o);
  const sig = nodeSign("sha256", Buffer.concat([DOMAIN, payload]), { key: key.privateKey, dsaEncoding: "ieee-p1363" });
  return { token: base32(Buffer.concat([payload, sig])), claims: { licenceId, iat, ttl: ttlSeconds, nonce: nonce.toString("hex") } };
}

export type LiveTokenResult =
  | { status: "VALID"; claims: LiveTokenClaims; expiresAt: Date }
  | { status: "EXPIRED"; claims: LiveTokenClaims; expiresAt: Date }
  | { status: "NOT_YET_VALID"; claims: LiveTokenClaims; expiresAt: Date }
  | { status: "MALFORMED" | "UNKNOWN_KEY" | "BAD_SIGNATURE"; detail: string };

/** Checks a token against the given keys at `now` (clock skew tolerance 30 s). Never throws. */
export function verifyLiveToken(token: string, keys: readonly LiveTokenKey[], now: Date): LiveTokenResult {
  const raw = token.length === Math.ceil(((PAYLOAD_LEN + SIG_LEN) * 8) / 5) ? unbase32(token.toUpperCase()) : null;
  if (!raw || raw.length !== PAYLOAD_LEN + SIG_LEN) return { status: "MALFORMED", detail: "not a Sidian live QR token" };
  const payload = raw.subarray(0, PAYLOAD_LEN);
  if (payload[0] !== VERSION) return { status: "MALFORMED", detail: `unknown token version ${payload[0]}` };
  const hint = payload.subarray(1, 5);
  const key = keys.find((k) => k.hint.equals(hint));
  if (!key) return { status: "UNKNOWN_KEY", detail: "the token was signed by a key this verifier does not hold" };
  const ok = nodeVerify("sha256", Buffer.concat([DOMAIN, payload]), { key: key.publicKey, dsaEncoding: "ieee-p1363" }, raw.subarray(PAYLOAD_LEN));
  if (!ok) return { status: "BAD_SIGNATURE", detail: "the signature does not match" };
  const claims: LiveTokenClaims = {
    licenceId: uuidString(payload.subarray(5, 21)),
    iat: payload.readUInt32BE(21),
    ttl: payload.readUInt16BE(25),
    nonce: payload.subarray(27, 35).toString("hex"),
  };
  const t = now.getTime() / 1000;
  const expiresAt = new Date((claims.iat + claims.ttl) * 1000);
  if (claims.iat - 30 > t) return { status: "NOT_YET_VALID", claims, expiresAt };
  if (claims.iat + claims.ttl < t) return { status: "EXPIRED", claims, expiresAt };
  return { status: "VALID", claims, expiresAt };
}

/** A verifier key from a public JWK of the published JWKS (offline mode). */
export function liveTokenKeyFromJwk(jwk: { kid: string } & Record<string, unknown>): LiveTokenKey {
  return { hint: keyHintFromKid(jwk.kid), publicKey: createPublicKey({ key: jwk as import("node:crypto").JsonWebKey, format: "jwk" }) };
}
