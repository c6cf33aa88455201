/**
 * A zip builder for tests that writes exactly what it is told (names, flags, sizes, attributes, offsets), so hostile
 * archives can be made without the writer under test. Field layout: PKWARE APPNOTE 6.3.10 §4.3.7 and §4.3.12.
 */
import zlib from "node:zlib";

export interface RawEntry {
  name: string | Buffer;
  /** Uncompressed content (compressed here unless `stored`). */
  content?: Buffer;
  /** Bytes to place as the entry's data instead of compressing `content`. */
  data?: Buffer;
  method?: number;
  flags?: number;
  madeBy?: number;
  external?: number;
  crc?: number;
  csize?: number;
  usize?: number;
  centralExtra?: Buffer;
  localExtra?: Buffer;
  /** The name written in the local header (default: `name`). */
  localName?: string | Buffer;
  /** Bytes written after the data (a data descriptor). */
  after?: Buffer;
  /** Write no local header for this entry: its central record points at `offset`. */
  offset?: number;
  localCrc?: number;
  localCsize?: number;
  localUsize?: number;
}

export interface RawOptions {
  prefix?: Buffer;
  comment?: Buffer;
  /** Override the entry count in the end record. */
  count?: number;
  suffix?: Buffer;
  /** Override the central directory offset in the end record. */
  cdOffset?: number;
}

const buf = (x: string | Buffer) => (typeof x === "string" ? Buffer.from(x, "utf8") : x);

export function rawZip(entries: RawEntry[], o: RawOptions = {}): Buffer {
  const parts: Buffer[] = [];
  let off = 0;
  const push = (b: Buffer) => {
    parts.push(b);
    off += b.length;
  };
  if (o.prefix) push(o.prefix);
  const central: Buffer[] = [];
  for (const e of entries) {
    const method = e.method ?? 8;
    const content = e.content ?? Buffer.alloc(0);
    const data = e.data ?? (method === 8 ? zlib.deflateRawSync(content) : content);
    const crc = e.crc ?? zlib.crc32(content);
    const csize = e.csize ?? data.length;
    const usize = e.usize ?? content.length;
    const name = buf(e.name);
    const flags = e.flags ?? 0;
    let offset = e.offset;
    if (offset === undefined) {
      offset = off;
      const lname = buf(e.localName ?? e.name);
      const lextra = e.localExtra ?? Buffer.alloc(0);
      const h = Buffer.alloc(30);
      h.writeUInt32LE(0x04034b50, 0);
      h.writeUInt16LE(20, 4);
      h.writeUInt16LE(flags, 6);
      h.writeUInt16LE(method, 8);
      h.writeUInt16LE(0, 10);
      h.writeUInt16LE(0x21, 12);
      h.writeUInt32LE((e.localCrc ?? crc) >>> 0, 14);
      h.writeUInt32LE(e.localCsize ?? csize, 18);
      h.writeUInt32LE(e.localUsize ?? usize, 22);
      h.writeUInt16LE(lname.length, 26);
      h.writeUInt16LE(lextra.length, 28);
      push(Buffer.concat([h, lname, lextra, data, e.after ?? Buffer.alloc(0)]));
    }
    const cextra = e.centralExtra ?? Buffer.alloc(0);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(e.madeBy ?? 20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(flags, 8);
    c.writeUInt16LE(method, 10);
    c.writeUInt16LE(0, 12);
    c.writeUInt16LE(0x21, 14);
    c.writeUInt32LE(crc >>> 0, 16);
    c.writeUInt32LE(csize, 20);
    c.writeUInt32LE(usize, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt16LE(cextra.length, 30);
    c.writeUInt32LE((e.external ?? 0) >>> 0, 38);
    c.writeUInt32LE(offset, 42);
    central.push(Buffer.concat([c, name, cextra]));
  }
  const cdOffset = off;
  const cd = Buffer.concat(central);
  push(cd);
  const comment = o.comment ?? Buffer.alloc(0);
  const e = Buffer.alloc(22);
  e.writeUInt32LE(0x06054b50, 0);
  e.writeUInt16LE(o.count ?? entries.length, 8);
  e.writeUInt16LE(o.count ?? entries.length, 10);
  e.writeUInt32LE(cd.length, 12);
  e.writeUInt32LE(o.cdOffset ?? cdOffset, 16);
  e.writeUInt16LE(comment.length, 20);
  push(Buffer.concat([e, comment]));
  if (o.suffix) push(o.suffix);
  return Buffer.concat(parts);
}

/** A Unix mode in the external attributes, made by Unix. */
export const unix = (mode: number) => ({ madeBy: (3 << 8) | 20, external: (mode << 16) >>> 0 });
