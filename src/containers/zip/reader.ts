/**
 * Bounded zip reader. `openZip` reads the end records and the central directory, checks every entry against the
 * limits (limits.ts) and the rules below, and reads each entry's local header; only then does it answer. Entry data
 * is read on demand, streamed (inflated on the thread pool) and checked for its declared size and CRC-32.
 *
 * Refused when opening (AppError, `details.check` says which rule):
 *   ZIP_INVALID          no end-of-central-directory record where it must be (not a zip, truncated, data after
 *                        it), central directory or ZIP64 records out of place or inconsistent (count, size, offset),
 *                        a header that runs past its record, a local header that does not match its central entry
 *                        (signature, name, method, flags, CRC, sizes), a data descriptor that disagrees, entries
 *                        whose bytes overlap each other or the central directory (overlapping-entry zip bombs)
 *   ZIP_LIMIT_EXCEEDED   entry count, central directory bytes, name bytes, path depth, comments, per-entry and total
 *                        uncompressed size, compression ratio (per entry and for the archive): limits.ts
 *   ZIP_UNSAFE_ENTRY     `../`, absolute paths, backslashes, drive letters, control/bidi characters (names.ts), a
 *                        name that is not UTF-8, an Info-ZIP Unicode path that names another file, a symbolic link
 *                        or special file (Unix mode in the external attributes; DOS reparse points), a directory
 *                        flag that disagrees with the name
 *   ZIP_DUPLICATE_ENTRY  two entries of one name, also after NFC normalisation; a file that is also a directory
 *   ZIP_ENCRYPTED        traditional or strong encryption, AES (method 99), masked local headers
 *   ZIP_UNSUPPORTED      compression other than stored/deflated, multi-disk (spanned) archives
 * Reported, not refused (`issues`): names that differ only by case (they collide on Windows and macOS), bytes
 * before the first entry (self-extracting stubs) or between entries.
 *
 * Reading an entry fails with ZIP_ENTRY_CORRUPT when its data inflates to more or fewer bytes than declared (the
 * stream stops as soon as it passes the declared size), does not inflate, or its CRC-32 differs.
 */
import fs from "node:fs/promises";
import { pipeline, Readable } from "node:stream";
import zlib from "node:zlib";
import { AppError } from "../../errors.js";
import { EXTRA, FLAG, fromDosDateTime, HOST_OSX, HOST_UNIX, METHOD, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, SIG, U16_MAX, U32_MAX } from "./format.js";
import { shownName, ZIP_LIMITS, zipLimitExceeded, type ZipLimits } from "./limits.js";
import { checkName, foldKey, nfcKey } from "./names.js";

/** Random-access bytes of an archive. */
export interface ZipSource {
  readonly size: number;
  /** Exactly `length` bytes at `offset` (the reader never asks past `size`). */
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export function bufferSource(buf: Uint8Array): ZipSource {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return { size: b.length, read: async (o, l) => b.subarray(o, o + l), close: async () => undefined };
}

export async function fileSource(path: string): Promise<ZipSource> {
  const fh = await fs.open(path, "r");
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new AppError("INPUT_FILE_UNREADABLE", "The archive is not a regular file.");
    return {
      size: st.size,
      async read(o, l) {
        const b = Buffer.allocUnsafe(l);
        let got = 0;
        while (got < l) {
          const { bytesRead } = await fh.read(b, got, l - got, o + got);
          if (bytesRead === 0) throw invalid("truncated", "the archive file became shorter while it was read");
          got += bytesRead;
        }
        return b;
      },
      close: () => fh.close(),
    };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

export interface ZipEntry {
  /** Position in the central directory. */
  readonly index: number;
  readonly name: string;
  readonly isDirectory: boolean;
  readonly method: "store" | "deflate";
  /** Declared uncompressed size (checked while reading). */
  readonly size: number;
  readonly compressedSize: number;
  readonly crc32: number;
  readonly mtime: Date;
  /** Unix permission bits when the archive records them. */
  readonly mode: number | null;
  readonly localHeaderOffset: number;
  /** First byte of the entry's (compressed) data. */
  readonly dataOffset: number;
  /** General-purpose flags of the central header. */
  readonly flags: number;
  readonly comment: string;
}

export interface ZipIssue {
  readonly check: "case-collision" | "leading-data" | "unaccounted-bytes";
  readonly detail: string;
  readonly entries?: readonly string[];
}

export interface ZipArchive {
  readonly size: number;
  readonly comment: string;
  /** Entries in central-directory order. */
  readonly entries: readonly ZipEntry[];
  readonly issues: readonly ZipIssue[];
  /** The entry of exactly this name. */
  get(name: string): ZipEntry | undefined;
  /** The entry's uncompressed bytes as a stream; fails with ZIP_ENTRY_CORRUPT on a size or CRC mismatch. */
  openEntry(entry: ZipEntry): Readable;
  /** The entry's bytes in memory (≤ `maxReadBytes`, or the smaller `max` given). */
  readEntry(entry: ZipEntry, max?: number): Promise<Buffer>;
  /** The raw (still compressed) bytes of the entry as stored: for hashing or copying without inflating. */
  openRaw(entry: ZipEntry): Readable;
  close(): Promise<void>;
}

function invalid(check: string, what: string, entry?: string): AppError {
  return new AppError("ZIP_INVALID", `The file is not a readable zip archive: ${what}.`, { details: { check, ...(entry !== undefined ? { entry: shownName(entry) } : {}) } });
}

const utf8Fatal = new TextDecoder("utf-8", { fatal: true });

function u64(b: Buffer, at: number, what: string): number {
  const v = b.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid("zip64", `${what} is out of range`);
  return Number(v);
}

interface Extra {
  readonly id: number;
  readonly data: Buffer;
}

function parseExtras(b: Buffer, entry: string): Extra[] {
  const out: Extra[] = [];
  let p = 0;
  while (p < b.length) {
    // A few writers pad the extra field with fewer than 4 zero bytes: allowed only as trailing zeros.
    if (b.length - p < 4) {
      if (b.subarray(p).every((x) => x === 0)) break;
      throw invalid("extra-field", "an extra field is cut short", entry);
    }
    const id = b.readUInt16LE(p);
    const len = b.readUInt16LE(p + 2);
    if (p + 4 + len > b.length) throw invalid("extra-field", "an extra field runs past its header", entry);
    if (out.some((x) => x.id === id) && (id === EXTRA.zip64 || id === EXTRA.unicodePath)) throw invalid("extra-field", `extra field 0x${id.toString(16)} is repeated`, entry);
    out.push({ id, data: b.subarray(p + 4, p + 4 + len) });
    p += 4 + len;
  }
  return out;
}

interface Raw {
  index: number;
  name: string;
  nameBytes: Buffer;
  flags: number;
  method: number;
  crc: number;
  csize: number;
  usize: number;
  offset: number;
  mtime: Date;
  mode: number | null;
  isDirectory: boolean;
  comment: string;
  zip64: boolean;
  dataOffset: number;
  end: number;
}

/** Opens an archive: a Buffer, a file path, or any ZipSource. The source is closed when opening fails. */
export async function openZip(input: Uint8Array | string | ZipSource, limits: Partial<ZipLimits> = {}): Promise<ZipArchive> {
  const lim: ZipLimits = { ...ZIP_LIMITS, ...limits };
  const src = typeof input === "string" ? await fileSource(input) : input instanceof Uint8Array ? bufferSource(input) : input;
  try {
    return await open(src, lim);
  } catch (e) {
    await src.close().catch(() => undefined);
    throw e;
  }
}

async function open(src: ZipSource, lim: ZipLimits): Promise<ZipArchive> {
  const size = src.size;
  if (size < 22) throw invalid("eocd", "it is shorter than an end-of-central-directory record");
  // 1. End of central directory: the last record whose comment reaches exactly the end of the file.
  const tailLen = Math.min(size, 22 + U16_MAX + 20);
  const tailStart = size - tailLen;
  const tail = await src.read(tailStart, tailLen);
  let eocd = -1;
  for (let p = tail.length - 22; p >= 0; p--) {
    if (tail.readUInt32LE(p) === SIG.eocd && p + 22 + tail.readUInt16LE(p + 20) === tail.length) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) throw invalid("eocd", "no end-of-central-directory record ends the file (not a zip, truncated, or data appended)");
  const commentLen = tail.readUInt16LE(eocd + 20);
  if (commentLen > lim.maxCommentBytes) throw zipLimitExceeded("maxCommentBytes", lim.maxCommentBytes, `the archive comment is ${commentLen} bytes`);
  const comment = tail.subarray(eocd + 22).toString("utf8");
  const eocdAt = tailStart + eocd;
  const disk = tail.readUInt16LE(eocd + 4);
  const cdDisk = tail.readUInt16LE(eocd + 6);
  let countOnDisk = tail.readUInt16LE(eocd + 8);
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  let cdEnd = eocdAt; // where the central directory must end
  const hasLocator = eocd >= 20 && tail.readUInt32LE(eocd - 20) === SIG.zip64Locator;
  if (hasLocator) {
    const loc = eocd - 20;
    if (tail.readUInt32LE(loc + 4) !== 0 || tail.readUInt32LE(loc + 16) !== 1) throw new AppError("ZIP_UNSUPPORTED", "Multi-disk (spanned) zip archives are not supported.", { details: { check: "multi-disk" } });
    const z64At = u64(tail, loc + 8, "the ZIP64 end record offset");
    const locAt = tailStart + loc;
    if (z64At + 56 > locAt) throw invalid("zip64", "the ZIP64 end record is not before its locator");
    const z = await src.read(z64At, 56);
    if (z.readUInt32LE(0) !== SIG.zip64Eocd) throw invalid("zip64", "no ZIP64 end record where the locator points");
    const recSize = u64(z, 4, "the ZIP64 end record size");
    if (recSize < 44 || z64At + 12 + recSize !== locAt) throw invalid("zip64", "the ZIP64 end record does not end at its locator");
    if (z.readUInt32LE(16) !== 0 || z.readUInt32LE(20) !== 0) throw new AppError("ZIP_UNSUPPORTED", "Multi-disk (spanned) zip archives are not supported.", { details: { check: "multi-disk" } });
    const c64 = u64(z, 32, "the entry count");
    const cOnDisk64 = u64(z, 24, "the entry count");
    if ((count !== U16_MAX && count !== c64) || (countOnDisk !== U16_MAX && countOnDisk !== cOnDisk64)) throw invalid("zip64", "the ZIP64 and classic end records disagree on the entry count");
    const s64 = u64(z, 40, "the central directory size");
    const o64 = u64(z, 48, "the central directory offset");
    if ((cdSize !== U32_MAX && cdSize !== s64) || (cdOffset !== U32_MAX && cdOffset !== o64)) throw invalid("zip64", "the ZIP64 and classic end records disagree on the central directory");
    count = c64;
    countOnDisk = cOnDisk64;
    cdSize = s64;
    cdOffset = o64;
    cdEnd = z64At;
  } else if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
    // 0xFFFF entries or 4 GiB offsets without the ZIP64 records they announce; (a real 65,535-entry archive would
    // have one here too: count >= 0xFFFF triggers ZIP64 in this writer, as in most).
    if (!(count === U16_MAX && cdSize !== U32_MAX && cdOffset !== U32_MAX)) throw invalid("zip64", "the end record announces ZIP64 records that are missing");
  }
  if (disk !== 0 || cdDisk !== 0) throw new AppError("ZIP_UNSUPPORTED", "Multi-disk (spanned) zip archives are not supported.", { details: { check: "multi-disk" } });
  if (countOnDisk !== count) throw invalid("eocd", "the entry counts of the end record disagree");
  if (count > lim.maxEntries) throw zipLimitExceeded("maxEntries", lim.maxEntries, `the archive declares ${count} entries`);
  if (cdSize > lim.maxCentralDirectoryBytes) throw zipLimitExceeded("maxCentralDirectoryBytes", lim.maxCentralDirectoryBytes, `the central directory is ${cdSize} bytes`);
  if (cdOffset + cdSize !== cdEnd) throw invalid("central-directory", "the central directory does not end where the end record begins (truncated, or bytes inserted)");
  if (count * 46 > cdSize) throw invalid("central-directory", `the central directory (${cdSize} bytes) cannot hold ${count} entries`);

  // 2. Central directory.
  const cd = await src.read(cdOffset, cdSize);
  const raws: Raw[] = [];
  let p = 0;
  let total = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== SIG.central) throw invalid("central-directory", `central directory entry ${i + 1} is missing or damaged`);
    const madeBy = cd.readUInt16LE(p + 4);
    const flags = cd.readUInt16LE(p + 8);
    const method = cd.readUInt16LE(p + 10);
    const time = cd.readUInt16LE(p + 12);
    const date = cd.readUInt16LE(p + 14);
    const crc = cd.readUInt32LE(p + 16);
    let csize = cd.readUInt32LE(p + 20);
    let usize = cd.readUInt32LE(p + 24);
    const n = cd.readUInt16LE(p + 28);
    const m = cd.readUInt16LE(p + 30);
    const k = cd.readUInt16LE(p + 32);
    const diskStart = cd.readUInt16LE(p + 34);
    const external = cd.readUInt32LE(p + 38);
    let offset = cd.readUInt32LE(p + 42);
    if (p + 46 + n + m + k > cd.length) throw invalid("central-directory", `central directory entry ${i + 1} runs past the directory`);
    if (n > lim.maxNameBytes) throw zipLimitExceeded("maxNameBytes", lim.maxNameBytes, `entry ${i + 1}'s name is ${n} bytes long`);
    if (k > lim.maxCommentBytes) throw zipLimitExceeded("maxCommentBytes", lim.maxCommentBytes, `entry ${i + 1}'s comment is ${k} bytes`);
    const nameBytes = cd.subarray(p + 46, p + 46 + n);
    let name: string;
    try {
      // EFS-flagged names must be UTF-8; unflagged names are taken as UTF-8 too (what macOS, 7-Zip and Java write)
      // and refused when they are not (CP437 names are not guessed at).
      name = utf8Fatal.decode(nameBytes);
    } catch {
      throw new AppError("ZIP_UNSAFE_ENTRY", "The archive has an entry whose name is not UTF-8.", { details: { check: "name-encoding", entry: nameBytes.toString("latin1").slice(0, 200) } });
    }
    const extras = parseExtras(cd.subarray(p + 46 + n, p + 46 + n + m), name);
    const commentStr = cd.subarray(p + 46 + n + m, p + 46 + n + m + k).toString("utf8");
    p += 46 + n + m + k;

    if (flags & (FLAG.encrypted | FLAG.strongEncryption | FLAG.maskedHeaders) || method === 99 || extras.some((x) => x.id === EXTRA.aes)) {
      throw new AppError("ZIP_ENCRYPTED", "The archive has an encrypted entry.", { details: { check: "encrypted", entry: shownName(name) } });
    }
    if (method !== METHOD.store && method !== METHOD.deflate) {
      throw new AppError("ZIP_UNSUPPORTED", `The archive uses compression method ${method} (only stored and deflated are read).`, { details: { check: "method", entry: shownName(name) } });
    }
    // ZIP64 extended information: the 64-bit values of the fields set to 0xFFFFFFFF, in this order.
    const z64 = extras.find((x) => x.id === EXTRA.zip64);
    let zp = 0;
    const take = (what: string) => {
      if (!z64 || zp + 8 > z64.data.length) throw invalid("zip64", `the ZIP64 extra field lacks the ${what}`, name);
      const v = u64(z64.data, zp, what);
      zp += 8;
      return v;
    };
    if (usize === U32_MAX) usize = take("uncompressed size");
    if (csize === U32_MAX) csize = take("compressed size");
    if (offset === U32_MAX) offset = take("local header offset");
    if (diskStart === U16_MAX) {
      if (!z64 || zp + 4 > z64.data.length || z64.data.readUInt32LE(zp) !== 0) throw new AppError("ZIP_UNSUPPORTED", "Multi-disk (spanned) zip archives are not supported.", { details: { check: "multi-disk" } });
    } else if (diskStart !== 0) throw new AppError("ZIP_UNSUPPORTED", "Multi-disk (spanned) zip archives are not supported.", { details: { check: "multi-disk" } });

    checkName(name, n, lim);
    const up = extras.find((x) => x.id === EXTRA.unicodePath);
    if (up) {
      // Info-ZIP Unicode Path (0x7075): unzip shows this name instead of the header's; it must name the same file.
      let other: string | null = null;
      try {
        if (up.data.length >= 5 && up.data[0] === 1) other = utf8Fatal.decode(up.data.subarray(5));
      } catch {
        other = null;
      }
      if (other !== name) throw new AppError("ZIP_UNSAFE_ENTRY", "The archive has an entry whose Unicode path field names another file.", { details: { check: "unicode-path", entry: shownName(name) } });
    }
    const isDirectory = name.endsWith("/");
    const host = madeBy >> 8;
    let mode: number | null = null;
    if (host === HOST_UNIX || host === HOST_OSX) {
      const unix = external >>> 16;
      const type = unix & S_IFMT;
      if (type === S_IFLNK) throw new AppError("ZIP_UNSAFE_ENTRY", "The archive has a symbolic link entry.", { details: { check: "symlink", entry: shownName(name) } });
      if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) throw new AppError("ZIP_UNSAFE_ENTRY", "The archive has a special-file entry (device, FIFO or socket).", { details: { check: "special-file", entry: shownName(name) } });
      if ((type === S_IFDIR) !== isDirectory && type !== 0) throw new AppError("ZIP_UNSAFE_ENTRY", "The archive has an entry whose type disagrees with its name (a directory without '/', or a file with it).", { details: { check: "type-mismatch", entry: shownName(name) } });
      if (unix !== 0) mode = unix & 0o7777;
    }
    // FAT/NTFS attributes: FILE_ATTRIBUTE_REPARSE_POINT (0x400) is a Windows link.
    if (external & 0x400 && host !== HOST_UNIX && host !== HOST_OSX) throw new AppError("ZIP_UNSAFE_ENTRY", "The archive has a reparse-point (link) entry.", { details: { check: "symlink", entry: shownName(name) } });
    if (isDirectory && usize !== 0) throw invalid("directory", "a directory entry has data", name);
    if (method === METHOD.store && csize !== usize) throw invalid("stored-size", "a stored entry's compressed and uncompressed sizes differ", name);
    if (usize > lim.maxEntrySize) throw zipLimitExceeded("maxEntrySize", lim.maxEntrySize, `an entry declares ${usize} bytes`, name);
    if (usize > lim.ratioFloor && usize > csize * lim.maxRatio) {
      throw zipLimitExceeded("maxRatio", lim.maxRatio, `an entry declares ${usize} bytes from ${csize} compressed (ratio ${csize ? Math.round(usize / csize) : "∞"})`, name);
    }
    total += usize;
    if (total > lim.maxTotalSize) throw zipLimitExceeded("maxTotalSize", lim.maxTotalSize, `the entries declare more than ${lim.maxTotalSize} bytes together`);
    let mtime = fromDosDateTime(date, time);
    const ut = extras.find((x) => x.id === EXTRA.extendedTime);
    if (ut && ut.data.length >= 5 && (ut.data[0]! & 1)) mtime = new Date(ut.data.readInt32LE(1) * 1000);
    raws.push({ index: i, name, nameBytes, flags, method, crc, csize, usize, offset, mtime, mode, isDirectory, comment: commentStr, zip64: !!z64, dataOffset: 0, end: 0 });
  }
  if (p !== cd.length) throw invalid("central-directory", "the central directory has bytes after its last entry");
  if (total > lim.ratioFloor && total > size * lim.maxRatio) {
    throw zipLimitExceeded("maxRatio", lim.maxRatio, `the entries declare ${total} bytes from a ${size}-byte archive`);
  }

  // 3. Names: duplicates (exact and NFC) are refused; a file that is also a directory prefix is refused; names
  // equal but for case are reported.
  const byName = new Map<string, Raw>();
  const byNfc = new Map<string, Raw>();
  const byFold = new Map<string, Raw[]>();
  for (const r of raws) {
    if (byName.has(r.name)) throw new AppError("ZIP_DUPLICATE_ENTRY", "The archive has two entries of the same name.", { details: { check: "duplicate", entry: shownName(r.name) } });
    byName.set(r.name, r);
    const nk = nfcKey(r.name.endsWith("/") ? r.name.slice(0, -1) : r.name);
    if (byNfc.has(nk)) {
      throw new AppError("ZIP_DUPLICATE_ENTRY", "The archive has two entries whose names are the same after Unicode normalisation (NFC), or a file and a directory of one name.", {
        details: { check: byNfc.get(nk)!.name === r.name ? "duplicate" : "duplicate-nfc", entry: shownName(r.name) },
      });
    }
    byNfc.set(nk, r);
    const fk = foldKey(nk);
    const list = byFold.get(fk);
    if (list) list.push(r);
    else byFold.set(fk, [r]);
  }
  for (const r of raws) {
    const segs = nfcKey(r.name).replace(/\/$/, "").split("/");
    for (let d = 1; d < segs.length; d++) {
      const parent = byNfc.get(segs.slice(0, d).join("/"));
      if (parent && !parent.isDirectory) throw new AppError("ZIP_DUPLICATE_ENTRY", "The archive has a file that is also used as a directory.", { details: { check: "file-is-directory", entry: shownName(r.name) } });
    }
  }
  const issues: ZipIssue[] = [];
  for (const list of byFold.values()) {
    if (list.length > 1) issues.push({ check: "case-collision", detail: `${list.length} names differ only by case (they collide on case-insensitive file systems)`, entries: list.map((x) => x.name) });
  }

  // 4. Local headers, data descriptors, and overlaps. Headers are read in offset order through a 64 KiB window, so an
  // archive of many small entries costs a few reads, not two per entry.
  let win: Buffer = Buffer.alloc(0);
  let winAt = 0;
  const readAt = async (o: number, l: number): Promise<Buffer> => {
    if (o >= winAt && o + l <= winAt + win.length) return win.subarray(o - winAt, o - winAt + l);
    if (l > 64 * 1024) return src.read(o, l);
    winAt = o;
    win = await src.read(o, Math.min(64 * 1024, cdOffset - o));
    return win.subarray(0, l);
  };
  const sorted = [...raws].sort((a, b) => a.offset - b.offset);
  for (const r of sorted) {
    if (r.offset + 30 > cdOffset) throw invalid("local-header", "a local header lies in or past the central directory", r.name);
    const h = await readAt(r.offset, 30);
    if (h.readUInt32LE(0) !== SIG.local) throw invalid("local-header", "no local header where the central directory points", r.name);
    const lflags = h.readUInt16LE(6);
    const lmethod = h.readUInt16LE(8);
    const n = h.readUInt16LE(26);
    const m = h.readUInt16LE(28);
    if (r.offset + 30 + n + m > cdOffset) throw invalid("local-header", "a local header runs into the central directory", r.name);
    const nm = await readAt(r.offset + 30, n + m);
    const mask = FLAG.encrypted | FLAG.descriptor | FLAG.strongEncryption | FLAG.utf8 | FLAG.maskedHeaders;
    if (!nm.subarray(0, n).equals(r.nameBytes)) throw invalid("local-header-mismatch", "the local header names another file than the central directory", r.name);
    if (lmethod !== r.method || (lflags & mask) !== (r.flags & mask)) throw invalid("local-header-mismatch", "the local header's method or flags differ from the central directory", r.name);
    const lextras = parseExtras(nm.subarray(n), r.name);
    const desc = (r.flags & FLAG.descriptor) !== 0;
    const lcrc = h.readUInt32LE(14);
    let lcsize = h.readUInt32LE(18);
    let lusize = h.readUInt32LE(22);
    const lz64 = lextras.find((x) => x.id === EXTRA.zip64);
    if (lz64 && (lusize === U32_MAX || lcsize === U32_MAX)) {
      if (lz64.data.length < 16) throw invalid("zip64", "the local ZIP64 extra field is too short", r.name);
      lusize = u64(lz64.data, 0, "size");
      lcsize = u64(lz64.data, 8, "size");
    }
    const same = lcrc === r.crc && lcsize === r.csize && lusize === r.usize;
    if (!desc && !same) throw invalid("local-header-mismatch", "the local header's CRC or sizes differ from the central directory", r.name);
    if (desc && !same && !(lcrc === 0 && lcsize === 0 && lusize === 0)) throw invalid("local-header-mismatch", "the local header's CRC or sizes differ from the central directory", r.name);
    r.dataOffset = r.offset + 30 + n + m;
    r.end = r.dataOffset + r.csize;
    if (r.end > cdOffset) throw invalid("entry-bounds", "an entry's data runs into the central directory", r.name);
    if (desc) {
      // Data descriptor: optional signature, CRC, then 4- or 8-byte sizes; whichever form it has must agree.
      const room = Math.min(24, cdOffset - r.end);
      const d = await readAt(r.end, room);
      let q = 0;
      if (room >= 4 && d.readUInt32LE(0) === SIG.descriptor) q = 4;
      const ok32 = room >= q + 12 && d.readUInt32LE(q) === r.crc && d.readUInt32LE(q + 4) === r.csize && d.readUInt32LE(q + 8) === r.usize;
      const ok64 = !ok32 && room >= q + 20 && d.readUInt32LE(q) === r.crc && Number(d.readBigUInt64LE(q + 4)) === r.csize && Number(d.readBigUInt64LE(q + 12)) === r.usize;
      if (!ok32 && !ok64) throw invalid("descriptor-mismatch", "the data descriptor is missing or differs from the central directory", r.name);
      r.end += q + (ok32 ? 12 : 20);
    }
  }
  let prevEnd = 0;
  for (let i = 0; i < sorted.length; i++) {
    const r = sorted[i]!;
    if (i > 0 && r.offset < prevEnd) throw invalid("overlapping-entries", "two entries share bytes (overlapping entries: a zip bomb construction)", r.name);
    if (r.offset > prevEnd) {
      issues.push(i === 0
        ? { check: "leading-data", detail: `${r.offset} bytes precede the first entry` }
        : { check: "unaccounted-bytes", detail: `${r.offset - prevEnd} bytes between entries belong to none`, entries: [sorted[i - 1]!.name, r.name] });
    }
    prevEnd = r.end;
  }
  if (sorted.length && prevEnd < cdOffset) issues.push({ check: "unaccounted-bytes", detail: `${cdOffset - prevEnd} bytes between the last entry and the central directory belong to none` });
  if (!sorted.length && cdOffset > 0) issues.push({ check: "leading-data", detail: `${cdOffset} bytes precede the central directory` });

  const entries: ZipEntry[] = raws.map((r) => Object.freeze({
    index: r.index, name: r.name, isDirectory: r.isDirectory, method: r.method === METHOD.store ? "store" as const : "deflate" as const,
    size: r.usize, compressedSize: r.csize, crc32: r.crc, mtime: r.mtime, mode: r.mode, localHeaderOffset: r.offset,
    dataOffset: r.dataOffset, flags: r.flags, comment: r.comment,
  }));
  const own = new Set(entries);
  const mine = (e: ZipEntry) => {
    if (!own.has(e)) throw new AppError("INTERNAL", "The entry belongs to another archive.");
  };

  function openRaw(e: ZipEntry): Readable {
    mine(e);
    const CHUNK = 64 * 1024;
    return Readable.from((async function* () {
      for (let o = 0; o < e.compressedSize; o += CHUNK) yield await src.read(e.dataOffset + o, Math.min(CHUNK, e.compressedSize - o));
    })(), { objectMode: false });
  }

  function openEntry(e: ZipEntry): Readable {
    const corrupt = (what: string, cause?: unknown) =>
      new AppError("ZIP_ENTRY_CORRUPT", `The archive entry is damaged: ${what}.`, { details: { check: "data", entry: shownName(e.name) }, cause });
    const raw = openRaw(e);
    // Inflated in 16 KiB chunks on the thread pool; the count is checked per chunk, so a bomb stops at its declared
    // size (itself under the limits), whatever its real output.
    const data: AsyncIterable<Buffer> = e.method === "store" ? raw : pipeline(raw, zlib.createInflateRaw({ chunkSize: 16 * 1024 }), () => undefined);
    return Readable.from((async function* () {
      let n = 0;
      let crc = 0;
      try {
        for await (const chunk of data) {
          n += chunk.length;
          if (n > e.size) throw corrupt(`its data inflates to more than the declared ${e.size} bytes`);
          crc = zlib.crc32(chunk, crc);
          yield chunk;
        }
      } catch (err) {
        if (err instanceof AppError) throw err;
        throw corrupt("its deflate data cannot be inflated", err);
      }
      if (n !== e.size) throw corrupt(`its data is ${n} bytes, ${e.size} were declared`);
      if (crc >>> 0 !== e.crc32) throw corrupt("its CRC-32 does not match");
    })(), { objectMode: false });
  }

  return {
    size,
    comment,
    entries,
    issues,
    get: (name) => {
      const r = byName.get(name);
      return r ? entries[r.index] : undefined;
    },
    openEntry,
    openRaw,
    async readEntry(e, max) {
      const cap = Math.min(max ?? lim.maxReadBytes, lim.maxReadBytes);
      if (e.size > cap) throw zipLimitExceeded("maxReadBytes", cap, `the entry is ${e.size} bytes`, e.name);
      const parts: Buffer[] = [];
      for await (const c of openEntry(e)) parts.push(c as Buffer);
      return Buffer.concat(parts);
    },
    close: () => src.close(),
  };
}
