/**
 * Text that is signed into a licence or drawn on a document must read as what it is: well-formed Unicode (no lone
 * surrogates: canonical JSON and most verifiers cannot hold them), no control characters (NUL, escape…), and no
 * bidirectional overrides or isolates (U+202A–U+202E, U+2066–U+2069), which reorder what a verification page or a
 * printed copy shows ("Trojan Source" spoofing). Field values may span lines (tab and line feed allowed); one-line
 * text refuses the Unicode line and paragraph separators (U+2028, U+2029) as well.
 */
import { AppError } from "../errors.js";

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
// eslint-disable-next-line no-control-regex
const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** Why `s` may not be signed or shown, or null when it may. */
export function textProblem(s: string, opts: { multiline?: boolean } = {}): string | null {
  if (!(s as string & { isWellFormed(): boolean }).isWellFormed()) return "is not well-formed Unicode (a lone surrogate)";
  if ((opts.multiline ? CONTROL_BUT_LINES : CONTROL).test(s)) return opts.multiline ? "holds a control character (only tab and line feed may be used)" : "holds a control character";
  if (BIDI.test(s)) return "holds a bidirectional formatting character (it would reorder the text shown)";
  return null;
}

/**
 * The text rule for a one-line human-readable field given to a service (a department, client or seal name, a
 * stamp's reason, a certificate subject): every entry path (HTTP, where the edge applied the same rule already,
 * and the command line, where nothing else did) gets it here. Trimmed; `min` to `max` characters (code points);
 * no control characters, line breaks, bidirectional controls or lone surrogates. VALIDATION_FAILED naming the
 * field otherwise (`details.keyword`: "text" or "length").
 */
export function checkLine(field: string, value: string, limits: { min?: number; max: number }): string {
  // Checked before trimming: trim() would silently drop a leading or trailing U+2028 or control character.
  const p = textProblem(value);
  if (p) throw new AppError("VALIDATION_FAILED", `${field} ${p}.`, { details: { field, keyword: "text" } });
  const v = value.trim();
  const n = [...v].length;
  const min = limits.min ?? 1;
  if (n < min || n > limits.max) {
    throw new AppError("VALIDATION_FAILED", `${field} must be ${min} to ${limits.max} characters (it has ${n}).`, { details: { field, keyword: "length" } });
  }
  return v;
}
