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

/**
 * The path of the value being written, as segments; turned into text ("$.a[2].b") only for an error message, so
 * a value that serialises builds no path strings.
 */
type PathStack = Array<string | number>;
function pathText(path: PathStack): string {
  return path.map((p) => (typeof p === "number" ? `[${p}]` : p === "$" ? p : `.${p}`)).join("");
}

/** A string JSON.stringify writes as is between quotes: printable ASCII without `"` and `\`. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function str(v: string, path: PathStack, what: string): string {
  if (PLAIN.test(v)) return `"${v}"`;
  // String.prototype.isWellFormed: false when the string has a lone surrogate.
  if (!(v as string & { isWellFormed(): boolean }).isWellFormed()) throw new CanonicalJsonError(`${pathText(path)}: lone surrogate in ${what}`);
  return JSON.stringify(v);
}

function ser(v: unknown, path: PathStack): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "boolean":
      return v ? "true" : "false";
    case "number":
      if (!Number.isFinite(v)) throw new CanonicalJsonError(`${pathText(path)}: non-finite number`);
      return JSON.stringify(v); // ES number serialisation; -0 becomes 0 as RFC 8785 requires
    case "string":
      return str(v, path, "string");
    case "object": {
      if (Array.isArray(v)) {
        let out = "[";
        for (let i = 0; i < v.length; i++) {
          const item: unknown = v[i];
          path.push(i);
          if (item === undefined) throw new CanonicalJsonError(`${pathText(path)}: undefined in array`);
          out += (i > 0 ? "," : "") + ser(item, path);
          path.pop();
        }
        return out + "]";
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw new CanonicalJsonError(`${pathText(path)}: not a plain object (${proto?.constructor?.name ?? "?"})`);
      }
      const obj = v as Record<string, unknown>;
      const keys = Object.keys(obj).sort();
      let out = "{";
      let first = true;
      for (const k of keys) {
        const item = obj[k];
        if (item === undefined) continue;
        const name = str(k, path, "member name");
        path.push(k);
        out += (first ? "" : ",") + name + ":" + ser(item, path);
        path.pop();
        first = false;
      }
      return out + "}";
    }
    default:
      throw new CanonicalJsonError(`${pathText(path)}: ${typeof v} is not JSON`);
  }
}

/** Canonical JSON text of `value`. Throws CanonicalJsonError for values JSON cannot represent exactly. */
export function canonicalJson(value: unknown): string {
  return ser(value, ["$"]);
}

/** Canonical JSON as UTF-8 bytes (what gets hashed). */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), "utf8");
}
