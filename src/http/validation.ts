/**
 * Parsing at the edge (DESIGN rule 3): what a request carries becomes internal values without guessing.
 *
 * - **JSON bodies keep JSON's types.** ajv's type coercion applies to query strings, path parameters and headers
 *   only (they arrive as text); a body's `""` is a string, never "no value", `true` is never `"true"` and `0` is
 *   never `null`. Coerced numbers must be written in decimal digits (`/log/entries/0x10` is refused, not entry 16).
 * - **One text rule** (util/text.ts) for every string a request carries: every string and key of a JSON body and
 *   every query or path value is refused when it holds a control character, a bidirectional override or isolate or
 *   a lone surrogate; fields marked `x-text: "line"` (names and other one-line text) refuse line breaks as well.
 *   A body that is not valid UTF-8 is refused (never decoded into U+FFFD). All of these answer 400
 *   `VALIDATION_FAILED` with `details.errors[].keyword = "text"`.
 * - **Bounded nesting**: a JSON body nested deeper than {@link MAX_JSON_DEPTH} is refused before anything walks it.
 */
import { isUtf8 } from "node:buffer";
import AjvCompiler from "@fastify/ajv-compiler";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { TSchema } from "@sinclair/typebox";
import { Type, type StringOptions } from "@sinclair/typebox";
import { AppError } from "../errors.js";
import { textProblem } from "../util/text.js";

/** Deepest nesting of arrays and objects accepted in a JSON body (the deepest route body needs 6). */
export const MAX_JSON_DEPTH = 32;

/** The schema keyword that puts a string field under the one-line text rule. */
export const TEXT_KEYWORD = "x-text";

/** A one-line human-readable text field (a name, a title, a cause): no line breaks, besides the text rule. */
export function Line(opts: StringOptions = {}) {
  return Type.String({ ...opts, [TEXT_KEYWORD]: "line" });
}

/** A failed text check, in the shape of the validation errors (`details.errors`). */
export interface TextError {
  in: "body" | "querystring" | "params";
  path: string;
  keyword: "text";
  message: string;
}

export function textError(where: TextError["in"], path: string, problem: string): AppError {
  const err: TextError = { in: where, path: path || "/", keyword: "text", message: problem };
  return new AppError("VALIDATION_FAILED", `The request is not valid: ${where}${err.path} ${problem}.`, { details: { errors: [err] } });
}

const isPrototypeHolder = (c: unknown) => c !== null && typeof c === "object" && Object.prototype.hasOwnProperty.call(c, "prototype");
const escapePointer = (k: string) => k.replace(/~/g, "~0").replace(/\//g, "~1");

/**
 * Walks a parsed JSON value without recursion: refuses nesting deeper than `maxDepth`, prototype-poisoning keys,
 * and any key or string value that breaks the text rule (multi-line form: tab and line feed allowed).
 */
export function checkJsonValue(value: unknown, where: TextError["in"] = "body", maxDepth = MAX_JSON_DEPTH): void {
  const stack: Array<{ v: unknown; path: string; depth: number }> = [{ v: value, path: "", depth: 0 }];
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v === "string") {
      const p = textProblem(v, { multiline: true });
      if (p) throw textError(where, path, p);
      continue;
    }
    if (v === null || typeof v !== "object") continue;
    if (depth >= maxDepth) throw new AppError("VALIDATION_FAILED", `The request is not valid: ${where} is nested deeper than ${maxDepth} levels.`, { details: { errors: [{ in: where, path: path || "/", keyword: "maxDepth", message: `nested deeper than ${maxDepth} levels` }] } });
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: `${path}/${i}`, depth: depth + 1 });
      continue;
    }
    for (const k of Object.keys(v)) {
      const kp = textProblem(k);
      if (kp) throw textError(where, `${path}/${escapePointer(k)}`, `has a key that ${kp}`);
      if (k === "__proto__" || (k === "constructor" && isPrototypeHolder((v as Record<string, unknown>)[k]))) {
        throw new AppError("VALIDATION_FAILED", `The request is not valid: ${where}${path}/${k} is a forbidden key.`, { details: { errors: [{ in: where, path: `${path}/${k}`, keyword: "forbiddenKey", message: "forbidden key" }] } });
      }
      stack.push({ v: (v as Record<string, unknown>)[k], path: `${path}/${escapePointer(k)}`, depth: depth + 1 });
    }
  }
}

/** A text body as UTF-8, refused when it is not valid UTF-8 (a leading byte order mark is dropped). */
export function utf8Text(body: Buffer, what = "body"): string {
  if (!isUtf8(body)) throw textError("body", "", `${what === "body" ? "is" : what + " is"} not valid UTF-8`);
  const text = body.toString("utf8");
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Parses a JSON body under the edge rules: valid UTF-8, valid JSON, bounded nesting, the text rule. */
export function parseJsonBody(body: Buffer): unknown {
  const text = utf8Text(body);
  if (text.length === 0) throw new AppError("VALIDATION_FAILED", "The body is empty; send a JSON value.");
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new AppError("VALIDATION_FAILED", e instanceof RangeError ? "The body is nested too deeply." : "The body is not valid JSON.", { cause: e });
  }
  checkJsonValue(v);
  return v;
}

type ValidateFn = ((data: unknown) => boolean) & { errors?: unknown[] | null };
type RouteDef = { schema: TSchema; method: string; url: string; httpPart?: string };
type BuildFromPool = (externalSchemas: Record<string, unknown>, options: Record<string, unknown>) => (def: RouteDef) => ValidateFn;

/** The text rule as an ajv keyword (`x-text: "line" | "multiline"`), in every ajv instance. */
function addTextKeyword(ajv: { addKeyword(def: object): unknown }): void {
  const validate: ((mode: string, data: unknown) => boolean) & { errors?: unknown[] | null } = (mode, data) => {
    if (typeof data !== "string") return true;
    const p = textProblem(data, { multiline: mode === "multiline" });
    validate.errors = p ? [{ keyword: "text", message: p, params: { rule: mode } }] : null;
    return p === null;
  };
  ajv.addKeyword({ keyword: TEXT_KEYWORD, schemaType: "string", errors: true, validate });
}

const DECIMAL = { integer: /^-?[0-9]+$/, number: /^-?[0-9]+(\.[0-9]+)?$/ } as const;

/** The properties of a (query, params, headers) object schema whose values are coerced to numbers. */
function numericProperties(schema: TSchema): Map<string, "integer" | "number"> {
  const out = new Map<string, "integer" | "number">();
  const kindOf = (s: TSchema | undefined): "integer" | "number" | undefined => {
    if (!s || typeof s !== "object") return undefined;
    const t = (s as { type?: unknown }).type;
    const types = Array.isArray(t) ? t : [t];
    if (types.includes("number")) return "number";
    if (types.includes("integer")) return "integer";
    if (t === "array") return kindOf((s as { items?: TSchema }).items);
    for (const k of ["anyOf", "oneOf", "allOf"] as const) {
      const list = (s as Record<string, unknown>)[k];
      if (Array.isArray(list)) for (const x of list) { const r = kindOf(x as TSchema); if (r) return r; }
    }
    return undefined;
  };
  const props = (schema as { properties?: Record<string, TSchema> }).properties ?? {};
  for (const [k, s] of Object.entries(props)) {
    const kind = kindOf(s);
    if (kind) out.set(k, kind);
  }
  return out;
}

/** Refuses query/path/header numbers that are not decimal digits before ajv coerces them ("0x10", "1e3", " 7"). */
function decimalOnly(validate: ValidateFn, schema: TSchema, httpPart: string): ValidateFn {
  const numeric = numericProperties(schema);
  if (numeric.size === 0) return validate;
  const wrapped: ValidateFn = (data) => {
    if (data && typeof data === "object") {
      for (const [k, kind] of numeric) {
        const raw = (data as Record<string, unknown>)[k];
        for (const x of Array.isArray(raw) ? raw : [raw]) {
          if (typeof x === "string" && !DECIMAL[kind].test(x)) {
            wrapped.errors = [{ instancePath: `/${k}`, keyword: "type", params: { type: kind }, message: kind === "integer" ? "must be an integer written in decimal digits" : "must be a number written in decimal digits", schemaPath: `#/properties/${k}`, httpPart }];
            return false;
          }
        }
      }
    }
    const ok = validate(data);
    wrapped.errors = validate.errors ?? null;
    return ok;
  };
  return wrapped;
}

/** Fastify's `ajv` option: the coercion named here applies to query strings, path parameters and headers only. */
export const AJV_OPTIONS = { customOptions: { removeAdditional: false, allErrors: false, coerceTypes: "array", useDefaults: true } } as const;

/**
 * Fastify's `schemaController.compilersFactory.buildValidator`: two ajv instances from Fastify's own compiler
 * (formats, shared schemas), one that coerces for the text parts of a request and one that never does for bodies.
 */
export function buildValidator(externalSchemas: Record<string, unknown>, ajvOptions: { customOptions?: Record<string, unknown>; plugins?: unknown[] } = {}) {
  const fromPool = AjvCompiler() as unknown as BuildFromPool;
  const base = { ...ajvOptions, onCreate: addTextKeyword };
  const custom = ajvOptions.customOptions ?? {};
  const body = fromPool(externalSchemas, { ...base, customOptions: { ...custom, coerceTypes: false } });
  const text = fromPool(externalSchemas, { ...base, customOptions: { ...custom, coerceTypes: "array" } });
  return (def: RouteDef): ValidateFn => {
    if (def.httpPart === "body") return body(def);
    return decimalOnly(text(def), def.schema, def.httpPart ?? "querystring");
  };
}

/** Applies the text rule to a request's query and path values (one line each); the body is checked when parsed. */
export function checkRequestText(req: FastifyRequest): void {
  for (const [where, obj] of [["params", req.params], ["querystring", req.query]] as const) {
    if (!obj || typeof obj !== "object") continue;
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
      const kp = textProblem(k);
      if (kp) throw textError(where, `/${escapePointer(k)}`, `has a name that ${kp}`);
      for (const x of Array.isArray(v) ? v : [v]) {
        if (typeof x !== "string") continue;
        const p = textProblem(x);
        if (p) throw textError(where, `/${escapePointer(k)}`, p);
      }
    }
  }
}

/** Installs the JSON body parser and the query/path text check on the root instance. */
export function edgeParsing(app: FastifyInstance): void {
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  app.addHook("preValidation", async (req) => checkRequestText(req));
}
