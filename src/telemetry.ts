/**
 * Optional OpenTelemetry traces. Off unless an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT): then the OTel SDK is loaded (not before: a service without tracing pays
 * nothing, not even the import) and spans go to the collector over OTLP/HTTP in batches.
 *
 * Spans:
 *   - one SERVER span per request, named `METHOD /route/template`, continuing the caller's W3C `traceparent`;
 *     attributes http.request.method, http.route, http.response.status_code and sidian.error.code. The URL itself
 *     is never recorded (copy links and live QR tokens are capabilities in the path).
 *   - child spans for what the request waited on: `sign` (key role, profile, backend — a PKCS#11 round trip shows
 *     here) and `db.write` (time holding the write lock, and `db.write.wait` before it), recorded when they end.
 *
 * The SDK's global registration is not used: each service instance has its own provider and context manager, so
 * tests (and several instances in one process) do not share state.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { Context as OtelContext, Span, Tracer } from "@opentelemetry/api";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { problemCodeOf } from "./http/plugins/errors.js";

export interface Tracing {
  /** Fastify plugin: a server span per request, active while the request is handled. */
  readonly plugin: (app: FastifyInstance) => Promise<void>;
  /** Records an operation that just ended (`seconds` long) as a child of the active span, if there is one. */
  record(name: string, attributes: Record<string, string | number | boolean>, seconds: number, ok: boolean): void;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** OTLP/HTTP traces URL (…/v1/traces). */
  readonly url?: string;
  readonly serviceName: string;
  readonly serviceVersion: string;
  /** An exporter to use instead of OTLP (tests: the SDK's InMemorySpanExporter); spans are then exported one by one. */
  readonly exporter?: SpanExporter;
}

export async function createTracing(opts: TracingOptions): Promise<Tracing> {
  const api = await import("@opentelemetry/api");
  const { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor } = await import("@opentelemetry/sdk-trace-base");
  const { AsyncLocalStorageContextManager } = await import("@opentelemetry/context-async-hooks");
  const { W3CTraceContextPropagator } = await import("@opentelemetry/core");
  const { resourceFromAttributes } = await import("@opentelemetry/resources");
  let exporter = opts.exporter;
  if (!exporter) {
    const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
    exporter = new OTLPTraceExporter({ url: opts.url! });
  }
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": opts.serviceName, "service.version": opts.serviceVersion }),
    spanProcessors: [opts.exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter)],
  });
  const tracer: Tracer = provider.getTracer("sidian", opts.serviceVersion);
  const contexts = new AsyncLocalStorageContextManager();
  contexts.enable();
  const propagator = new W3CTraceContextPropagator();
  const spans = new WeakMap<FastifyRequest, Span>();

  async function plugin(app: FastifyInstance) {
    app.addHook("onRequest", (req, _reply, done) => {
      const route = req.routeOptions.url ?? "(unmatched)";
      const parent: OtelContext = propagator.extract(api.ROOT_CONTEXT, req.headers, api.defaultTextMapGetter);
      const span = tracer.startSpan(`${req.method} ${route}`, {
        kind: api.SpanKind.SERVER,
        attributes: { "http.request.method": req.method, "http.route": route },
      }, parent);
      spans.set(req, span);
      // Everything after this hook (the other hooks, the handler and what it awaits) runs inside the span.
      contexts.with(api.trace.setSpan(parent, span), done);
    });
    app.addHook("onResponse", (req: FastifyRequest, reply: FastifyReply, done) => {
      const span = spans.get(req);
      if (span) {
        span.setAttribute("http.response.status_code", reply.statusCode);
        const code = problemCodeOf(reply);
        if (code) span.setAttribute("sidian.error.code", code);
        if (reply.statusCode >= 500) span.setStatus({ code: api.SpanStatusCode.ERROR, ...(code ? { message: code } : {}) });
        span.end();
        spans.delete(req);
      }
      done();
    });
  }

  return {
    plugin: fp(plugin, { name: "sidian-tracing" }),
    record(name, attributes, seconds, ok) {
      const parent = contexts.active();
      if (!api.trace.getSpan(parent)) return; // only inside a request (a trace of its own for a lone operation is noise)
      const end = Date.now();
      const span = tracer.startSpan(name, { attributes, startTime: end - seconds * 1000 }, parent);
      if (!ok) span.setStatus({ code: api.SpanStatusCode.ERROR });
      span.end(end);
    },
    async shutdown() {
      await provider.shutdown();
      contexts.disable();
    },
  };
}
