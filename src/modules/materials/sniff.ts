/**
 * What the bytes are, read from the bytes (never from the declared header or file name): the magic numbers of the
 * media types a material may have. Decided on the first bytes (so an executable called lease.pdf is refused before
 * the rest is read), and confirmed on the last 64 KiB for the kinds that need the end (PDF's %%EOF, OFD's central
 * directory naming OFD.xml, JSON's closing bracket).
 *   pdf   starts with `%PDF-`, ends (last 1 KiB) with `%%EOF`
 *   jpeg  FF D8 FF
 *   png   the 8-byte PNG signature
 *   ofd   a ZIP (PK 03 04) whose first entry or central directory names `OFD.xml` (GB/T 33190)
 *   json  UTF-8 (checked over every byte), no control characters but tab/CR/LF, first non-blank `{` or `[`, last
 *         non-blank `}` or `]`
 * Anything else (PE `MZ`, ELF, Mach-O, scripts, HTML, other archives, plain text) is unrecognised.
 */
import type { MediaKind } from "./ports.js";
import { own } from "../../util/lookup.js";

export const HEAD_BYTES = 1024;
export const TAIL_BYTES = 64 * 1024;

/** The candidate kind from the first bytes, or null when nothing matches (or not enough bytes yet: `more`). */
export function sniffHead(head: Buffer, complete: boolean): { kind: MediaKind | null; more: boolean } {
  const starts = (sig: number[]) => head.length >= sig.length && sig.every((b, i) => head[i] === b);
  if (head.length < 8 && !complete) return { kind: null, more: true };
  if (starts([0x25, 0x50, 0x44, 0x46, 0x2d])) return { kind: "pdf", more: false };
  if (starts([0xff, 0xd8, 0xff])) return { kind: "jpeg", more: false };
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { kind: "png", more: false };
  if (starts([0x50, 0x4b, 0x03, 0x04])) return { kind: "ofd", more: false };
  // JSON: the first non-blank byte, within the first HEAD_BYTES.
  for (let i = 0; i < head.length; i++) {
    const b = head[i]!;
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) continue;
    return { kind: b === 0x7b || b === 0x5b ? "json" : null, more: false };
  }
  return { kind: null, more: !complete && head.length < HEAD_BYTES };
}

/** Confirms the candidate on the whole upload's head and tail; a reason string when it does not hold. */
export function confirmKind(kind: MediaKind, head: Buffer, tail: Buffer): string | null {
  switch (kind) {
    case "pdf":
      return tail.subarray(Math.max(0, tail.length - 1024)).includes("%%EOF") ? null : "a PDF ends with %%EOF";
    case "ofd":
      return zipNames(head, tail).includes("OFD.xml") ? null : "a ZIP that is not an OFD document (no OFD.xml entry)";
    case "json": {
      for (let i = tail.length - 1; i >= 0; i--) {
        const b = tail[i]!;
        if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) continue;
        return b === 0x7d || b === 0x5d ? null : "JSON ends with } or ]";
      }
      return "empty JSON";
    }
    default:
      return null;
  }
}

/** File names of the first local header and of central-directory headers found in the tail (bounded). */
function zipNames(head: Buffer, tail: Buffer): string[] {
  const names: string[] = [];
  if (head.length >= 30) {
    const n = head.readUInt16LE(26);
    if (30 + n <= head.length) names.push(head.subarray(30, 30 + n).toString("latin1"));
  }
  let at = 0;
  for (let k = 0; k < 4096; k++) {
    at = tail.indexOf("PK\u0001\u0002", at, "latin1");
    if (at < 0 || at + 46 > tail.length) break;
    const n = tail.readUInt16LE(at + 28);
    if (at + 46 + n <= tail.length) names.push(tail.subarray(at + 46, at + 46 + n).toString("latin1"));
    at += 4;
  }
  return names;
}

/** The kind a declared content type or file name names (undefined: says nothing, e.g. application/octet-stream). */
export function declaredKind(contentType: string | undefined, fileName: string | undefined): MediaKind | "other" | undefined {
  const ct = contentType?.split(";")[0]!.trim().toLowerCase();
  const byType: Record<string, MediaKind> = {
    "application/pdf": "pdf", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/png": "png", "application/ofd": "ofd", "application/json": "json",
  };
  let fromType: MediaKind | "other" | undefined;
  if (ct && ct !== "application/octet-stream" && ct !== "binary/octet-stream") fromType = own(byType, ct) ?? "other";
  const ext = fileName && /\.([A-Za-z0-9]{1,8})$/.exec(fileName)?.[1]?.toLowerCase();
  const byExt: Record<string, MediaKind> = { pdf: "pdf", jpg: "jpeg", jpeg: "jpeg", png: "png", ofd: "ofd", json: "json" };
  const fromName: MediaKind | "other" | undefined = ext ? own(byExt, ext) ?? "other" : undefined;
  if (fromType && fromName && fromType !== fromName) return "other";
  return fromType ?? fromName;
}
