/**
 * GET /metrics (Prometheus text format) and the request counting behind it.
 *
 * Who may scrape: a caller whose address (req.ip, which follows SIDIAN_TRUST_PROXY) is in the configured networks
 * (SIDIAN_METRICS_ALLOW, CIDR list; loopback by default), or one sending `Authorization: Bearer <token>` with the
 * token from SIDIAN_METRICS_TOKEN_FILE. Anyone else gets 403 METRICS_FORBIDDEN. The route is not behind client
 * authentication: Prometheus has no client credentials of ours, and the series hold no personal data.
 *
 * Every answered request is counted in onResponse by its route template (`/licences/:id`, never the URL), so the
 * number of series is bounded by the number of routes.
 */
import { timingSafeEqual, createHash } from "node:crypto";
import { BlockList, isIP } from "node:net";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { Type } from "@sinclair/typebox";
import { AppError } from "../../errors.js";
import type { Metrics } from "../../metrics.js";
import { problems } from "../schemas.js";
import { problemCodeOf } from "./errors.js";

export interface MetricsPluginOptions {
  metrics: Metrics;
  /** Networks allowed to scrape (CIDR or single addresses). */
  allow: readonly string[];
  /** Bearer token that may scrape from anywhere; null for none. */
  token: string | null;
}

export function blockListOf(cidrs: readonly string[]): BlockList {
  const bl = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split("/");
    const family = isIP(addr ?? "") === 6 ? "ipv6" : "ipv4";
    if (bits === undefined) bl.addAddress(addr!, family);
    else bl.addSubnet(addr!, Number(bits), family);
  }
  return bl;
}

/** Is `ip` (as Fastify gives it; IPv4 may come IPv6-mapped) in the list? */
export function ipAllowed(bl: BlockList, ip: string): boolean {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (v4) return bl.check(v4[1]!, "ipv4");
  const family = isIP(ip);
  if (family === 0) return false;
  return bl.check(ip, family === 6 ? "ipv6" : "ipv4");
}

/** Counts every answered request; registered before any route (see app.ts). */
async function metricsPlugin(app: FastifyInstance, opts: MetricsPluginOptions) {
  const { metrics } = opts;
  app.addHook("onResponse", (req: FastifyRequest, reply: FastifyReply, done) => {
    const status = reply.statusCode;
    const ro = req.routeOptions;
    metrics.request(ro.config, req.method, ro.url ?? "(unmatched)", status, reply.elapsedTime / 1000, status >= 400 ? problemCodeOf(reply) : undefined);
    done();
  });
}

export default fp(metricsPlugin, { name: "sidian-metrics" });

/** GET /metrics; registered with the routes (after the OpenAPI and auth plugins). */
export async function metricsRoute(app: FastifyInstance, opts: MetricsPluginOptions) {
  const { metrics } = opts;
  const allow = blockListOf(opts.allow);
  const tokenHash = opts.token === null ? null : createHash("sha256").update(opts.token).digest();

  function mayScrape(req: FastifyRequest): boolean {
    if (ipAllowed(allow, req.ip)) return true;
    const h = req.headers.authorization;
    if (tokenHash === null || typeof h !== "string") return false;
    const m = /^Bearer (\S{1,512})$/i.exec(h.trim());
    if (!m) return false;
    // Compared as SHA-256 digests: constant time whatever the lengths.
    return timingSafeEqual(createHash("sha256").update(m[1]!).digest(), tokenHash);
  }

  app.get("/metrics", {
    config: { auth: "public" },
    schema: {
      tags: ["system"],
      summary: "Prometheus metrics (restricted to the configured networks or bearer token)",
      description:
        "Prometheus text exposition format 0.0.4: requests by route and status, latency histograms, errors by code, signatures by key and " +
        "profile, transparency-log size and checkpoint age, write-lock and fdatasync latency, queue depths, key-store availability, and " +
        "the process's CPU, memory, event-loop lag and GC. Allowed from the networks in SIDIAN_METRICS_ALLOW (loopback by default) or with " +
        "`Authorization: Bearer` and the token in SIDIAN_METRICS_TOKEN_FILE; anyone else gets 403 METRICS_FORBIDDEN. See src/metrics.ts for every series.",
      response: {
        200: {
          description: "The metrics",
          content: { "text/plain; version=0.0.4": { schema: Type.String({ examples: ["# HELP sidian_http_requests_total HTTP requests answered, by route template and status.\n# TYPE sidian_http_requests_total counter\nsidian_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 12\n"] }) } },
        },
        ...problems("METRICS_FORBIDDEN"),
      },
    },
  }, async (req, reply) => {
    if (!mayScrape(req)) throw new AppError("METRICS_FORBIDDEN");
    const text = await metrics.text();
    return reply.type(metrics.contentType).header("cache-control", "no-store").send(text);
  });
}
