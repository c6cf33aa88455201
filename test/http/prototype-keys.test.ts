/**
 * Lookups keyed by input never reach Object.prototype (issue 14 §7, the error contract): every registered route is
 * walked with the names of Object.prototype's properties ("toString", "__proto__", "constructor", …) as each path
 * parameter, each query value and each string of a JSON body, and as keys of the free-form objects a body may
 * carry, with the token each route asks for. None may answer 5xx; every refusal is {code, message, requestId}.
 * (`GET /sign/pdfjs/toString` answered 500 INTERNAL: the asset tables were object literals.)
 */
import t from "tap";
import fp from "fastify-plugin";
import type { FastifyInstance, RouteOptions } from "fastify";
import { buildApp } from "../../src/app.js";
import { createContext } from "../../src/context.js";
import { fixedClock } from "../../src/modules/kernel.js";
import { appDeps } from "../../src/server.js";
import { bearer, testConfig } from "../helpers/app.js";
import { personLicence, world } from "../licences/helpers.js";

type Schema = Record<string, unknown>;
const KEYS = ["toString", "__proto__", "constructor", "hasOwnProperty", "valueOf", "isPrototypeOf", "__defineGetter__", "propertyIsEnumerable", "toLocaleString", "__lookupSetter__"];
const ENV = { SIDIAN_PUBLIC_RATE_LIMIT: "1000000" };

const w = await world(t, ENV);
// The route table, recorded as routes are registered (an app of its own; requests go to the world's app).
const ctx = await createContext(testConfig(t, ENV), { clock: fixedClock(Date.now()), autoCheckpoint: false });
const routes: RouteOptions[] = [];
const deps = appDeps(ctx, false);
const collector = fp(async (app: FastifyInstance) => void app.addHook("onRoute", (r) => void routes.push(r)));
const table = await buildApp({ ...deps, plugins: [collector, ...(deps.plugins ?? [])] });
await table.ready();
t.teardown(async () => {
  await table.close();
  await ctx.close();
});
const holder = await w.h.holderToken(personLicence(w, 7).holder.code);

/** Every token a route accepts (from its config.auth), or none for a public route. */
function tokensFor(auth: unknown): Array<Record<string, string>> {
  if (!auth || auth === "public" || typeof auth !== "object") return [{}];
  const a = auth as { roles?: string[]; holder?: boolean };
  const out: Array<Record<string, string>> = [];
  for (const r of a.roles ?? []) {
    const tok = (w.tokens as Record<string, string | undefined>)[r];
    if (tok) out.push(bearer(tok));
  }
  if (a.holder) out.push(bearer(holder));
  return out.length ? out : [bearer(w.tokens.admin)];
}

const methods = (r: RouteOptions) => (Array.isArray(r.method) ? r.method : [r.method]).filter((m) => m !== "HEAD" && m !== "OPTIONS");
const problems: string[] = [];
let sent = 0;
async function send(method: string, url: string, headers: Record<string, string>, payload?: string) {
  const res = await w.h.app.inject({ method: method as "GET", url, headers: payload === undefined ? headers : { ...headers, "content-type": "application/json" }, ...(payload === undefined ? {} : { payload }) });
  sent++;
  const what = `${method} ${url}${payload ? ` ${payload.slice(0, 80)}` : ""}`;
  if (res.statusCode >= 500) problems.push(`${what}: ${res.statusCode} ${res.body.slice(0, 160)}`);
  else if (res.statusCode >= 400 && res.headers["content-type"]?.toString().startsWith("application/json")) {
    const j = res.json() as Record<string, unknown>;
    if (typeof j.code !== "string" || typeof j.message !== "string" || typeof j.requestId !== "string") problems.push(`${what}: ${res.statusCode} not the error shape: ${res.body.slice(0, 160)}`);
  }
  return res;
}

/** The string leaves and the free-form objects of a body schema (as JSON pointers). */
function shape(s: Schema | undefined, path = ""): { strings: string[]; records: string[] } {
  const out = { strings: [] as string[], records: [] as string[] };
  if (!s || typeof s !== "object") return out;
  const props = s.properties as Record<string, Schema> | undefined;
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      const sub = shape(v, `${path}/${k}`);
      out.strings.push(...sub.strings);
      out.records.push(...sub.records);
    }
    return out;
  }
  if (s.type === "object" && (s.patternProperties || s.additionalProperties)) out.records.push(path);
  if (s.type === "string") out.strings.push(path);
  const union = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  for (const u of union ?? []) {
    const sub = shape(u, path);
    out.strings.push(...sub.strings);
    out.records.push(...sub.records);
  }
  if (s.type === "array" && s.items) {
    const sub = shape(s.items as Schema, `${path}/0`);
    out.strings.push(...sub.strings);
    out.records.push(...sub.records);
  }
  return out;
}

/** `base` (the route's documented example, so that the request gets past `required`) with `value` at `path`. */
function at(base: unknown, path: string, value: unknown): unknown {
  const parts = path.split("/").slice(1);
  if (parts.length === 0) return value;
  const root: unknown = structuredClone(base ?? (parts[0] === "0" ? [] : {}));
  let cur = root as Record<string, unknown>;
  parts.forEach((p, i) => {
    const last = i === parts.length - 1;
    if (last) {
      cur[p] = value;
      return;
    }
    const next = cur[p];
    if (next === null || typeof next !== "object") cur[p] = parts[i + 1] === "0" ? [] : {};
    cur = cur[p] as Record<string, unknown>;
  });
  return root;
}

t.test("path parameters named after Object.prototype's properties: no route answers 5xx", async (tt) => {
  for (const r of routes) {
    if (!/:[A-Za-z]/.test(r.url)) continue;
    for (const m of methods(r)) {
      for (const headers of tokensFor((r.config as { auth?: unknown } | undefined)?.auth)) {
        for (const k of KEYS) {
          const url = r.url.replace(/:([A-Za-z]+)/g, encodeURIComponent(k));
          await send(m, url, headers, m === "GET" || m === "DELETE" ? undefined : "{}");
        }
      }
    }
  }
  // The sign page's assets, the case of the issue: not found, not 500.
  for (const k of KEYS) {
    for (const url of [`/sign/pdfjs/${k}`, `/sign/assets/${k}`, `/sign/pdfjs/cmaps/${k}`]) {
      const r = await w.h.app.inject({ url: url.replace(k, encodeURIComponent(k)) });
      tt.equal(r.statusCode, 404, `GET ${url}: ${r.statusCode}`);
      tt.equal(r.json().code, "ROUTE_NOT_FOUND");
    }
  }
  tt.ok(sent > 500, `${sent} requests`);
  tt.same(problems.splice(0), [], "no 5xx, every refusal in the error shape");
});

t.test("query values and body strings named after Object.prototype's properties; such keys in free-form objects", async (tt) => {
  sent = 0;
  for (const r of routes) {
    const auth = (r.config as { auth?: unknown } | undefined)?.auth;
    const url = r.url.replace(/:([A-Za-z]+)/g, "x1234567890");
    const schema = r.schema as Schema | undefined;
    for (const m of methods(r)) {
      const [headers] = tokensFor(auth);
      const q = (schema?.querystring as Schema | undefined)?.properties as Record<string, Schema> | undefined;
      for (const name of Object.keys(q ?? {})) {
        for (const k of KEYS) await send(m, `${url}?${name}=${encodeURIComponent(k)}`, headers!, m === "GET" || m === "DELETE" ? undefined : "{}");
      }
      const body = schema?.body as Schema | undefined;
      if (!body || m === "GET") continue;
      const { strings, records } = shape(body);
      const example = (body.examples as unknown[] | undefined)?.[0];
      let i = 0;
      for (const p of strings) {
        for (const k of [KEYS[i++ % KEYS.length]!, KEYS[i++ % KEYS.length]!]) await send(m, url, headers!, JSON.stringify(at(example, p, k)));
      }
      for (const p of records) {
        for (const k of ["toString", "constructor", "hasOwnProperty", "valueOf"]) {
          await send(m, url, headers!, JSON.stringify(at(example, p, { [k]: "x" })));
          await send(m, url, headers!, JSON.stringify(at(example, p, { [k]: 1 })));
        }
      }
    }
  }
  tt.ok(sent > 300, `${sent} requests`);
  tt.same(problems.splice(0), [], "no 5xx, every refusal in the error shape");
});

t.test("a form parameter named after Object.prototype's properties is an unknown parameter, not a repeated one", async (tt) => {
  const form = (extra: string) => w.h.app.inject({ method: "POST", url: "/oauth/token", headers: { "content-type": "application/x-www-form-urlencoded" }, payload: `grant_type=client_credentials&client_id=x&client_secret=y&${extra}` });
  const unknown = await form("foo=1");
  tt.equal(unknown.statusCode, 400);
  for (const k of ["constructor", "toString", "hasOwnProperty", "valueOf"]) {
    const r = await form(`${k}=1`);
    tt.equal(r.statusCode, 400, `${k}: ${r.body.slice(0, 160)}`);
    tt.equal(r.json().code, "VALIDATION_FAILED");
    tt.notMatch(r.json().message, /repeated/, `${k} is not said to be repeated`);
    tt.same(r.json().details?.errors?.[0]?.keyword, unknown.json().details?.errors?.[0]?.keyword, `${k} is refused as foo is`);
  }
  const proto = await form("__proto__=1");
  tt.equal(proto.statusCode, 400);
  tt.equal(proto.json().details?.errors?.[0]?.keyword, "forbiddenKey", "__proto__ is a forbidden key");
});
