/** Holder codes: validation by code type (GB/T 36903 code types; check characters for citizen IDs and USCCs). */
import { checkCitizenId, checkUscc, HOLDER_CODE_TYPES, type HolderCodeType } from "../../codes/index.js";
import { AppError } from "../../errors.js";

const OTHER_RE = /^[0-9A-Za-z-]{4,32}$/;

export function isHolderCodeType(t: string): t is HolderCodeType {
  return Object.prototype.hasOwnProperty.call(HOLDER_CODE_TYPES, t);
}

/** Throws HOLDER_CODE_TYPE_INVALID / HOLDER_CODE_INVALID. `today` bounds citizen-ID birth dates. */
export function checkHolderCode(codeType: string, code: string, today: Date): void {
  if (!isHolderCodeType(codeType)) throw new AppError("HOLDER_CODE_TYPE_INVALID", `Unknown holder code type ${codeType}.`, { details: { codeType } });
  if (codeType === "111") {
    const r = checkCitizenId(code, today);
    if (!r.ok) throw new AppError("HOLDER_CODE_INVALID", `The citizen ID number is not valid (${r.problem}).`, { details: { codeType, problem: r.problem } });
    return;
  }
  if (codeType === "001") {
    const r = checkUscc(code);
    if (!r.ok) throw new AppError("HOLDER_CODE_INVALID", `The USCC is not valid (${r.problem}).`, { details: { codeType, problem: r.problem } });
    return;
  }
  if (!OTHER_RE.test(code)) throw new AppError("HOLDER_CODE_INVALID", "The holder code must be 4-32 characters of 0-9 A-Z a-z -.", { details: { codeType, problem: "charset" } });
}

/** Masks a personal name for public display: the first character stays (张** / J***). */
export function maskName(name: string): string {
  const chars = [...name];
  if (chars.length <= 1) return "*";
  return chars[0] + "*".repeat(Math.min(chars.length - 1, 8));
}
