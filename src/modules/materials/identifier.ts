/**
 * Material identifiers, on the licence identifier's pattern (GB/T 36904): `MAT.<type code>.<serial>.<version>.<check>`
 *   type code  the material type's code, 2-21 characters 0-9 A-Z
 *   serial     16 characters 0-9 A-Z: 9 of base-36 milliseconds (time-ordered) and 7 random; the same for every
 *              version of one material (its lineage is `<type code>.<serial>`)
 *   version    3 digits, 001 first, bumped when a newer version supersedes it
 *   check      ISO/IEC 7064 MOD 37,36 over type code, serial and version (dots and the `MAT` root left out, as the
 *              licence identifier leaves out its root)
 * A typing error in any one character, or two swapped neighbours, is caught by the check character.
 */
import { randomInt } from "node:crypto";
import { mod3736CheckChar } from "../../codes/index.js";

export const MATERIAL_ID_ROOT = "MAT";
export const MATERIAL_TYPE_CODE_RE = /^[0-9A-Z]{2,21}$/;
const SERIAL_RE = /^[0-9A-Z]{16}$/;
const B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

export interface MaterialIdParts {
  typeCode: string;
  serial: string;
  version: string;
  check: string;
}

export function newSerial(nowMs: number): string {
  let r = "";
  for (let i = 0; i < 7; i++) r += B36[randomInt(36)];
  return nowMs.toString(36).toUpperCase().padStart(9, "0").slice(-9) + r;
}

export function formatMaterialId(typeCode: string, serial: string, version: string): string {
  if (!MATERIAL_TYPE_CODE_RE.test(typeCode) || !SERIAL_RE.test(serial) || !/^\d{3}$/.test(version) || version === "000") throw new RangeError("material identifier part invalid");
  return `${MATERIAL_ID_ROOT}.${typeCode}.${serial}.${version}.${mod3736CheckChar(`${typeCode}${serial}${version}`)}`;
}

export type MaterialIdResult = { ok: true; parts: MaterialIdParts } | { ok: false; problem: string };

export function parseMaterialId(id: string): MaterialIdResult {
  if (typeof id !== "string" || id.length > 64) return { ok: false, problem: "length" };
  const parts = id.split(".");
  if (parts.length !== 5 || parts[0] !== MATERIAL_ID_ROOT) return { ok: false, problem: "structure" };
  const [, typeCode, serial, version, check] = parts as [string, string, string, string, string];
  if (!MATERIAL_TYPE_CODE_RE.test(typeCode)) return { ok: false, problem: "typeCode" };
  if (!SERIAL_RE.test(serial)) return { ok: false, problem: "serial" };
  if (!/^\d{3}$/.test(version) || version === "000") return { ok: false, problem: "version" };
  if (!/^[0-9A-Z]$/.test(check) || mod3736CheckChar(`${typeCode}${serial}${version}`) !== check) return { ok: false, problem: "check" };
  return { ok: true, parts: { typeCode, serial, version, check } };
}

export const isMaterialId = (s: string): boolean => s.startsWith(`${MATERIAL_ID_ROOT}.`);

export function nextVersion(v: string): string {
  const n = Number(v) + 1;
  if (n > 999) throw new RangeError("material version over 999");
  return String(n).padStart(3, "0");
}
