/**
 * File formats: what a file's first bytes say it is (magic numbers), the archival allow-list, and header-level
 * decoding of images (PNG chunks with their CRCs to IEND; JPEG markers to a frame header). Bounded: a walk stops at
 * the file's end and never allocates from a length read in the file.
 */
import zlib from "node:zlib";
import { own } from "../../../util/lookup.js";

/** Formats an archival package may hold (DA/T 47 / GB/T 33190 practice: PDF, OFD, images, text, XML, JSON, JWS). */
export const ARCHIVAL_FORMATS: ReadonlySet<string> = new Set([
  "application/pdf", "application/ofd", "image/png", "image/jpeg", "image/tiff",
  "application/json", "application/jose", "text/plain", "application/xml", "text/xml",
]);

const BY_EXTENSION: Readonly<Record<string, string>> = {
  pdf: "application/pdf", ofd: "application/ofd", png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg",
  tif: "image/tiff", tiff: "image/tiff", json: "application/json", jws: "application/jose", txt: "text/plain", xml: "application/xml",
};

/** Extensions of programs and scripts (foreign to an archive package whatever their bytes). */
const EXECUTABLE_EXTENSIONS = new Set([
  "exe", "dll", "com", "scr", "msi", "bat", "cmd", "ps1", "psm1", "vbs", "vbe", "js", "mjs", "jse", "wsf", "hta", "jar", "class",
  "sh", "bash", "zsh", "csh", "py", "pyc", "pl", "rb", "php", "elf", "so", "dylib", "bin", "apk", "app", "lnk", "reg", "cpl", "wasm",
]);

export function extensionOf(p: string): string {
  const base = p.slice(p.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : "";
}

export const formatOfExtension = (p: string): string | null => own(BY_EXTENSION, extensionOf(p)) ?? null;
export const isExecutableExtension = (p: string): boolean => EXECUTABLE_EXTENSIONS.has(extensionOf(p));

export type Sniffed =
  | "application/pdf" | "image/png" | "image/jpeg" | "image/tiff" | "application/zip" | "application/json" | "application/jose"
  | "application/xml" | "text" | "executable" | "archive" | "unknown";

/** What the first bytes (up to 64) say. `executable` names the kind in `detail`. */
export function sniff(head: Buffer): { type: Sniffed; detail?: string } {
  const h = head;
  const at = (s: number[], o = 0) => s.every((b, i) => h[o + i] === b);
  if (at([0x25, 0x50, 0x44, 0x46, 0x2d])) return { type: "application/pdf" };
  if (at([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { type: "image/png" };
  if (at([0xff, 0xd8, 0xff])) return { type: "image/jpeg" };
  if (at([0x49, 0x49, 0x2a, 0x00]) || at([0x4d, 0x4d, 0x00, 0x2a])) return { type: "image/tiff" };
  if (at([0x4d, 0x5a])) return { type: "executable", detail: "a Windows program (MZ/PE header)" };
  if (at([0x7f, 0x45, 0x4c, 0x46])) return { type: "executable", detail: "an ELF program" };
  if (at([0xcf, 0xfa, 0xed, 0xfe]) || at([0xce, 0xfa, 0xed, 0xfe]) || at([0xfe, 0xed, 0xfa, 0xce]) || at([0xfe, 0xed, 0xfa, 0xcf])) return { type: "executable", detail: "a Mach-O program" };
  if (at([0xca, 0xfe, 0xba, 0xbe])) return { type: "executable", detail: "Java class or universal Mach-O" };
  if (at([0x00, 0x61, 0x73, 0x6d])) return { type: "executable", detail: "WebAssembly" };
  if (at([0x23, 0x21])) return { type: "executable", detail: "a script (#!)" };
  if (at([0x50, 0x4b, 0x03, 0x04]) || at([0x50, 0x4b, 0x05, 0x06])) return { type: "application/zip" };
  if (at([0x1f, 0x8b]) || at([0x52, 0x61, 0x72, 0x21]) || at([0x37, 0x7a, 0xbc, 0xaf]) || at([0x42, 0x5a, 0x68]) || at([0xfd, 0x37, 0x7a, 0x58, 0x5a]) || at([0x28, 0xb5, 0x2f, 0xfd])) {
    return { type: "archive", detail: "a compressed archive (gzip, RAR, 7z, bzip2, xz or zstd)" };
  }
  const text = h.toString("latin1").replace(/^\uFEFF|^\xEF\xBB\xBF/, "").trimStart();
  if (text.startsWith("{") || text.startsWith("[")) return { type: "application/json" };
  if (text.startsWith("<?xml") || text.startsWith("<")) return { type: "application/xml" };
  // A compact JWS: base64url of a JSON header ("eyJ" is `{"`), dots between the parts.
  if (/^eyJ[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*){0,2}$/.test(text.trimEnd())) return { type: "application/jose" };
  if (!h.some((b) => b < 0x09 || (b > 0x0d && b < 0x20 && b !== 0x1b))) return { type: "text" };
  return { type: "unknown" };
}

/** Does a sniffed type fit the claimed format? */
export function fits(claimed: string, s: Sniffed): boolean {
  switch (claimed) {
    case "application/pdf": case "image/png": case "image/jpeg": case "image/tiff": case "application/jose": return s === claimed;
    case "application/ofd": return s === "application/zip";
    case "application/json": return s === "application/json";
    case "application/xml": case "text/xml": return s === "application/xml";
    case "text/plain": return s === "text" || s === "application/json" || s === "application/xml" || s === "application/jose";
    default: return false;
  }
}

/** PNG: signature, IHDR first (13 bytes, sane size, valid depth/colour), every chunk's CRC, IDAT present, IEND last. */
export function checkPng(buf: Buffer): string | null {
  if (buf.length < 8 + 25 + 12) return "too short for a PNG";
  let o = 8;
  let first = true;
  let idat = false;
  let chunks = 0;
  while (o + 12 <= buf.length) {
    const len = buf.readUInt32BE(o);
    const type = buf.toString("latin1", o + 4, o + 8);
    if (len > 0x7fffffff || o + 12 + len > buf.length) return `chunk ${JSON.stringify(type)} at ${o} runs past the end of the file`;
    if (!/^[A-Za-z]{4}$/.test(type)) return `bad chunk type at ${o}`;
    const crc = buf.readUInt32BE(o + 8 + len);
    if (zlib.crc32(buf.subarray(o + 4, o + 8 + len)) !== crc) return `chunk ${type} at ${o}: CRC mismatch`;
    if (first) {
      if (type !== "IHDR" || len !== 13) return "the first chunk is not a 13-byte IHDR";
      const w = buf.readUInt32BE(o + 8);
      const hgt = buf.readUInt32BE(o + 12);
      const depth = buf[o + 16]!;
      const colour = buf[o + 17]!;
      if (w === 0 || hgt === 0 || w > 1_000_000 || hgt > 1_000_000) return `image size ${w}×${hgt} is out of range`;
      const okDepth: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
      if (!okDepth[colour]?.includes(depth)) return `bit depth ${depth} with colour type ${colour} is not valid`;
      if (buf[o + 18] !== 0 || buf[o + 19] !== 0 || buf[o + 20]! > 1) return "unknown compression, filter or interlace method";
      first = false;
    }
    if (type === "IDAT") idat = true;
    if (++chunks > 1_000_000) return "too many chunks";
    o += 12 + len;
    if (type === "IEND") {
      if (!idat) return "no image data (IDAT)";
      return o === buf.length ? null : `${buf.length - o} byte(s) after IEND`;
    }
  }
  return "no IEND chunk: the file is cut short";
}

/** JPEG: SOI, a walk over marker segments to a frame header (SOFn) with a non-zero size, an EOI at the end. */
export function checkJpeg(buf: Buffer): string | null {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) return "no JPEG start-of-image marker";
  let o = 2;
  let frame = false;
  let segments = 0;
  while (o + 4 <= buf.length) {
    if (buf[o] !== 0xff) return `no marker at ${o}`;
    const m = buf[o + 1]!;
    if (m === 0xff) { o++; continue; }
    if (m === 0xda) break; // start of scan: entropy-coded data follows
    if (m === 0xd9) return "end-of-image before any scan";
    if (m >= 0xd0 && m <= 0xd7) { o += 2; continue; }
    const len = buf.readUInt16BE(o + 2);
    if (len < 2 || o + 2 + len > buf.length) return `marker FF${m.toString(16).toUpperCase()} at ${o} runs past the end`;
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (len < 8) return "frame header too short";
      const h = buf.readUInt16BE(o + 5);
      const w = buf.readUInt16BE(o + 7);
      if (w === 0 || h === 0) return `image size ${w}×${h}`;
      frame = true;
    }
    if (++segments > 100_000) return "too many segments";
    o += 2 + len;
  }
  if (!frame) return "no frame header (SOFn) before the scan";
  let end = buf.length;
  while (end > 2 && (buf[end - 1] === 0x00 || buf[end - 1] === 0x0a || buf[end - 1] === 0x0d || buf[end - 1] === 0x20)) end--;
  if (buf[end - 2] !== 0xff || buf[end - 1] !== 0xd9) return "no end-of-image marker: the file is cut short";
  return null;
}
