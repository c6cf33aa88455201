/**
 * A real OpenID Connect provider for the tests: panva's `oidc-provider` on 127.0.0.1, port chosen by the system.
 * Holders log in through its own (development) login and consent pages in the authorization code flow with PKCE,
 * and the test gets the ID token the provider signs. Not a mock of ours: discovery, the JWKS, the token endpoint
 * and the token format are the provider's.
 *
 * `setDown(true)` makes it drop every connection (an identity provider that is down); `rotate()` restarts it with
 * new signing keys at the same issuer; `hits(path)` counts requests (to see how often Sidian fetches the JWKS).
 */
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { JWK } from "jose";
import Provider from "oidc-provider";

export interface TestIdp {
  readonly issuer: string;
  readonly clientId: string;
  /** The provider's current signing keys (private JWKs, with kid and alg). */
  keys: JWK[];
  /** Logs `accountId` in through the provider's pages (code flow + PKCE) and returns the ID token. */
  login(accountId: string): Promise<string>;
  hits(path: string): number;
  setDown(down: boolean): void;
  /** New signing keys at the same issuer (the provider restarts with them; its sessions are gone). */
  rotate(keys?: JWK[]): Promise<void>;
  close(): Promise<void>;
}

export function ecJwk(kid = randomBytes(6).toString("hex")): JWK {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { ...(privateKey.export({ format: "jwk" }) as JWK), kid, alg: "ES256", use: "sig" };
}

export function rsaJwk(kid = randomBytes(6).toString("hex")): JWK {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { ...(privateKey.export({ format: "jwk" }) as JWK), kid, alg: "RS256", use: "sig" };
}

export interface StartIdpOptions {
  /** Claims of each account beyond `sub` (the account id). */
  accounts: Record<string, Record<string, unknown>>;
  keys?: JWK[];
  /** ID-token signing algorithm for Sidian's client (default ES256). */
  alg?: string;
  clientId?: string;
}

export async function startIdp(t: { teardown(fn: () => Promise<void> | void): void }, opts: StartIdpOptions): Promise<TestIdp> {
  const clientId = opts.clientId ?? "sidian-holders";
  const clientSecret = randomBytes(24).toString("hex");
  const redirectUri = "https://holder-app.example/callback";
  const counts = new Map<string, number>();
  let down = false;
  let handler: http.RequestListener = (_req, res) => void res.end();
  const server = http.createServer((req, res) => {
    if (down) {
      req.socket.destroy();
      return;
    }
    const p = new URL(req.url ?? "/", "http://x").pathname;
    counts.set(p, (counts.get(p) ?? 0) + 1);
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const make = (keys: JWK[]) => {
    const provider = new Provider(issuer, {
      clients: [{
        client_id: clientId, client_secret: clientSecret, redirect_uris: [redirectUri],
        grant_types: ["authorization_code"], response_types: ["code"],
        id_token_signed_response_alg: opts.alg ?? "ES256", token_endpoint_auth_method: "client_secret_post",
      }],
      jwks: { keys: keys as never },
      findAccount: async (_ctx: unknown, id: string) => ({ accountId: id, claims: async () => ({ sub: id, ...(opts.accounts[id] ?? {}) }) }),
      claims: { openid: ["sub"], sidian: ["id_number", "id_type", "code_type", "name"] },
      conformIdTokenClaims: false,
      features: { devInteractions: { enabled: true } },
      cookies: { keys: [randomBytes(16).toString("hex")] },
      enabledJWA: { idTokenSigningAlgValues: ["ES256", "RS256"] },
      ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 3600, AuthorizationCode: 60 },
    } as never);
    return provider.callback();
  };
  const idp: TestIdp = {
    issuer, clientId, keys: opts.keys ?? [ecJwk()],
    async login(accountId) {
      const jar = new Map<string, string>();
      const req = async (url: string, init: RequestInit = {}) => {
        const res = await fetch(url, { ...init, redirect: "manual", headers: { ...(init.headers as Record<string, string> | undefined), cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; ") } });
        for (const c of res.headers.getSetCookie()) {
          const kv = c.split(";")[0]!;
          const i = kv.indexOf("=");
          const [name, value] = [kv.slice(0, i), kv.slice(i + 1)];
          if (value === "" || /expires=Thu, 01 Jan 1970/i.test(c)) jar.delete(name);
          else jar.set(name, value);
        }
        return res;
      };
      const verifier = randomBytes(32).toString("base64url");
      const challenge = createHash("sha256").update(verifier).digest("base64url");
      let res = await req(`${issuer}/auth?${new URLSearchParams({
        client_id: clientId, response_type: "code", scope: "openid sidian", redirect_uri: redirectUri, state: "st", nonce: "nn",
        code_challenge: challenge, code_challenge_method: "S256",
      })}`);
      let code: string | null = null;
      for (let step = 0; step < 12 && code === null; step++) {
        const loc = res.headers.get("location");
        if (res.status >= 300 && res.status < 400 && loc) {
          const u = new URL(loc, issuer);
          if (u.href.startsWith(redirectUri)) {
            if (u.searchParams.get("error")) throw new Error(`login: ${u.searchParams.get("error")}: ${u.searchParams.get("error_description")}`);
            code = u.searchParams.get("code");
            break;
          }
          res = await req(u.href);
          continue;
        }
        const html = await res.text();
        const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
        const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
        if (res.status !== 200 || !action || !prompt) throw new Error(`login: unexpected page ${res.status}: ${html.slice(0, 300)}`);
        const body = new URLSearchParams({ prompt, ...(prompt === "login" ? { login: accountId, password: "any" } : {}) });
        res = await req(new URL(action.replace(/&amp;/g, "&"), issuer).href, { method: "POST", body, headers: { "content-type": "application/x-www-form-urlencoded" } });
      }
      if (!code) throw new Error("login: no authorization code");
      const tok = await fetch(`${issuer}/token`, {
        method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: verifier, client_id: clientId, client_secret: clientSecret }),
      });
      const j = (await tok.json()) as { id_token?: string; error?: string; error_description?: string };
      if (!j.id_token) throw new Error(`token endpoint: ${j.error}: ${j.error_description}`);
      return j.id_token;
    },
    hits: (p) => counts.get(p) ?? 0,
    setDown(d) {
      down = d;
      if (d) server.closeAllConnections();
    },
    async rotate(keys) {
      idp.keys = keys ?? [ecJwk()];
      handler = make(idp.keys);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  handler = make(idp.keys);
  t.teardown(() => idp.close());
  return idp;
}
