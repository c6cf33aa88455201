/**
 * A minimal DER encoder and TLV reader for the CMS and RFC 3161 structures Sidian builds and checks.
 *
 * Why not the schema library for these: CMS needs byte-exact control (signed attributes are signed as a DER SET
 * OF sorted by encoding, then stored with an implicit [0] tag; a verifier must hash exactly the bytes it received)
 * and it sits on the hot path of stamping and validation. Certificates are still parsed by src/pki/reader.ts.
 */

// ---------------------------------------------------------------------------------------------- encoder

function lenBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return Buffer.from([0x80 | out.length, ...out]);
}

/** Bytes of the length octets for a content of `n` bytes. */
function lenSize(n: number): number {
  if (n < 0x80) return 1;
  let k = 0;
  for (let v = n; v > 0; v = Math.floor(v / 256)) k++;
  return 1 + k;
}

/** One TLV with the given tag byte and content (one allocation, one copy of each part). */
export function tlv(tag: number, content: Uint8Array | readonly Uint8Array[]): Buffer {
  const parts: readonly Uint8Array[] = content instanceof Uint8Array ? [content] : content;
  let len = 0;
  for (const p of parts) len += p.length;
  const hl = 1 + lenSize(len);
  const out = Buffer.allocUnsafe(hl + len);
  out[0] = tag;
  if (len < 0x80) out[1] = len;
  else out.set(lenBytes(len), 1);
  let at = hl;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Orders DER encodings as X.690 §11.6 requires for SET OF (no copies: Buffer.compare takes any Uint8Array). */
export const derOrder = (a: Uint8Array, b: Uint8Array): number => Buffer.compare(a, b);

export const seq = (...items: Uint8Array[]): Buffer => tlv(0x30, items);
/** SET OF: DER sorts the elements by their encodings (X.690 §11.6). */
export const setOf = (...items: Uint8Array[]): Buffer => tlv(0x31, [...items].sort(derOrder));
export const octets = (b: Uint8Array): Buffer => tlv(0x04, b);
export const nullValue = (): Buffer => Buffer.from([0x05, 0x00]);
export const bool = (v: boolean): Buffer => Buffer.from([0x01, 0x01, v ? 0xff : 0x00]);
/** [n] EXPLICIT (constructed context tag around a complete TLV). */
export const explicit = (n: number, ...inner: Uint8Array[]): Buffer => tlv(0xa0 | n, inner);
/** [n] IMPLICIT constructed: replaces the outer tag of a SEQUENCE/SET content. */
export const implicitConstructed = (n: number, ...content: Uint8Array[]): Buffer => tlv(0xa0 | n, content);

/** INTEGER from a non-negative number/bigint, or from unsigned big-endian bytes. */
export function integer(v: number | bigint | Uint8Array): Buffer {
  let bytes: Buffer;
  if (v instanceof Uint8Array) {
    let b = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    let i = 0;
    while (i < b.length - 1 && b[i] === 0 && (b[i + 1]! & 0x80) === 0) i++;
    b = b.subarray(i);
    bytes = b.length === 0 ? Buffer.from([0]) : (b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
  } else if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 0x80) {
    bytes = Buffer.from([v]);
  } else {
    let n = BigInt(v);
    if (n < 0n) throw new RangeError("negative INTEGER not supported");
    const out: number[] = [];
    do {
      out.unshift(Number(n & 0xffn));
      n >>= 8n;
    } while (n > 0n);
    if (out[0]! & 0x80) out.unshift(0);
    bytes = Buffer.from(out);
  }
  return tlv(0x02, bytes);
}

function encodeOid(dotted: string): Buffer {
  const parts = dotted.split(".").map((p) => BigInt(p));
  if (parts.length < 2) throw new RangeError(`bad OID ${dotted}`);
  const out: number[] = [];
  const push = (n: bigint) => {
    const tmp: number[] = [Number(n & 0x7fn)];
    for (n >>= 7n; n > 0n; n >>= 7n) tmp.unshift(Number(n & 0x7fn) | 0x80);
    out.push(...tmp);
  };
  push(parts[0]! * 40n + parts[1]!);
  for (const p of parts.slice(2)) push(p);
  return tlv(0x06, Buffer.from(out));
}

/** Encoded OIDs and parameterless AlgorithmIdentifiers (the same few dozen constants on every signature and
 * time-stamp); bounded. */
const oidCache = new Map<string, Buffer>();

/** OID TLV. The result may be shared: treat it as read-only (the builders here only copy it). */
export function oid(dotted: string): Buffer {
  let b = oidCache.get(dotted);
  if (!b) {
    b = encodeOid(dotted);
    if (oidCache.size < 512) oidCache.set(dotted, b);
  }
  return b;
}

/** GeneralizedTime, UTC, with milliseconds when not zero (DER: no trailing zeros in the fraction). */
export function generalizedTime(d: Date): Buffer {
  const iso = d.toISOString(); // 2024-01-02T03:04:05.678Z
  let s = iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19);
  const ms = iso.slice(20, 23).replace(/0+$/, "");
  if (ms) s += "." + ms;
  return tlv(0x18, Buffer.from(s + "Z", "ascii"));
}

export const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, "utf8"));
export const ia5 = (s: string): Buffer => tlv(0x16, Buffer.from(s, "ascii"));

/** AlgorithmIdentifier; `params` null → explicit NULL, undefined → absent. Parameterless results may be shared. */
export function algId(o: string, params?: Uint8Array | null): Buffer {
  if (params !== undefined && params !== null) return seq(oid(o), params);
  const k = params === null ? `alg:${o}/null` : `alg:${o}`;
  let b = oidCache.get(k);
  if (!b) {
    b = params === undefined ? seq(oid(o)) : seq(oid(o), nullValue());
    if (oidCache.size < 512) oidCache.set(k, b);
  }
  return b;
}

// ---------------------------------------------------------------------------------------------- reader

export class DerError extends Error {
  override readonly name = "DerError";
}

/** A parsed TLV: positions refer to the buffer it was read from. */
export interface Node {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly contentStart: number;
  /** Offset after the last content byte. */
  readonly end: number;
  readonly buf: Buffer;
  /** BER indefinite length: content ends 2 bytes before `end` (the end-of-contents octets). */
  readonly indefinite?: boolean;
}

/** Deepest nesting of BER indefinite-length values read (each level is a nested call): deeper is a DerError. */
export const MAX_DER_INDEFINITE_DEPTH = 32;

export function readNode(buf: Buffer, off = 0, limit = buf.length, depth = 0): Node {
  if (off + 2 > limit) throw new DerError("truncated DER");
  const tag = buf[off]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tags are not supported");
  let p = off + 1;
  const first = buf[p++]!;
  let len: number;
  if (first < 0x80) len = first;
  else if (first === 0x80) {
    // BER indefinite length (constructed only): children up to the end-of-contents octets 00 00.
    if ((tag & 0x20) === 0) throw new DerError("indefinite length on a primitive value");
    if (depth >= MAX_DER_INDEFINITE_DEPTH) throw new DerError(`indefinite lengths nested deeper than ${MAX_DER_INDEFINITE_DEPTH}`);
    let q = p;
    for (let guard = 0; ; guard++) {
      if (q + 2 > limit || guard > 100_000) throw new DerError("unterminated indefinite length");
      if (buf[q] === 0 && buf[q + 1] === 0) break;
      q = readNode(buf, q, limit, depth + 1).end;
    }
    return { tag, start: off, contentStart: p, end: q + 2, buf, indefinite: true };
  } else {
    const n = first & 0x7f;
    if (n > 4) throw new DerError("length too large");
    if (p + n > limit) throw new DerError("truncated DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
  }
  if (p + len > limit) throw new DerError("DER content runs past its container");
  return { tag, start: off, contentStart: p, end: p + len, buf };
}

/** The complete TLV bytes of a node. */
export const bytesOf = (n: Node): Buffer => n.buf.subarray(n.start, n.end);
export const contentOf = (n: Node): Buffer => n.buf.subarray(n.contentStart, n.indefinite ? n.end - 2 : n.end);

/** Children of a constructed node. */
export function children(n: Node): Node[] {
  const out: Node[] = [];
  const stop = n.indefinite ? n.end - 2 : n.end;
  for (let p = n.contentStart; p < stop; ) {
    const c = readNode(n.buf, p, stop);
    out.push(c);
    p = c.end;
  }
  return out;
}

export function expectTag(n: Node | undefined, tag: number, what: string): Node {
  if (!n || n.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, got ${n ? "0x" + n.tag.toString(16) : "nothing"}`);
  return n;
}

export function readOid(n: Node): string {
  expectTag(n, 0x06, "OID");
  const b = contentOf(n);
  if (b.length === 0) throw new DerError("empty OID");
  const parts: bigint[] = [];
  let v = 0n;
  for (const byte of b) {
    v = (v << 7n) | BigInt(byte & 0x7f);
    if ((byte & 0x80) === 0) {
      parts.push(v);
      v = 0n;
    }
  }
  const first = parts.shift()!;
  const a = first < 40n ? 0n : first < 80n ? 1n : 2n;
  return [a, first - a * 40n, ...parts].join(".");
}

/** INTEGER content as unsigned big-endian hex without leading zero padding (matches CertInfo.serial style). */
export function readIntegerHex(n: Node): string {
  expectTag(n, 0x02, "INTEGER");
  return contentOf(n).toString("hex");
}

export function readInteger(n: Node): bigint {
  const b = contentOf(expectTag(n, 0x02, "INTEGER"));
  let v = 0n;
  for (const byte of b) v = (v << 8n) | BigInt(byte);
  if (b.length && b[0]! & 0x80) v -= 1n << BigInt(b.length * 8);
  return v;
}

export function readTime(n: Node): Date {
  const s = contentOf(n).toString("ascii");
  let m: RegExpExecArray | null;
  if (n.tag === 0x18) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,9}))?Z$/.exec(s);
    if (!m) throw new DerError(`bad GeneralizedTime ${s}`);
    const ms = m[7] ? Number((m[7] + "00").slice(0, 3)) : 0;
    return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, ms));
  }
  if (n.tag === 0x17) {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
    if (!m) throw new DerError(`bad UTCTime ${s}`);
    const y = +m[1]!;
    return new Date(Date.UTC(y < 50 ? 2000 + y : 1900 + y, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  }
  throw new DerError("not a time");
}
