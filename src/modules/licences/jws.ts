/**
 * Compact JWS (RFC 7515) with ES256, built on node:crypto: the licence data, status statements, status lists and
 * use-annotated copies. Only ES256 is accepted (allow-list); a verifier needs only the x5c chain and the trust
 * anchor. Any JOSE library verifies these tokens (see test/licences/interop.test.ts with `jose`).
 */
import crypto, { type KeyObject } from "node:crypto";

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
