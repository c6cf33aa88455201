/**
 * Compact JWS (RFC 7515): the licence data, status statements, status lists and use-annotated copies. A verifier
 * needs only the x5c chain and the trust anchor of the chain's crypto profile.
 *
 * Algorithms (an allow-list, DESIGN rules 6 and 11: the verifier takes the algorithm from the header, checks it is
 * listed and fits the key of x5c[0], and never lets the caller choose):
 * - `ES256` (RFC 7518): ECDSA P-256 / SHA-256, r‖s. Any JOSE library verifies these (test/licences/interop.test.ts).
 * - `GmSM2`: the national profile. JOSE registers no SM2 algorithm; `GmSM2` is the name Chinese JWT libraries use
 *   for it (deatil/go-jwt-gm and lakego-jwt, on go-cryptobin's SM2): SM2 signature (GB/T 32918.2) of the JWS
 *   signing input `header.payload` with e = SM3(Z‖input), Z over the default signer ID 1234567812345678
 *   (GB/T 35276), and the JWS Signature is r‖s, 32 bytes each (64 bytes, as ES256). x5c[0] must be an SM2
 *   certificate; `openssl pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:1234567812345678` checks it over the
 *   signing input with the signature re-encoded as DER SM2-Signature.
 */
import crypto, { type KeyObject } from "node:crypto";
import { sm2PublicKeyFromSpki, sm2Verify } from "../../crypto/sm2.js";

export const b64u = (b: Uint8Array | string): string => Buffer.from(b).toString("base64url");

export interface JwsHeader {
  alg: string;
  typ?: string;
  kid?: string;
  x5c?: string[];
  [k: string]: unknown;
}

export interface ParsedJws {
  header: JwsHeader;
  headerB64: string;
  payloadB64: string;
  payload: unknown;
  signature: Buffer;
  /** `header.payload`, the bytes that were signed. */
  signingInput: string;
}

const B64U_RE = /^[A-Za-z0-9_-]*$/;

/** Parses a compact JWS. Returns a reason string instead of throwing. */
export function parseCompact(jws: string): ParsedJws | string {
  if (typeof jws !== "string" || jws.length > 64_000) return "not a compact JWS (too long or not text)";
  const parts = jws.split(".");
  if (parts.length !== 3) return "a compact JWS has three parts";
  const [h, p, s] = parts as [string, string, string];
  if (!B64U_RE.test(h) || !B64U_RE.test(p) || !B64U_RE.test(s)) return "the JWS parts must be base64url";
  let header: JwsHeader;
  let payload: unknown;
  try {
    header = JSON.parse(Buffer.from(h, "base64url").toString("utf8")) as JwsHeader;
    payload = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
  } catch {
    return "the JWS header or payload is not JSON";
  }
  if (!header || typeof header !== "object" || Array.isArray(header)) return "the JWS header is not an object";
  if ((header as { crit?: unknown }).crit !== undefined) return "critical header parameters are not supported";
  return { header, headerB64: h, payloadB64: p, payload, signature: Buffer.from(s, "base64url"), signingInput: `${h}.${p}` };
}

/** The JWS algorithms Sidian signs and accepts, by crypto profile. */
export const JWS_ALG = { p256: "ES256", sm2: "GmSM2" } as const;
export type JwsAlg = (typeof JWS_ALG)[keyof typeof JWS_ALG];
export const isJwsAlg = (a: unknown): a is JwsAlg => a === JWS_ALG.p256 || a === JWS_ALG.sm2;

/** The SM2 point of a public KeyObject, or null when it is not an SM2 key. */
export function sm2PointOf(key: KeyObject): Uint8Array | null {
  try {
    return sm2PublicKeyFromSpki(key.export({ type: "spki", format: "der" }));
  } catch {
    return null;
  }
}

/**
 * Verifies a JWS signature by its header's `alg` against the allow-list, with the key of x5c[0]: ES256 needs a
 * P-256 key, GmSM2 an SM2 key (`sm2Point`, from sm2PointOf); any mismatch or malformed input is false. Never throws.
 */
export function verifyJwsSignature(alg: unknown, key: KeyObject, sm2Point: Uint8Array | null, signingInput: string, signature: Uint8Array): boolean {
  if (alg === JWS_ALG.p256) return sm2Point === null && key.asymmetricKeyDetails?.namedCurve === "prime256v1" && verifyEs256(key, signingInput, signature);
  if (alg === JWS_ALG.sm2) return sm2Point !== null && signature.length === 64 && sm2Verify(sm2Point, Buffer.from(signingInput, "ascii"), signature, { encoding: "raw" });
  return false;
}

/** ES256 verification (P1363 r‖s signature, 64 bytes). */
export function verifyEs256(key: KeyObject, signingInput: string, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  try {
    return crypto.verify("sha256", Buffer.from(signingInput, "ascii"), { key, dsaEncoding: "ieee-p1363" }, signature);
  } catch {
    return false;
  }
}

export function encodeHeader(h: JwsHeader): string {
  return b64u(JSON.stringify(h));
}
