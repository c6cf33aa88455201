/**
 * Identity codes used across Sidian, with their check characters:
 *  - USCC (统一社会信用代码, GB 32100-2015)
 *  - citizen ID number (公民身份号码, GB 11643-1999)
 *  - electronic licence identifier (电子证照标识, GB/T 36904-2018; check char ISO/IEC 7064 MOD 37,36)
 * Pure functions; no I/O. See fixtures/codes/ for the vectors the tests use.
 */

const USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28] as const;
const USCC_RE = /^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/;

/** The check character for the first 17 characters of a USCC, or null if they use a character outside the set. */
export function usccCheckChar(first17: string): string | null {
  if (first17.length !== 17) return null;
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const v = USCC_ALPHABET.indexOf(first17[i]!);
    if (v < 0) return null;
    sum += v * USCC_WEIGHTS[i]!;
  }
  const c = 31 - (sum % 31);
  return USCC_ALPHABET[c === 31 ? 0 : c]!;
}

export type CodeProblem = "length" | "charset" | "check" | "date" | "region";

export interface CodeCheck {
  ok: boolean;
  problem?: CodeProblem;
}

/** Validates an 18-character USCC: charset, structure (registry code, type, 6-digit region) and check character. */
export function checkUscc(code: string): CodeCheck {
  if (code.length !== 18) return { ok: false, problem: "length" };
  if (!USCC_RE.test(code)) return { ok: false, problem: "charset" };
  return usccCheckChar(code.slice(0, 17)) === code[17] ? { ok: true } : { ok: false, problem: "check" };
}

export const isUscc = (code: string): boolean => checkUscc(code).ok;

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const ID_CHECK = "10X98765432";

/** The check character for the first 17 digits of a citizen ID number. */
export function citizenIdCheckChar(first17: string): string | null {
  if (!/^\d{17}$/.test(first17)) return null;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (first17.charCodeAt(i) - 48) * ID_WEIGHTS[i]!;
  return ID_CHECK[sum % 11]!;
}

/**
 * Validates an 18-character citizen ID number: digits, a real birth date (not in the future, after 1800),
 * a non-zero province code and the check character (upper-case X only).
 */
export function checkCitizenId(id: string, today: Date = new Date()): CodeCheck {
  if (id.length !== 18) return { ok: false, problem: "length" };
  if (!/^\d{17}[\dX]$/.test(id)) return { ok: false, problem: "charset" };
  const province = Number(id.slice(0, 2));
  if (province < 11 || province > 91) return { ok: false, problem: "region" };
  const y = Number(id.slice(6, 10));
  const m = Number(id.slice(10, 12));
  const d = Number(id.slice(12, 14));
  const birth = new Date(Date.UTC(y, m - 1, d));
  if (y < 1800 || birth.getUTCFullYear() !== y || birth.getUTCMonth() !== m - 1 || birth.getUTCDate() !== d || birth.getTime() > today.getTime()) {
    return { ok: false, problem: "date" };
  }
  return citizenIdCheckChar(id.slice(0, 17)) === id[17] ? { ok: true } : { ok: false, problem: "check" };
}

export const isCitizenId = (id: string): boolean => checkCitizenId(id).ok;

/** Codes at least this long (citizen ID, USCC: 18) keep the `head` and `tail` asked for when masked. */
const MASK_FULL_LENGTH = 15;

/**
 * Masks an identifier for display: keeps the first `head` and last `tail` characters (default 3 / 4, as in
 * 110***********002X). A shorter code (a passport or permit number of 8-12 characters, a licence number) shows at
 * most a quarter of its characters, the larger share at the end: 3 + 4 of a 9-character passport number would
 * leave two characters to guess.
 */
export function maskCode(code: string, head = 3, tail = 4): string {
  const n = code.length;
  if (n < MASK_FULL_LENGTH) {
    const shown = Math.min(head + tail, Math.floor(n / 4));
    tail = Math.min(tail, Math.ceil(shown / 2));
    head = shown - tail;
  }
  if (n <= head + tail || head + tail === 0) return "*".repeat(n);
  return code.slice(0, head) + "*".repeat(n - head - tail) + (tail > 0 ? code.slice(-tail) : "");
}

// ---- ISO/IEC 7064 MOD 37,36 (hybrid system, alphanumeric) as used by GB/T 36904 ----

const M3736 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** The MOD 37,36 check character for `data` (0-9A-Z), or null if `data` has another character. */
export function mod3736CheckChar(data: string): string | null {
  let p = 36;
  for (const ch of data) {
    const v = M3736.indexOf(ch);
    if (v < 0) return null;
    p = (p + v) % 36;
    if (p === 0) p = 36;
    p = (2 * p) % 37;
  }
  return M3736[(37 - p) % 36]!;
}

/** True if the last character of `dataWithCheck` is the MOD 37,36 check character of the rest. */
export function mod3736Valid(dataWithCheck: string): boolean {
  if (dataWithCheck.length < 2) return false;
  return mod3736CheckChar(dataWithCheck.slice(0, -1)) === dataWithCheck.slice(-1);
}

export const LICENCE_ID_ROOT = "1.2.156.3005.2";

export interface LicenceIdParts {
  /** 21 chars: the defining authority's USCC + 3 digits. */
  typeCode: string;
  /** 18 chars: the issuing body's USCC. */
  issuerCode: string;
  /** Unique within issuer + type: 1-32 characters 0-9A-Z. */
  serial: string;
  /** 3 digits, "001" first, bumped on change. */
  version: string;
  check: string;
}

const SERIAL_RE = /^[0-9A-Z]{1,32}$/;

/** Builds a licence identifier with its check character. Throws on malformed parts (a programming error). */
export function formatLicenceId(p: Omit<LicenceIdParts, "check">): string {
  const problem = licencePartsProblem(p);
  if (problem) throw new RangeError(`licence identifier part invalid: ${problem}`);
  const body = `${p.typeCode}${p.issuerCode}${p.serial}${p.version}`;
  return `${LICENCE_ID_ROOT}.${p.typeCode}.${p.issuerCode}.${p.serial}.${p.version}.${mod3736CheckChar(body)}`;
}

function licencePartsProblem(p: Omit<LicenceIdParts, "check">): string | null {
  if (!/^[0-9A-HJ-NPQRTUWXY]{18}\d{3}$/.test(p.typeCode) || !isUscc(p.typeCode.slice(0, 18))) return "typeCode";
  if (!isUscc(p.issuerCode)) return "issuerCode";
  if (!SERIAL_RE.test(p.serial)) return "serial";
  if (!/^\d{3}$/.test(p.version) || p.version === "000") return "version";
  return null;
}

export type LicenceIdResult = { ok: true; parts: LicenceIdParts } | { ok: false; problem: string };

/** Parses and checks a licence identifier: root, part formats, USCC check digits and the MOD 37,36 check. */
export function parseLicenceId(id: string): LicenceIdResult {
  if (id.length > 128) return { ok: false, problem: "length" };
  if (!id.startsWith(`${LICENCE_ID_ROOT}.`)) return { ok: false, problem: "root" };
  const rest = id.slice(LICENCE_ID_ROOT.length + 1).split(".");
  if (rest.length !== 5) return { ok: false, problem: "structure" };
  const [typeCode, issuerCode, serial, version, check] = rest as [string, string, string, string, string];
  const problem = licencePartsProblem({ typeCode, issuerCode, serial, version });
  if (problem) return { ok: false, problem };
  if (!/^[0-9A-Z]$/.test(check)) return { ok: false, problem: "check" };
  if (mod3736CheckChar(`${typeCode}${issuerCode}${serial}${version}`) !== check) return { ok: false, problem: "check" };
  return { ok: true, parts: { typeCode, issuerCode, serial, version, check } };
}

/** GB/T 36903 holder code types. */
export const HOLDER_CODE_TYPES = {
  "001": { label: "统一社会信用代码", kind: "organisation" },
  "099": { label: "其他组织机构代码", kind: "organisation" },
  "111": { label: "公民身份号码", kind: "person" },
  "411": { label: "护照", kind: "person" },
  "412": { label: "护照（公务）", kind: "person" },
  "413": { label: "护照（外交）", kind: "person" },
  "414": { label: "护照（其他）", kind: "person" },
  "511": { label: "台湾居民来往大陆通行证", kind: "person" },
  "516": { label: "港澳居民来往内地通行证", kind: "person" },
  "999": { label: "其他自然人证件", kind: "person" },
} as const;

export type HolderCodeType = keyof typeof HOLDER_CODE_TYPES;
