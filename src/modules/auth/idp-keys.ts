/**
 * The identity provider's signing keys, for verifying holder tokens.
 *
 * Two sources:
 *   - static: a JWKS given at start (the keys folder's idp-jwks.json; the dev IdP of `sidian dev holder-token`);
 *   - OpenID Connect: the JWKS of the configured issuer (SIDIAN_IDP_ISSUER), whose `jwks_uri` is read from the
 *     issuer's own discovery document (`<issuer>/.well-known/openid-configuration`, whose `issuer` must be exactly
 *     the configured one, OIDC Discovery §4.3) or configured directly. Nothing is ever fetched from a URL found in a
 *     token (DESIGN rule 6): `jku`, `x5u` and friends in a token header are ignored.
 *
 * Caching: keys are kept in memory. A token whose `kid` is not known makes the set be fetched again, at most once a
 * minute (`minRefreshGapMs`); the set is also fetched again in the background when it is older than `maxAgeMs` (10
 * minutes) and a token needs it. When the identity provider is down, the keys already fetched keep verifying tokens
 * (however old they are); only a token with an unknown `kid` then fails, with IDP_UNAVAILABLE (503) if the fetch
 * failed, TOKEN_INVALID (401) if it worked and the key is not there.
 *
 * Algorithm allow-list: only keys for the allowed algorithms (ES256; SM2 may be added) are used. A key is taken when
 * its `alg` is allowed, or when it has no `alg` and its type fits an allowed algorithm (EC P-256 → ES256); keys for
 * anything else (RS256, HS256, …), keys whose `use` is not `sig`, and keys whose `key_ops` lack `verify` are left
 * out. A JWKS with no usable key, or with private or secret key material in it, is refused as a whole: the keys
 * fetched before stay. Fetches follow no redirects, time out (5 s) and read at most 256 KiB; discovery and JWKS
 * URLs must be https, except on a loopback address when `allowHttp` (development and test modes).
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import type { JWK, JWSHeaderParameters } from "jose";
import { AppError } from "../../errors.js";
import type { Clock, Logger } from "../kernel.js";

export type IdpAlg = "ES256";
export const IDP_ALGS: readonly IdpAlg[] = ["ES256"];

export interface IdpKeyStatus {
  readonly source: "static" | "oidc";
  readonly issuer: string;
  readonly jwksUri: string | null;
  readonly keys: number;
  readonly fetchedAt: Date | null;
  readonly lastError: string | null;
  readonly fetches: number;
  readonly failures: number;
}

export interface IdpKeys {
  /** For jose's jwtVerify: the key for this header (refreshing the set when the kid is unknown). */
  getKey(header: JWSHeaderParameters): Promise<KeyObject>;
  /** Fetch the set now (start-up warm-up; tests). Never throws: failures are in status(). */
  refresh(): Promise<void>;
  status(): IdpKeyStatus;
  /** The public keys in use, as JWKs (logged as key.registered at start). */
  jwks(): JWK[];
}

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k", "oth"];

interface Usable {
  readonly kid: string | undefined;
  readonly alg: IdpAlg;
  readonly key: KeyObject;
  readonly jwk: JWK;
}

/** Picks the usable keys of a JWKS. Throws Error (not AppError) with the reason when the whole set is refused. */
export function usableKeys(body: unknown, allowed: readonly IdpAlg[]): { keys: Usable[]; skipped: string[] } {
  if (typeof body !== "object" || body === null || !Array.isArray((body as { keys?: unknown }).keys)) throw new Error('not a JWKS (no "keys" array)');
  const all = (body as { keys: unknown[] }).keys;
  if (all.length > 100) throw new Error(`a JWKS of ${all.length} keys (at most 100)`);
  const keys: Usable[] = [];
  const skipped: string[] = [];
  for (const raw of all) {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error("a key that is not a JSON object");
    const k = raw as Record<string, unknown>;
    const name = typeof k.kid === "string" ? k.kid : "(no kid)";
    if (PRIVATE_MEMBERS.some((m) => m in k)) throw new Error(`key ${name} holds private or secret key material`);
    if (k.use !== undefined && k.use !== "sig") {
      skipped.push(`${name}: use ${String(k.use)}`);
      continue;
    }
    if (k.key_ops !== undefined && !(Array.isArray(k.key_ops) && k.key_ops.includes("verify"))) {
      skipped.push(`${name}: key_ops without verify`);
      continue;
    }
    const fits = (a: IdpAlg) => a === "ES256" && k.kty === "EC" && k.crv === "P-256";
    let alg: IdpAlg | undefined;
    if (typeof k.alg === "string") {
      alg = (allowed as readonly string[]).includes(k.alg) ? (k.alg as IdpAlg) : undefined;
      if (!alg) {
        skipped.push(`${name}: alg ${k.alg} is not allowed`);
        continue;
      }
      if (!fits(alg)) {
        skipped.push(`${name}: a ${String(k.kty)} key cannot be ${alg}`);
        continue;
      }
    } else {
      alg = allowed.find(fits);
      if (!alg) {
        skipped.push(`${name}: a ${String(k.kty)}${k.crv ? ` ${String(k.crv)}` : ""} key fits no allowed algorithm`);
        continue;
      }
    }
    let key: KeyObject;
    try {
      key = createPublicKey({ key: k as unknown as import("node:crypto").JsonWebKey, format: "jwk" });
    } catch (e) {
      skipped.push(`${name}: not a valid key (${(e as Error).message})`);
      continue;
    }
    const jwk: JWK = { kty: "EC", crv: "P-256", x: String(k.x), y: String(k.y), alg, ...(typeof k.kid === "string" ? { kid: k.kid } : {}) };
    keys.push({ kid: typeof k.kid === "string" ? k.kid : undefined, alg, key, jwk });
  }
  if (keys.length === 0) throw new Error(`no key for an allowed algorithm (${allowed.join(", ")})${skipped.length ? `; left out: ${skipped.join("; ")}` : ""}`);
  return { keys, skipped };
}

function pick(keys: readonly Usable[], header: JWSHeaderParameters): Usable | undefined {
  const alg = header.alg;
  if (header.kid === undefined) {
    // No kid: only unambiguous when one key can take this algorithm (as jose's local JWKS does).
    const c = keys.filter((k) => k.alg === alg);
    return c.length === 1 ? c[0] : undefined;
  }
  return keys.find((k) => k.kid === header.kid && k.alg === alg);
}

/** The dev identity provider (or any fixed set of keys). */
export function createStaticIdpKeys(issuer: string, jwks: { keys: readonly JWK[] }, allowed: readonly IdpAlg[] = IDP_ALGS): IdpKeys {
  let keys: Usable[] = [];
  let error: string | null = null;
  try {
    keys = usableKeys({ keys: jwks.keys }, allowed).keys;
  } catch (e) {
    error = (e as Error).message; // an empty set (production material before an IdP is configured) verifies nothing
  }
  return {
    async getKey(header) {
      const k = pick(keys, header);
      if (!k) throw new AppError("TOKEN_INVALID", "Unknown identity-provider key.");
      return k.key;
    },
    async refresh() {},
    status: () => ({ source: "static", issuer, jwksUri: null, keys: keys.length, fetchedAt: null, lastError: error, fetches: 0, failures: 0 }),
    jwks: () => keys.map((k) => k.jwk),
  };
}

export interface OidcIdpOptions {
  readonly issuer: string;
  /** The JWKS URL, when configured directly (no discovery). */
  readonly jwksUri?: string;
  readonly fetch: typeof fetch;
  readonly clock: Clock;
  readonly log: Logger;
  readonly allowed?: readonly IdpAlg[];
  /** Allow http:// on loopback addresses (development, tests). */
  readonly allowHttp?: boolean;
  readonly minRefreshGapMs?: number;
  readonly maxAgeMs?: number;
  readonly timeoutMs?: number;
}

const MAX_BYTES = 256 * 1024;

export function checkIdpUrl(url: string, allowHttp: boolean): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `${url} is not a URL`;
  }
  if (u.protocol === "https:") return null;
  const loopback = u.hostname === "localhost" || u.hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(u.hostname);
  if (u.protocol === "http:" && allowHttp && loopback) return null;
  return `${url} must be https${allowHttp ? " (http only on a loopback address)" : ""}`;
}

export function createOidcIdpKeys(opts: OidcIdpOptions): IdpKeys {
  const allowed = opts.allowed ?? IDP_ALGS;
  const gap = opts.minRefreshGapMs ?? 60_000;
  const maxAge = opts.maxAgeMs ?? 600_000;
  const timeout = opts.timeoutMs ?? 5000;
  const issuer = opts.issuer;
  let jwksUri: string | null = opts.jwksUri ?? null;
  let discoveredAt = 0;
  let keys: Usable[] = [];
  let fetchedAt: number | null = null;
  let lastAttempt = -Infinity;
  let lastError: string | null = null;
  let fetches = 0;
  let failures = 0;
  let inflight: Promise<boolean> | null = null;

  /**
   * A GET of discovery or the JWKS, tried once more when the connection was reset before an answer came (a kept-alive
   * socket the provider had just closed: the request never reached it, and a GET is safe to repeat).
   */
  async function getJson(url: string, what: string): Promise<unknown> {
    try {
      return await getJsonOnce(url, what);
    } catch (e) {
      if (!/cannot be reached \((ECONNRESET|EPIPE|UND_ERR_SOCKET|UND_ERR_CLOSED)\)$/.test((e as Error).message)) throw e;
      return getJsonOnce(url, what);
    }
  }

  async function getJsonOnce(url: string, what: string): Promise<unknown> {
    const bad = checkIdpUrl(url, Boolean(opts.allowHttp));
    if (bad) throw new Error(`${what}: ${bad}`);
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), timeout);
    try {
      const res = await opts.fetch(url, { redirect: "error", signal: ctl.signal, headers: { accept: "application/json" } });
      if (res.status !== 200) throw new Error(`${what}: HTTP ${res.status} from ${url}`);
      const len = Number(res.headers.get("content-length") ?? 0);
      if (len > MAX_BYTES) throw new Error(`${what}: ${len} bytes from ${url} (at most ${MAX_BYTES})`);
      const reader = res.body?.getReader();
      if (!reader) throw new Error(`${what}: empty answer from ${url}`);
      const chunks: Uint8Array[] = [];
      let total = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.length;
        if (total > MAX_BYTES) {
          await reader.cancel();
          throw new Error(`${what}: more than ${MAX_BYTES} bytes from ${url}`);
        }
        chunks.push(value);
      }
      try {
        return JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        throw new Error(`${what}: ${url} did not answer JSON`);
      }
    } catch (e) {
      if ((e as Error).name === "AbortError") throw new Error(`${what}: ${url} did not answer within ${timeout} ms`);
      if ((e as Error).message.startsWith(`${what}:`)) throw e;
      throw new Error(`${what}: ${url} cannot be reached (${(e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message})`);
    } finally {
      clearTimeout(timer);
    }
  }

  async function discover(): Promise<string> {
    const url = `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
    const doc = await getJson(url, "discovery");
    if (typeof doc !== "object" || doc === null) throw new Error("discovery: not a JSON object");
    const d = doc as { issuer?: unknown; jwks_uri?: unknown; id_token_signing_alg_values_supported?: unknown };
    if (d.issuer !== issuer) throw new Error(`discovery: the document names issuer ${JSON.stringify(d.issuer)}, not the configured ${JSON.stringify(issuer)}`);
    if (typeof d.jwks_uri !== "string") throw new Error("discovery: no jwks_uri");
    const bad = checkIdpUrl(d.jwks_uri, Boolean(opts.allowHttp));
    if (bad) throw new Error(`discovery: jwks_uri ${bad}`);
    const algs = Array.isArray(d.id_token_signing_alg_values_supported) ? d.id_token_signing_alg_values_supported : [];
    if (algs.length && !algs.some((a) => (allowed as readonly unknown[]).includes(a))) {
      opts.log.warn({ issuer, algs }, "the identity provider signs ID tokens with no algorithm Sidian allows; its tokens will be refused");
    }
    return d.jwks_uri;
  }

  /** One fetch of the set (discovering first when needed). Resolves true when the set was taken. */
  function refreshOnce(): Promise<boolean> {
    inflight ??= (async () => {
      lastAttempt = opts.clock.now().getTime();
      fetches++;
      try {
        const now = lastAttempt;
        if (!opts.jwksUri && (!jwksUri || now - discoveredAt > 24 * 3600_000)) {
          jwksUri = await discover();
          discoveredAt = now;
        }
        const { keys: fresh, skipped } = usableKeys(await getJson(jwksUri!, "JWKS"), allowed);
        if (skipped.length) opts.log.warn({ issuer, skipped }, "identity-provider keys left out (algorithm, use or type not allowed)");
        keys = fresh;
        fetchedAt = now;
        lastError = null;
        return true;
      } catch (e) {
        failures++;
        lastError = (e as Error).message;
        // A JWKS URL that stopped working may have moved: discover again next time.
        if (!opts.jwksUri) discoveredAt = 0;
        opts.log.warn({ issuer, err: lastError, cachedKeys: keys.length }, "identity-provider keys could not be refreshed; the cached keys stay in use");
        return false;
      }
    })().finally(() => {
      inflight = null;
    });
    return inflight;
  }

  return {
    async getKey(header) {
      const now = opts.clock.now().getTime();
      let k = pick(keys, header);
      if (k) {
        // Old set: fetch again in the background (a rotation is seen before its first unknown kid).
        if (fetchedAt !== null && now - fetchedAt > maxAge && now - lastAttempt > gap) void refreshOnce();
        return k.key;
      }
      if (now - lastAttempt < gap) {
        if (inflight) {
          await inflight;
          k = pick(keys, header);
          if (k) return k.key;
        }
        throw new AppError("TOKEN_INVALID", "Unknown identity-provider key.");
      }
      const ok = await refreshOnce();
      k = pick(keys, header);
      if (k) return k.key;
      if (!ok) throw new AppError("IDP_UNAVAILABLE", undefined, { cause: new Error(lastError ?? "refresh failed") });
      throw new AppError("TOKEN_INVALID", "Unknown identity-provider key.");
    },
    async refresh() {
      await refreshOnce();
    },
    status: () => ({
      source: "oidc", issuer, jwksUri, keys: keys.length, fetchedAt: fetchedAt === null ? null : new Date(fetchedAt), lastError, fetches, failures,
    }),
    jwks: () => keys.map((k) => k.jwk),
  };
}
