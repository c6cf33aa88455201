/**
 * Security headers and the request id.
 *
 * Two sets, chosen per route when the request arrives (no per-reply hook on the hot path):
 *  - API routes get what OWASP's REST Security Cheat Sheet asks of an API: a CSP that allows nothing and forbids
 *    framing, `nosniff`, `X-Frame-Options: DENY`, no referrer, same-origin resource policy, and HSTS in
 *    production. Headers that only mean something to a document a browser renders are left off: they cost bytes
 *    and work on every call of the hot routes (POST /verify, the holder query).
 *  - Routes that answer with something a browser renders (HTML pages, SVG pictures, PDF documents; marked
 *    `config: { document: true }`) and the API docs get the full document set: what helmet sends by default,
 *    tightened (CSP with `frame-ancestors 'none'`, no third-party sources). A route may still set a stricter CSP
 *    of its own (the verification pages do).
 * A document route left unmarked fails safe: the API CSP (`default-src 'none'`) lets it load nothing.
 */
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Config } from "../../config.js";

const API_CSP = "default-src 'none'; frame-ancestors 'none'";

/** The headers of a document a browser renders (HTML, SVG, PDF). */
export function securityHeaders(config: Config): Record<string, string> {
  const csp = [
    "default-src 'self'",
    "base-uri 'none'",
    "font-src 'self' data:",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "img-src 'self' data:",
    "object-src 'none'",
    "script-src 'self'",
    "script-src-attr 'none'",
    "style-src 'self' 'unsafe-inline'",
    ...(config.mode === "production" ? ["upgrade-insecure-requests"] : []),
  ].join(";");
  return {
    ...apiHeaders(config),
    "content-security-policy": csp,
    "cross-origin-opener-policy": "same-origin",
    "origin-agent-cluster": "?1",
    "x-dns-prefetch-control": "off",
    "x-download-options": "noopen",
    "x-permitted-cross-domain-policies": "none",
    "x-xss-protection": "0",
  };
}

/** The headers of a JSON answer. */
export function apiHeaders(config: Config): Record<string, string> {
  return {
    "content-security-policy": API_CSP,
    "cross-origin-resource-policy": "same-origin",
    "referrer-policy": "no-referrer",
    ...(config.mode === "production" ? { "strict-transport-security": "max-age=31536000; includeSubDomains" } : {}),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
  };
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** The route answers with a document a browser renders (HTML, SVG, PDF): send the full document header set. */
    document?: boolean;
  }
}

async function headersPlugin(app: FastifyInstance, opts: { config: Config }) {
  const api = apiHeaders(opts.config);
  const doc = securityHeaders(opts.config);
  // What a route that needs a token answers is for that caller (licence data, consents, access logs): no shared or
  // browser cache keeps it. A route may still set its own Cache-Control (public ones do: status lists, keys).
  const apiPrivate = { ...api, "cache-control": "no-store" };
  const docPrivate = { ...doc, "cache-control": "no-store" };
  app.addHook("onRequest", (req, reply, done) => {
    const config = req.routeOptions.config;
    const isPrivate = config?.auth !== undefined && config.auth !== "public";
    // /docs (swagger-ui) registers its own routes, without our route config.
    reply.headers(config?.document === true || req.url.startsWith("/docs") ? (isPrivate ? docPrivate : doc) : isPrivate ? apiPrivate : api);
    reply.header("x-request-id", req.id);
    done();
  });
}

export default fp(headersPlugin, { name: "sidian-headers" });
