/**
 * Canonical JSON (RFC 8785, JSON Canonicalization Scheme) for values that are hashed or signed.
 *
 * - object members sorted by their names compared as UTF-16 code units (JavaScript's default string order);
 * - no whitespace; strings and numbers serialised as ECMAScript JSON.stringify does (which is what RFC 8785 §3.2.2
 *   specifies);
 * - rejected instead of silently changed: non-finite numbers, `undefined` / functions / symbols / bigints anywhere,
 *   lone surrogates in strings, and values that are not plain data (Dates, Maps, class instances with toJSON…).
 *   Optional object members whose value is `undefined` are omitted, as JSON.stringify does.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

export class CanonicalJsonError extends Error {
  override readonly name = "CanonicalJsonError";
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function ser(v: unknown, path: string, out: string[]): void {
  if (v === null) {
    out.push("null");
    return;
  }
  switch (typeof v) {
    case "boolean":
      out.push(v ? "true" : "false");
      return;
    case "number":
      if (!Number.isFinite(v)) throw new CanonicalJsonError(`${path}: non-finite number`);
      out.push(JSON.stringify(v)); // ES number serialisation; -0 becomes 0 as RFC 8785 requires
      return;
    case "string":
      if (LONE_SURROGATE.test(v)) throw new CanonicalJsonError(`${path}: lone surrogate in string`);
      out.push(JSON.stringify(v));
      return;
    case "object": {
      if (Array.isArray(v)) {
        out.push("[");
        for (let i = 0; i < v.length; i++) {
          if (i > 0) out.push(",");
          const item: unknown = v[i];
          if (item === undefined) throw new CanonicalJsonError(`${path}[${i}]: undefined in array`);
          ser(item, `${path}[${i}]`, out);
        }
        out.push("]");
        return;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw new CanonicalJsonError(`${path}: not a plain object (${proto?.constructor?.name ?? "?"})`);
      }
      const obj = v as Record<string, unknown>;
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
      out.push("{");
      let first = true;
      for (const k of keys) {
        if (LONE_SURROGATE.test(k)) throw new CanonicalJsonError(`${path}: lone surrogate in member name`);
        if (!first) out.push(",");
        first = false;
        out.push(JSON.stringify(k), ":");
        ser(obj[k], `${path}.${k}`, out);
      }
      out.push("}");
      return;
    }
    default:
      throw new CanonicalJsonError(`${path}: ${typeof v} is not JSON`);
  }
}

/** Canonical JSON text of `value`. Throws CanonicalJsonError for values JSON cannot represent exactly. */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  ser(value, "$", out);
  return out.join("");
}

/** Canonical JSON as UTF-8 bytes (what gets hashed). */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), "utf8");
}
