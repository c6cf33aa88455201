/**
 * E-licences: rules the use cases share that hold no state — request hashing for idempotency, the text rule for
 * signed text, the catalogue as it stands inside a write, validity dates, and two small helpers for pipelines.
 */
import { CanonicalJsonError, canonicalJson } from "../../crypto/canonical.js";
import { sha256Hex } from "../../crypto/hash.js";
import { textProblem } from "../../util/text.js";
import { AppError } from "../../errors.js";
import type { IssuerGrant, LicenceType } from "../catalogue/index.js";
import { isDate } from "../catalogue/fields.js";
import { addDays } from "./dates.js";
import type { LicenceRepos } from "./ports.js";

/**
 * SHA-256 of a request's canonical JSON, to recognise a retry. JSON.parse lets a lone surrogate through, and canonical
 * JSON (RFC 8785) has no form for it: such a request is VALIDATION_FAILED, not an internal error.
 */
export function hashOfRequest(value: unknown): string {
  try {
    return sha256Hex(canonicalJson(value));
  } catch (e) {
    if (e instanceof CanonicalJsonError) throw new AppError("VALIDATION_FAILED", "The request holds text that is not well-formed Unicode (a lone surrogate).", { cause: e });
    // Nesting deeper than the stack (the edge refuses nested field values; this is the last guard).
    if (e instanceof RangeError) throw new AppError("VALIDATION_FAILED", "The request is nested too deeply.", { cause: e });
    throw e;
  }
}

/** Text signed into a licence or statement must read as what it is (see util/text.ts): VALIDATION_FAILED otherwise. */
export function checkText(field: string, value: string | null | undefined, multiline = false): void {
  if (typeof value !== "string") return;
  const problem = textProblem(value, { multiline });
  if (problem) throw new AppError("VALIDATION_FAILED", `${field} ${problem}.`, { details: { field } });
}

/** The text of a licence's data: holder name and number on one line each; field values may span lines. */
export function checkLicenceText(input: { number?: string; holderName?: string; fields?: Readonly<Record<string, unknown>> }): void {
  checkText("number", input.number);
  checkText("holder.name", input.holderName);
  for (const [k, v] of Object.entries(input.fields ?? {})) if (typeof v === "string") checkText(`fields.${k}`, v, true);
}

/** A licence type as it stands inside a write transaction: its open and closed issuer grants, its holder code types. */
export interface TypeNow {
  grants: IssuerGrant[];
  codeTypes: readonly string[];
}
export type CatalogueRefusal = "LICENCE_TYPE_NOT_ALLOWED" | "HOLDER_CODE_TYPE_INVALID";

/** Reads a type as it stands in the transaction of `repos` (once per code with a `memo`). */
export async function typeNow(repos: LicenceRepos, code: string, memo?: Map<string, TypeNow>): Promise<TypeNow> {
  let t = memo?.get(code);
  if (!t) {
    t = { grants: await repos.issuerGrants.ofType(code), codeTypes: (await repos.licenceTypes.byCode(code))?.holderCodeTypes ?? [] };
    memo?.set(code, t);
  }
  return t;
}

/** Why a department may not sign a licence of the type for this holder code type now, or null when it may. */
export function refusalNow(t: TypeNow, departmentId: string, codeType: string): CatalogueRefusal | null {
  if (!t.grants.some((g) => g.departmentId === departmentId && g.validTo === null)) return "LICENCE_TYPE_NOT_ALLOWED";
  if (!t.codeTypes.includes(codeType)) return "HOLDER_CODE_TYPE_INVALID";
  return null;
}

/** The indexes of `items` grouped by `key`, groups in the order first seen. */
export function indexesBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  items.forEach((item, i) => {
    const k = key(item);
    const g = out.get(k);
    if (g) g.push(i);
    else out.set(k, [i]);
  });
  return out;
}

/**
 * Stores in commit order without waiting for durability: `run` starts once `after` has settled and is handed the
 * hook its transaction calls on commit; `committed` settles at that commit (or when `run` ends, failed or not), so
 * the next store may start while this one is made durable.
 */
export function inCommitOrder(after: Promise<void>, run: (onCommit: () => void) => Promise<void>): { done: Promise<void>; committed: Promise<void> } {
  let onCommit!: () => void;
  const committed = new Promise<void>((r) => (onCommit = r));
  const done = after.then(() => run(onCommit));
  done.then(onCommit, onCommit);
  return { done, committed };
}


export function appErr(e: unknown): AppError {
  return e instanceof AppError ? e : new AppError("INTERNAL", undefined, { cause: e });
}

/** The issue, validity start and end dates of a licence (the type's default validity when `validUntil` is omitted). */
export function validity(type: LicenceType, input: { issueDate?: string; validFrom?: string; validUntil?: string | null }, t: string) {
  const issueDate = input.issueDate ?? t;
  const validFrom = input.validFrom ?? issueDate;
  for (const [k, v] of [["issueDate", issueDate], ["validFrom", validFrom]] as const) {
    if (!isDate(v)) throw new AppError("VALIDITY_INVALID", `${k} must be a date YYYY-MM-DD.`, { details: { field: k } });
  }
  let validUntil: string | null;
  if (input.validUntil === undefined) validUntil = type.validityDays === null ? null : addDays(validFrom, type.validityDays - 1);
  else validUntil = input.validUntil;
  if (validUntil !== null && !isDate(validUntil)) throw new AppError("VALIDITY_INVALID", "validUntil must be a date YYYY-MM-DD or null (long-term).", { details: { field: "validUntil" } });
  if (validUntil !== null && validUntil < validFrom) throw new AppError("VALIDITY_INVALID", "validUntil is before validFrom.", { details: { field: "validUntil" } });
  return { issueDate, validFrom, validUntil };
}
