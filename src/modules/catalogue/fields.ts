/**
 * Licence field schemas: a small JSON Schema subset that licence types declare and licences are checked against.
 *
 *   { name: "businessScope", label: "经营范围", type: "string", required: true, maxLength: 2000 }
 *   { name: "capital", label: "注册资本（万元）", type: "number", minimum: 0 }
 *   { name: "establishedOn", label: "成立日期", type: "date" }                      // YYYY-MM-DD
 *   { name: "kind", label: "类型", type: "enum", enum: ["有限责任公司", "股份有限公司"] }
 *
 * Licences carry only declared fields; extra fields are refused (nothing unvalidated gets signed).
 */

export type FieldType = "string" | "number" | "date" | "enum";

export interface FieldDef {
  name: string;
  /** Chinese label (显示名称). */
  label: string;
  type: FieldType;
  required?: boolean;
  /** string: max length in characters (default 1000). */
  maxLength?: number;
  /** number bounds. */
  minimum?: number;
  maximum?: number;
  /** enum values. */
  enum?: string[];
}

export type FieldValue = string | number;

export interface FieldProblem {
  field: string;
  problem: "unknown" | "required" | "type" | "maxLength" | "range" | "enum" | "date";
  message: string;
}

const NAME_RE = /^[A-Za-z][A-Za-z0-9_]{0,47}$/;
/** Names every object already has (toString, constructor, valueOf…): as field names they would read as present. */
const RESERVED_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype));
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
export const DEFAULT_MAX_LENGTH = 1000;
export const MAX_FIELDS = 64;

/** A real calendar date in YYYY-MM-DD. */
export function isDate(s: string): boolean {
  const m = DATE_RE.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
}

/** Checks a type's field definitions; returns a problem description or null. */
export function fieldDefsProblem(defs: readonly FieldDef[]): string | null {
  if (defs.length > MAX_FIELDS) return `at most ${MAX_FIELDS} fields`;
  const seen = new Set<string>();
  for (const d of defs) {
    if (!NAME_RE.test(d.name)) return `field name ${JSON.stringify(d.name)}: letters, digits and _ , starting with a letter`;
    if (RESERVED_NAMES.has(d.name)) return `field name ${JSON.stringify(d.name)} is reserved (a member of every JavaScript object)`;
    if (seen.has(d.name)) return `field ${d.name} is declared twice`;
    seen.add(d.name);
    if (!d.label || !d.label.trim() || d.label.length > 64) return `field ${d.name}: a label of 1-64 characters, not blank, is required`;
    if (d.type === "enum") {
      if (!d.enum || d.enum.length === 0 || new Set(d.enum).size !== d.enum.length) return `field ${d.name}: an enum needs distinct values`;
    } else if (d.enum !== undefined) return `field ${d.name}: only enum fields have values`;
    if (d.maxLength !== undefined && (d.type !== "string" || !Number.isInteger(d.maxLength) || d.maxLength < 1 || d.maxLength > 10_000)) {
      return `field ${d.name}: maxLength is for string fields, 1-10000`;
    }
    if ((d.minimum !== undefined || d.maximum !== undefined) && d.type !== "number") return `field ${d.name}: minimum/maximum are for number fields`;
    if (d.minimum !== undefined && d.maximum !== undefined && d.minimum > d.maximum) return `field ${d.name}: minimum > maximum`;
  }
  return null;
}

/** Whether a field value counts as absent: missing, null or the empty string (an empty cell of an import). */
function absent(v: unknown): boolean {
  return v === undefined || v === null || v === "";
}

/**
 * The fields that are signed: those with a value. An optional field given as null or "" is absent (validateFields
 * lets it through as such), so it is left out rather than signed as a value its type does not allow.
 */
export function presentFields<V>(fields: Readonly<Record<string, V>>): Record<string, V> {
  let out: Record<string, V> | undefined;
  for (const [k, v] of Object.entries(fields)) {
    if (!absent(v)) continue;
    out ??= { ...fields };
    delete out[k];
  }
  return out ?? (fields as Record<string, V>);
}

/** Validates licence fields against the definitions; returns every problem (empty = valid). */
export function validateFields(defs: readonly FieldDef[], fields: Readonly<Record<string, unknown>>): FieldProblem[] {
  const out: FieldProblem[] = [];
  const byName = new Map(defs.map((d) => [d.name, d]));
  for (const k of Object.keys(fields)) {
    if (!byName.has(k)) out.push({ field: k, problem: "unknown", message: `${k} is not a field of this licence type` });
  }
  for (const d of defs) {
    // Own properties only: a field named toString or constructor is not Object.prototype's.
    const v = Object.hasOwn(fields, d.name) ? fields[d.name] : undefined;
    if (absent(v)) {
      if (d.required) out.push({ field: d.name, problem: "required", message: `${d.label} (${d.name}) is required` });
      continue;
    }
    switch (d.type) {
      case "string":
        if (typeof v !== "string") out.push({ field: d.name, problem: "type", message: `${d.name} must be a string` });
        else if ([...v].length > (d.maxLength ?? DEFAULT_MAX_LENGTH)) out.push({ field: d.name, problem: "maxLength", message: `${d.name} is longer than ${d.maxLength ?? DEFAULT_MAX_LENGTH} characters` });
        break;
      case "number":
        if (typeof v !== "number" || !Number.isFinite(v)) out.push({ field: d.name, problem: "type", message: `${d.name} must be a number` });
        else if ((d.minimum !== undefined && v < d.minimum) || (d.maximum !== undefined && v > d.maximum)) out.push({ field: d.name, problem: "range", message: `${d.name} is out of range` });
        break;
      case "date":
        if (typeof v !== "string" || !isDate(v)) out.push({ field: d.name, problem: "date", message: `${d.name} must be a date YYYY-MM-DD` });
        break;
      case "enum":
        if (typeof v !== "string" || !d.enum!.includes(v)) out.push({ field: d.name, problem: "enum", message: `${d.name} must be one of ${d.enum!.join(", ")}` });
        break;
    }
  }
  return out;
}
