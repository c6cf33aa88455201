/**
 * Capability tokens in URLs never reach the log (issue 14 §4.4): copy links (/copies/:token), live QR tokens
 * (/v/:token, /V/:token) and every other route whose path parameter is a capability, matched or not (404 with a
 * suffix, bad encoding), with the token also in a query string. The log output of a real pino logger is captured.
 */
import { Writable } from "node:stream";
import t from "tap";
import pino from "pino";
import fp from "fastify-plugin";
import type { FastifyInstance, RouteOptions } from "fastify";
import { buildApp, loggerOptions } from "../../src/app.js";
import { CAPABILITY_PARAMS, redactedUrl } from "../../src/http/log-redact.js";
import { appDeps } from "../../src/server.js";
import { bearer, citizenId, issued, personLicence, world } from "../licences/helpers.js";

t.test("copy links and live QR tokens are redacted from request logs", async (tt) => {
  const w = await world(tt);
  const code = citizenId(951);
  const lic = await issued(w, personLicence(w, 951));
  const holder = await w.h.holderToken(code);
  const g = await w.h.app.inject({ method: "POST", url: "/holders/me/consents", headers: bearer(holder), payload: { clientId: w.consumerId, matterCode: w.matter, days: 30 } });
  tt.equal(g.statusCode, 201, g.statusCode === 201 ? "consent granted" : g.body);
  const answer = await w.h.app.inject({ method: "POST", url: "/holders/licences:query", headers: bearer(w.tokens.consumer), payload: { holderCode: code, holderCodeType: "111", matterCode: w.matter, useCause: "核验" } });
  tt.equal(answer.statusCode, 200, answer.statusCode === 200 ? "免证办 answer with copy links" : answer.body);
  const copyToken = new URL(answer.json().items[0].copy.url).pathname.split("/").pop()!;
  const qr = await w.h.app.inject({ method: "POST", url: `/holders/me/licences/${lic.identifier}/qr`, headers: bearer(holder) });
  tt.equal(qr.statusCode, 200, qr.statusCode === 200 ? "live QR minted" : qr.body);
  const liveToken = qr.json().token as string;

  // The same service behind an app that logs to a buffer, at info level like production.
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  const routes: RouteOptions[] = [];
  const deps = appDeps(w.h.ctx, pino({ ...loggerOptions(w.h.ctx.config), level: "info" }, sink));
  const app = await buildApp({ ...deps, plugins: [fp(async (a: FastifyInstance) => void a.addHook("onRoute", (r) => void routes.push(r))), ...(deps.plugins ?? [])] });
  tt.teardown(() => app.close());
  await app.ready();

  const consumer = bearer(w.tokens.consumer);
  const requests: Array<[string, Record<string, string>]> = [
    [`/copies/${copyToken}`, consumer],
    [`/copies/${copyToken}?format=pdf`, consumer],
    [`/copies/${copyToken}?format=json&token=${copyToken}`, consumer],
    [`/copies/${copyToken}/more`, consumer],
    [`/copies/${copyToken}.pdf`, consumer],
    [`/copies/${copyToken}`, {}],
    [`/v/${liveToken}`, {}],
    [`/V/${liveToken}`, {}],
    [`/v/${liveToken}?lang=en`, {}],
    [`/v/${liveToken}/x`, {}],
    [`/v/${liveToken}%ZZ`, {}],
    [`/v/${encodeURIComponent(liveToken)}`, {}],
    [`/nothing/${liveToken}`, {}],
  ];
  for (const [url, headers] of requests) await app.inject({ url, headers });

  // Every route whose path parameter is a capability: a fresh marker in it must not be logged either.
  const capability = routes.filter((r) => [...r.url.matchAll(/:([A-Za-z0-9_]+)/g)].some((m) => CAPABILITY_PARAMS.has(m[1]!) || (r.config as { capabilityParams?: string[] } | undefined)?.capabilityParams?.includes(m[1]!)));
  tt.ok(capability.some((r) => r.url === "/copies/:token") && capability.some((r) => r.url === "/v/:token"), "copy links and live QR tokens are capability routes");
  const markers: string[] = [];
  for (const r of capability) {
    const marker = `CAPMARK${Math.random().toString(36).slice(2)}x${Date.now().toString(36)}`;
    markers.push(marker);
    const url = r.url.replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) => (CAPABILITY_PARAMS.has(name) ? marker : "x1")).replace("::", ":");
    for (const m of (Array.isArray(r.method) ? r.method : [r.method]).filter((x) => x !== "HEAD")) await app.inject({ method: m as "GET", url });
  }

  const log = lines.join("");
  tt.ok(lines.length >= requests.length, `${lines.length} log lines captured`);
  tt.match(log, /"url":"\/copies\/\[redacted\]"/, "the copy route is logged with its token redacted");
  tt.match(log, /"url":"\/v\/\[redacted\]/, "the live QR route too");
  for (const [name, secret] of [["copy link", copyToken], ["live QR token", liveToken]] as const) {
    for (const piece of [secret, secret.slice(0, 16), secret.slice(-16), encodeURIComponent(secret).slice(0, 20)]) {
      tt.notOk(log.includes(piece), `no part of the ${name} is logged (${piece.slice(0, 6)}…)`);
    }
  }
  for (const m of markers) tt.notOk(log.includes(m), `route marker ${m.slice(0, 12)}… not logged`);
  tt.ok(capability.length >= 3, `${capability.length} capability routes probed`);
});

t.test("redactedUrl: templates, query secrets and unmatched long segments", async (tt) => {
  tt.equal(redactedUrl({ method: "GET", url: "/copies/abc.def?format=pdf", routeOptions: { url: "/copies/:token" }, params: { token: "abc.def" } }), "/copies/[redacted]?format=pdf");
  tt.equal(redactedUrl({ method: "GET", url: "/licences/1.2.156?x=1", routeOptions: { url: "/licences/:id" }, params: { id: "1.2.156" } }), "/licences/1.2.156?x=1", "other parameters stay readable");
  tt.equal(redactedUrl({ method: "GET", url: "/a/b?access_token=s3cret&x=1" }), "/a/b?access_token=[redacted]&x=1");
  tt.equal(redactedUrl({ method: "GET", url: `/v/${"t".repeat(60)}/x` }), "/v/[redacted]/x");
  tt.equal(redactedUrl({ method: "GET", url: "/x/y", routeOptions: { url: "/x/:id", config: { capabilityParams: ["id"] } }, params: { id: "y" } }), "/x/[redacted]", "a route may name its own capability parameters");
  tt.equal(redactedUrl({ method: "POST", url: "/licences:batch", routeOptions: { url: "/licences::batch" }, params: {} }), "/licences:batch");
});
