/**
 * Parsing at the edge (issue 14 §2, §3), walked over every registered route so that routes added later are held to
 * the same rules: JSON bodies keep JSON's types (no coercion), query and path numbers are decimal digits, and one
 * text rule holds for every string a request carries (control characters, bidirectional overrides, line
 * separators in one-line fields, lone surrogates, invalid UTF-8 → 400 VALIDATION_FAILED, keyword "text").
 */
import t, { type Test } from "tap";
import fp from "fastify-plugin";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import type { FastifyInstance, RouteOptions } from "fastify";
import { buildApp, type App } from "../../src/app.js";
import { createContext } from "../../src/context.js";
import { fixedClock } from "../../src/modules/kernel.js";
import { appDeps } from "../../src/server.js";
import { AJV_OPTIONS, buildValidator, TEXT_KEYWORD } from "../../src/http/validation.js";
import { bearer, testConfig } from "../helpers/app.js";
import { issue, personLicence, world } from "../licences/helpers.js";

type Schema = Record<string, unknown>;
// CommonJS default exports as seen from ESM.
const addFormats = (addFormatsModule as unknown as { default: (ajv: Ajv) => void }).default;

/** Builds the real app with a hook that records every route as it is registered. */
async function appWithRoutes(tt: Test): Promise<{ app: App; routes: RouteOptions[]; ctx: Awaited<ReturnType<typeof createContext>> }> {
  const ctx = await createContext(testConfig(tt), { clock: fixedClock(Date.now()), autoCheckpoint: false });
  const routes: RouteOptions[] = [];
  const deps = appDeps(ctx, false);
  const collector = fp(async (app: FastifyInstance) => {
    app.addHook("onRoute", (r) => void routes.push(r));
  });
  const app = await buildApp({ ...deps, plugins: [collector, ...(deps.plugins ?? [])] });
  await app.ready();
  tt.teardown(async () => {
    await app.close();
    await ctx.close();
  });
  return { app, routes, ctx };
}

/** Every typed leaf of a schema (objects and arrays walked; a union is a leaf of its own and its members walked). */
function leaves(schema: Schema | undefined, path = ""): Array<{ path: string; schema: Schema }> {
  if (!schema || typeof schema !== "object") return [];
  const out: Array<{ path: string; schema: Schema }> = [];
  const props = schema.properties as Record<string, Schema> | undefined;
  if (props) {
    for (const [k, s] of Object.entries(props)) out.push(...leaves(s, `${path}/${k}`));
    return out;
  }
  if (schema.type === "array" && schema.items) return [{ path, schema }, ...leaves(schema.items as Schema, `${path}/0`)];
  const union = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (union) return [{ path, schema }, ...union.flatMap((s) => leaves(s, path))];
  if (schema.type !== undefined || schema.const !== undefined || schema.enum !== undefined) out.push({ path, schema });
  return out;
}

const PROBES: unknown[] = ["", "true", "false", "12345.5", "0x10", "1", "0", "null", true, false, 12345.5, 0, 1, -1, null, [], {}, ["x"], [1], "2026-01-01"];

/** The validator compiler the app installs (src/app.ts: buildValidator with AJV_OPTIONS). */
function appCompiler(): (d: { schema: unknown; method: string; url: string; httpPart: string }) => (v: unknown) => boolean {
  return buildValidator({}, AJV_OPTIONS as unknown as Parameters<typeof buildValidator>[1]) as never;
}

// One service and one route table for every test below (building them is most of this file's time).
const w = await world(t);
const { routes } = await appWithRoutes(t);

const bodyRoutes = (routes: RouteOptions[]) => routes.filter((r) => (r.schema as Schema | undefined)?.body && (r.schema as Schema).body !== null);

t.test("bodies keep JSON's types: on every route, every property agrees with a validator that never coerces", async (tt) => {
  const reference = new Ajv({ strict: false, coerceTypes: false, allErrors: false });
  addFormats(reference);
  reference.addKeyword({ keyword: TEXT_KEYWORD, schemaType: "string" });
  const compile = appCompiler();
  let checked = 0;
  const disagreements: string[] = [];
  for (const r of bodyRoutes(routes)) {
    for (const leaf of leaves((r.schema as Schema).body as Schema)) {
      if (JSON.stringify(leaf.schema).includes("$ref")) continue;
      const wrapper = { type: "object", properties: { v: leaf.schema }, required: ["v"] };
      const appCheck = compile({ schema: wrapper, method: String(r.method), url: r.url, httpPart: "body" });
      const refCheck = reference.compile(wrapper);
      for (const probe of PROBES) {
        const sent = { v: structuredClone(probe) };
        const ok = appCheck(sent);
        const expected = refCheck({ v: structuredClone(probe) });
        checked++;
        if (ok !== expected || JSON.stringify(sent.v) !== JSON.stringify(probe)) {
          disagreements.push(`${r.method} ${r.url} ${leaf.path}: ${JSON.stringify(probe)} → accepted ${ok} as ${JSON.stringify(sent.v)}, expected accepted ${expected}`);
        }
      }
    }
  }
  tt.ok(checked > 1000, `${checked} property/value pairs checked`);
  tt.same(disagreements.slice(0, 20), [], "no body value is coerced or accepted that JSON's own type refuses");
});

t.test("query and path numbers are decimal digits: every route's integer and number parameters", async (tt) => {
  const app = w.h.app;
  const compile = appCompiler();
  let checked = 0;
  const accepted: string[] = [];
  for (const r of routes) {
    for (const part of ["querystring", "params"] as const) {
      const schema = (r.schema as Schema | undefined)?.[part] as Schema | undefined;
      const props = schema?.properties as Record<string, Schema> | undefined;
      if (!props) continue;
      for (const [k, s] of Object.entries(props)) {
        const kinds = JSON.stringify(s);
        if (!/"type":"(integer|number)"/.test(kinds)) continue;
        for (const bad of ["0x10", "1e1", " 10", "10 ", "+10", "", "0b1", "true", "10abc", "Infinity", "NaN"]) {
          const check = compile({ schema, method: String(r.method), url: r.url, httpPart: part });
          checked++;
          if (check({ [k]: bad })) accepted.push(`${r.method} ${r.url} ${part}.${k}=${JSON.stringify(bad)}`);
        }
      }
    }
  }
  tt.ok(checked > 50, `${checked} parameter/value pairs checked`);
  tt.same(accepted, [], "nothing but decimal digits is taken as a number");
  const e = await app.inject({ url: "/log/entries/0x10" });
  tt.equal(e.statusCode, 400, "GET /log/entries/0x10 is refused, not entry 16");
  tt.equal(e.json().code, "VALIDATION_FAILED");
  tt.equal((await app.inject({ url: "/log/entries/1e1" })).statusCode, 400);
  const ok = await app.inject({ url: "/log/entries/0" });
  tt.not(ok.statusCode, 400, "decimal digits still work");
});

t.test("the cases of issue 14 §2 over HTTP", async (tt) => {
  const admin = bearer(w.tokens.admin);
  const cases: Array<[string, object]> = [
    ['validUntil ""', personLicence(w, 1, { validUntil: "" })],
    ["holder.name true", personLicence(w, 2, { holder: { name: true, code: personLicence(w, 2).holder.code, codeType: "111" } })],
    ["number 12345.5", personLicence(w, 3, { number: 12345.5 })],
    ['issueDate ""', personLicence(w, 4, { issueDate: "" })],
  ];
  for (const [what, body] of cases) {
    const r = await issue(w, body);
    tt.equal(r.statusCode, 400, `POST /licences with ${what}: 400`);
    tt.equal(r.json().code, "VALIDATION_FAILED", what);
  }
  const typeZero = await w.h.app.inject({ method: "POST", url: "/licence-types", headers: admin, payload: { code: w.personType.slice(0, 18) + "777", name: "x", holderKind: "person", holderCodeTypes: ["111"], fields: [], validityDays: 0, issuers: [w.dept.id] } });
  tt.equal(typeZero.statusCode, 400, "validityDays 0 is refused, not long-term");
  const exempt = await w.h.app.inject({ method: "POST", url: "/matters", headers: admin, payload: { code: "M-COERCE", name: "x", licenceTypes: [], consentExempt: "true", exemptBasis: "x" } });
  tt.equal(exempt.statusCode, 400, 'consentExempt "true" is refused');
  const holder = await w.h.holderToken(personLicence(w, 5).holder.code);
  const consent = await w.h.app.inject({ method: "POST", url: "/holders/me/consents", headers: bearer(holder), payload: { clientId: w.consumerId, matterCode: w.matter, days: true } });
  tt.equal(consent.statusCode, 400, "days true is refused, not one day");
  const good = await issue(w, personLicence(w, 6, { validUntil: null }));
  tt.equal(good.statusCode, 201, "null still means long-term");
});

/** The token a route's caller needs, from its config.auth. */
async function tokenFor(w: Awaited<ReturnType<typeof world>>, auth: unknown, holder: string): Promise<Record<string, string>> {
  if (!auth || auth === "public") return {};
  const a = auth as { roles?: string[]; holder?: boolean };
  if (a.roles?.includes("admin")) return bearer(w.tokens.admin);
  if (a.roles?.includes("issuer")) return bearer(w.tokens.issuer);
  if (a.roles?.includes("consumer")) return bearer(w.tokens.consumer);
  if (a.roles?.includes("counter")) return bearer(w.tokens.counter);
  if (a.holder) return bearer(holder);
  return {};
}

const BAD_TEXT: Array<[string, string]> = [
  ["NUL", "丙局\u0000X"], ["ESC", "a\u001b[31mb"], ["DEL", "a\u007fb"], ["C1", "a\u0085b"], ["RLO", "丙\u202e局"], ["LRE", "a\u202ab"],
  ["FSI", "a\u2068b"], ["LRI", "\u2066x"], ["PDI", "x\u2069"], ["lone high surrogate", "a\ud800b"], ["lone low surrogate", "\udc00"],
];

/** A body whose only value is `value` at the JSON pointer `path` (arrays where the path says /0). */
function bodyAt(path: string, value: unknown): unknown {
  const parts = path.split("/").slice(1);
  let v: unknown = value;
  for (let i = parts.length - 1; i >= 0; i--) v = parts[i] === "0" ? [v] : { [parts[i]!]: v };
  return v;
}

t.test("one text rule for every string of every JSON body, query and path", async (tt) => {
  const holder = await w.h.holderToken(personLicence(w, 9).holder.code);
  let sent = 0;
  const wrong: string[] = [];
  for (const r of bodyRoutes(routes)) {
    const url = r.url.replace(/:([A-Za-z]+)/g, "x1234567890").replace("::", ":");
    const method = Array.isArray(r.method) ? r.method[0]! : r.method;
    const headers = await tokenFor(w, (r.config as { auth?: unknown } | undefined)?.auth, holder);
    const strings = leaves((r.schema as Schema).body as Schema).filter((l) => l.schema.type === "string" || (l.schema.type === undefined && !l.schema.anyOf));
    for (const leaf of strings) {
      // One kind of bad text per field, the kinds taken in turn (every kind is sent many times over the routes).
      for (const [name, bad] of [BAD_TEXT[sent % BAD_TEXT.length]!]) {
        sent++;
        const res = await w.h.app.inject({ method, url, headers: { ...headers, "content-type": "application/json" }, payload: JSON.stringify(bodyAt(leaf.path, bad)) });
        const j = res.json();
        if (res.statusCode !== 400 || j.code !== "VALIDATION_FAILED" || j.details?.errors?.[0]?.keyword !== "text" || j.details.errors[0].path !== (leaf.path || "/")) {
          wrong.push(`${method} ${r.url} ${leaf.path} ${name}: ${res.statusCode} ${res.body.slice(0, 160)}`);
        }
      }
      if (leaf.schema[TEXT_KEYWORD] === "line") {
        for (const br of ["a\nb", "a\u2028b", "a\u2029b", "a\rb", "a\tb"]) {
          sent++;
          const res = await w.h.app.inject({ method, url, headers: { ...headers, "content-type": "application/json" }, payload: JSON.stringify(bodyAt(leaf.path, br)) });
          const e = res.json().details?.errors?.find((x: { path: string }) => x.path === leaf.path);
          // The body may fail elsewhere first (a required field); it must never be accepted with the break inside.
          if (res.statusCode < 400 || res.statusCode >= 500 || (e && e.keyword !== "text")) wrong.push(`${method} ${r.url} ${leaf.path} line break ${JSON.stringify(br)}: ${res.statusCode} ${res.body.slice(0, 160)}`);
        }
      }
    }
    // Keys are text too.
    sent++;
    const key = await w.h.app.inject({ method, url, headers: { ...headers, "content-type": "application/json" }, payload: JSON.stringify({ "a\u202eb": 1 }) });
    if (key.statusCode !== 400 || key.json().details?.errors?.[0]?.keyword !== "text") wrong.push(`${method} ${r.url} key: ${key.statusCode} ${key.body.slice(0, 160)}`);
    // Invalid UTF-8 is refused, never turned into U+FFFD.
    sent++;
    const raw = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xe4, 0xb8]), Buffer.from('x", "a": "\xff"}', "latin1")]);
    const inv = await w.h.app.inject({ method, url, headers: { ...headers, "content-type": "application/json" }, payload: raw });
    if (inv.statusCode !== 400 || inv.json().details?.errors?.[0]?.keyword !== "text") wrong.push(`${method} ${r.url} invalid UTF-8: ${inv.statusCode} ${inv.body.slice(0, 160)}`);
  }
  tt.ok(sent > 200, `${sent} requests sent`);
  tt.same(wrong.slice(0, 30), [], "every bad string is refused with the text rule's answer");
});

t.test("the text rule on names that reach certificates, seals and pages; query and path values; depth", async (tt) => {
  const admin = { ...bearer(w.tokens.admin), "content-type": "application/json" };
  const dept = await w.h.app.inject({ method: "POST", url: "/departments", headers: admin, payload: JSON.stringify({ name: "丙\u202e局\u0000X", uscc: w.dept.uscc, regionCode: "350100" }) });
  tt.equal(dept.statusCode, 400);
  tt.equal(dept.json().details.errors[0].keyword, "text");
  const line = await w.h.app.inject({ method: "PATCH", url: `/departments/${w.dept.id}`, headers: admin, payload: JSON.stringify({ name: "福州市\n市场监督管理局" }) });
  tt.equal(line.statusCode, 400, "a line break in a department name is refused");
  tt.equal(line.json().details.errors[0].keyword, "text");
  const fine = await w.h.app.inject({ method: "PATCH", url: `/departments/${w.dept.id}`, headers: admin, payload: JSON.stringify({ name: "福州市市场监督管理局（鼓楼）" }) });
  tt.equal(fine.statusCode, 200, "ordinary Chinese text passes");
  const lone = await w.h.app.inject({ method: "POST", url: "/matters", headers: admin, payload: '{"code":"M-LONE","name":"\\ud800","licenceTypes":[]}' });
  tt.equal(lone.statusCode, 400, "a lone surrogate is a 400, not a 500");

  // Query and path values.
  const q = await w.h.app.inject({ url: "/departments/%E2%80%AEabc", headers: bearer(w.tokens.admin) });
  tt.equal(q.statusCode, 400);
  tt.equal(q.json().details.errors[0].in, "params");
  const qs = await w.h.app.inject({ url: "/licences?departmentId=a%00b", headers: bearer(w.tokens.admin) });
  tt.equal(qs.statusCode, 400);
  tt.equal(qs.json().details.errors[0].in, "querystring");

  // Nesting: refused with a code, whatever the depth.
  for (const depth of [40, 10_000, 200_000]) {
    const deep = "[".repeat(depth) + "]".repeat(depth);
    const r = await w.h.app.inject({ method: "POST", url: "/licences", headers: { ...bearer(w.tokens.issuer), "content-type": "application/json" }, payload: `{"fields":{"a":${deep}}}` });
    tt.equal(r.statusCode, 400, `nested ${depth} deep: 400`);
    tt.equal(r.json().code, "VALIDATION_FAILED");
    tt.notMatch(r.body, /call stack/);
  }
  // Batch lines follow the same rule.
  const batch = await w.h.app.inject({ method: "POST", url: "/licences:batch", headers: { ...bearer(w.tokens.issuer), "content-type": "application/x-ndjson" }, payload: JSON.stringify(personLicence(w, 30, { holder: { name: "张\u202e三", code: personLicence(w, 30).holder.code, codeType: "111" } })) + "\n" });
  tt.equal(batch.statusCode, 200);
  tt.equal(batch.json().results[0].ok, false);
  tt.equal(batch.json().results[0].code, "VALIDATION_FAILED");
  // And the holder's licence with text that is fine is issued.
  tt.equal((await issue(w, personLicence(w, 31, { holder: { name: "阿卜杜热合曼·买买提", code: personLicence(w, 31).holder.code, codeType: "111" } }))).statusCode, 201);
});
