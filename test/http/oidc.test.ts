/**
 * Holder tokens from a real OpenID Connect provider (oidc-provider on 127.0.0.1, holders logging in through its
 * pages): discovery of its JWKS from the configured issuer, claim mapping, key caching and refresh (once a minute
 * at most on an unknown kid), a provider that is down, and the tokens that must be refused (alg none, HS256 with the
 * public key, wrong issuer, wrong audience, expired, missing or bad claims, keys for algorithms not allowed).
 */
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { importJWK, SignJWT, type JWK } from "jose";
import t from "tap";
import { createOidcIdpKeys, usableKeys } from "../../src/modules/auth/idp-keys.js";
import { fixedClock } from "../../src/modules/kernel.js";
import { bearer, build, testConfig } from "../helpers/app.js";
import { ecJwk, rsaJwk, startIdp } from "../helpers/oidc.js";
import { citizenId, issued, personLicence, world } from "../licences/helpers.js";

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const b64u = (o: object | string) => Buffer.from(typeof o === "string" ? o : JSON.stringify(o)).toString("base64url");

function idpEnv(issuer: string, clientId: string): Record<string, string> {
  return {
    SIDIAN_IDP_ISSUER: issuer, SIDIAN_IDP_KEYS: "oidc", SIDIAN_IDP_AUDIENCE: clientId,
    // This provider names the holder's ID number `id_number` and its type `id_type` with its own words.
    SIDIAN_IDP_CLAIM_CODE: "id_number", SIDIAN_IDP_CLAIM_CODE_TYPE: "id_type", SIDIAN_IDP_CODE_TYPES: "ID_CARD=111,PASSPORT=414",
  };
}

t.test("a holder logged in at a real OIDC provider sees their licences; keys are cached and refreshed at most once a minute", async (t) => {
  const idp = await startIdp(t, { accounts: { "acct-1": { id_number: citizenId(1), id_type: "ID_CARD", name: "张三丰" }, "acct-2": { id_number: citizenId(2) } } });
  const w = await world(t, idpEnv(idp.issuer, idp.clientId));
  const { h } = w;
  h.clock.set(Date.now());
  await issued(w, personLicence(w, 1));

  const token = await idp.login("acct-1");
  const mine = await h.app.inject({ url: "/holders/me/licences", headers: bearer(token) });
  t.equal(mine.statusCode, 200, mine.body);
  t.equal(mine.json().items.length, 1, "the licence issued to the ID number in the token's id_number claim");
  t.equal(idp.hits("/.well-known/openid-configuration"), 1, "discovery once");
  const jwksFetches = idp.hits("/jwks");
  t.ok(jwksFetches >= 1, "the JWKS from the discovered jwks_uri");
  for (let i = 0; i < 5; i++) t.equal((await h.app.inject({ url: "/me", headers: bearer(token) })).statusCode, 200);
  t.equal(idp.hits("/jwks"), jwksFetches, "cached: no fetch per token");

  // No code type claim: the configured default (111) applies.
  const t2 = await idp.login("acct-2");
  const me2 = await h.app.inject({ url: "/me", headers: bearer(t2) });
  t.equal(me2.json().codeType, "111");

  // The provider rotates its key. Within a minute of the last fetch the new kid is not fetched for…
  await idp.rotate();
  const rotated = await idp.login("acct-1");
  const early = await h.app.inject({ url: "/me", headers: bearer(rotated) });
  t.equal(early.statusCode, 401);
  t.equal(early.json().code, "TOKEN_INVALID");
  t.equal(idp.hits("/jwks"), jwksFetches, "no fetch within a minute of the last one");
  // …a minute later it is, once.
  h.clock.advance(61_000);
  const later = await h.app.inject({ url: "/me", headers: bearer(rotated) });
  t.equal(later.statusCode, 200, later.body);
  t.equal(idp.hits("/jwks"), jwksFetches + 1, "one fetch for the unknown kid");
  // The first token was verified (and remembered by its text) with a key the provider no longer has.
  const dropped = await h.app.inject({ url: "/me", headers: bearer(token) });
  t.equal(dropped.statusCode, 401, "a token verified before stops working once its key has left the provider's set");
  t.equal(dropped.json().code, "TOKEN_INVALID");
  // A flood of unknown kids costs at most one fetch a minute.
  const stranger = ecJwk("not-at-the-idp");
  const forged = await new SignJWT({ id_number: citizenId(1) }).setProtectedHeader({ alg: "ES256", kid: "not-at-the-idp" })
    .setIssuer(idp.issuer).setAudience(idp.clientId).setSubject("x").setIssuedAt(Math.floor(h.clock.now().getTime() / 1000)).setExpirationTime("10m")
    .sign(await importJWK(stranger, "ES256"));
  for (let i = 0; i < 5; i++) t.equal((await h.app.inject({ url: "/me", headers: bearer(forged) })).statusCode, 401);
  t.equal(idp.hits("/jwks"), jwksFetches + 1, "unknown kids within the minute fetch nothing");

  // The provider goes down: tokens signed with cached keys keep working, even once the set is old.
  idp.setDown(true);
  h.clock.advance(11 * 60_000);
  const whileDown = await h.app.inject({ url: "/me", headers: bearer(rotated) });
  t.equal(whileDown.statusCode, 200, "a cached key verifies while the provider is down");
  await h.ctx.idpKeys.refresh();
  t.match(h.ctx.idpKeys.status(), { keys: 1, lastError: /cannot be reached/ });
  const m = (await h.app.inject({ url: "/metrics" })).body;
  t.match(m, /sidian_idp_refresh_ok 0/);
  // An unknown kid while it is down: 503, not 401 (the key may exist; we cannot tell).
  h.clock.advance(61_000);
  const unknownDown = await h.app.inject({ url: "/me", headers: bearer(forged) });
  t.equal(unknownDown.statusCode, 503);
  t.equal(unknownDown.json().code, "IDP_UNAVAILABLE");
  idp.setDown(false);
});

t.test("tokens that must be refused", async (t) => {
  const idp = await startIdp(t, { accounts: { a: { id_number: citizenId(3), id_type: "ID_CARD" } } });
  const h = await build(t, idpEnv(idp.issuer, idp.clientId));
  h.clock.set(Date.now());
  const good = await idp.login("a");
  t.equal((await h.app.inject({ url: "/me", headers: bearer(good) })).statusCode, 200);
  const key = idp.keys[0]!;
  const priv = await importJWK(key, "ES256");
  const now = Math.floor(h.clock.now().getTime() / 1000);
  const base = { iss: idp.issuer, aud: idp.clientId, sub: "a", id_number: citizenId(3), id_type: "ID_CARD", iat: now, exp: now + 600 };
  const sign = (claims: object, header: object = {}) => new SignJWT(claims as never).setProtectedHeader({ alg: "ES256", kid: key.kid!, ...header }).sign(priv);
  const refuse = async (name: string, token: string, code = "TOKEN_INVALID") => {
    const r = await h.app.inject({ url: "/me", headers: bearer(token) });
    t.equal(r.statusCode, 401, `${name}: ${r.body}`);
    t.equal(r.json().code, code, name);
  };
  t.equal((await h.app.inject({ url: "/me", headers: bearer(await sign(base)) })).statusCode, 200, "the same claims signed properly pass");
  await refuse("alg none", `${b64u({ alg: "none", kid: key.kid })}.${b64u(base)}.`);
  const pub: JWK = { kty: key.kty!, crv: key.crv!, x: key.x!, y: key.y! };
  for (const secret of [JSON.stringify(pub), JSON.stringify({ ...pub, kid: key.kid, alg: "ES256", use: "sig" })]) {
    const input = `${b64u({ alg: "HS256", kid: key.kid })}.${b64u(base)}`;
    await refuse("HS256 with the public key as secret", `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`);
  }
  await refuse("wrong issuer", await sign({ ...base, iss: `${idp.issuer}/other` }));
  await refuse("wrong audience", await sign({ ...base, aud: "another-client" }));
  await refuse("no audience", await sign({ ...base, aud: undefined }));
  await refuse("expired", await sign({ ...base, iat: now - 3600, exp: now - 60 }), "TOKEN_EXPIRED");
  await refuse("not yet valid", await sign({ ...base, nbf: now + 3600 }));
  await refuse("no holder code claim", await sign({ ...base, id_number: undefined }));
  await refuse("holder code that fails its check digit", await sign({ ...base, id_number: citizenId(3).slice(0, -1) + (citizenId(3).endsWith("0") ? "1" : "0") }));
  await refuse("unknown code type", await sign({ ...base, id_type: "LIBRARY_CARD" }));
  await refuse("code type naming a prototype member", await sign({ ...base, id_type: "toString" }));
  await refuse("code type that is an object", await sign({ ...base, id_type: { x: 1 } }));
  await refuse("jku pointing elsewhere is ignored, the kid is unknown", await sign(base, { kid: "elsewhere", jku: "http://127.0.0.1:1/jwks.json" }));
  await refuse("a tampered payload", (await sign(base)).replace(/\.([^.]+)\./, (_m, p: string) => `.${b64u({ ...JSON.parse(Buffer.from(p, "base64url").toString()), id_number: citizenId(4) })}.`));
});

t.test("a provider whose JWKS has only keys for algorithms not allowed is refused", async (t) => {
  const idp = await startIdp(t, { accounts: { a: { id_number: citizenId(5) } }, keys: [rsaJwk()], alg: "RS256" });
  const h = await build(t, idpEnv(idp.issuer, idp.clientId));
  h.clock.set(Date.now());
  const token = await idp.login("a");
  const r = await h.app.inject({ url: "/me", headers: bearer(token) });
  t.equal(r.statusCode, 401, "an RS256 token is refused before any key is looked at");
  t.equal(r.json().code, "TOKEN_INVALID");
  await h.ctx.idpKeys.refresh();
  t.match(h.ctx.idpKeys.status().lastError, /no key for an allowed algorithm \(ES256\).*alg RS256 is not allowed/);
  t.equal(h.ctx.idpKeys.status().keys, 0);
});

t.test("JWKS contents: what is used, left out and refused", async (t) => {
  const ec = ecJwk("ec1");
  const pubOf = (k: JWK) => Object.fromEntries(Object.entries(k).filter(([n]) => !["d", "p", "q", "dp", "dq", "qi"].includes(n)));
  const { keys, skipped } = usableKeys({
    keys: [
      pubOf(ec),
      { ...pubOf(ecJwk("noalg")), alg: undefined },
      { ...pubOf(ecJwk("enc")), use: "enc" },
      { ...pubOf(ecJwk("ops")), key_ops: ["encrypt"] },
      pubOf(rsaJwk("rsa")),
      { ...pubOf(rsaJwk("rsa-as-es")), alg: "ES256" },
      { ...pubOf(ecJwk("p256-as-hs")), alg: "HS256" },
    ],
  }, ["ES256"]);
  t.same(keys.map((k) => k.kid), ["ec1", "noalg"], "P-256 keys for ES256 (with or without alg)");
  t.equal(skipped.length, 5);
  t.throws(() => usableKeys({ keys: [pubOf(ec), ec] }, ["ES256"]), /private or secret key material/, "a private key in a JWKS refuses the set");
  t.throws(() => usableKeys({ keys: [pubOf(ec), { kty: "oct", k: "c2VjcmV0", kid: "h" }] }, ["ES256"]), /private or secret/, "a symmetric key refuses the set");
  t.throws(() => usableKeys({ keys: [pubOf(rsaJwk())] }, ["ES256"]), /no key for an allowed algorithm/);
  t.throws(() => usableKeys({ keys: Array.from({ length: 101 }, () => pubOf(ec)) }, ["ES256"]), /at most 100/);
  t.throws(() => usableKeys({ notkeys: [] }, ["ES256"]), /not a JWKS/);
});

t.test("fetching: no redirects, bounded size, https only (loopback http in tests), discovery must name the issuer", async (t) => {
  let mode: "redirect" | "huge" | "good" | "wrong-issuer" | "reset-once" | "reset-always" = "redirect";
  let resets = 0;
  const ec = ecJwk("k");
  const server = http.createServer((req, res) => {
    if (mode === "reset-always" || (mode === "reset-once" && resets === 0)) {
      resets++;
      req.socket.destroy(); // the connection is reset before any answer: a kept-alive socket closed by the provider
      return;
    }
    if (mode === "redirect") {
      res.writeHead(302, { location: "http://127.0.0.1:1/elsewhere" }).end();
    } else if (mode === "huge") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys: [], pad: "x".repeat(300 * 1024) }));
    } else if (req.url === "/.well-known/openid-configuration") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ issuer: mode === "wrong-issuer" ? "https://evil.example" : base, jwks_uri: `${base}/keys` }));
    } else {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [{ kty: ec.kty, crv: ec.crv, x: ec.x, y: ec.y, kid: "k" }] }));
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clock = fixedClock(Date.now());
  const mk = (o: { jwksUri?: string; allowHttp?: boolean } = {}) => createOidcIdpKeys({ issuer: base, fetch: globalThis.fetch, clock, log: silent, allowHttp: o.allowHttp ?? true, ...(o.jwksUri ? { jwksUri: o.jwksUri } : {}) });
  let k = mk({ jwksUri: `${base}/keys` });
  await k.refresh();
  t.match(k.status().lastError, /JWKS: .*cannot be reached|redirect/i, "a redirect is not followed");
  mode = "huge";
  k = mk({ jwksUri: `${base}/keys` });
  await k.refresh();
  t.match(k.status().lastError, /more than 262144 bytes|at most 262144/, "the answer is read up to 256 KiB");
  mode = "wrong-issuer";
  k = mk();
  await k.refresh();
  t.match(k.status().lastError, /names issuer "https:\/\/evil.example", not the configured/);
  mode = "good";
  k = mk();
  await k.refresh();
  t.match(k.status(), { keys: 1, lastError: null, jwksUri: `${base}/keys` });
  mode = "reset-once";
  resets = 0;
  k = mk();
  await k.refresh();
  t.match(k.status(), { keys: 1, lastError: null }, "a connection reset before the answer is tried once more");
  t.equal(resets, 1);
  mode = "reset-always";
  resets = 0;
  k = mk();
  await k.refresh();
  t.match(k.status().lastError, /discovery: .*cannot be reached \(/, "and only once");
  t.equal(resets, 2);
  k = mk({ allowHttp: false });
  await k.refresh();
  t.match(k.status().lastError, /must be https/);
  t.throws(() => testConfig(t, { SIDIAN_MODE: "production", SIDIAN_PUBLIC_URL: "https://sidian.example", SIDIAN_IDP_KEYS: "oidc", SIDIAN_IDP_ISSUER: "http://127.0.0.1:9" }), { code: "CONFIG_INVALID", message: /SIDIAN_IDP_ISSUER: .*must be https/ });
  t.throws(() => testConfig(t, { SIDIAN_IDP_KEYS: "oidc", SIDIAN_IDP_ISSUER: "" }), { code: "CONFIG_INVALID", message: /needs SIDIAN_IDP_ISSUER/ });
  t.throws(() => testConfig(t, { SIDIAN_IDP_CLAIM_CODE: "__proto__.x" }), { code: "CONFIG_INVALID", message: /SIDIAN_IDP_CLAIM_CODE/ });
  t.throws(() => testConfig(t, { SIDIAN_IDP_CODE_TYPES: "ID_CARD=ID" }), { code: "CONFIG_INVALID", message: /SIDIAN_IDP_CODE_TYPES/ });
  t.equal(testConfig(t, { SIDIAN_IDP_DEFAULT_CODE_TYPE: "none" }).idpClaims.defaultCodeType, null);
});
