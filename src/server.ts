/**
 * The running service: context + app + listen, with graceful shutdown on SIGINT/SIGTERM (stop accepting, finish
 * in-flight requests, publish a last checkpoint, close the database).
 */
import net from "node:net";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { buildApp, loggerOptions, type AppDeps } from "./app.js";
import type { Config } from "./config.js";
import { createContext, type Context } from "./context.js";
import { AppError } from "./errors.js";
import logRoutes from "./http/routes/log.js";
import counterRoutes from "./http/routes/counter.js";
import pageRoutes from "./http/routes/pages.js";
import pkiRoutes from "./http/routes/pki.js";
import sealRoutes from "./http/routes/seals.js";
import tsaRoutes from "./http/routes/tsa.js";
import verifyPdfRoutes from "./http/routes/verify-pdf.js";
import catalogueRoutes from "./http/routes/catalogue.js";
import licenceRoutes from "./http/routes/licences.js";
import holderRoutes from "./http/routes/holders.js";
import documentRoutes from "./http/routes/documents.js";
import verifyRoutes from "./http/routes/verify.js";
import signPageRoutes from "./http/routes/sign-page.js";
import signatureRoutes from "./http/routes/signatures.js";
import webhookRoutes from "./http/routes/webhooks.js";
import caseRoutes from "./http/routes/cases.js";
import archiveCheckRoutes from "./http/routes/archive-checks.js";
import archiveReceiveRoutes from "./http/routes/archive-receive.js";
import materialRoutes from "./http/routes/materials.js";

/** The app's dependencies from a context: used by the server, the tests and the benchmarks alike. */
export function appDeps(ctx: Context, logger?: AppDeps["logger"]): AppDeps {
  return {
    config: ctx.config,
    auth: ctx.auth,
    directory: ctx.directory,
    ready: ctx.ready,
    devKeys: ctx.material.dev,
    ...(ctx.metrics ? { metrics: { metrics: ctx.metrics, allow: ctx.config.metricsAllow, token: ctx.metricsToken } } : {}),
    ...(ctx.tracing ? { plugins: [ctx.tracing.plugin] } : {}),
    routes: [
      (app: FastifyInstance) => pkiRoutes(app, { ctx }),
      (app: FastifyInstance) => pageRoutes(app, { ctx }),
      (app: FastifyInstance) => counterRoutes(app, { ctx }),
      (app: FastifyInstance) => sealRoutes(app, { ctx }),
      (app: FastifyInstance) => tsaRoutes(app, { ctx }),
      (app: FastifyInstance) => verifyPdfRoutes(app, { ctx }),
      (app: FastifyInstance) => logRoutes(app, { tlog: ctx.tlog, rateLimit: ctx.config.publicRateLimit }),
      (app: FastifyInstance) => catalogueRoutes(app, { catalogue: ctx.catalogue }),
      (app: FastifyInstance) => licenceRoutes(app, { licences: ctx.licences, publicRateLimit: ctx.config.publicRateLimit }),
      (app: FastifyInstance) => holderRoutes(app, { access: ctx.access, documents: ctx.documents }),
      (app: FastifyInstance) => documentRoutes(app, { documents: ctx.documents }),
      (app: FastifyInstance) => verifyRoutes(app, { verifier: ctx.verifier, publicRateLimit: ctx.config.publicRateLimit }),
      (app: FastifyInstance) => signatureRoutes(app, { signatures: ctx.signatures, signing: ctx.signing, completion: ctx.completion }),
      (app: FastifyInstance) => signPageRoutes(app, { rateLimit: ctx.config.publicRateLimit }),
      (app: FastifyInstance) => webhookRoutes(app, { webhooks: ctx.webhooks as never }),
      (app: FastifyInstance) => caseRoutes(app, { ctx }),
      (app: FastifyInstance) => archiveCheckRoutes(app, { ctx }),
      (app: FastifyInstance) => archiveReceiveRoutes(app, { ctx }),
      (app: FastifyInstance) => materialRoutes(app, { materials: ctx.materials, receiptPdf: ctx.materialReceiptPdf, container: ctx.materialContainer, publicRateLimit: ctx.config.publicRateLimit }),
    ],
    ...(logger !== undefined ? { logger } : {}),
  };
}

export interface Running {
  ctx: Context;
  app: FastifyInstance;
  url: string;
  stop(): Promise<void>;
}

/** A listen error as one line (a port in use is a configuration matter, not a crash). */
function listenError(e: unknown, config: Config): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const where = `${config.host}:${config.port}`;
  if (code === "EADDRINUSE") return new AppError("CONFIG_INVALID", `Port ${config.port} on ${config.host} is already in use (another Sidian, or another program): stop it, or choose another port with SIDIAN_PORT=… (see README, Quick start).`, { cause: e });
  if (code === "EACCES") return new AppError("CONFIG_INVALID", `Not allowed to listen on ${where} (ports below 1024 need privileges): choose another port with SIDIAN_PORT=….`, { cause: e });
  if (code === "EADDRNOTAVAIL") return new AppError("CONFIG_INVALID", `SIDIAN_HOST ${config.host} is not an address of this machine.`, { cause: e });
  return e;
}

/** Fails fast, before the database is touched, when the address cannot be listened on. */
async function probeListen(config: Config): Promise<void> {
  if (config.port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const s = net.createServer();
    s.once("error", (e) => reject(listenError(e, config)));
    s.listen({ host: config.host, port: config.port, exclusive: true }, () => s.close(() => resolve()));
  });
}

export async function startServer(config: Config, opts: { onReady?: (r: Running) => Promise<void> | void; handleSignals?: boolean } = {}): Promise<Running> {
  await probeListen(config);
  const logger = pino(loggerOptions(config));
  const ctx = await createContext(config, { log: logger });
  let app: FastifyInstance;
  try {
    app = await buildApp(appDeps(ctx, logger));
    await app.listen({ host: config.host, port: config.port }).catch((e: unknown) => {
      throw listenError(e, config);
    });
  } catch (e) {
    await ctx.close();
    throw e;
  }
  const addr = app.server.address();
  const url = typeof addr === "object" && addr ? `http://${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}` : config.publicUrl;
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info("shutting down");
      await app.close();
      await ctx.tlog.checkpoint().catch(() => undefined);
      await ctx.close();
      logger.info("stopped");
    })());
  const running: Running = { ctx, app, url, stop };
  if (opts.handleSignals !== false) {
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      process.once(sig, () => {
        const force = setTimeout(() => {
          logger.error("shutdown took longer than 15 s; exiting");
          process.exit(1);
        }, 15_000);
        force.unref();
        stop().then(() => process.exit(0), (e) => {
          logger.error({ err: e }, "shutdown failed");
          process.exit(1);
        });
      });
    }
  }
  await opts.onReady?.(running);
  return running;
}
