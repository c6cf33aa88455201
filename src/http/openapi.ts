/**
 * What /docs says about each operation, beyond the route's own schema (issue 21):
 *
 * - **Who may call it**: a line built from the route's `config.auth` and rate limit, appended to its description.
 * - **Error codes**: the codes every route of its kind can answer with (authentication and authorisation, the
 *   rate limit, request validation, body size and media type) are added to what the route names with `problems()`;
 *   each error response carries its codes as `x-error-codes`, their public messages and an example body.
 * - **Examples**: inline ones (`ex(schema, …)` in a route's schema) and those recorded from a real run of the
 *   service (`docs/api-examples.json`, written by `npm run docs:examples`, see scripts/api-examples.ts): the request
 *   body and one response per status.
 *
 * test/http/openapi.test.ts fails when an operation has no description, no request or response example, or an
 * error status without codes — for every registered route, whoever adds it. A route adds its examples either inline
 * with `ex()` or by a step in scripts/api-examples.ts (which also feeds the integration guide).
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { TSchema } from "@sinclair/typebox";
import { ERROR_TABLE, type ErrorCode } from "../errors.js";
import type { RouteAuth } from "./plugins/auth.js";

/** The guide an integrator follows; /docs links to it. */
export const GUIDE_URL = "https://github.com/sidian/sidian/blob/main/docs/integration.md";
export const GUIDE_PATH = "docs/integration.md";

/** The same schema with examples (shown in /docs as the request's or the response's example). */
export function ex<T extends TSchema>(schema: T, ...examples: unknown[]): T {
  return { ...schema, examples } as T;
}

/** One exchange of the recorded run (docs/api-examples.json). */
export interface RecordedExchange {
  /** Step name, e.g. `issuer.issue`: the integration guide refers to it. */
  readonly id: string;
  readonly title: string;
  /** `POST /licences/{id}/status`: the OpenAPI operation. */
  readonly operation: string;
  readonly request: { readonly method: string; readonly url: string; readonly headers?: Record<string, string>; readonly body?: unknown };
  readonly response: { readonly status: number; readonly headers?: Record<string, string>; readonly body?: unknown };
}

export interface RecordedExamples {
  readonly note: string;
  readonly exchanges: readonly RecordedExchange[];
}

const EXAMPLES_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../docs/api-examples.json");

export function loadRecordedExamples(file = EXAMPLES_FILE): RecordedExamples {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as RecordedExamples;
  } catch {
    return { note: "", exchanges: [] };
  }
}

const CLIENT_ROLES = ["admin", "issuer", "consumer", "counter", "archivist"] as const;

/** The codes a route answers with because of what it is (authenticated, rate limited, takes input), by its config. */
export function genericCodes(method: string, route: { auth?: RouteAuth; rateLimit?: unknown; hasInput: boolean; hasBody: boolean }): ErrorCode[] {
  const codes: ErrorCode[] = [];
  const a = route.auth;
  if (a && a !== "public") {
    if (!a.optional) codes.push("AUTH_REQUIRED");
    codes.push("TOKEN_INVALID", "TOKEN_EXPIRED");
    const everyone = CLIENT_ROLES.every((r) => a.roles?.includes(r)) && a.holder;
    if (!everyone) codes.push("FORBIDDEN_ROLE");
    if (a.scopes?.length) codes.push("FORBIDDEN_SCOPE");
    if (a.holder) codes.push("IDP_UNAVAILABLE");
  }
  if (route.rateLimit) codes.push("RATE_LIMITED");
  if (route.hasInput) codes.push("VALIDATION_FAILED");
  if (route.hasBody && ["POST", "PUT", "PATCH"].includes(method)) codes.push("BODY_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE");
  return codes;
}

function accessLine(auth: RouteAuth | undefined, rateLimit: unknown): string {
  let who: string;
  if (!auth || auth === "public") who = "anyone (no token)";
  else {
    const parts: string[] = [];
    if (auth.roles?.length) parts.push(`clients with role ${auth.roles.map((r) => `\`${r}\``).join(" or ")}${auth.scopes?.length ? ` and scope ${auth.scopes.map((s) => `\`${s}\``).join(", ")}` : ""}`);
    if (auth.holder) parts.push("holders (a token from the identity provider)");
    who = parts.join("; ") + (auth.optional ? "; or anyone without a token" : "");
  }
  const rl = rateLimit && typeof rateLimit === "object" && "max" in rateLimit ? ` Rate limit: ${String((rateLimit as { max: unknown }).max)} requests per minute per ${"keyGenerator" in rateLimit ? "caller" : "client address"} (429 \`RATE_LIMITED\` with \`retry-after\`).` : "";
  return `**Who may call:** ${who}.${rl} Errors: \`{code, message, requestId}\` (docs/errors.md); the integration guide (${GUIDE_PATH}) says what to do about each.`;
}

interface DocNote {
  readonly access: string;
  readonly generic: ErrorCode[];
  /** Examples given on the route's response schemas (lost by @fastify/swagger when the schema is a $ref). */
  readonly inline: Record<string, unknown>;
  /** Codes named with problems() per status. */
  readonly named: Record<string, ErrorCode[]>;
  /** The route takes a body that is not JSON (no body schema): its media types. */
  readonly rawBody: string[] | null;
  /** An example of that body (the route's `x-body-example`), when no recorded exchange gives one. */
  readonly rawExample?: unknown;
}

const NOTE = "x-sidian-doc";

/** @fastify/swagger `transform`: notes what the final pass (`transformObject`) needs; the route's schema is not changed. */
export function openapiTransform({ schema, url, route }: { schema: Record<string, unknown> | undefined; url: string; route: { method: string | string[]; config?: unknown } }): { schema: Record<string, unknown> | undefined; url: string } {
  if (!schema || schema.hide) return { schema, url };
  const cfg = (route.config ?? {}) as { auth?: RouteAuth; rateLimit?: unknown };
  const method = (Array.isArray(route.method) ? route.method[0]! : route.method).toUpperCase();
  const inline: Record<string, unknown> = {};
  const named: Record<string, ErrorCode[]> = {};
  for (const [status, s] of Object.entries((schema.response ?? {}) as Record<string, Record<string, unknown>>)) {
    if (Array.isArray(s.examples) && s.examples.length) inline[status] = s.examples[0];
    if (Array.isArray(s["x-error-codes"])) named[status] = s["x-error-codes"] as ErrorCode[];
  }
  const rawBody = !schema.body && ["POST", "PUT", "PATCH"].includes(method) && Array.isArray(schema.consumes) ? (schema.consumes as string[]) : null;
  const note: DocNote = {
    access: accessLine(cfg.auth, cfg.rateLimit),
    generic: genericCodes(method, { auth: cfg.auth, rateLimit: cfg.rateLimit, hasInput: Boolean(schema.body || schema.params || schema.querystring || schema.headers || rawBody), hasBody: Boolean(schema.body || rawBody) }),
    inline, named, rawBody, ...(rawBody && schema["x-body-example"] !== undefined ? { rawExample: schema["x-body-example"] } : {}),
  };
  return { schema: { ...schema, [NOTE]: note }, url };
}

const REQUEST_ID = "0193a0b4-5c1e-7f00-8000-000000000000";
type Json = Record<string, unknown>;

function problemResponse(codes: ErrorCode[], recorded: unknown): Json {
  const first = codes[0]!;
  const example = recorded ?? { code: first, message: ERROR_TABLE[first].message, requestId: REQUEST_ID };
  return {
    description: codes.map((c) => `\`${c}\`: ${ERROR_TABLE[c].message}`).join("\n\n"),
    "x-error-codes": codes,
    content: { "application/json": { schema: { $ref: "#/components/schemas/Problem" }, example } },
  };
}

function hasExample(media: Json): boolean {
  return media.example !== undefined || (typeof media.examples === "object" && media.examples !== null && Object.keys(media.examples).length > 0);
}

/** @fastify/swagger `transformObject`: descriptions, error codes and examples on every operation. */
export function openapiTransformObject(recorded: RecordedExamples) {
  type Recorded = { request?: RecordedExchange; responses: Map<number, RecordedExchange> };
  const byOp = new Map<string, Recorded>();
  for (const x of recorded.exchanges) {
    const e: Recorded = byOp.get(x.operation) ?? { responses: new Map() };
    if (!e.responses.has(x.response.status)) e.responses.set(x.response.status, x);
    if (!e.request && x.request.body !== undefined && x.response.status < 300) e.request = x;
    byOp.set(x.operation, e);
  }
  return ({ openapiObject }: { openapiObject: Partial<Json> }) => {
    const paths = (openapiObject.paths ?? {}) as Record<string, Record<string, Json>>;
    for (const [p, ops] of Object.entries(paths)) {
      for (const [m, op] of Object.entries(ops)) {
        const note = op[NOTE] as DocNote | undefined;
        if (!note) continue;
        delete op[NOTE];
        const rec = byOp.get(`${m.toUpperCase()} ${p}`);
        if (typeof op.description === "string" && op.description.trim()) op.description = `${op.description}\n\n${note.access}`;

        // Request body.
        if (note.rawBody && !op.requestBody) {
          op.requestBody = { required: true, content: Object.fromEntries(note.rawBody.map((ct) => [ct, { schema: { type: "string", format: "binary" }, ...(note.rawExample !== undefined ? { example: note.rawExample } : {}) }])) };
        }
        const rb = op.requestBody as { content?: Record<string, Json> } | undefined;
        if (rb?.content && rec?.request) {
          for (const media of Object.values(rb.content)) if (!hasExample(media)) media.example = rec.request.request.body;
        }

        // Responses.
        const responses = (op.responses ?? {}) as Record<string, Json>;
        const codesByStatus = new Map<number, ErrorCode[]>();
        for (const c of note.generic) {
          const s = ERROR_TABLE[c].status;
          codesByStatus.set(s, [...(codesByStatus.get(s) ?? []), c]);
        }
        for (const [status, codes] of Object.entries(note.named)) {
          const s = Number(status);
          codesByStatus.set(s, [...new Set([...codes, ...(codesByStatus.get(s) ?? [])])]);
        }
        for (const status of Object.keys(responses)) {
          const s = Number(status);
          if (s >= 400 && !codesByStatus.has(s)) codesByStatus.set(s, []);
        }
        for (const [s, codes] of [...codesByStatus].sort((a, b) => a[0] - b[0])) {
          if (codes.length === 0) continue; // left bare: the test names the route
          const r = rec?.responses.get(s)?.response;
          const recordedOk = r && typeof r.body === "object" && r.body !== null && codes.includes((r.body as { code: ErrorCode }).code);
          responses[String(s)] = problemResponse(codes, recordedOk ? r.body : undefined);
        }
        for (const [status, resp] of Object.entries(responses)) {
          const s = Number(status);
          if (s >= 400) continue;
          const r = rec?.responses.get(s)?.response;
          const content = resp.content as Record<string, Json> | undefined;
          if (!content) continue;
          // A non-JSON answer documented as JSON: use the media type the service really sends.
          const ct = r?.headers?.["content-type"]?.split(";")[0];
          const keys = Object.keys(content);
          if (ct && keys.length === 1 && keys[0] === "application/json" && ct !== "application/json") {
            content[ct] = content["application/json"]!;
            delete content["application/json"];
          }
          for (const [type, media] of Object.entries(content)) {
            if (hasExample(media)) continue;
            const schemaExamples = (media.schema as { examples?: unknown[] } | undefined)?.examples;
            if (Array.isArray(schemaExamples) && schemaExamples.length) media.example = schemaExamples[0];
            else if (note.inline[status] !== undefined) media.example = note.inline[status];
            // The recorded answer, where it is of this media type (or the only one documented).
            else if (r && r.body !== undefined && (keys.length === 1 || type === ct)) media.example = r.body;
          }
        }
        op.responses = responses;
      }
    }
    return openapiObject;
  };
}

const DOCS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../docs");

/** The integration guide as served beside /docs (the markdown files of docs/, read once). */
export async function guideRoutes(app: import("fastify").FastifyInstance) {
  for (const [url, file] of [["/docs/integration.md", "integration.md"], ["/docs/integration.zh.md", "integration.zh.md"]] as const) {
    let body: string;
    try {
      body = fs.readFileSync(path.join(DOCS_DIR, file), "utf8");
    } catch {
      continue; // a build without docs/
    }
    app.get(url, { config: { auth: "public", document: true }, schema: { hide: true } }, async (_req, reply) =>
      reply.type("text/markdown; charset=utf-8").header("cache-control", "public, max-age=300").send(body));
  }
}
