/**
 * Entry names: which are safe to extract anywhere (the writer refuses to write others, the reader refuses to read
 * them), and the keys under which two names collide on some file system.
 */
import { AppError } from "../../errors.js";
import { shownName, zipLimitExceeded, type ZipLimits } from "./limits.js";

/**
 * Why a name is unsafe, or null. A name is a `/`-separated relative path; a trailing `/` marks a directory.
 * Refused: empty names and segments (`a//b`), `.` and `..` segments (path traversal), a leading `/` (absolute),
 * `\` (a separator on Windows), `:` (drive letters such as `C:` and NTFS alternate streams), control characters
 * (NUL included), and bidirectional controls that make a name display as another (`gpj.exe` shown as `exe.jpg`).
 */
export function unsafeNameReason(name: string): string | null {
  if (name.length === 0) return "the name is empty";
  if (name.startsWith("/")) return "the name is an absolute path";
  if (name.includes("\\")) return "the name contains a backslash";
  if (/^[A-Za-z]:/.test(name)) return "the name starts with a drive letter";
  if (name.includes(":")) return "the name contains a colon";
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return "the name contains a control character";
  if (/[\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]/.test(name)) return "the name contains a bidirectional control character";
  if (/[\ud800-\udfff]/.test(name.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ""))) return "the name contains a lone surrogate";
  const body = name.endsWith("/") ? name.slice(0, -1) : name;
  for (const seg of body.split("/")) {
    if (seg === "") return "the name has an empty path segment";
    if (seg === "." || seg === "..") return "the name has a '.' or '..' segment (path traversal)";
  }
  return null;
}

/** Throws ZIP_UNSAFE_ENTRY / ZIP_LIMIT_EXCEEDED for a name the library will not write or read. */
export function checkName(name: string, nameBytes: number, limits: Pick<ZipLimits, "maxNameBytes" | "maxPathDepth">): void {
  if (nameBytes > limits.maxNameBytes) throw zipLimitExceeded("maxNameBytes", limits.maxNameBytes, `an entry name is ${nameBytes} bytes long`, name);
  const why = unsafeNameReason(name);
  if (why) throw new AppError("ZIP_UNSAFE_ENTRY", `The archive has an unsafe entry: ${why}.`, { details: { check: "path", entry: shownName(name) } });
  const depth = (name.endsWith("/") ? name.slice(0, -1) : name).split("/").length;
  if (depth > limits.maxPathDepth) throw zipLimitExceeded("maxPathDepth", limits.maxPathDepth, `an entry name has ${depth} path segments`, name);
}

/** The key under which names are the same on a normalising file system (macOS: NFD/NFC). */
export const nfcKey = (name: string): string => name.normalize("NFC");

/** The key under which names are the same on a case-insensitive file system (Windows, macOS by default). */
export const foldKey = (name: string): string => name.normalize("NFC").toLowerCase().toUpperCase().toLowerCase();
