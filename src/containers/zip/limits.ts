/**
 * Documented limits of the bounded zip reader (DESIGN rule 8). Every count, length and size read from an archive
 * is checked against one of these before it is used; callers may tighten (or, for trusted local input, widen) them
 * per call: `openZip(src, { maxEntries: 16 })`.
 */
import { AppError } from "../../errors.js";

export interface ZipLimits {
  /** Entries in the central directory. */
  readonly maxEntries: number;
  /** Bytes of the central directory (read into memory in one piece). */
  readonly maxCentralDirectoryBytes: number;
  /** Bytes of one entry name (UTF-8). */
  readonly maxNameBytes: number;
  /** Path segments of one entry name. */
  readonly maxPathDepth: number;
  /** Bytes of the archive comment and of each entry comment. */
  readonly maxCommentBytes: number;
  /** Declared uncompressed size of one entry. */
  readonly maxEntrySize: number;
  /** Sum of the declared uncompressed sizes. */
  readonly maxTotalSize: number;
  /**
   * Highest uncompressed/compressed ratio of an entry (and of the whole archive against its file size) once the
   * uncompressed size passes `ratioFloor`: what tells a zip bomb from a file of repeated text.
   */
  readonly maxRatio: number;
  /** Below this uncompressed size (per entry, and for the archive's total) the ratio is not judged. */
  readonly ratioFloor: number;
  /** `readEntry` (into memory) refuses entries larger than this; stream bigger ones with `openEntry`. */
  readonly maxReadBytes: number;
}

export const ZIP_LIMITS: ZipLimits = Object.freeze({
  maxEntries: 10_000,
  maxCentralDirectoryBytes: 16 * 1024 * 1024,
  maxNameBytes: 1024,
  maxPathDepth: 32,
  maxCommentBytes: 4096,
  maxEntrySize: 1024 * 1024 * 1024,
  maxTotalSize: 4 * 1024 * 1024 * 1024,
  maxRatio: 200,
  ratioFloor: 1024 * 1024,
  maxReadBytes: 64 * 1024 * 1024,
});

export function zipLimitExceeded(limit: keyof ZipLimits, max: number, what: string, entry?: string): AppError {
  return new AppError("ZIP_LIMIT_EXCEEDED", `The archive is over a limit (${limit} = ${max}): ${what}.`, {
    details: { limit, max, ...(entry !== undefined ? { entry: shownName(entry) } : {}) },
  });
}

/** An entry name as it may appear in an error (JSON-escaped by the caller's serialiser; cut to 200 chars). */
export function shownName(name: string): string {
  // Control and bidi characters are shown escaped so a message cannot be made to lie about a name.
  const s = name.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
