/**
 * Authorisation matrix: every route in the OpenAPI document × every kind of caller. The expectations are written
 * here by hand (not read from the routes), and a route missing from this table fails the test.
 */
import t from "tap";
import { bearer, build } from "../helpers/app.js";

type Who = "anonymous" | "admin" | "issuer" | "otherIssuer" | "consumer" | "counter" | "archivist" | "holder";
const ALL: Who[] = ["anonymous", "admin", "issuer", "otherIssuer", "consumer", "counter", "archivist", "holder"];
const PUBLIC = ALL;

// method + OpenAPI path → who gets through authorisation (anyone else: 401 anonymous, 403 otherwise).
// `otherIssuer` is an issuer of another department than the one in the path.
const EXPECT: Record<string, Who[]> = {
  "GET /healthz": PUBLIC,
  "GET /readyz": PUBLIC,
  // Not client-authenticated: restricted by network (loopback here, as app.inject is) or its own bearer token (test/http/metrics.test.ts).
  "GET /metrics": PUBLIC,
  "GET /me": ["admin", "issuer", "otherIssuer", "consumer", "counter", "archivist", "holder"],
  "POST /oauth/token": PUBLIC,
  "POST /departments": ["admin"],
  "GET /departments": ["admin"],
  "GET /departments/{id}": ["admin", "issuer"],
  "PATCH /departments/{id}": ["admin"],
  "POST /clients": ["admin"],
  "GET /clients": ["admin"],
  "GET /clients/{id}": ["admin"],
  "PATCH /clients/{id}": ["admin"],
  "GET /.well-known/jwks.json": PUBLIC,
  "GET /pki/trust-bundle.pem": PUBLIC,
  "GET /pki/crl": PUBLIC,
  "GET /pki/anchors.json": PUBLIC,
  "GET /pki/sm2/crl": PUBLIC,
  "GET /pki/certificates/{serial}": PUBLIC,
  "GET /departments/{id}/certificates": ["admin", "issuer"],
  "POST /departments/{id}/certificates": ["admin"],
  "POST /pki/certificates/{serial}/revoke": ["admin"],
  "GET /log/checkpoint": PUBLIC,
  "GET /log/key": PUBLIC,
  "GET /log/entries/{index}": PUBLIC,
  "GET /log/proof/inclusion": PUBLIC,
  "GET /log/proof/consistency": PUBLIC,
  "GET /v/{token}": PUBLIC,
  "GET /v/l/{id}": PUBLIC,
  "GET /v/s/{id}": PUBLIC,
  "POST /holders/me/licences/{id}/qr": ["holder"],
  "GET /counter": PUBLIC,
  "POST /counter/verify": ["counter"],
  "POST /counter/cases/{caseNo}/licences": ["counter"],
  "GET /counter/cases/{caseNo}/licences": ["counter"],
  "POST /seals": ["admin"],
  "GET /seals": ["admin", "issuer", "otherIssuer"],
  "GET /seals/{id}": ["admin", "issuer"],
  "POST /seals/{id}/status": ["admin"],
  "GET /seals/{id}/picture.svg": ["admin", "issuer"],
  "GET /seals/{id}/ses": ["admin", "issuer"],
  "GET /seals/{id}/stamps": ["admin", "issuer"],
  "POST /seals/{id}/stamp": ["issuer"],
  "POST /seals/{id}/ses-signature": ["issuer"],
  "POST /tsa": PUBLIC,
  "POST /verify/pdf": PUBLIC,
  "GET /verify/pdf/trust-lists": PUBLIC,
  "GET /seals/{id}/status-evidence": PUBLIC,
  // e-licences (issue 4); object-level checks (department, matter, consent) are in test/licences/
  "POST /licence-types": ["admin"],
  "GET /licence-types": ["admin", "issuer", "otherIssuer", "consumer", "counter"],
  "GET /licence-types/{code}": ["admin", "issuer", "otherIssuer", "consumer", "counter"],
  "PATCH /licence-types/{code}": ["admin"],
  "POST /matters": ["admin"],
  "GET /matters": ["admin", "issuer", "otherIssuer", "consumer", "counter"],
  "GET /matters/{code}": ["admin", "issuer", "otherIssuer", "consumer", "counter"],
  "PATCH /matters/{code}": ["admin"],
  "POST /licences": ["issuer", "otherIssuer"],
  "POST /licences:batch": ["issuer", "otherIssuer"],
  "GET /licences": ["admin", "issuer", "otherIssuer"],
  "POST /licences:search": ["admin", "issuer", "otherIssuer"],
  "GET /licences/{id}": ["admin", "issuer", "otherIssuer"],
  "GET /licences/{id}/history": ["admin", "issuer", "otherIssuer"],
  "GET /licences/{id}/document": ["admin", "issuer", "otherIssuer"],
  "POST /licences/{id}/status": ["issuer", "otherIssuer"],
  "POST /licences/{id}/versions": ["issuer", "otherIssuer"],
  "GET /licences/{id}/status": PUBLIC,
  "GET /status-lists/{departmentId}/{list}": PUBLIC,
  "POST /verify": PUBLIC,
  "POST /holders/licences:query": ["consumer"],
  "GET /copies/{token}": ["consumer"],
  "GET /holders/me/licences": ["holder"],
  "GET /holders/me/licences/{id}/document": ["holder"],
  "GET /holders/me/consents": ["holder"],
  "POST /holders/me/consents": ["holder"],
  "DELETE /holders/me/consents/{id}": ["holder"],
  "GET /holders/me/accesses": ["holder"],
  // e-signatures (issue 17); per-object checks (initiator, participant, another holder → 404) in test/signatures/
  "POST /signatures": ["consumer", "issuer", "otherIssuer"],
  "GET /signatures": ["consumer", "issuer", "otherIssuer"],
  "GET /signatures/{id}": ["consumer", "issuer", "otherIssuer", "holder"],
  "PUT /signatures/{id}/document": ["consumer", "issuer", "otherIssuer"],
  "GET /signatures/{id}/document": ["consumer", "issuer", "otherIssuer", "holder"],
  "GET /signatures/{id}/evidence": ["consumer", "issuer", "otherIssuer", "holder"],
  "POST /signatures/{id}/send": ["consumer", "issuer", "otherIssuer"],
  "POST /signatures/{id}/cancel": ["consumer", "issuer", "otherIssuer"],
  "POST /signatures/{id}/decline": ["holder"],
  "GET /holders/me/signatures": ["holder"],
  "POST /signatures/{id}/sign/options": ["holder"],
  "POST /signatures/{id}/sign": ["holder"],
  "POST /signatures/{id}/external/prepare": ["holder"],
  "POST /signatures/{id}/external/signature": ["holder"],
  "POST /holders/me/passkeys/options": ["holder"],
  "POST /holders/me/passkeys": ["holder"],
  "GET /holders/me/passkeys": ["holder"],
  // the signer's pages: public HTML; what they show comes from the routes above with the holder's token
  "PUT /clients/{id}/webhook": ["admin"],
  "GET /clients/{id}/webhook": ["admin"],
  "DELETE /clients/{id}/webhook": ["admin"],
  "GET /webhooks/deliveries": ["consumer", "issuer", "otherIssuer"],
  // cases and archives (issue 19); per-object checks (owner, department, archivist's department → 404) in test/archives/
  "POST /cases": ["issuer", "otherIssuer", "consumer", "counter"],
  "GET /cases": ["issuer", "otherIssuer", "consumer", "counter"],
  "GET /cases/{id}": ["issuer", "otherIssuer", "consumer", "counter"],
  "POST /cases/{id}/items": ["issuer", "otherIssuer", "consumer", "counter"],
  "POST /cases/{id}/documents": ["issuer", "otherIssuer", "consumer", "counter"],
  "POST /cases/{id}/close": ["issuer", "otherIssuer", "consumer", "counter"],
  "POST /cases/{id}/archive": ["issuer", "otherIssuer", "consumer", "counter"],
  "GET /archives/{id}": ["issuer", "otherIssuer", "consumer", "counter", "archivist"],
  "GET /archives/{id}/package": ["issuer", "otherIssuer", "consumer", "counter", "archivist"],
  "POST /archives/{id}/checks": ["issuer", "otherIssuer", "consumer", "counter", "archivist"],
  "POST /archives:receive": ["archivist"],
  "GET /archive-receipts/{id}": ["archivist"],
  "GET /archive-receipts/{id}/package": ["archivist"],
  "GET /sign": PUBLIC,
  "GET /sign/{requestId}": PUBLIC,
  // e-materials (issue 18); object-level checks (registrant, department, holder, consent, matter) in test/materials/
  "POST /material-types": ["admin"],
  "GET /material-types": ["admin", "issuer", "otherIssuer", "consumer", "counter"],
  "GET /material-types/{code}": ["admin", "issuer", "otherIssuer", "consumer", "counter"],
  "PATCH /material-types/{code}": ["admin"],
  "POST /materials": ["consumer", "counter", "issuer", "otherIssuer", "holder"],
  "GET /materials/{id}": ["admin", "consumer", "counter", "issuer", "otherIssuer", "holder"],
  "GET /materials/{id}/content": ["admin", "consumer", "counter", "issuer", "otherIssuer", "holder"],
  "GET /materials/{id}/receipt": ["admin", "consumer", "counter", "issuer", "otherIssuer", "holder"],
  "GET /materials/{id}/container": ["admin", "consumer", "counter", "issuer", "otherIssuer", "holder"],
  "GET /materials/{id}/history": ["admin", "consumer", "counter", "issuer", "otherIssuer", "holder"],
  "POST /materials/{id}/revoke": ["admin", "consumer", "counter", "issuer", "otherIssuer"],
  "POST /holders/materials:query": ["consumer"],
  "GET /material-links/{token}": ["consumer"],
  "GET /holders/me/materials": ["holder"],
  "POST /holders/me/materials/{id}/withdraw": ["holder"],
  "POST /verify/material": PUBLIC,
};

t.test("every route × every caller", async (t) => {
  const h = await build(t);
  const dept = await h.department("甲市市场监督管理局");
  const other = await h.department("乙市市场监督管理局");
  await h.ctx.catalogue.createMatter({ code: "M-1", name: "测试事项", licenceTypes: [] }, { kind: "system", name: "test" });
  const tokens: Record<Exclude<Who, "anonymous">, string> = {
    admin: (await h.client("admin")).token,
    issuer: (await h.client("issuer", { departmentId: dept.id })).token,
    otherIssuer: (await h.client("issuer", { departmentId: other.id })).token,
    consumer: (await h.client("consumer", { matters: ["M-1"] })).token,
    counter: (await h.client("counter", { departmentId: dept.id })).token,
    archivist: (await h.client("archivist", { departmentId: dept.id })).token,
    holder: await h.holderToken("11010519491231002X"),
  };
  const victim = await h.client("counter");
  // A seal whose esID is the department id, so /seals/{id} paths name a real seal of `dept`.
  await h.ctx.seals.createSeal({ departmentId: dept.id, type: "04", id: dept.id }, { kind: "system", name: "test" });
  const certs = await h.ctx.uow.read.certificates.listByDepartment(dept.id);
  await h.ctx.tlog.checkpoint();

  const spec = (await h.app.inject({ url: "/docs/json" })).json();
  const routes: Array<[string, string]> = [];
  for (const [p, ops] of Object.entries(spec.paths as Record<string, Record<string, unknown>>)) {
    for (const m of Object.keys(ops)) routes.push([m.toUpperCase(), p]);
  }
  const names = routes.map(([m, p]) => `${m} ${p}`);
  for (const n of names) t.ok(n in EXPECT, `route ${n} has an expectation in the matrix`);
  for (const n of Object.keys(EXPECT)) t.ok(names.includes(n), `matrix route ${n} exists`);

  for (const [method, p] of routes) {
    const key = `${method} ${p}`;
    const allowed = EXPECT[key] ?? [];
    const url = p.replace("{id}", p.startsWith("/clients") ? victim.id : dept.id).replace("{serial}", certs[0]!.serial).replace("{index}", "0")
      + (p === "/log/proof/inclusion" ? "?index=0" : p === "/log/proof/consistency" ? "?from=1&to=2" : "");
    for (const who of ALL) {
      // Requests that would change state get a body that fails validation AFTER authorisation (so nothing changes).
      const res = await h.app.inject({
        method: method as "GET",
        url,
        headers: who === "anonymous" ? {} : bearer(tokens[who]),
        ...(method === "POST" || method === "PATCH" ? { payload: { __probe: true } } : {}),
      });
      const denied = res.statusCode === 401 || res.statusCode === 403;
      if (allowed.includes(who)) {
        t.notOk(denied, `${key} as ${who}: allowed (got ${res.statusCode} ${res.statusCode >= 400 ? res.json().code : ""})`);
      } else {
        t.ok(denied, `${key} as ${who}: denied (got ${res.statusCode})`);
        const code = res.json().code;
        if (who === "anonymous") t.equal(code, "AUTH_REQUIRED", `${key} anonymous → AUTH_REQUIRED`);
        else t.ok(["FORBIDDEN_ROLE", "FORBIDDEN_DEPARTMENT", "FORBIDDEN_SCOPE"].includes(code), `${key} as ${who} → ${code}`);
      }
    }
  }
});

t.test("scopes: a token without the route's scope is refused", async (t) => {
  const h = await build(t);
  const narrow = await h.client("admin", { scopes: [] });
  const res = await h.app.inject({ url: "/departments", headers: bearer(narrow.token) });
  t.equal(res.statusCode, 403);
  t.equal(res.json().code, "FORBIDDEN_SCOPE");
});

t.test("a route without config.auth cannot be registered", async (t) => {
  const h = await build(t);
  const { default: Fastify } = await import("fastify");
  const { default: authPlugin } = await import("../../src/http/plugins/auth.js");
  const app = Fastify();
  await app.register(authPlugin, { auth: h.ctx.auth });
  app.register(async (a) => { a.get("/open", async () => "x"); });
  await t.rejects(async () => { await app.ready(); }, /has no config.auth/);
});
