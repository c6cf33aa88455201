/**
 * One JSON problem shape for every failure: `{code, message, requestId, details?}` with the status from the
 * error table. Public message to the client, cause to the log (never the other way round).
 */
import { randomUUID } from "node:crypto";
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import FindMyWay from "find-my-way";
import { AppError, ERROR_TABLE, type ErrorCode } from "../../errors.js";

export interface Problem {
  code: ErrorCode;
  message: string;
  requestId: string;
  details?: Record<string, unknown>;
  /** RFC 6749 §5.2 error, on the token endpoint only. */
  error?: string;
}

const OAUTH_ERRORS: Partial<Record<ErrorCode, string>> = {
  INVALID_CLIENT: "invalid_client",
  UNSUPPORTED_GRANT_TYPE: "unsupported_grant_type",
  INVALID_SCOPE: "invalid_scope",
  VALIDATION_FAILED: "invalid_request",
  BODY_TOO_LARGE: "invalid_request",
  UNSUPPORTED_MEDIA_TYPE: "invalid_request",
  RATE_LIMITED: "slow_down",
};

/** Maps any thrown value to an AppError. Fastify's own errors get stable codes too. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const fe = err as FastifyError & { validation?: Array<{ instancePath?: string; message?: string; params?: unknown; keyword?: string }>; validationContext?: string };
  if (fe && Array.isArray(fe.validation)) {
    const errors = fe.validation.slice(0, 10).map((v) => ({
      in: fe.validationContext ?? "body",
      path: v.instancePath || "/",
      keyword: v.keyword,
      message: v.message,
      ...(v.keyword === "additionalProperties" ? { unknown: (v.params as { additionalProperty?: string })?.additionalProperty } : {}),
    }));
    return new AppError("VALIDATION_FAILED", "The request is not valid: " + errors.map((e) => `${e.in}${e.path} ${e.message}`).join("; "), { cause: err, details: { errors } });
  }
  switch (fe?.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new AppError("BODY_TOO_LARGE", undefined, { cause: err });
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new AppError("UNSUPPORTED_MEDIA_TYPE", undefined, { cause: err });
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new AppError("VALIDATION_FAILED", "The body is not valid JSON.", { cause: err });
    case "FST_ERR_CTP_INVALID_TYPE":
      return new AppError("UNSUPPORTED_MEDIA_TYPE", undefined, { cause: err });
  }
  if (fe?.statusCode === 429) return new AppError("RATE_LIMITED", undefined, { cause: err });
  // A structure nested deeper than the stack (the edge bounds bodies and DER; this is the last guard): the
  // request's fault, and never its runtime message.
  if (err instanceof RangeError && /call stack/i.test(err.message)) return new AppError("VALIDATION_FAILED", "The request is nested too deeply.", { cause: err });
  if (err instanceof SyntaxError) return new AppError("VALIDATION_FAILED", "The body could not be parsed.", { cause: err });
  if (fe?.statusCode === 413) return new AppError("BODY_TOO_LARGE", undefined, { cause: err });
  if (fe?.statusCode === 415) return new AppError("UNSUPPORTED_MEDIA_TYPE", undefined, { cause: err });
  if (fe?.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) return new AppError("VALIDATION_FAILED", fe.message, { cause: err });
  return new AppError("INTERNAL", undefined, { cause: err });
}

export function problemOf(req: FastifyRequest, e: AppError): Problem {
  const body: Problem = { code: e.code, message: e.message, requestId: String(req.id) };
  if (e.details) body.details = e.details;
  if (req.routeOptions.url === "/oauth/token") body.error = OAUTH_ERRORS[e.code] ?? "invalid_request";
  return body;
}

/** The stable code of the problem a reply carries (metrics count errors by it). */
const problemCodes = new WeakMap<FastifyReply, ErrorCode>();
export function problemCodeOf(reply: FastifyReply): ErrorCode | undefined {
  return problemCodes.get(reply);
}

export function sendProblem(req: FastifyRequest, reply: FastifyReply, e: AppError): FastifyReply {
  problemCodes.set(reply, e.code);
  // RFC 6749 §5.2: the Basic challenge answers a client that authenticated with the Authorization header only. A
  // client that sent its secret in the form (the counter page) gets none: a browser would open its own prompt.
  if (e.code === "INVALID_CLIENT" && req.routeOptions.url === "/oauth/token" && /^basic\s/i.test(req.headers.authorization ?? "")) {
    reply.header("www-authenticate", 'Basic realm="sidian"');
  }
  // A busy service says when to come back (PDF_WORKERS_BUSY).
  if (e.status === 503 && typeof e.details?.retryAfterSeconds === "number") reply.header("retry-after", String(e.details.retryAfterSeconds));
  if (e.status === 401 && req.routeOptions.url !== "/oauth/token") {
    reply.header("www-authenticate", `Bearer realm="sidian"${e.code === "TOKEN_EXPIRED" || e.code === "TOKEN_INVALID" ? ', error="invalid_token"' : ""}`);
  }
  return reply.code(e.status).type("application/json; charset=utf-8").send(problemOf(req, e));
}

/** Headers every problem answer carries, also where Fastify is bypassed (clientErrorHandler). */
const RAW_PROBLEM_HEADERS = "Content-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n" +
  "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\nX-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n";

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses before any route runs (a URL or headers over
 * the header size limit: 431 HEADERS_TOO_LARGE; a request not received in time: 408 REQUEST_TIMEOUT; anything
 * else that is not HTTP: 400 VALIDATION_FAILED) leaves in the problem shape too, then the connection is closed.
 */
export function clientErrorHandler(this: FastifyInstance | undefined, err: Error & { code?: string }, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const e = err.code === "HPE_HEADER_OVERFLOW" ? new AppError("HEADERS_TOO_LARGE", "The request URL or headers are larger than the server accepts (16 KB in all).")
    : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? new AppError("REQUEST_TIMEOUT")
      : new AppError("VALIDATION_FAILED", "The request is not valid HTTP.");
  const requestId = randomUUID();
  this?.log?.info({ code: e.code, requestId, cause: err.code ?? err.message }, "request refused by the HTTP parser");
  writeRawProblem(socket, e, requestId);
  socket.destroy(err);
}

/** A problem answer written on the socket itself (Fastify bypassed), then the connection is closed. */
export function writeRawProblem(socket: Socket, e: AppError, requestId: string = randomUUID(), extraHeaders = ""): void {
  if (!socket.writable) return;
  const body = JSON.stringify({ code: e.code, message: e.message, requestId });
  socket.write(`HTTP/1.1 ${e.status} ${STATUS_CODES[e.status]}\r\n${RAW_PROBLEM_HEADERS}${extraHeaders}X-Request-Id: ${requestId}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

async function errorsPlugin(app: FastifyInstance) {
  // Closing: new requests get NOT_READY (the load balancer sends them elsewhere) and the connection is closed.
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onRequest", async (req, reply) => {
    // Node's own check answers a bare 400 with no body: the server takes requests without Host (app.ts) and the
    // answer is in the problem shape here (RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400).
    if (req.headers.host === undefined && req.raw.httpVersionMajor === 1 && req.raw.httpVersionMinor >= 1) {
      reply.header("connection", "close");
      return sendProblem(req, reply, new AppError("VALIDATION_FAILED", "An HTTP/1.1 request names its host (the Host header)."));
    }
    if (!closing) return;
    reply.header("connection", "close");
    return sendProblem(req, reply, new AppError("NOT_READY", "The service is shutting down; retry on another instance."));
  });
  // CONNECT (a proxy's method) never reaches Fastify: without a listener Node just drops the connection.
  app.server.on("connect", (_req: unknown, socket: Socket) => {
    writeRawProblem(socket, new AppError("METHOD_NOT_ALLOWED", "CONNECT is not allowed here: this is not a proxy."));
    socket.destroy();
  });
  app.setErrorHandler((err, req, reply) => {
    const e = toAppError(err);
    if (e.status >= 500) req.log.error({ err, code: e.code }, "request failed");
    else req.log.info({ code: e.code, cause: (err as Error)?.message !== e.message ? (err as Error)?.message : undefined }, "request rejected");
    return sendProblem(req, reply, e);
  });
  // A known path asked with a method it does not have: 405 METHOD_NOT_ALLOWED with `Allow` (RFC 9110 §15.5.6),
  // not 404. Every route is mirrored into a router of its own (same matching rules as Fastify's), asked only when
  // Fastify found no route.
  const paths = FindMyWay({ maxParamLength: 512 });
  const methods = new Set<string>();
  app.addHook("onRoute", (r) => {
    for (const m of Array.isArray(r.method) ? r.method : [r.method]) {
      methods.add(m);
      try {
        paths.on(m as "GET", r.url, () => undefined);
      } catch {
        // the same method and path twice (Fastify refuses that itself); nothing to mirror
      }
    }
  });
  app.setNotFoundHandler((req, reply) => {
    const q = req.url.indexOf("?");
    const path = q === -1 ? req.url : req.url.slice(0, q);
    let allow: string[] = [];
    try {
      allow = [...methods].filter((m) => m !== req.method && paths.find(m as "GET", path) !== null).sort();
    } catch {
      allow = [];
    }
    if (allow.length === 0) return sendProblem(req, reply, new AppError("ROUTE_NOT_FOUND"));
    reply.header("allow", allow.join(", "));
    return sendProblem(req, reply, new AppError("METHOD_NOT_ALLOWED", `${req.method} is not allowed here; use ${allow.join(", ")}.`, { details: { allow } }));
  });
}

export default fp(errorsPlugin, { name: "sidian-errors" });

export const ALL_ERROR_CODES = Object.keys(ERROR_TABLE) as ErrorCode[];
