/**
 * File names inside a package (issue 19 §5): every name is NFC-normalised, made safe (no separators, no control or
 * bidirectional characters, no "." or "..", at most 200 bytes of UTF-8), and checked for collisions the way the
 * places a package is unpacked to see them: after NFC and case folding (a case-insensitive file system would merge
 * `A.pdf` and `a.pdf`). A colliding name gets ` (2)`, ` (3)`… before its extension, and the metadata keeps the
 * original name beside the path.
 */

const UNSAFE = /[\u0000-\u001f\u007f-\u009f/\\:*?"<>|\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/gu;
const MAX_NAME_BYTES = 200;

/** One path segment: NFC, unsafe characters replaced by `_`, trimmed, bounded; never empty, "." or "..". */
export function safeSegment(name: string): string {
  let s = name.normalize("NFC").replace(UNSAFE, "_").trim();
  // A name made only of dots (".", "..") would climb out of its folder once unpacked.
  if (/^\.+$/.test(s)) s = s.replace(/\./g, "_");
  if (s.startsWith(".")) s = `_${s.slice(1)}`;
  while (Buffer.byteLength(s, "utf8") > MAX_NAME_BYTES) {
    const ext = /\.[0-9A-Za-z]{1,8}$/.exec(s)?.[0] ?? "";
    const stem = [...s.slice(0, s.length - ext.length)];
    stem.pop();
    s = stem.join("") + ext;
  }
  return s || "_";
}

/** The bag's folder name: the case number, NFC, with anything but letters, digits, `-`, `_` and `.` as `_`. */
export function bagNameOf(caseNo: string): string {
  const s = caseNo.normalize("NFC").replace(/[^\p{L}\p{N}._-]/gu, "_").replace(/^\.+/, "_");
  return s.slice(0, 64) || "case";
}

/** Assigns collision-free paths (compared after NFC and case folding). */
export class PathSet {
  private readonly taken = new Set<string>();

  private static key(p: string): string {
    return p.normalize("NFC").toLowerCase();
  }

  has(path: string): boolean {
    return this.taken.has(PathSet.key(path));
  }

  /** `folder/name` made safe and unique; `collided` when the name had to change to stay unique. */
  claim(folder: string, name: string): { path: string; collided: boolean } {
    const safe = safeSegment(name);
    const dot = safe.lastIndexOf(".");
    const [stem, ext] = dot > 0 ? [safe.slice(0, dot), safe.slice(dot)] : [safe, ""];
    let candidate = `${folder}/${safe}`;
    let n = 1;
    while (this.taken.has(PathSet.key(candidate))) candidate = `${folder}/${stem} (${++n})${ext}`;
    this.taken.add(PathSet.key(candidate));
    return { path: candidate, collided: n > 1 };
  }
}

/** A path as a BagIt manifest writes it (RFC 8493 §2.1.3): CR, LF and % percent-encoded. */
export function manifestPath(p: string): string {
  return p.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}
