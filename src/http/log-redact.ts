/**
 * Capability tokens travel in URLs (`/copies/:token` copy links, `/v/:token` live QR tokens): whoever holds the URL
 * holds the right, so request logs never carry them (DESIGN rule 7, issue 14 §4.4).
 *
 * - A matched route: the URL is rebuilt from the route's template; a path parameter named in
 *   {@link CAPABILITY_PARAMS}, or listed in the route's `config.capabilityParams`, is written `[redacted]`.
 * - An unmatched URL (404, or a request refused before routing): any path segment longer than
 *   {@link LONG_SEGMENT} characters is written `[redacted]` (a token with a suffix added, `/v/<token>/x`, is still one).
 * - Query parameters whose name looks like a secret (token, secret, password, signature, key, code) are redacted.
 */
import type { FastifyRequest } from "fastify";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Path parameters of this route that are capability tokens (besides those named in CAPABILITY_PARAMS). */
    capabilityParams?: readonly string[];
  }
}

/** Path parameter names that hold capability tokens on every route. */
export const CAPABILITY_PARAMS: ReadonlySet<string> = new Set(["token"]);
export const REDACTED = "[redacted]";
/** Unmatched URLs: segments longer than this are redacted (identifiers and UUIDs are shorter than any token). */
export const LONG_SEGMENT = 40;
const SECRET_QUERY = /token|secret|password|passwd|signature|key|code|jwt|assertion|credential/i;

type ReqLike = Pick<FastifyRequest, "method" | "url"> & {
  routeOptions?: { url?: string; config?: { capabilityParams?: readonly string[] } };
  params?: unknown;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
};

function redactQuery(query: string): string {
  if (!query) return "";
  return "?" + query.split("&").map((pair) => {
    const i = pair.indexOf("=");
    const name = i < 0 ? pair : pair.slice(0, i);
    let decoded = name;
    try {
      decoded = decodeURIComponent(name);
    } catch { /* keep the raw name */ }
    return i >= 0 && SECRET_QUERY.test(decoded) ? `${name}=${REDACTED}` : pair;
  }).join("&");
}

function redactLongSegments(path: string): string {
  return path.split("/").map((seg) => (seg.length > LONG_SEGMENT ? REDACTED : seg)).join("/");
}

/** The request URL as it may be logged. */
export function redactedUrl(req: ReqLike): string {
  const raw = String(req.url ?? "");
  const q = raw.indexOf("?");
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = redactQuery(q < 0 ? "" : raw.slice(q + 1));
  let template: string | undefined;
  try {
    template = req.routeOptions?.url;
  } catch {
    template = undefined;
  }
  const params = (req.params && typeof req.params === "object" ? req.params : {}) as Record<string, unknown>;
  if (template && template !== "*" && !template.includes("*")) {
    const extra = req.routeOptions?.config?.capabilityParams ?? [];
    // The template with each parameter's value (or [redacted]); "::" is a literal colon in Fastify's syntax.
    const rebuilt = template.replace(/::/g, "\u0000").replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) => {
      if (CAPABILITY_PARAMS.has(name) || extra.includes(name)) return REDACTED;
      const v = params[name];
      return typeof v === "string" ? encodeURIComponent(v) : String(v ?? "");
    }).replace(/\u0000/g, ":");
    return rebuilt + query;
  }
  return redactLongSegments(path) + query;
}

/** pino's `req` serializer: Fastify's fields, with the URL redacted. */
export function reqSerializer(req: ReqLike) {
  return {
    method: req.method,
    url: redactedUrl(req),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}
