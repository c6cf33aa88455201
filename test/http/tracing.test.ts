/**
 * OpenTelemetry traces, into the SDK's in-memory exporter: a server span per request continuing the caller's W3C
 * traceparent, with the signatures and write transactions it waited on as child spans; no URL recorded; nothing
 * at all when no exporter is configured.
 */
import t from "tap";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { buildApp } from "../../src/app.js";
import { createContext } from "../../src/context.js";
import { appDeps } from "../../src/server.js";
import { bearer, testConfig } from "../helpers/app.js";

t.test("spans for requests, signatures and writes", async (t) => {
  const exporter = new InMemorySpanExporter();
  const ctx = await createContext(testConfig(t), { autoCheckpoint: false, traceExporter: exporter });
  const app = await buildApp(appDeps(ctx, false));
  t.teardown(async () => {
    await app.close();
    await ctx.close();
  });
  t.ok(ctx.tracing);
  const { client, secret } = await ctx.directory.createClient({ name: "t", role: "admin" }, { kind: "system", name: "test" });
  exporter.reset();

  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const callerSpan = "00f067aa0ba902b7";
  const tok = await app.inject({
    method: "POST", url: "/oauth/token", headers: { traceparent: `00-${traceId}-${callerSpan}-01` },
    payload: { grant_type: "client_credentials", client_id: client.id, client_secret: secret },
  });
  t.equal(tok.statusCode, 200);
  const spans = exporter.getFinishedSpans();
  const server = spans.find((s) => s.name === "POST /oauth/token");
  t.ok(server, "a server span named by the route template");
  t.equal(server!.spanContext().traceId, traceId, "continues the caller's trace");
  t.equal(server!.parentSpanContext?.spanId, callerSpan, "as a child of the caller's span");
  t.equal(server!.attributes["http.response.status_code"], 200);
  t.equal(server!.attributes["http.route"], "/oauth/token");
  const sign = spans.find((s) => s.name === "sign");
  t.ok(sign, "the access token's signature is a span");
  t.equal(sign!.parentSpanContext?.spanId, server!.spanContext().spanId, "inside the request's span");
  t.same([sign!.attributes["sidian.key"], sign!.attributes["sidian.key.profile"], sign!.attributes["sidian.key.backend"]], ["token", "p256", "file"]);

  exporter.reset();
  const dep = await app.inject({
    method: "POST", url: "/departments", headers: bearer(tok.json().access_token),
    payload: { name: "某市市场监督管理局", uscc: "11100000MB03271699", regionCode: "350100" },
  });
  t.equal(dep.statusCode, 201, dep.body);
  const s2 = exporter.getFinishedSpans();
  const root = s2.find((s) => s.name === "POST /departments")!;
  t.notOk(root.parentSpanContext, "no traceparent: a new trace");
  const write = s2.find((s) => s.name === "db.write");
  t.ok(write && write.parentSpanContext?.spanId === root.spanContext().spanId, "the write transaction is a child span");
  t.ok(s2.some((s) => s.name === "sign" && s.attributes["sidian.key"] === "issuing-ca"), "the department certificate's signature");

  exporter.reset();
  const copyLink = await app.inject({ url: "/copies/SECRET-CAPABILITY-TOKEN" });
  t.equal(copyLink.statusCode, 401);
  const s3 = exporter.getFinishedSpans();
  t.equal(s3.length, 1);
  t.equal(s3[0]!.attributes["sidian.error.code"], "AUTH_REQUIRED");
  t.equal(s3[0]!.attributes["http.route"], "/copies/:token");
  t.notMatch(JSON.stringify(s3.map((s) => ({ name: s.name, attributes: s.attributes }))), /SECRET-CAPABILITY-TOKEN/, "the URL is never recorded");
});

t.test("no exporter configured: no tracing", async (t) => {
  const ctx = await createContext(testConfig(t), { autoCheckpoint: false });
  t.teardown(() => ctx.close());
  t.equal(ctx.tracing, null);
  t.equal(testConfig(t, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }).otlpTracesUrl, "http://127.0.0.1:4318/v1/traces");
  t.equal(testConfig(t, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/custom" }).otlpTracesUrl, "http://c:4318/custom");
  t.equal(testConfig(t, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "none" }).otlpTracesUrl, null);
});
