/**
 * Verification, the presented JWS's own facts (format and signature checks of verify.ts): its parse, its format
 * problem, the key of x5c[0], whether the ES256 signature verifies with that key, and its SHA-256. They are pure
 * functions of the JWS's bytes; certificates (keys, x5c arrays) are few and remembered, and so are the facts of a
 * JWS seen before when `remember` is on.
 */
import crypto, { type KeyObject } from "node:crypto";
import { parseLicenceId } from "../../codes/index.js";
import { sha256Hex } from "../../crypto/hash.js";
import { Lru } from "../../util/lru.js";
import { isJwsAlg, parseCompact, sm2PointOf, verifyJwsSignature, type ParsedJws } from "./jws.js";
import type { LicencePayload } from "./model.js";
import { TYP_LICENCE } from "./signing.js";

export interface JwsFacts {
  /** The parsed header's x5c and payload (the rest of the parse is not kept). */
  parsed: { x5c: string[]; payload: unknown } | null;
  /** The format problem, or null when it is a well-formed licence JWS. */
  problem: string | null;
  /** null: x5c[0] is not a certificate. */
  key: KeyObject | null;
  /** The header's algorithm (allow-listed: ES256 or GmSM2), for the check's detail. */
  alg: string;
  sigOk: boolean;
  sha256: string;
}

/** The longest JWS whose facts and verdicts are remembered (the route accepts up to 64,000 characters). */
export const MAX_REMEMBERED = 16_384;

function formatProblem(p: ParsedJws): string | null {
  const h = p.header;
  const payload = p.payload as Partial<LicencePayload> | null;
  return !isJwsAlg(h.alg) ? `algorithm ${String(h.alg)} is not allowed (ES256 or GmSM2 only)`
    : h.typ !== TYP_LICENCE ? `not a licence (typ ${String(h.typ)})`
    : !Array.isArray(h.x5c) || h.x5c.length < 1 || h.x5c.length > 4 || !h.x5c.every((c) => typeof c === "string") ? "the x5c certificate chain is missing"
    : !payload || typeof payload !== "object" || typeof payload.id !== "string" ? "the payload has no licence identifier"
    : !parseLicenceId(payload.id).ok ? "the licence identifier in the payload is not valid (GB/T 36904 check)"
    : null;
}

export function createJwsFacts(opts: { remember: boolean }) {
  const keys = new Lru<string, { key: KeyObject; sm2: Uint8Array | null } | null>(1000);
  /** x5c arrays by protected header (one per signing certificate), so facts share them (and the chain cache's keys). */
  const x5cs = new Lru<string, string[]>(1000);
  /**
   * What depends only on the exact bytes of a presented JWS. Same string, same answer — so a JWS seen before skips
   * the signature verification; everything that can change (record, status, validity, chain revocation, log) is
   * still checked on every call.
   */
  const statics = new Lru<string, JwsFacts>(10_000);
  /** The same facts by the JWS's SHA-256 (a stored licence names its JWS by hash). */
  const byHash = new Lru<string, JwsFacts>(10_000);

  function keyOf(x5c0: string): { key: KeyObject; sm2: Uint8Array | null } | null {
    let k = keys.get(x5c0);
    if (k === undefined) {
      try {
        const key = new crypto.X509Certificate(Buffer.from(x5c0, "base64")).publicKey;
        k = { key, sm2: sm2PointOf(key) };
      } catch {
        k = null;
      }
      keys.set(x5c0, k);
    }
    return k;
  }

  /** Parse, format check, signature and hash of a JWS. */
  function factsOf(jws: string): JwsFacts {
    let f = opts.remember ? statics.get(jws) : undefined;
    if (f) return f;
    const parsed = parseCompact(jws);
    if (typeof parsed === "string") f = { parsed: null, problem: parsed, key: null, alg: "", sigOk: false, sha256: "" };
    else {
      const problem = formatProblem(parsed);
      const raw = parsed.header.x5c;
      let x5c: string[] = Array.isArray(raw) && raw.every((c) => typeof c === "string") ? raw : [];
      if (x5c.length > 0) {
        const shared = x5cs.get(parsed.headerB64);
        if (shared) x5c = shared;
        else x5cs.set(parsed.headerB64, x5c);
      }
      const k = x5c.length > 0 ? keyOf(x5c[0]!) : null;
      const alg = String(parsed.header.alg);
      const sigOk = k !== null && verifyJwsSignature(parsed.header.alg, k.key, k.sm2, parsed.signingInput, parsed.signature);
      f = { parsed: { x5c, payload: parsed.payload }, problem, key: k?.key ?? null, alg, sigOk, sha256: sha256Hex(jws) };
    }
    // Only JWSs of a plausible size are remembered (the route allows up to 64,000 characters).
    if (opts.remember && jws.length <= MAX_REMEMBERED) {
      statics.set(jws, f);
      if (f.parsed) byHash.set(f.sha256, f);
    }
    return f;
  }

  /** The facts of a JWS seen before, by its SHA-256 (a licence on record names its JWS by hash). */
  const known = (sha256: string): JwsFacts | undefined => (opts.remember ? byHash.get(sha256) : undefined);

  return { factsOf, known };
}
