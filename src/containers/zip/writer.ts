/**
 * Streaming zip writer. Entries are written one after another straight to a Writable (a file, an HTTP reply), with
 * backpressure; an entry's bytes are never held whole: a Buffer entry is written as given, a stream entry is
 * CRC-ed and (for `deflate`) compressed chunk by chunk and closed with a data descriptor. Only the central directory
 * records (name, sizes, CRC, offset: ~100 bytes an entry) stay in memory until `finish`.
 *
 * - Names are UTF-8; the language-encoding flag (EFS, bit 11) is set on any non-ASCII name, so unzip, Windows and
 *   macOS show them as written. Unsafe names (names.ts) and duplicates (also after NFC normalisation) are refused.
 * - ZIP64 records are written only when needed: an entry or offset at or past 4 GiB, more than 65,535 entries.
 *   Buffer entries of 4 GiB+ carry a ZIP64 local extra; stream entries keep 32-bit local fields, their data
 *   descriptor is 64-bit only when the sizes need it (as yazl and Go's archive/zip do).
 * - Entries carry a Unix mode (0644 files, 0755 directories) and, by default, a fixed time, so the same input
 *   gives the same bytes.
 */
import type { Writable } from "node:stream";
import { pipeline, Readable } from "node:stream";
import { promisify } from "node:util";
import zlib from "node:zlib";
import { AppError } from "../../errors.js";
import { dosDateTime, EXTRA, FLAG, HOST_UNIX, METHOD, S_IFDIR, S_IFREG, SIG, U16_MAX, U32_MAX } from "./format.js";
import { ZIP_LIMITS } from "./limits.js";
import { checkName, nfcKey } from "./names.js";

export type ZipData = Uint8Array | Readable | AsyncIterable<Uint8Array>;

export interface ZipEntryOptions {
  /** `deflate` (default) or `store` (no compression: what `mimetype` must be). */
  readonly method?: "store" | "deflate";
  /** zlib level 0–9 for `deflate` (default 6). */
  readonly level?: number;
  /** Modification time (default: the writer's `mtime`). */
  readonly mtime?: Date;
  /** Unix permission bits (default 0o644 files, 0o755 directories). */
  readonly mode?: number;
  /** For stream data: the exact size expected; the entry fails (ZIP_ENTRY_CORRUPT) if the stream gives another. */
  readonly size?: number;
}

export interface ZipWriterOptions {
  /** Default entry time (default 1980-01-01T00:00:00Z, the zip epoch: reproducible output). */
  readonly mtime?: Date;
  /** Archive comment (UTF-8, ≤ 4096 bytes). */
  readonly comment?: string;
}

export interface WrittenEntry {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly compressedSize: number;
  readonly crc32: number;
}

interface Record {
  nameBytes: Buffer;
  utf8: boolean;
  flags: number;
  method: number;
  date: number;
  time: number;
  crc: number;
  csize: number;
  usize: number;
  offset: number;
  external: number;
}

const deflateRaw = promisify(zlib.deflateRaw) as (buf: Uint8Array, o: zlib.ZlibOptions) => Promise<Buffer>;
const ZIP_EPOCH = new Date(Date.UTC(1980, 0, 1));

export interface ZipWriter {
  /** Adds a file. Calls are queued: they may be made without awaiting the previous one. */
  addFile(name: string, data: ZipData, opts?: ZipEntryOptions): Promise<WrittenEntry>;
  /** Adds a directory entry (`name` ends with `/`, added when missing). */
  addDirectory(name: string, opts?: { mtime?: Date; mode?: number }): Promise<WrittenEntry>;
  /** Writes the central directory and the end records; does not end `out`. Returns the archive's size. */
  finish(): Promise<{ size: number; entries: number }>;
  /** Bytes written so far. */
  readonly bytesWritten: number;
}

export function createZipWriter(out: Writable, opts: ZipWriterOptions = {}): ZipWriter {
  const records: Record[] = [];
  const names = new Set<string>();
  let offset = 0;
  let queue: Promise<unknown> = Promise.resolve();
  let finished = false;
  const defaultTime = opts.mtime ?? ZIP_EPOCH;
  const comment = Buffer.from(opts.comment ?? "", "utf8");
  if (comment.length > ZIP_LIMITS.maxCommentBytes) throw new AppError("VALIDATION_FAILED", `The archive comment is over ${ZIP_LIMITS.maxCommentBytes} bytes.`);

  async function write(buf: Uint8Array): Promise<void> {
    if (buf.length === 0) return;
    if (out.destroyed || out.writableEnded) throw new AppError("INTERNAL", "The zip output was closed before the archive was complete.");
    offset += buf.length;
    if (out.write(buf)) return;
    await new Promise<void>((resolve, reject) => {
      const done = (err?: unknown) => {
        out.off("drain", onDrain);
        out.off("error", onError);
        out.off("close", onClose);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => done();
      const onError = (e: unknown) => done(e);
      const onClose = () => done(new AppError("INTERNAL", "The zip output was closed before the archive was complete."));
      out.on("drain", onDrain);
      out.on("error", onError);
      out.on("close", onClose);
    });
  }

  // After a failed entry the output holds a partial entry: every later call fails with the first error.
  let broken: unknown = null;
  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = queue.then(() => {
      if (broken) throw broken;
      return fn().catch((e: unknown) => {
        broken = e;
        throw e;
      });
    });
    queue = p.catch(() => undefined);
    return p;
  }

  function reserve(name: string): { nameBytes: Buffer; utf8: boolean } {
    if (finished) throw new AppError("INTERNAL", "The zip archive is already finished.");
    const nameBytes = Buffer.from(name, "utf8");
    checkName(name, nameBytes.length, ZIP_LIMITS);
    const key = nfcKey(name);
    if (names.has(key)) throw new AppError("ZIP_DUPLICATE_ENTRY", "The archive already has an entry of this name.", { details: { check: "duplicate", entry: name } });
    names.add(key);
    return { nameBytes, utf8: /[^\x00-\x7f]/.test(name) };
  }

  function localHeader(r: Record, zip64Sizes: boolean): Buffer {
    const extra = zip64Sizes ? Buffer.alloc(20) : Buffer.alloc(0);
    if (zip64Sizes) {
      extra.writeUInt16LE(EXTRA.zip64, 0);
      extra.writeUInt16LE(16, 2);
      extra.writeBigUInt64LE(BigInt(r.usize), 4);
      extra.writeBigUInt64LE(BigInt(r.csize), 12);
    }
    const h = Buffer.alloc(30);
    const desc = (r.flags & FLAG.descriptor) !== 0;
    h.writeUInt32LE(SIG.local, 0);
    h.writeUInt16LE(zip64Sizes ? 45 : 20, 4);
    h.writeUInt16LE(r.flags, 6);
    h.writeUInt16LE(r.method, 8);
    h.writeUInt16LE(r.time, 10);
    h.writeUInt16LE(r.date, 12);
    h.writeUInt32LE(desc ? 0 : r.crc, 14);
    h.writeUInt32LE(desc ? 0 : zip64Sizes ? U32_MAX : r.csize, 18);
    h.writeUInt32LE(desc ? 0 : zip64Sizes ? U32_MAX : r.usize, 22);
    h.writeUInt16LE(r.nameBytes.length, 26);
    h.writeUInt16LE(extra.length, 28);
    return Buffer.concat([h, r.nameBytes, extra]);
  }

  async function add(name: string, data: ZipData, o: ZipEntryOptions, dir: boolean): Promise<WrittenEntry> {
    const { nameBytes, utf8 } = reserve(name);
    return serial(async () => {
      const method = dir || o.method === "store" ? METHOD.store : METHOD.deflate;
      const { date, time } = dosDateTime(o.mtime ?? defaultTime);
      const mode = (dir ? S_IFDIR : S_IFREG) | ((o.mode ?? (dir ? 0o755 : 0o644)) & 0o7777);
      const r: Record = {
        nameBytes, utf8, flags: utf8 ? FLAG.utf8 : 0, method, date, time, crc: 0, csize: 0, usize: 0, offset,
        external: ((mode << 16) | (dir ? 0x10 : 0)) >>> 0,
      };
      if (data instanceof Uint8Array) {
        r.usize = data.length;
        r.crc = zlib.crc32(data);
        // Compressed on the thread pool, not the event loop.
        const body = method === METHOD.store ? data : await deflateRaw(data, { level: o.level ?? 6 });
        r.csize = body.length;
        await write(localHeader(r, r.usize >= U32_MAX || r.csize >= U32_MAX));
        await write(body);
      } else {
        r.flags |= FLAG.descriptor;
        await write(localHeader(r, false));
        let crc = 0;
        let usize = 0;
        let csize = 0;
        async function* counted(src: AsyncIterable<Uint8Array>) {
          for await (const c of src) {
            const chunk = typeof c === "string" ? Buffer.from(c) : c;
            crc = zlib.crc32(chunk, crc);
            usize += chunk.length;
            yield chunk;
          }
        }
        if (method === METHOD.store) {
          for await (const c of counted(data)) {
            csize += c.length;
            await write(c);
          }
        } else {
          const deflate = zlib.createDeflateRaw({ level: o.level ?? 6 });
          const piped = pipeline(Readable.from(counted(data)), deflate, () => undefined);
          for await (const c of piped as AsyncIterable<Buffer>) {
            csize += c.length;
            await write(c);
          }
        }
        if (o.size !== undefined && o.size !== usize) {
          throw new AppError("ZIP_ENTRY_CORRUPT", `The entry's data is ${usize} bytes, ${o.size} were announced.`, { details: { check: "size", entry: name } });
        }
        r.crc = crc;
        r.usize = usize;
        r.csize = csize;
        const z64 = usize >= U32_MAX || csize >= U32_MAX;
        const d = Buffer.alloc(z64 ? 24 : 16);
        d.writeUInt32LE(SIG.descriptor, 0);
        d.writeUInt32LE(crc, 4);
        if (z64) {
          d.writeBigUInt64LE(BigInt(csize), 8);
          d.writeBigUInt64LE(BigInt(usize), 16);
        } else {
          d.writeUInt32LE(csize, 8);
          d.writeUInt32LE(usize, 12);
        }
        await write(d);
      }
      records.push(r);
      return { name, offset: r.offset, size: r.usize, compressedSize: r.csize, crc32: r.crc };
    });
  }

  function centralHeader(r: Record): Buffer {
    const z: bigint[] = [];
    if (r.usize >= U32_MAX) z.push(BigInt(r.usize));
    if (r.csize >= U32_MAX) z.push(BigInt(r.csize));
    if (r.offset >= U32_MAX) z.push(BigInt(r.offset));
    const extra = Buffer.alloc(z.length ? 4 + 8 * z.length : 0);
    if (z.length) {
      extra.writeUInt16LE(EXTRA.zip64, 0);
      extra.writeUInt16LE(8 * z.length, 2);
      z.forEach((v, i) => extra.writeBigUInt64LE(v, 4 + 8 * i));
    }
    const h = Buffer.alloc(46);
    h.writeUInt32LE(SIG.central, 0);
    h.writeUInt16LE((HOST_UNIX << 8) | (z.length ? 45 : 20), 4);
    h.writeUInt16LE(z.length ? 45 : 20, 6);
    h.writeUInt16LE(r.flags, 8);
    h.writeUInt16LE(r.method, 10);
    h.writeUInt16LE(r.time, 12);
    h.writeUInt16LE(r.date, 14);
    h.writeUInt32LE(r.crc, 16);
    h.writeUInt32LE(Math.min(r.csize, U32_MAX), 20);
    h.writeUInt32LE(Math.min(r.usize, U32_MAX), 24);
    h.writeUInt16LE(r.nameBytes.length, 28);
    h.writeUInt16LE(extra.length, 30);
    h.writeUInt16LE(0, 32);
    h.writeUInt16LE(0, 34);
    h.writeUInt16LE(0, 36);
    h.writeUInt32LE(r.external, 38);
    h.writeUInt32LE(Math.min(r.offset, U32_MAX), 42);
    return Buffer.concat([h, r.nameBytes, extra]);
  }

  return {
    addFile: (name, data, o = {}) => add(name, data, o, false),
    addDirectory: (name, o = {}) => add(name.endsWith("/") ? name : `${name}/`, Buffer.alloc(0), o, true),
    get bytesWritten() {
      return offset;
    },
    finish() {
      if (finished) return Promise.reject(new AppError("INTERNAL", "The zip archive is already finished."));
      finished = true;
      return serial(async () => {
        const cdStart = offset;
        // Central directory records are written in batches so a large directory is not one huge buffer.
        let batch: Buffer[] = [];
        let batchBytes = 0;
        for (const r of records) {
          const h = centralHeader(r);
          batch.push(h);
          batchBytes += h.length;
          if (batchBytes >= 64 * 1024) {
            await write(Buffer.concat(batch));
            batch = [];
            batchBytes = 0;
          }
        }
        if (batch.length) await write(Buffer.concat(batch));
        const cdSize = offset - cdStart;
        const count = records.length;
        if (count >= U16_MAX || cdStart >= U32_MAX || cdSize >= U32_MAX) {
          const z = Buffer.alloc(56 + 20);
          const at = offset;
          z.writeUInt32LE(SIG.zip64Eocd, 0);
          z.writeBigUInt64LE(44n, 4);
          z.writeUInt16LE((HOST_UNIX << 8) | 45, 12);
          z.writeUInt16LE(45, 14);
          z.writeUInt32LE(0, 16);
          z.writeUInt32LE(0, 20);
          z.writeBigUInt64LE(BigInt(count), 24);
          z.writeBigUInt64LE(BigInt(count), 32);
          z.writeBigUInt64LE(BigInt(cdSize), 40);
          z.writeBigUInt64LE(BigInt(cdStart), 48);
          z.writeUInt32LE(SIG.zip64Locator, 56);
          z.writeUInt32LE(0, 60);
          z.writeBigUInt64LE(BigInt(at), 64);
          z.writeUInt32LE(1, 72);
          await write(z);
        }
        const e = Buffer.alloc(22);
        e.writeUInt32LE(SIG.eocd, 0);
        e.writeUInt16LE(Math.min(count, U16_MAX), 8);
        e.writeUInt16LE(Math.min(count, U16_MAX), 10);
        e.writeUInt32LE(Math.min(cdSize, U32_MAX), 12);
        e.writeUInt32LE(Math.min(cdStart, U32_MAX), 16);
        e.writeUInt16LE(comment.length, 20);
        await write(Buffer.concat([e, comment]));
        return { size: offset, entries: count };
      });
    },
  };
}
