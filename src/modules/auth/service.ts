/**
 * OAuth 2.0 client credentials (RFC 6749 §4.4) → short-lived ES256 JWT access tokens (RFC 9068 profile), and
 * verification of both our access tokens and holder tokens from the identity provider (统一身份认证).
 *
 * Algorithm allow-list: ES256 only. `alg: none`, HS256 (with our public key as the secret) and every other
 * algorithm are refused by jose before any key is used.
 */
import { createHash, randomUUID, type KeyObject } from "node:crypto";
import { SignJWT, jwtVerify, decodeJwt, errors as joseErrors, type JWTHeaderParameters, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { checkHolderCode } from "../licences/holder.js";
import { verifySecret } from "../../crypto/password.js";
import type { PiiProtector } from "../../crypto/pii.js";
import { AppError } from "../../errors.js";
import type { Actor, Clock, Role, UnitOfWork } from "../kernel.js";
import type { DirectoryRepos } from "../directory/ports.js";
import { Lru, TtlCache } from "../../util/lru.js";

export const ACCESS_TOKEN_AUDIENCE = "sidian";
export const ALLOWED_ALGS = ["ES256"] as const;

export interface TokenSigningKey {
  kid: string;
  publicKey: KeyObject;
  /** Signs the JWS signing input (ES256, r‖s): a file key or a key on a PKCS#11 token. */
  signingKey: { sign(data: Uint8Array, encoding?: "der" | "p1363"): Promise<Uint8Array> };
}

export interface AuthDeps {
  uow: UnitOfWork<DirectoryRepos>;
  clock: Clock;
  /** `iss` of our access tokens: the public base URL. */
  issuer: string;
  tokenTtlSeconds: number;
  signingKey: TokenSigningKey;
  /** Token keys replaced by a rotation, still accepted until `until` (tokens they signed keep working). */
  previousKeys?: ReadonlyArray<{ kid: string; publicKey: KeyObject; until: Date }>;
  /** The identity provider whose tokens holders present. */
  idp: HolderIdp;
  pii: PiiProtector;
}

/** Where holder tokens come from and how to read them. */
export interface HolderIdp {
  /** Accepted `iss`, exactly. */
  issuer: string;
  /** Accepted `aud` (one of the token's audiences): the client id Sidian has at the identity provider. */
  audience: string;
  /** The provider's keys (idp-keys.ts: static, or fetched from the issuer). */
  keys: JWTVerifyGetKey;
  claims: HolderClaims;
}

/**
 * Which claims carry what Sidian needs (providers name them differently). `code` and `codeType` are claim names,
 * or dot paths into nested claims (`ext.id_number`).
 */
export interface HolderClaims {
  /** The holder's code (citizen ID, USCC, passport number…). Default `sub`. */
  code: string;
  /** Its code type (GB/T 36903: 111, 001, 414…). Default `code_type`. */
  codeType: string;
  /** The code type when the token carries none; null: the claim is required. Default `111`. */
  defaultCodeType: string | null;
  /** The provider's names for code types → Sidian's (`ID_CARD` → `111`); empty: the provider uses GB/T 36903's. */
  codeTypes: Readonly<Record<string, string>>;
}

export const DEFAULT_HOLDER_CLAIMS: HolderClaims = { code: "sub", codeType: "code_type", defaultCodeType: "111", codeTypes: {} };

/** The value at a dot path of own properties (never the prototype's). */
function claimAt(payload: JWTPayload, path: string): unknown {
  let v: unknown = payload;
  for (const part of path.split(".")) {
    if (typeof v !== "object" || v === null || Array.isArray(v) || !Object.prototype.hasOwnProperty.call(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  scope: string;
}

const b64u = (text: string) => Buffer.from(text, "utf8").toString("base64url");

// A dummy hash so a wrong client id costs the same as a wrong secret (no client enumeration by timing).
const DUMMY_HASH = "scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/**
 * Successful secret checks are remembered for a while so that a client fetching tokens often does not pay scrypt
 * every time. The key is SHA-256(client id, secret, stored hash): it changes when the secret is rotated, and holds
 * nothing that helps an attacker (the secrets are 256-bit random, so a fast hash of one cannot be brute-forced).
 */
const VERIFIED_TTL_MS = 10 * 60_000;
const VERIFIED_MAX = 10_000;
/** How long a client record (status, role, bindings) read for authentication is reused. */
export const CLIENT_CACHE_MS = 2000;
/** Clock skew allowed on exp and nbf (seconds), for both kinds of token. */
const CLOCK_TOLERANCE_S = 5;

export function createAuthService(deps: AuthDeps) {
  const { uow, clock, signingKey } = deps;
  const verified = new Lru<string, number>(VERIFIED_MAX);
  /** Access tokens whose signature and claims were verified, by their exact text (bounded, least recent out). */
  const verifiedTokens = new Lru<string, JWTPayload>(VERIFIED_MAX);
  /**
   * Holder tokens whose signature and claims were verified, by their exact text, with the provider's key that
   * verified them (a holder's page calls several routes with one token). A later use checks exp and nbf against
   * the clock again and that this key is still the provider's key for the token's header: after a rotation, or a
   * refresh of the provider's set, the token is verified in full again.
   */
  const verifiedIdpTokens = new Lru<string, { payload: JWTPayload; header: JWTHeaderParameters; key: unknown }>(VERIFIED_MAX);
  async function checkSecret(clientId: string, secret: string, stored: string): Promise<boolean> {
    const k = createHash("sha256").update(clientId).update("\0").update(secret).update("\0").update(stored).digest("base64");
    const now = clock.now().getTime();
    const until = verified.get(k);
    if (until !== undefined && until > now) return true;
    const ok = await verifySecret(secret, stored);
    if (ok) verified.set(k, now + VERIFIED_TTL_MS);
    return ok;
  }
  const ourKey: JWTVerifyGetKey = async (header) => {
    if (header.kid === signingKey.kid) return signingKey.publicKey;
    const old = deps.previousKeys?.find((k) => k.kid === header.kid && k.until > clock.now());
    if (!old) throw new AppError("TOKEN_INVALID", "Unknown token key.");
    return old.publicKey;
  };

  async function issueToken(req: { grantType: string; clientId: string; clientSecret: string; scope?: string }): Promise<TokenResponse> {
    if (req.grantType !== "client_credentials") throw new AppError("UNSUPPORTED_GRANT_TYPE");
    const client = await uow.read.clients.byId(req.clientId);
    const ok = await checkSecret(req.clientId, req.clientSecret, client?.secretHash ?? DUMMY_HASH);
    if (!client || !ok || client.status !== "active") throw new AppError("INVALID_CLIENT");
    let scopes = client.scopes;
    if (req.scope !== undefined && req.scope.trim() !== "") {
      const asked = [...new Set(req.scope.trim().split(/\s+/))];
      const extra = asked.filter((s) => !client.scopes.includes(s));
      if (extra.length) throw new AppError("INVALID_SCOPE", `Scopes not granted to this client: ${extra.join(", ")}`);
      scopes = asked;
    }
    const now = Math.floor(clock.now().getTime() / 1000);
    const claims: JWTPayload & Record<string, unknown> = {
      role: client.role,
      scope: scopes.join(" "),
      client_id: client.id,
      ...(client.departmentId ? { dept: client.departmentId } : {}),
      ...(client.matters.length ? { matters: client.matters } : {}),
    };
    // Compact JWS by hand: jose signs only with keys in this process, ours may be on a token.
    const headerB64 = b64u(JSON.stringify({ alg: "ES256", kid: signingKey.kid, typ: "at+jwt" }));
    const payloadB64 = b64u(JSON.stringify({
      ...claims, iss: deps.issuer, sub: client.id, aud: ACCESS_TOKEN_AUDIENCE, iat: now, exp: now + deps.tokenTtlSeconds, jti: randomUUID(),
    }));
    const sig = await signingKey.signingKey.sign(Buffer.from(`${headerB64}.${payloadB64}`, "ascii"), "p1363");
    const jwt = `${headerB64}.${payloadB64}.${Buffer.from(sig).toString("base64url")}`;
    return { access_token: jwt, token_type: "Bearer", expires_in: deps.tokenTtlSeconds, scope: scopes.join(" ") };
  }

  function mapJoseError(e: unknown): AppError {
    if (e instanceof AppError) return e;
    if (e instanceof joseErrors.JWTExpired) return new AppError("TOKEN_EXPIRED", undefined, { cause: e });
    return new AppError("TOKEN_INVALID", undefined, { cause: e });
  }

  /**
   * Clients by id, re-read after CLIENT_CACHE_MS. A change made through this process (DirectoryService →
   * `forgetClient`) takes effect at once; a change made by another process sharing the database within
   * CLIENT_CACHE_MS.
   */
  const clients = new TtlCache<string, Awaited<ReturnType<typeof uow.read.clients.byId>>>(VERIFIED_MAX, CLIENT_CACHE_MS, () => clock.now().getTime());

  /** The IdP token's verified claims: from `hit` while its time claims and key still hold, else jose's checks. */
  async function verifyIdpToken(token: string, hit: { payload: JWTPayload; header: JWTHeaderParameters; key: unknown } | undefined, currentDate: Date): Promise<JWTPayload> {
    if (hit) {
      const now = Math.floor(currentDate.getTime() / 1000);
      const { exp, nbf } = hit.payload;
      const timely = typeof exp === "number" && exp > now - CLOCK_TOLERANCE_S && (typeof nbf !== "number" || nbf <= now + CLOCK_TOLERANCE_S);
      if (timely) {
        const [h, p, sig] = token.split(".");
        const key = await Promise.resolve()
          .then(() => deps.idp.keys(hit.header, { protected: h, payload: p!, signature: sig! }))
          .catch(() => undefined);
        if (key === hit.key) return hit.payload;
      }
      // Expired, not yet valid, or the key changed: jose decides (and says why).
      verifiedIdpTokens.delete(token);
    }
    let used: unknown;
    try {
      const { payload, protectedHeader } = await jwtVerify(token, async (header, input) => (used = await deps.idp.keys(header, input)), {
        algorithms: [...ALLOWED_ALGS], issuer: deps.idp.issuer, audience: deps.idp.audience, currentDate, clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ["exp", "iat", ...(deps.idp.claims.code === "sub" ? ["sub"] : [])],
      });
      verifiedIdpTokens.set(token, { payload, header: protectedHeader, key: used });
      return payload;
    } catch (e) {
      throw mapJoseError(e);
    }
  }

  /** Verifies a bearer token (ours or the IdP's) and returns the actor. Throws TOKEN_INVALID / TOKEN_EXPIRED. */
  async function authenticate(token: string): Promise<Actor> {
    if (token.length > 8192) throw new AppError("TOKEN_INVALID", "The token is too long.");
    // A token whose signature was already checked is not checked again (same bytes, same result); its expiry is.
    let payload = verifiedTokens.get(token);
    const idpHit = payload ? undefined : verifiedIdpTokens.get(token);
    let iss: string | undefined;
    if (payload) iss = deps.issuer;
    else if (idpHit) iss = deps.idp.issuer;
    else {
      try {
        iss = decodeJwt(token).iss;
      } catch (e) {
        throw new AppError("TOKEN_INVALID", undefined, { cause: e });
      }
    }
    const currentDate = clock.now();
    if (iss === deps.issuer) {
      if (payload && (payload.exp ?? 0) + CLOCK_TOLERANCE_S <= currentDate.getTime() / 1000) {
        verifiedTokens.delete(token);
        throw new AppError("TOKEN_EXPIRED");
      }
      if (!payload) {
        try {
          ({ payload } = await jwtVerify(token, ourKey, {
            algorithms: [...ALLOWED_ALGS], issuer: deps.issuer, audience: ACCESS_TOKEN_AUDIENCE, typ: "at+jwt", currentDate, clockTolerance: CLOCK_TOLERANCE_S,
            requiredClaims: ["exp", "iat", "sub"],
          }));
        } catch (e) {
          throw mapJoseError(e);
        }
        verifiedTokens.set(token, payload);
      }
      const client = await clients.get(String(payload.sub), (id) => uow.read.clients.byId(id));
      if (!client || client.status !== "active") throw new AppError("TOKEN_INVALID", "The client is no longer active.");
      const scopes = String(payload.scope ?? "").split(" ").filter((s) => client.scopes.includes(s));
      return {
        kind: "client",
        clientId: client.id,
        role: client.role as Role,
        // Bindings come from the database (at most CLIENT_CACHE_MS old), not the token.
        departmentId: client.departmentId,
        matters: client.matters,
        scopes,
      };
    }
    if (iss === deps.idp.issuer) {
      const { claims } = deps.idp;
      const payload = await verifyIdpToken(token, idpHit, currentDate);
      const code = claimAt(payload, claims.code);
      if (typeof code !== "string" || code.length === 0 || code.length > 64) throw new AppError("TOKEN_INVALID", `The token does not carry the holder's code (claim ${claims.code}).`);
      const rawType = claimAt(payload, claims.codeType);
      let codeType: string;
      if (rawType === undefined) {
        if (claims.defaultCodeType === null) throw new AppError("TOKEN_INVALID", `The token does not carry the holder's code type (claim ${claims.codeType}).`);
        codeType = claims.defaultCodeType;
      } else if (typeof rawType === "string" || typeof rawType === "number") {
        const t = String(rawType);
        codeType = Object.prototype.hasOwnProperty.call(claims.codeTypes, t) ? claims.codeTypes[t]! : t;
      } else throw new AppError("TOKEN_INVALID", "Unknown holder code type.");
      // The same checks as a holder code given to the API (own code types only: "toString" is not one).
      try {
        checkHolderCode(codeType, code, currentDate);
      } catch (e) {
        throw new AppError("TOKEN_INVALID", e instanceof AppError && e.code === "HOLDER_CODE_TYPE_INVALID" ? "Unknown holder code type." : "The holder code is not valid.", { cause: e });
      }
      const at = typeof payload.auth_time === "number" ? payload.auth_time : payload.iat!;
      return { kind: "holder", subjectHash: deps.pii.lookupHash(codeType, code), codeType, scopes: ["holder"], authTime: new Date(at * 1000) };
    }
    throw new AppError("TOKEN_INVALID", "Unknown token issuer.");
  }

  return { issueToken, authenticate, forgetClient: (id: string) => void clients.delete(id) };
}

export type AuthService = ReturnType<typeof createAuthService>;

/** DEV ONLY: mints a holder token as the identity provider would (used by `sidian dev holder-token` and tests). */
export async function mintHolderToken(opts: {
  idpPrivateKey: KeyObject; kid: string; idpIssuer: string; code: string; codeType?: string; name?: string; ttlSeconds?: number; now?: Date;
}): Promise<string> {
  const now = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  return new SignJWT({ code_type: opts.codeType ?? "111", ...(opts.name ? { name: opts.name } : {}) })
    .setProtectedHeader({ alg: "ES256", kid: opts.kid, typ: "JWT" })
    .setIssuer(opts.idpIssuer)
    .setSubject(opts.code)
    .setAudience(ACCESS_TOKEN_AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.ttlSeconds ?? 900))
    .setJti(randomUUID())
    .sign(opts.idpPrivateKey);
}
