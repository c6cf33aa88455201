import { generateKeyPairSync } from "node:crypto";
import type { InjectOptions } from "fastify";
import t from "tap";
import { SignJWT, base64url, decodeJwt } from "jose";
import { bearer, build } from "../helpers/app.js";

t.test("token endpoint: client credentials", async (t) => {
  const h = await build(t);
  const { id, secret } = await h.client("admin");
  const basic = "Basic " + Buffer.from(`${id}:${secret}`).toString("base64");

  t.test("HTTP Basic + form body", async (t) => {
    const res = await h.app.inject({ method: "POST", url: "/oauth/token", headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" }, payload: "grant_type=client_credentials" });
    t.equal(res.statusCode, 200);
    t.equal(res.headers["cache-control"], "no-store");
    const body = res.json();
    t.equal(body.token_type, "Bearer");
    t.equal(body.expires_in, 300);
    t.equal(body.scope, "admin");
    const claims = decodeJwt(body.access_token);
    t.equal(claims.sub, id);
    t.equal(claims.aud, "sidian");
    t.equal(claims.role, "admin");
    t.equal((claims.exp! - claims.iat!), 300);
  });

  t.test("Basic credentials that are not form-urlencoded: 401, not 500", async (t) => {
    for (const pair of [`${id}:%`, `%E0%A4%A:${secret}`]) {
      const res = await h.app.inject({ method: "POST", url: "/oauth/token", headers: { authorization: "Basic " + Buffer.from(pair).toString("base64") }, payload: { grant_type: "client_credentials" } });
      t.equal(res.statusCode, 401, pair);
      t.equal(res.json().code, "INVALID_CLIENT");
    }
  });

  t.test("client_secret_post in JSON", async (t) => {
    const res = await h.app.inject({ method: "POST", url: "/oauth/token", payload: { grant_type: "client_credentials", client_id: id, client_secret: secret } });
    t.equal(res.statusCode, 200);
  });

  const bad: Array<[string, InjectOptions, number, string, string?]> = [
    ["wrong secret", { method: "POST", url: "/oauth/token", payload: { grant_type: "client_credentials", client_id: id, client_secret: secret + "x" } }, 401, "INVALID_CLIENT", "invalid_client"],
    ["unknown client", { method: "POST", url: "/oauth/token", payload: { grant_type: "client_credentials", client_id: "nobody-here", client_secret: secret } }, 401, "INVALID_CLIENT", "invalid_client"],
    ["no credentials", { method: "POST", url: "/oauth/token", payload: { grant_type: "client_credentials" } }, 401, "INVALID_CLIENT"],
    ["password grant", { method: "POST", url: "/oauth/token", headers: { authorization: basic }, payload: { grant_type: "password" } }, 400, "UNSUPPORTED_GRANT_TYPE", "unsupported_grant_type"],
    ["scope not granted", { method: "POST", url: "/oauth/token", headers: { authorization: basic }, payload: { grant_type: "client_credentials", scope: "admin licences:issue" } }, 400, "INVALID_SCOPE", "invalid_scope"],
    ["two auth methods", { method: "POST", url: "/oauth/token", headers: { authorization: basic }, payload: { grant_type: "client_credentials", client_id: id, client_secret: secret } }, 400, "VALIDATION_FAILED", "invalid_request"],
    ["unknown field", { method: "POST", url: "/oauth/token", headers: { authorization: basic }, payload: { grant_type: "client_credentials", extra: 1 } }, 400, "VALIDATION_FAILED"],
    ["repeated parameter", { method: "POST", url: "/oauth/token", headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" }, payload: "grant_type=client_credentials&grant_type=client_credentials" }, 400, "VALIDATION_FAILED"],
    ["malformed JSON", { method: "POST", url: "/oauth/token", headers: { "content-type": "application/json" }, payload: "{\"grant_type\":" }, 400, "VALIDATION_FAILED"],
    ["oversized form", { method: "POST", url: "/oauth/token", headers: { "content-type": "application/x-www-form-urlencoded" }, payload: "grant_type=" + "a".repeat(10_000) }, 413, "BODY_TOO_LARGE"],
    ["wrong media type", { method: "POST", url: "/oauth/token", headers: { "content-type": "text/plain" }, payload: "grant_type=client_credentials" }, 415, "UNSUPPORTED_MEDIA_TYPE"],
  ];
  for (const [name, req, status, code, oauth] of bad) {
    t.test(name, async (t) => {
      const res = await h.app.inject(req);
      t.equal(res.statusCode, status, res.body);
      const body = res.json();
      t.equal(body.code, code);
      t.type(body.requestId, "string");
      if (oauth) t.equal(body.error, oauth);
      t.notMatch(res.body, secret, "never echoes the secret");
    });
  }

  t.test("disabled client cannot get a token and its live token stops working", async (t) => {
    const c = await h.client("counter");
    await h.ctx.directory.updateClient(c.id, { status: "disabled" }, { kind: "system", name: "test" });
    const res = await h.app.inject({ method: "POST", url: "/oauth/token", payload: { grant_type: "client_credentials", client_id: c.id, client_secret: c.secret } });
    t.equal(res.json().code, "INVALID_CLIENT");
    const me = await h.app.inject({ url: "/me", headers: bearer(c.token) });
    t.equal(me.statusCode, 401);
    t.equal(me.json().code, "TOKEN_INVALID");
  });

  t.test("rotated secret: the old one stops working", async (t) => {
    const c = await h.client("counter");
    const r = await h.ctx.directory.updateClient(c.id, { rotateSecret: true }, { kind: "system", name: "test" });
    const old = await h.app.inject({ method: "POST", url: "/oauth/token", payload: { grant_type: "client_credentials", client_id: c.id, client_secret: c.secret } });
    t.equal(old.statusCode, 401);
    const neu = await h.app.inject({ method: "POST", url: "/oauth/token", payload: { grant_type: "client_credentials", client_id: c.id, client_secret: r.secret } });
    t.equal(neu.statusCode, 200);
  });
});

t.test("bearer tokens: expired, tampered, alg none, HS256 confusion, foreign key", async (t) => {
  const h = await build(t);
  const admin = await h.client("admin");
  const ok = await h.app.inject({ url: "/me", headers: bearer(admin.token) });
  t.equal(ok.statusCode, 200);
  t.equal(ok.json().clientId, admin.id);

  const [hdr, payload, sig] = admin.token.split(".") as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
  const forge = (p: object) => base64url.encode(JSON.stringify(p));

  const cases: Array<[string, string | undefined, string, number]> = [
    ["no token", undefined, "AUTH_REQUIRED", 401],
    ["not a JWT", "abc.def", "TOKEN_INVALID", 401],
    ["tampered payload (role escalation)", `${hdr}.${forge({ ...claims, sub: "someone-else" })}.${sig}`, "TOKEN_INVALID", 401],
    ["tampered signature", `${hdr}.${payload}.${sig.slice(0, -4)}AAAA`, "TOKEN_INVALID", 401],
    ["alg none", `${forge({ alg: "none", typ: "at+jwt" })}.${payload}.`, "TOKEN_INVALID", 401],
  ];
  // HS256 signed with the published public key as the HMAC secret (algorithm confusion)
  const pubPem = h.ctx.material.token.publicKey.export({ format: "pem", type: "spki" });
  const hs = await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: h.ctx.material.token.kid, typ: "at+jwt" }).sign(Buffer.from(pubPem));
  cases.push(["HS256 with the public key as secret", hs, "TOKEN_INVALID", 401]);
  // a well-formed ES256 token with our kid but another key
  const other = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const foreign = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: h.ctx.material.token.kid, typ: "at+jwt" }).sign(other.privateKey);
  cases.push(["ES256 signed by a foreign key", foreign, "TOKEN_INVALID", 401]);
  const wrongAud = await new SignJWT({ ...claims, aud: "someone" }).setProtectedHeader({ alg: "ES256", kid: h.ctx.material.token.kid, typ: "at+jwt" }).sign(h.ctx.material.token.privateKey!);
  cases.push(["wrong audience", wrongAud, "TOKEN_INVALID", 401]);
  const wrongTyp = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: h.ctx.material.token.kid }).sign(h.ctx.material.token.privateKey!);
  cases.push(["missing typ at+jwt", wrongTyp, "TOKEN_INVALID", 401]);
  const unknownIss = await new SignJWT({ ...claims, iss: "https://evil.example" }).setProtectedHeader({ alg: "ES256", kid: h.ctx.material.token.kid, typ: "at+jwt" }).sign(h.ctx.material.token.privateKey!);
  cases.push(["unknown issuer", unknownIss, "TOKEN_INVALID", 401]);
  cases.push(["oversized token", "a".repeat(9000), "TOKEN_INVALID", 401]);

  for (const [name, token, code, status] of cases) {
    const res = await h.app.inject({ url: "/me", headers: token === undefined ? {} : bearer(token) });
    t.equal(res.statusCode, status, name);
    t.equal(res.json().code, code, name);
    t.match(res.headers["www-authenticate"], /^Bearer realm="sidian"/, `${name}: www-authenticate`);
  }

  const malformed = await h.app.inject({ url: "/me", headers: { authorization: "Token abc" } });
  t.equal(malformed.json().code, "TOKEN_INVALID", "non-Bearer scheme");

  h.clock.advance(301_000 + 5_000);
  const expired = await h.app.inject({ url: "/me", headers: bearer(admin.token) });
  t.equal(expired.statusCode, 401);
  t.equal(expired.json().code, "TOKEN_EXPIRED");
});

t.test("holder tokens from the identity provider", async (t) => {
  const h = await build(t);
  const tok = await h.holderToken("11010519491231002X");
  const me = await h.app.inject({ url: "/me", headers: bearer(tok) });
  t.equal(me.statusCode, 200);
  t.same(me.json(), { kind: "holder", codeType: "111", scopes: ["holder"] });
  t.notMatch(me.body, "11010519491231002X", "the ID number is not echoed");

  const badId = await h.holderToken("11010519491231002Y".slice(0, 17) + "1");
  t.equal((await h.app.inject({ url: "/me", headers: bearer(badId) })).json().code, "TOKEN_INVALID", "holder code with a bad check digit");

  const admin = await h.app.inject({ url: "/departments", headers: bearer(tok) });
  t.equal(admin.statusCode, 403);
  t.equal(admin.json().code, "FORBIDDEN_ROLE", "holders may not call admin routes");

  const short = await h.holderToken("11010519491231002X", { ttlSeconds: 60 });
  t.equal((await h.app.inject({ url: "/me", headers: bearer(short) })).statusCode, 200, "verified once (and remembered by its text)");
  h.clock.advance(70_000);
  t.equal((await h.app.inject({ url: "/me", headers: bearer(short) })).json().code, "TOKEN_EXPIRED");

  // Code types are the API's own (not Object.prototype's), and other code types get the API's format check.
  for (const [codeType, code] of [["toString", "x"], ["__proto__", "x"], ["constructor", "11010519491231002X"], ["411", "E1"], ["411", "E1234567<script>"]] as const) {
    const odd = await h.holderToken(code, { codeType });
    const r = await h.app.inject({ url: "/me", headers: bearer(odd) });
    t.equal(r.statusCode, 401, `code_type ${codeType}, sub ${code}`);
    t.equal(r.json().code, "TOKEN_INVALID");
  }
  t.equal((await h.app.inject({ url: "/me", headers: bearer(await h.holderToken("E12345678", { codeType: "411" })) })).statusCode, 200, "a passport holder");

  // an IdP-looking token signed by someone else
  const other = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const fake = await new SignJWT({ code_type: "111" }).setProtectedHeader({ alg: "ES256", kid: h.ctx.material.idp.kid! })
    .setIssuer(h.ctx.config.idpIssuer).setAudience("sidian").setSubject("11010519491231002X").setIssuedAt().setExpirationTime("5m").sign(other.privateKey);
  t.equal((await h.app.inject({ url: "/me", headers: bearer(fake) })).json().code, "TOKEN_INVALID");
});
