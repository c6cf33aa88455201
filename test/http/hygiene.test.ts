import t from "tap";
import { loadConfig } from "../../src/config.js";
import { createContext } from "../../src/context.js";
import { AppError } from "../../src/errors.js";
import { bearer, build, ROOT, testConfig } from "../helpers/app.js";

t.test("the app builds without schema warnings (ajv strict mode)", async (t) => {
  const warned: unknown[][] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => void warned.push(args);
  try {
    const h = await build(t);
    await h.app.ready();
  } finally {
    console.warn = warn;
  }
  t.same(warned, [], "nothing printed");
});

t.test("health, readiness, request ids, headers, not found", async (t) => {
  const h = await build(t);
  const health = await h.app.inject({ url: "/healthz" });
  t.same(health.json(), { status: "ok", version: "0.1.0" });
  const ready = await h.app.inject({ url: "/readyz" });
  t.same(ready.json(), { status: "ready", db: true, keys: true });

  const withId = await h.app.inject({ url: "/healthz", headers: { "x-request-id": "abc-123" } });
  t.equal(withId.headers["x-request-id"], "abc-123", "a sane incoming request id is kept");
  const evil = await h.app.inject({ url: "/healthz", headers: { "x-request-id": "<script>" } });
  t.match(evil.headers["x-request-id"], /^[0-9a-f-]{36}$/, "an unsafe one is replaced");

  // A JSON answer: the API set (OWASP REST): nothing allowed, no framing, no sniffing, no referrer.
  t.equal(health.headers["content-security-policy"], "default-src 'none'; frame-ancestors 'none'");
  t.equal(health.headers["x-content-type-options"], "nosniff");
  t.equal(health.headers["x-frame-options"], "DENY");
  t.equal(health.headers["referrer-policy"], "no-referrer");
  t.equal(health.headers["cross-origin-resource-policy"], "same-origin");
  t.notOk(health.headers["cross-origin-opener-policy"], "document-only headers are left off JSON");
  t.notOk(health.headers["strict-transport-security"], "no HSTS outside production");
  // A document (the counter page, HTML): the full set.
  const page = await h.app.inject({ url: "/counter" });
  t.match(page.headers["content-type"], /text\/html/);
  t.match(page.headers["content-security-policy"], /default-src 'self'.*frame-ancestors 'none'.*script-src 'self'/);
  t.equal(page.headers["cross-origin-opener-policy"], "same-origin");
  t.equal(page.headers["x-content-type-options"], "nosniff");
  t.equal(page.headers["x-frame-options"], "DENY");
  t.equal(page.headers["x-permitted-cross-domain-policies"], "none");
  // Every route is one or the other: document routes are marked, everything else is JSON.
  const docs = await h.app.inject({ url: "/docs/json" });
  t.equal(docs.headers["x-frame-options"], "DENY");

  // Answers to callers with a token are theirs alone: no cache keeps them. Public answers set their own.
  const admin = await h.client("admin");
  for (const url of ["/me", "/departments", "/licences"]) {
    const r = await h.app.inject({ url, headers: bearer(admin.token) });
    t.equal(r.headers["cache-control"], "no-store", `${url}: no-store`);
  }
  t.notOk(health.headers["cache-control"], "a public route is left to set its own");
  t.match((await h.app.inject({ url: "/.well-known/jwks.json" })).headers["cache-control"], /max-age/, "the JWKS keeps its own");

  const nf = await h.app.inject({ url: "/nope" });
  t.equal(nf.statusCode, 404);
  t.equal(nf.json().code, "ROUTE_NOT_FOUND");
  t.equal(nf.json().requestId, nf.headers["x-request-id"]);
});

t.test("body limits and malformed bodies", async (t) => {
  const h = await build(t, { SIDIAN_BODY_LIMIT: "2048" });
  const admin = await h.client("admin");
  const big = await h.app.inject({ method: "POST", url: "/departments", headers: { ...bearer(admin.token), "content-type": "application/json" }, payload: JSON.stringify({ name: "x".repeat(5000) }) });
  t.equal(big.statusCode, 413);
  t.equal(big.json().code, "BODY_TOO_LARGE");
  const bad = await h.app.inject({ method: "POST", url: "/departments", headers: { ...bearer(admin.token), "content-type": "application/json" }, payload: "{not json" });
  t.equal(bad.json().code, "VALIDATION_FAILED");
  const xml = await h.app.inject({ method: "POST", url: "/departments", headers: { ...bearer(admin.token), "content-type": "application/xml" }, payload: "<a/>" });
  t.equal(xml.statusCode, 415);
  t.equal(xml.json().code, "UNSUPPORTED_MEDIA_TYPE");
});

t.test("public routes are rate limited", async (t) => {
  const h = await build(t, { SIDIAN_PUBLIC_RATE_LIMIT: "3" });
  const codes: number[] = [];
  for (let i = 0; i < 5; i++) codes.push((await h.app.inject({ url: "/.well-known/jwks.json" })).statusCode);
  t.same(codes, [200, 200, 200, 429, 429]);
  const res = await h.app.inject({ url: "/.well-known/jwks.json" });
  t.equal(res.json().code, "RATE_LIMITED");
  t.type(res.json().details.retryAfterSeconds, "number");
  const tok = await h.app.inject({ method: "POST", url: "/oauth/token", payload: { grant_type: "client_credentials", client_id: "a", client_secret: "b" } });
  t.equal(tok.statusCode, 401, "token endpoint has its own bucket");
});

t.test("a rate-limited route that takes tokens counts callers with bad tokens too", async (t) => {
  const h = await build(t, { SIDIAN_PUBLIC_RATE_LIMIT: "3" });
  const codes: number[] = [];
  for (let i = 0; i < 5; i++) {
    codes.push((await h.app.inject({ method: "POST", url: "/verify", payload: { identifier: "1.2.156.3005.2.x" }, headers: { authorization: "Bearer abc.def.ghi" } })).statusCode);
  }
  t.same(codes, [401, 401, 401, 429, 429], "bad tokens are counted (they were answered 401 without limit)");
});

t.test("behind proxies: X-Forwarded-For is believed only from the hops configured", async (t) => {
  const spoof = async (h: Awaited<ReturnType<typeof build>>, remoteAddress: string) => {
    const codes: number[] = [];
    // Each request claims a new client address in front of what the proxy appended (the real client, 203.0.113.9).
    for (let i = 0; i < 5; i++) codes.push((await h.app.inject({ url: "/.well-known/jwks.json", remoteAddress, headers: { "x-forwarded-for": `198.51.100.${i}, 203.0.113.9` } })).statusCode);
    return codes;
  };
  const oneHop = await build(t, { SIDIAN_PUBLIC_RATE_LIMIT: "3", SIDIAN_TRUST_PROXY: "1" });
  t.same(await spoof(oneHop, "10.0.0.1"), [200, 200, 200, 429, 429], "one hop: the address the proxy saw is the client, whatever it wrote before it");
  const byCidr = await build(t, { SIDIAN_PUBLIC_RATE_LIMIT: "3", SIDIAN_TRUST_PROXY: "10.0.0.0/8" });
  t.same(await spoof(byCidr, "10.0.0.1"), [200, 200, 200, 429, 429], "a listed proxy's header is believed only as far as its own entry");
  t.same(await spoof(byCidr, "192.0.2.7"), [200, 200, 200, 429, 429], "a caller that is not a listed proxy is known by its own address");
  t.throws(() => loadConfig({ SIDIAN_TRUST_PROXY: "true" }), /every hop/, "true (every hop) is refused");
  t.throws(() => loadConfig({ SIDIAN_TRUST_PROXY: "10.0.0.0/33" }), /not an IP address or CIDR/);
  t.throws(() => loadConfig({ SIDIAN_TRUST_PROXY: "proxy.local" }), /not an IP address or CIDR/);
  t.same(loadConfig({ SIDIAN_TRUST_PROXY: "10.0.0.0/8, ::1" }).trustProxy, ["10.0.0.0/8", "::1"]);
  t.equal(loadConfig({ SIDIAN_TRUST_PROXY: "2" }).trustProxy, 2);
  t.equal(loadConfig({}).trustProxy, false);
});

t.test("OpenAPI: every route documents its responses", async (t) => {
  const h = await build(t);
  const spec = (await h.app.inject({ url: "/docs/json" })).json();
  t.equal(spec.openapi, "3.0.3");
  let n = 0;
  for (const [p, ops] of Object.entries(spec.paths as Record<string, Record<string, { responses?: Record<string, unknown>; summary?: string; tags?: string[] }>>)) {
    for (const [m, op] of Object.entries(ops)) {
      n++;
      t.ok(op.summary, `${m} ${p} has a summary`);
      t.ok(op.tags?.length, `${m} ${p} has a tag`);
      t.ok(op.responses && Object.keys(op.responses).some((s) => s.startsWith("2")), `${m} ${p} documents a success response`);
    }
  }
  t.ok(n >= 20, `${n} operations documented`);
  const ui = await h.app.inject({ url: "/docs/" });
  t.equal(ui.statusCode, 200);
});

t.test("JWKS and trust bundle are published", async (t) => {
  const h = await build(t);
  const jwks = (await h.app.inject({ url: "/.well-known/jwks.json" })).json();
  const token = jwks.keys.find((k: { kid: string }) => k.kid === h.ctx.material.token.kid);
  t.equal(token.alg, "ES256");
  t.notOk("d" in token, "no private part");
  t.ok(jwks.keys.find((k: { alg: string; kid: string }) => k.alg === "EdDSA" && k.kid.startsWith("log:")), "log key published");
  const bundle = await h.app.inject({ url: "/pki/trust-bundle.pem" });
  t.equal((bundle.body.match(/BEGIN CERTIFICATE/g) ?? []).length, 4, "roots and issuing CAs of both profiles (P-256 and SM2)");
  const crl = await h.app.inject({ url: "/pki/crl" });
  t.equal(crl.headers["content-type"], "application/pkix-crl");
  t.equal(crl.rawPayload[0], 0x30, "DER");
  const admin = await h.client("admin");
  t.equal((await h.app.inject({ url: "/pki/certificates/00ff", headers: bearer(admin.token) })).json().code, "CERTIFICATE_NOT_FOUND");
});

t.test("configuration", async (t) => {
  let err: unknown;
  try {
    loadConfig({ SIDIAN_PORT: "eighty", SIDIAN_LOG_LEVEL: "loud", SIDIAN_PUBLIC_URL: "ftp://x" });
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof AppError && err.code === "CONFIG_INVALID");
  for (const name of ["SIDIAN_PORT", "SIDIAN_LOG_LEVEL", "SIDIAN_PUBLIC_URL"]) t.match((err as Error).message, name, `lists ${name}`);
  const c = loadConfig({}, "/srv/app");
  t.equal(c.port, 8080);
  t.equal(c.host, "127.0.0.1");
  t.equal(c.dbPath, "/srv/app/data/sidian.db");
  t.equal(c.publicUrl, "http://127.0.0.1:8080");
  t.throws(() => loadConfig({ SIDIAN_MODE: "production", SIDIAN_PUBLIC_URL: "http://x.example" }), /https in production/);
});

t.test("production refuses the dev keys", async (t) => {
  const config = { ...testConfig(t), mode: "production" as const, keysDir: `${ROOT}/keys-dev` };
  await t.rejects(createContext(config), { code: "DEV_KEYS_IN_PRODUCTION", message: /DEVELOPMENT keys/ });
});
