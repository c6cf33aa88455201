/**
 * GET /metrics: the series an operator alerts on move with real traffic (requests by route and status, errors by
 * code, signatures by key and profile, the log, the store, queues, the key store), unmatched URLs do not make new
 * series, and only the configured networks or the bearer token may scrape.
 */
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { createContext } from "../../src/context.js";
import { bearer, build, tempDir, testConfig } from "../helpers/app.js";
import { issued, personLicence, world } from "../licences/helpers.js";

/** One sample's value from the exposition text (labels given in the order prom-client prints them). */
function sample(text: string, name: string, labels = ""): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ""} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

t.test("the series move with traffic", async (t) => {
  const w = await world(t);
  const { h } = w;
  await h.app.inject({ url: "/healthz" });
  await h.app.inject({ url: "/healthz" });
  await h.app.inject({ url: "/no/such/route/1" });
  await h.app.inject({ url: "/no/such/route/2" });
  await h.app.inject({ url: "/me", headers: bearer("not-a-token") });
  await issued(w, personLicence(w, 1));
  await h.ctx.tlog.checkpoint();
  h.clock.advance(5000);

  const res = await h.app.inject({ url: "/metrics" });
  t.equal(res.statusCode, 200);
  t.match(res.headers["content-type"], /^text\/plain; version=0\.0\.4/);
  const m = res.body;
  t.equal(sample(m, "sidian_http_requests_total", 'method="GET",route="/healthz",status="200"'), 2);
  t.equal(sample(m, "sidian_http_requests_total", 'method="GET",route="(unmatched)",status="404"'), 2, "unmatched URLs share one series");
  t.notMatch(m, /no\/such\/route/, "raw URLs never become labels");
  t.equal(sample(m, "sidian_http_errors_total", 'code="ROUTE_NOT_FOUND"'), 2);
  t.equal(sample(m, "sidian_http_errors_total", 'code="TOKEN_INVALID"'), 1);
  t.ok((sample(m, "sidian_http_request_duration_seconds_count", 'method="POST",route="/licences"') ?? 0) >= 1, "latency histogram of POST /licences");
  t.ok((sample(m, "sidian_signatures_total", 'key="licence-signing",profile="p256",backend="file"') ?? 0) >= 1, "the licence signature");
  t.ok((sample(m, "sidian_signatures_total", 'key="token",profile="p256",backend="file"') ?? 0) >= 1, "access tokens");
  t.ok((sample(m, "sidian_signatures_total", 'key="issuing-ca",profile="p256",backend="file"') ?? 0) >= 1, "department certificates");
  t.equal(sample(m, "sidian_signatures_total", 'key="log",profile="ed25519",backend="file"'), 1, "one checkpoint");
  const size = await h.ctx.tlog.size();
  t.equal(sample(m, "sidian_log_size"), size);
  t.equal(sample(m, "sidian_log_checkpoint_size"), size);
  t.ok((sample(m, "sidian_log_checkpoint_age_seconds") ?? -1) >= 0);
  t.ok((sample(m, "sidian_db_write_seconds_count", 'outcome="commit"') ?? 0) > 0, "write transactions");
  t.equal(sample(m, "sidian_db_writers_waiting"), 0);
  t.equal(sample(m, "sidian_queue_depth", 'queue="access_records"'), 0);
  t.equal(sample(m, "sidian_queue_depth", 'queue="seal_worker"'), 0);
  t.equal(sample(m, "sidian_keystore_up", 'backend="file"'), 1);
  t.ok(sample(m, "sidian_process_cpu_user_seconds_total") !== undefined, "process metrics");
  t.ok(sample(m, "sidian_nodejs_eventloop_lag_seconds") !== undefined, "event-loop lag");

  // The bulk path signs on the seal worker: counted too.
  const before = sample(m, "sidian_signatures_total", 'key="licence-signing",profile="p256",backend="file"') ?? 0;
  const lines = Array.from({ length: 40 }, (_, i) => JSON.stringify(personLicence(w, 100 + i))).join("\n");
  const b = await h.app.inject({ method: "POST", url: "/licences:batch", headers: { ...bearer(w.tokens.issuer), "content-type": "application/x-ndjson" }, payload: lines });
  t.equal(b.statusCode, 200, b.body);
  const after = sample((await h.app.inject({ url: "/metrics" })).body, "sidian_signatures_total", 'key="licence-signing",profile="p256",backend="file"') ?? 0;
  t.equal(after - before, 40, "40 bulk signatures counted");
});

t.test("only the configured networks or the bearer token may scrape", async (t) => {
  const dir = tempDir(t);
  const tokenFile = path.join(dir, "metrics-token");
  const secret = "m".repeat(20) + "0123456789abcdefghij";
  fs.writeFileSync(tokenFile, `${secret}\n`, { mode: 0o600 });
  const h = await build(t, { SIDIAN_METRICS_ALLOW: "10.0.0.0/8,192.168.7.7", SIDIAN_METRICS_TOKEN_FILE: tokenFile });
  const from = (remoteAddress: string, headers: Record<string, string> = {}) => h.app.inject({ url: "/metrics", remoteAddress, headers });
  const local = await from("127.0.0.1");
  t.equal(local.statusCode, 403, "loopback is not in this list");
  t.equal(local.json().code, "METRICS_FORBIDDEN");
  t.equal((await from("10.20.30.40")).statusCode, 200, "inside 10.0.0.0/8");
  t.equal((await from("::ffff:10.1.1.1")).statusCode, 200, "IPv4-mapped IPv6");
  t.equal((await from("192.168.7.7")).statusCode, 200, "a single address");
  t.equal((await from("192.168.7.8")).statusCode, 403);
  t.equal((await from("203.0.113.9", bearer(secret))).statusCode, 200, "the bearer token from anywhere");
  t.equal((await from("203.0.113.9", bearer(secret + "x"))).statusCode, 403, "a wrong token");
  t.equal((await from("203.0.113.9", bearer(secret.slice(0, -1)))).statusCode, 403, "a prefix of the token");
  t.equal((await from("203.0.113.9", { authorization: `Basic ${Buffer.from(`x:${secret}`).toString("base64")}` })).statusCode, 403, "not Basic");
  const spoof = await from("203.0.113.9", { "x-forwarded-for": "10.0.0.1" });
  t.equal(spoof.statusCode, 403, "X-Forwarded-For is not believed without SIDIAN_TRUST_PROXY");
});

t.test("configuration: off, a bad network, a short token", async (t) => {
  const off = await build(t, { SIDIAN_METRICS: "off" });
  t.equal((await off.app.inject({ url: "/metrics" })).statusCode, 404);
  t.equal(off.ctx.metrics, null);
  t.throws(() => testConfig(t, { SIDIAN_METRICS_ALLOW: "10.0.0.0/33" }), { code: "CONFIG_INVALID", message: /SIDIAN_METRICS_ALLOW: "10.0.0.0\/33"/ });
  t.throws(() => testConfig(t, { OTEL_EXPORTER_OTLP_ENDPOINT: "ftp://collector" }), { code: "CONFIG_INVALID", message: /OTEL_EXPORTER_OTLP_ENDPOINT/ });
  const short = path.join(tempDir(t), "short");
  fs.writeFileSync(short, "tooshort\n");
  await t.rejects(createContext(testConfig(t, { SIDIAN_METRICS_TOKEN_FILE: short }), { autoCheckpoint: false }), { code: "CONFIG_INVALID", message: /at least 32 characters/ });
  await t.rejects(createContext(testConfig(t, { SIDIAN_METRICS_TOKEN_FILE: "/nonexistent/token" }), { autoCheckpoint: false }), { code: "CONFIG_INVALID", message: /cannot be read/ });
});
