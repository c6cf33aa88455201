/**
 * No existence oracle for licence identifiers (issue 14 §4): on every licence route that takes an identifier, an
 * issuer of another department gets exactly what an identifier not on record gets — 404 LICENCE_NOT_FOUND, the same
 * message, the same keys. The routes are walked from the OpenAPI document, so a new one is covered.
 */
import t from "tap";
import { formatLicenceId } from "../../src/codes/index.js";
import { bearer, issued, personLicence, world } from "./helpers.js";

/** A body each route accepts (so the answer comes from the licence, not from the request's validation). */
const BODIES: Record<string, object> = {
  "POST /licences/{id}/status": { action: "suspend", reason: "检查" },
  "POST /licences/{id}/versions": { reason: "变更", fields: { scope: "餐饮服务" } },
};

t.test("another department's licence and one that does not exist answer alike", async (t) => {
  const w = await world(t);
  const lic = await issued(w, personLicence(w, 501));
  // Well formed (right check character), same type and issuer, a serial never handed out.
  const missing = formatLicenceId({ typeCode: w.personType, issuerCode: w.dept.uscc, serial: "0999999999", version: "001" });
  const spec = (await w.h.app.inject({ url: "/docs/json" })).json() as { paths: Record<string, Record<string, unknown>> };
  const routes = Object.entries(spec.paths).filter(([path]) => path.startsWith("/licences/{id}"))
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => ({ method: m.toUpperCase(), path })))
    // Public routes (online status) answer anyone about any licence, with no personal data.
    .filter((r) => !(r.method === "GET" && r.path === "/licences/{id}/status"));
  t.ok(routes.length >= 5, `${routes.length} routes walked: ${routes.map((r) => `${r.method} ${r.path}`).join(", ")}`);

  const shape = (r: { statusCode: number; json(): Record<string, unknown> }) => {
    const b = r.json();
    return { status: r.statusCode, code: b.code, message: b.message, keys: Object.keys(b).sort() };
  };
  for (const { method, path } of routes) {
    const key = `${method} ${path}`;
    const ask = (id: string, token: string) => w.h.app.inject({
      method: method as "GET" | "POST", url: path.replace("{id}", encodeURIComponent(id)), headers: bearer(token),
      ...(method === "POST" ? { payload: BODIES[key] ?? {} } : {}),
    });
    const foreign = await ask(lic.identifier, w.tokens.otherIssuer);
    const absent = await ask(missing, w.tokens.issuer);
    const absentForeign = await ask(missing, w.tokens.otherIssuer);
    t.same(shape(foreign), { status: 404, code: "LICENCE_NOT_FOUND", message: shape(absent).message, keys: ["code", "message", "requestId"] }, `${key}: another department's licence`);
    t.same(shape(foreign), shape(absent), `${key}: the same answer as a licence that does not exist`);
    t.same(shape(foreign), shape(absentForeign), `${key}: and as one that does not exist, asked by the same issuer`);
  }
  // Nothing changed: the other department's suspend and change were refused.
  const own = await w.h.app.inject({ url: `/licences/${lic.identifier}`, headers: bearer(w.tokens.issuer) });
  t.equal(own.json().status, "01");
  t.equal(own.json().supersededBy, null);
});
