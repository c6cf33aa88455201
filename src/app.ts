/**
 * buildApp(deps): the whole HTTP surface as one Fastify instance. No I/O at import time; everything it needs
 * is passed in, so tests build it with `app.inject` and production wraps it in server.ts.
 */
import { randomUUID } from "node:crypto";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import rateLimit, { type RateLimitPluginOptions } from "@fastify/rate-limit";
import { Redis } from "ioredis";
import { redisWithFallback } from "./http/rate-limit-store.js";
import swagger, { type SwaggerTransform, type SwaggerTransformObject } from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { guideRoutes, loadRecordedExamples, openapiTransform, openapiTransformObject } from "./http/openapi.js";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Config } from "./config.js";
import { AppError } from "./errors.js";
import authPlugin from "./http/plugins/auth.js";
import errorsPlugin, { clientErrorHandler, sendProblem } from "./http/plugins/errors.js";
import headersPlugin from "./http/plugins/headers.js";
import devBannerPlugin from "./http/plugins/dev-banner.js";
import metricsPlugin, { metricsRoute, type MetricsPluginOptions } from "./http/plugins/metrics.js";
import directoryRoutes from "./http/routes/directory.js";
import oauthRoutes from "./http/routes/oauth.js";
import systemRoutes, { type ReadinessProbe } from "./http/routes/system.js";
import { ProblemSchema } from "./http/schemas.js";
import { reqSerializer } from "./http/log-redact.js";
import { AJV_OPTIONS, buildValidator, edgeParsing } from "./http/validation.js";
import type { AuthService } from "./modules/auth/index.js";
import type { DirectoryService } from "./modules/directory/index.js";

export const VERSION = "0.1.0";

export interface AppDeps {
  config: Config;
  auth: AuthService;
  directory: DirectoryService;
  ready: ReadinessProbe;
  /** Extra route plugins (PKI, log, …) registered after the core ones. */
  routes?: Array<(app: FastifyInstance) => Promise<void>>;
  /** A pino logger to use, or `false` for none (tests); default: a pino logger at config.logLevel. */
  logger?: FastifyBaseLogger | false;
  /** Request metrics and GET /metrics (absent: neither). */
  metrics?: MetricsPluginOptions;
  /** Extra plugins registered before the routes (tracing). */
  plugins?: Array<(app: FastifyInstance) => Promise<void>>;
  /** DEV key material is loaded: every HTML page carries the 开发测试 · 非正式 DEV banner. */
  devKeys?: boolean;
}

/** pino options: never log secrets, tokens or full personal identifiers. */
export function loggerOptions(config: Config) {
  return {
    level: config.logLevel,
    redact: {
      paths: ["req.headers.authorization", "req.headers.cookie", "*.client_secret", "*.secret", "*.access_token", "*.holderCode", "*.holder_code"],
      censor: "[redacted]",
    },
    // Capability tokens in URLs (copy links, live QR tokens) never reach the log (http/log-redact.ts).
    serializers: { req: reqSerializer },
  };
}

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;

/** Config → Fastify's trustProxy: a hop count is "the N nearest hops" (what Fastify does with a number). */
function trustProxyOption(tp: Config["trustProxy"]): boolean | string[] | ((addr: string, hop: number) => boolean) {
  if (tp === false) return false;
  if (typeof tp === "number") return (_addr, hop) => hop < tp;
  return [...tp];
}

export async function buildApp(deps: AppDeps) {
  const { config } = deps;
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: deps.logger === false ? false : loggerOptions(config) }),
    bodyLimit: config.bodyLimit,
    trustProxy: trustProxyOption(config.trustProxy),
    requestIdHeader: false,
    genReqId: (req) => {
      const h = req.headers["x-request-id"];
      return typeof h === "string" && REQUEST_ID_RE.test(h) ? h : randomUUID();
    },
    connectionTimeout: 30_000,
    requestTimeout: 60_000,
    keepAliveTimeout: 65_000,
    // While closing, requests get 503 NOT_READY in the problem shape (errors plugin), not Fastify's own body.
    return503OnClosing: false,
    // Errors Node's HTTP parser raises before Fastify sees a request (431 over-long URL or headers, 408, 400).
    clientErrorHandler,
    // A request without Host gets its 400 in the problem shape from the errors plugin, not Node's bare one.
    http: { requireHostHeader: false },
    // Live QR tokens travel in the path (/v/<token>, ~190 chars).
    routerOptions: { maxParamLength: 512 },
    // Errors raised before routing (bad URL encoding, over-long params) get the same problem shape as the rest.
    frameworkErrors: (err, req, reply) => {
      const code = (err as { code?: string }).code;
      const e = code === "FST_ERR_MAX_PARAM_LENGTH" ? new AppError("VALIDATION_FAILED", "A path parameter is too long.", { cause: err })
        : new AppError("VALIDATION_FAILED", "The request URL is not valid.", { cause: err });
      void sendProblem(req, reply, e);
    },
    // Bodies keep JSON's types; query strings, path parameters and headers are coerced (decimal digits only).
    ajv: AJV_OPTIONS,
    schemaController: { compilersFactory: { buildValidator: buildValidator as never } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Only JSON by default: a route that takes another media type registers its own parser.
  app.removeContentTypeParser("text/plain");
  // JSON bodies: valid UTF-8, bounded nesting, the text rule; query and path values: the text rule.
  edgeParsing(app);
  app.addSchema(ProblemSchema);
  await app.register(errorsPlugin);
  // Before any route, so every route is counted.
  if (deps.metrics) await app.register(metricsPlugin, deps.metrics);
  for (const p of deps.plugins ?? []) await app.register(p);
  await app.register(headersPlugin, { config });
  if (deps.devKeys) await app.register(devBannerPlugin);
  // Shared by every instance through Redis when SIDIAN_REDIS_URL is set. While Redis does not answer, each instance
  // applies the limits in its own memory (one log line, /readyz says "per-instance"); it reconnects by itself.
  const redis = config.redisUrl ? new Redis(config.redisUrl, { connectTimeout: 2000, commandTimeout: 500, maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: false }) : null;
  const sharing = redis ? redisWithFallback(redis, "sidian-rl:", app.log) : null;
  if (redis) app.addHook("onClose", async () => void (await redis.quit().catch(() => redis.disconnect())));
  await app.register(rateLimit, {
    global: false,
    ...(sharing ? { store: sharing.Store as unknown as NonNullable<RateLimitPluginOptions["store"]> } : {}),
    errorResponseBuilder: (_req, ctx) => new AppError("RATE_LIMITED", `Too many requests; retry in ${Math.ceil(ctx.ttl / 1000)} s.`, { details: { retryAfterSeconds: Math.ceil(ctx.ttl / 1000) } }),
  });
  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "Sidian (四电) API", version: VERSION,
        description: "E-licences, e-seals, e-signatures and e-materials: issue, sign, store, verify.\n\n" +
          "**Integration guide** (each user's calls in order, with real requests and answers, errors and what to do, retries, offline verification): " +
          "[English](/docs/integration.md) · [中文](/docs/integration.zh.md). Error codes: every error answer is `{code, message, requestId}`; " +
          "each operation lists the codes it can answer with (`x-error-codes`).",
      },
      servers: [{ url: config.publicUrl }],
      components: {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
          basic: { type: "http", scheme: "basic" },
        },
      },
    },
    transform: (o) => openapiTransform(o as unknown as Parameters<typeof openapiTransform>[0]) as ReturnType<SwaggerTransform>,
    transformObject: openapiTransformObject(loadRecordedExamples()) as unknown as SwaggerTransformObject,
    refResolver: { buildLocalReference: (json, _base, _frag, i) => (typeof json.$id === "string" ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: "/docs", staticCSP: true });
  await app.register(authPlugin, { auth: deps.auth });
  await app.register(guideRoutes);

  await app.register(systemRoutes, {
    ready: sharing ? async () => ({ ...(await deps.ready()), rateLimits: sharing.mode() }) : deps.ready,
    version: VERSION,
  });
  if (deps.metrics) await app.register(metricsRoute, deps.metrics);
  await app.register(oauthRoutes, { auth: deps.auth, rateLimit: config.publicRateLimit });
  await app.register(directoryRoutes, { directory: deps.directory });
  for (const r of deps.routes ?? []) await app.register(r);
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
