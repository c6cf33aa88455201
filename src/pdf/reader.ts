/**
 * A small PDF reader: just enough of ISO 32000-1 to find the trailer, the catalog, the pages, the AcroForm and the
 * signatures, for classic cross-reference tables, cross-reference streams (with PNG predictors), hybrid files
 * and object streams. Objects are parsed lazily through the cross-reference, so the cost follows what is read,
 * not the size of the document.
 *
 * Problems throw AppError: PDF_INVALID (not a PDF, truncated, unparseable), PDF_ENCRYPTED (callers decide).
 * When the cross-reference cannot be read, `openPdf(…, {repair: true})` rebuilds it by scanning for objects and
 * marks the document `repaired` (the validator reports that; the stamper refuses such files).
 */
import zlib from "node:zlib";
import { AppError } from "../errors.js";
import { PdfDict, PdfName, PdfRef, PdfStream, PdfString, type PdfObj } from "./objects.js";

const WS = new Uint8Array(256);
for (const c of [0x00, 0x09, 0x0a, 0x0c, 0x0d, 0x20]) WS[c] = 1;
const DELIM = new Uint8Array(256);
for (const c of "()<>[]{}/%") DELIM[c.charCodeAt(0)] = 1;

export const MAX_OBJECT_DEPTH = 64;

function bad(msg: string, cause?: unknown): AppError {
  return new AppError("PDF_INVALID", `The PDF cannot be read: ${msg}.`, cause === undefined ? {} : { cause });
}

/** Tokeniser + object parser over a buffer. Positions are absolute file offsets. */
export class Lexer {
  pos: number;
  constructor(readonly buf: Buffer, pos = 0, readonly limit = buf.length) {
    this.pos = pos;
  }

  skipWs(): void {
    const b = this.buf;
    for (;;) {
      while (this.pos < this.limit && WS[b[this.pos]!]) this.pos++;
      if (this.pos < this.limit && b[this.pos] === 0x25) {
        while (this.pos < this.limit && b[this.pos] !== 0x0a && b[this.pos] !== 0x0d) this.pos++;
        continue;
      }
      return;
    }
  }

  /** A regular token (keyword or number) without consuming it on failure. */
  peekWord(): string {
    this.skipWs();
    let p = this.pos;
    const b = this.buf;
    while (p < this.limit && !WS[b[p]!] && !DELIM[b[p]!]) p++;
    return b.toString("latin1", this.pos, p);
  }

  word(): string {
    const w = this.peekWord();
    this.pos += w.length;
    return w;
  }

  expectWord(w: string): void {
    const got = this.word();
    if (got !== w) throw bad(`expected "${w}" at offset ${this.pos - got.length}, found "${got.slice(0, 20)}"`);
  }

  parse(depth = 0): PdfObj {
    if (depth > MAX_OBJECT_DEPTH) throw bad("objects nested too deeply");
    this.skipWs();
    if (this.pos >= this.limit) throw bad("unexpected end of data");
    const b = this.buf;
    const c = b[this.pos]!;
    if (c === 0x2f) return this.parseName();
    if (c === 0x28) return this.parseLiteral();
    if (c === 0x3c) {
      if (b[this.pos + 1] === 0x3c) return this.parseDict(depth);
      return this.parseHex();
    }
    if (c === 0x5b) {
      this.pos++;
      const arr: PdfObj[] = [];
      for (;;) {
        this.skipWs();
        if (this.pos >= this.limit) throw bad("unterminated array");
        if (b[this.pos] === 0x5d) {
          this.pos++;
          return arr;
        }
        arr.push(this.parse(depth + 1));
      }
    }
    const start = this.pos;
    const w = this.word();
    if (w === "") throw bad(`unexpected character 0x${c.toString(16)} at offset ${start}`);
    if (w === "true") return true;
    if (w === "false") return false;
    if (w === "null") return null;
    if (/^[+-]?(\d+\.?\d*|\.\d+)$/.test(w)) {
      // "n g R" reference?
      if (/^\d+$/.test(w)) {
        const save = this.pos;
        const g = this.peekWord();
        if (/^\d+$/.test(g)) {
          this.pos += g.length;
          if (this.peekWord() === "R") {
            this.pos++;
            return new PdfRef(Number(w), Number(g));
          }
        }
        this.pos = save;
      }
      return Number(w);
    }
    throw bad(`unexpected token "${w.slice(0, 20)}" at offset ${start}`);
  }

  private parseName(): PdfName {
    const b = this.buf;
    let p = ++this.pos;
    while (p < this.limit && !WS[b[p]!] && !DELIM[b[p]!]) p++;
    const raw = b.toString("latin1", this.pos, p);
    this.pos = p;
    return new PdfName(raw.includes("#") ? Buffer.from(raw.replace(/#([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), "latin1").toString("utf8") : raw);
  }

  private parseLiteral(): PdfString {
    const b = this.buf;
    const start = this.pos;
    let p = this.pos + 1;
    let depth = 1;
    const out: number[] = [];
    while (p < this.limit) {
      const c = b[p++]!;
      if (c === 0x5c) {
        const n = b[p++];
        if (n === undefined) break;
        if (n === 0x6e) out.push(0x0a);
        else if (n === 0x72) out.push(0x0d);
        else if (n === 0x74) out.push(0x09);
        else if (n === 0x62) out.push(0x08);
        else if (n === 0x66) out.push(0x0c);
        else if (n === 0x0d) {
          if (b[p] === 0x0a) p++;
        } else if (n === 0x0a) {
          // line continuation
        } else if (n >= 0x30 && n <= 0x37) {
          let v = n - 0x30;
          for (let i = 0; i < 2 && b[p]! >= 0x30 && b[p]! <= 0x37; i++) v = v * 8 + (b[p++]! - 0x30);
          out.push(v & 0xff);
        } else out.push(n);
      } else if (c === 0x28) {
        depth++;
        out.push(c);
      } else if (c === 0x29) {
        if (--depth === 0) {
          this.pos = p;
          return new PdfString(Buffer.from(out), false, start, p);
        }
        out.push(c);
      } else out.push(c);
    }
    throw bad("unterminated string");
  }

  private parseHex(): PdfString {
    const b = this.buf;
    const start = this.pos;
    const close = b.indexOf(0x3e, this.pos + 1);
    if (close < 0 || close >= this.limit) throw bad("unterminated hex string");
    let hex = b.toString("latin1", this.pos + 1, close).replace(/[\x00\t\n\f\r ]/g, "");
    if (!/^[0-9a-fA-F]*$/.test(hex)) throw bad(`bad hex string at offset ${start}`);
    if (hex.length % 2) hex += "0";
    this.pos = close + 1;
    return new PdfString(Buffer.from(hex, "hex"), true, start, close + 1);
  }

  private parseDict(depth: number): PdfDict {
    const b = this.buf;
    const d = new PdfDict();
    d.start = this.pos;
    this.pos += 2;
    for (;;) {
      this.skipWs();
      if (this.pos >= this.limit) throw bad("unterminated dictionary");
      if (b[this.pos] === 0x3e && b[this.pos + 1] === 0x3e) {
        this.pos += 2;
        d.end = this.pos;
        return d;
      }
      if (b[this.pos] !== 0x2f) throw bad(`dictionary key expected at offset ${this.pos}`);
      const k = this.parseName().name;
      this.skipWs();
      const vs = this.pos;
      const v = this.parse(depth + 1);
      if (d.map.has(k)) d.duplicates.push(k);
      d.map.set(k, v);
      d.spans.set(k, [vs, this.pos]);
    }
  }
}

// --------------------------------------------------------------------------------------------- filters

function pngUnpredict(data: Buffer, columns: number, colors = 1, bpc = 8): Buffer {
  const bpp = Math.max(1, Math.ceil((colors * bpc) / 8));
  const rowLen = Math.ceil((columns * colors * bpc) / 8);
  const rows = Math.floor(data.length / (rowLen + 1));
  const out = Buffer.alloc(rows * rowLen);
  let prev = Buffer.alloc(rowLen);
  for (let r = 0; r < rows; r++) {
    const type = data[r * (rowLen + 1)]!;
    const src = data.subarray(r * (rowLen + 1) + 1, (r + 1) * (rowLen + 1));
    const cur = out.subarray(r * rowLen, (r + 1) * rowLen);
    for (let i = 0; i < rowLen; i++) {
      const a = i >= bpp ? cur[i - bpp]! : 0;
      const up = prev[i]!;
      const c = i >= bpp ? prev[i - bpp]! : 0;
      let v = src[i]!;
      switch (type) {
        case 1: v += a; break;
        case 2: v += up; break;
        case 3: v += (a + up) >> 1; break;
        case 4: {
          const p = a + up - c;
          const pa = Math.abs(p - a), pb = Math.abs(p - up), pc = Math.abs(p - c);
          v += pa <= pb && pa <= pc ? a : pb <= pc ? up : c;
          break;
        }
        default: break;
      }
      cur[i] = v & 0xff;
    }
    prev = cur;
  }
  return out;
}

/** Decodes a stream's data: FlateDecode (with PNG/TIFF-less predictors) only; anything else → PDF_UNSUPPORTED. */
export function decodeStream(s: PdfStream, resolve: (o: PdfObj | undefined) => PdfObj | undefined = (o) => o): Buffer {
  const f = resolve(s.dict.get("Filter"));
  const filters = (Array.isArray(f) ? f : f === undefined || f === null ? [] : [f]).map((x) => (x instanceof PdfName ? x.name : "?"));
  const p = resolve(s.dict.get("DecodeParms"));
  const parms = Array.isArray(p) ? p : [p];
  let data = s.data;
  filters.forEach((fl, i) => {
    if (fl !== "FlateDecode" && fl !== "Fl") throw new AppError("PDF_UNSUPPORTED", `Stream filter ${fl} is not supported.`);
    try {
      data = zlib.inflateSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    } catch (cause) {
      throw bad("a compressed stream is damaged", cause);
    }
    const dp = parms[i];
    if (dp instanceof PdfDict) {
      const pred = Number(resolve(dp.get("Predictor")) ?? 1);
      if (pred >= 10) data = pngUnpredict(data, Number(resolve(dp.get("Columns")) ?? 1), Number(resolve(dp.get("Colors")) ?? 1), Number(resolve(dp.get("BitsPerComponent")) ?? 8));
      else if (pred === 2) throw new AppError("PDF_UNSUPPORTED", "TIFF predictors are not supported.");
    }
  });
  return data;
}

// ------------------------------------------------------------------------------------------ xref model

export type XrefEntry = { type: 0 } | { type: 1; offset: number; gen: number } | { type: 2; stream: number; index: number };

export interface XrefSection {
  /** Offset of `xref` or of the xref stream object. */
  readonly offset: number;
  readonly kind: "table" | "stream";
  readonly trailer: PdfDict;
  /** Entries this section defines (object number → entry). */
  readonly entries: Map<number, XrefEntry>;
  /** Offset just after the `%%EOF` that closes this revision (file length if none found). */
  readonly revisionEnd: number;
  /** Object number of the xref stream itself (stream sections). */
  readonly streamObject?: number;
}

export interface OpenOptions {
  /** Rebuild a damaged cross-reference by scanning the file instead of failing. */
  repair?: boolean;
}

export interface IndirectInfo {
  readonly num: number;
  readonly gen: number;
  /** Offset of "n g obj" (type-1 objects) or -1 for objects inside object streams. */
  readonly offset: number;
  readonly inObjectStream: number | null;
}

const EOF_MARK = Buffer.from("%%EOF");

function revisionEndAfter(buf: Buffer, from: number): number {
  const i = buf.indexOf(EOF_MARK, from);
  if (i < 0) return buf.length;
  let p = i + EOF_MARK.length;
  if (buf[p] === 0x0d) p++;
  if (buf[p] === 0x0a) p++;
  return p;
}

export class PdfDocument {
  readonly sections: XrefSection[] = [];
  readonly xref = new Map<number, XrefEntry>();
  trailer!: PdfDict;
  repaired = false;
  startxref = -1;
  private cache = new Map<number, PdfObj>();
  private objStreams = new Map<number, { offsets: Map<number, number>; data: Buffer; first: number }>();
  private loading = new Set<number>();

  constructor(readonly buf: Buffer) {}

  get size(): number {
    return this.buf.length;
  }

  /** Highest object number + 1 (trailer /Size, or beyond the highest seen). */
  get nextObjectNumber(): number {
    let max = Number(this.trailer.get("Size") ?? 0);
    for (const n of this.xref.keys()) if (n + 1 > max) max = n + 1;
    return max;
  }

  get lastSectionIsStream(): boolean {
    return this.sections[0]?.kind === "stream";
  }

  get encrypted(): boolean {
    return this.trailer.has("Encrypt");
  }

  resolve(o: PdfObj | undefined): PdfObj | undefined {
    let cur = o;
    for (let i = 0; cur instanceof PdfRef && i < 32; i++) cur = this.get(cur.num);
    return cur instanceof PdfRef ? undefined : cur;
  }

  dict(o: PdfObj | undefined): PdfDict | undefined {
    const r = this.resolve(o);
    if (r instanceof PdfDict) return r;
    if (r instanceof PdfStream) return r.dict;
    return undefined;
  }

  info(num: number): IndirectInfo | undefined {
    const e = this.xref.get(num);
    if (!e || e.type === 0) return undefined;
    if (e.type === 1) return { num, gen: e.gen, offset: e.offset, inObjectStream: null };
    return { num, gen: 0, offset: -1, inObjectStream: e.stream };
  }

  /** The object with this number (latest revision), or undefined when free/missing. */
  get(num: number): PdfObj | undefined {
    if (this.cache.has(num)) return this.cache.get(num);
    const e = this.xref.get(num);
    if (!e || e.type === 0) return undefined;
    if (this.loading.has(num)) throw bad(`object ${num} refers to itself while loading`);
    this.loading.add(num);
    try {
      const o = e.type === 1 ? this.readAt(e.offset, num).obj : this.readFromStream(e.stream, e.index, num);
      this.cache.set(num, o);
      return o;
    } finally {
      this.loading.delete(num);
    }
  }

  /** Parses "num gen obj … endobj" at an offset. */
  readAt(offset: number, expectNum?: number): { obj: PdfObj; num: number; gen: number; end: number } {
    if (offset < 0 || offset >= this.buf.length) throw bad(`object offset ${offset} is outside the file`);
    const lx = new Lexer(this.buf, offset);
    const n = lx.word();
    const g = lx.word();
    if (!/^\d+$/.test(n) || !/^\d+$/.test(g)) throw bad(`no object at offset ${offset}`);
    if (expectNum !== undefined && Number(n) !== expectNum) throw bad(`the cross-reference points object ${expectNum} at object ${n}`);
    lx.expectWord("obj");
    let obj = lx.parse();
    if (obj instanceof PdfDict && lx.peekWord() === "stream") {
      lx.pos += 6;
      if (this.buf[lx.pos] === 0x0d) lx.pos++;
      if (this.buf[lx.pos] === 0x0a) lx.pos++;
      const dataStart = lx.pos;
      let len = obj.get("Length");
      if (len instanceof PdfRef) len = Number(n) === len.num ? undefined : this.resolve(len);
      let dataEnd = typeof len === "number" && len >= 0 ? dataStart + len : -1;
      const okEnd = (e: number) => {
        if (e < 0 || e > this.buf.length) return false;
        const lx2 = new Lexer(this.buf, e);
        return lx2.peekWord() === "endstream";
      };
      if (!okEnd(dataEnd)) {
        const es = this.buf.indexOf("endstream", dataStart, "latin1");
        if (es < 0) throw bad(`stream of object ${n} has no end`);
        dataEnd = es;
        while (dataEnd > dataStart && (this.buf[dataEnd - 1] === 0x0a || this.buf[dataEnd - 1] === 0x0d)) dataEnd--;
      }
      obj = new PdfStream(obj, this.buf.subarray(dataStart, dataEnd), dataStart);
      lx.pos = dataEnd;
      lx.expectWord("endstream");
    }
    return { obj, num: Number(n), gen: Number(g), end: lx.pos };
  }

  private readFromStream(streamNum: number, index: number, num: number): PdfObj {
    let os = this.objStreams.get(streamNum);
    if (!os) {
      const s = this.get(streamNum);
      if (!(s instanceof PdfStream) || s.dict.name("Type") !== "ObjStm") throw bad(`object stream ${streamNum} is missing`);
      const data = decodeStream(s, (o) => this.resolve(o));
      const count = Number(this.resolve(s.dict.get("N")) ?? 0);
      const first = Number(this.resolve(s.dict.get("First")) ?? 0);
      const lx = new Lexer(data, 0, first);
      const offsets = new Map<number, number>();
      for (let i = 0; i < count; i++) {
        const on = Number(lx.word());
        const off = Number(lx.word());
        if (!Number.isFinite(on) || !Number.isFinite(off)) throw bad(`object stream ${streamNum} has a bad header`);
        offsets.set(on, off);
      }
      os = { offsets, data, first };
      this.objStreams.set(streamNum, os);
    }
    void index;
    const off = os.offsets.get(num);
    if (off === undefined) throw bad(`object ${num} is not in object stream ${streamNum}`);
    return new Lexer(os.data, os.first + off).parse();
  }

  // ---------------------------------------------------------------------------------------- structure

  catalog(): PdfDict {
    const c = this.dict(this.trailer.get("Root"));
    if (!c) throw bad("the document catalog (/Root) is missing");
    return c;
  }

  pageCount(): number {
    const pages = this.dict(this.catalog().get("Pages"));
    const n = pages ? this.resolve(pages.get("Count")) : undefined;
    return typeof n === "number" ? n : 0;
  }

  /** Reference and dictionary of page `index` (0-based), walking the page tree by /Count. */
  page(index: number): { ref: PdfRef; dict: PdfDict; inherited: Map<string, PdfObj> } {
    let node = this.catalog().get("Pages");
    const inherited = new Map<string, PdfObj>();
    let remaining = index;
    for (let depth = 0; depth < 64; depth++) {
      if (!(node instanceof PdfRef)) throw bad("page tree nodes must be indirect objects");
      const d = this.dict(node);
      if (!d) throw bad("a page tree node is missing");
      for (const k of ["Resources", "MediaBox", "CropBox", "Rotate"]) if (d.has(k) && d.name("Type") !== "Page") inherited.set(k, d.get(k)!);
      if (d.name("Type") === "Page" || !d.has("Kids")) {
        if (remaining !== 0) break;
        return { ref: node, dict: d, inherited };
      }
      const kids = this.resolve(d.get("Kids"));
      if (!Array.isArray(kids)) throw bad("a page tree node has no /Kids");
      let next: PdfObj | undefined;
      for (const k of kids) {
        const kd = this.dict(k);
        if (!kd) continue;
        const count = kd.name("Type") === "Pages" || kd.has("Kids") ? Number(this.resolve(kd.get("Count")) ?? 0) : 1;
        if (remaining < count) {
          next = k;
          break;
        }
        remaining -= count;
      }
      if (next === undefined) break;
      node = next;
    }
    throw new AppError("PDF_PAGE_NOT_FOUND", `The document has no page ${index + 1}.`);
  }

  /** Every page reference in order (used by the validator to tell page objects apart). */
  allPageRefs(): PdfRef[] {
    const out: PdfRef[] = [];
    const walk = (n: PdfObj | undefined, depth: number) => {
      if (depth > 64 || out.length > 100_000) return;
      const d = this.dict(n);
      if (!d) return;
      if (d.name("Type") === "Page" || !d.has("Kids")) {
        if (n instanceof PdfRef) out.push(n);
        return;
      }
      const kids = this.resolve(d.get("Kids"));
      if (Array.isArray(kids)) for (const k of kids) walk(k, depth + 1);
    };
    walk(this.catalog().get("Pages"), 0);
    return out;
  }
}

// ------------------------------------------------------------------------------------------ xref parsing

function findStartxref(buf: Buffer): number {
  const tail = Math.max(0, buf.length - 2048);
  const i = buf.lastIndexOf("startxref", undefined, "latin1");
  if (i < tail - 1) throw bad("no startxref near the end of the file (truncated?)");
  const lx = new Lexer(buf, i + 9);
  const w = lx.word();
  if (!/^\d+$/.test(w)) throw bad("startxref is not followed by an offset");
  return Number(w);
}

function parseTable(doc: PdfDocument, offset: number): XrefSection {
  const buf = doc.buf;
  const lx = new Lexer(buf, offset);
  lx.expectWord("xref");
  const entries = new Map<number, XrefEntry>();
  for (;;) {
    const w = lx.peekWord();
    if (w === "trailer") break;
    if (!/^\d+$/.test(w)) throw bad(`bad cross-reference subsection at offset ${lx.pos}`);
    lx.pos += w.length;
    const start = Number(w);
    const cw = lx.word();
    if (!/^\d+$/.test(cw)) throw bad("bad cross-reference subsection count");
    const count = Number(cw);
    for (let i = 0; i < count; i++) {
      const off = lx.word();
      const gen = lx.word();
      const kind = lx.word();
      if (!/^\d+$/.test(off) || !/^\d+$/.test(gen) || (kind !== "n" && kind !== "f")) throw bad(`bad cross-reference entry for object ${start + i}`);
      if (!entries.has(start + i)) entries.set(start + i, kind === "n" ? { type: 1, offset: Number(off), gen: Number(gen) } : { type: 0 });
    }
  }
  lx.expectWord("trailer");
  const trailer = lx.parse();
  if (!(trailer instanceof PdfDict)) throw bad("the trailer is not a dictionary");
  const xs = trailer.get("XRefStm");
  if (typeof xs === "number") {
    // Hybrid file: the stream's entries complete this section (table entries win).
    const s = parseStreamSection(doc, xs);
    for (const [k, v] of s.entries) if (!entries.has(k)) entries.set(k, v);
  }
  return { offset, kind: "table", trailer, entries, revisionEnd: revisionEndAfter(buf, lx.pos) };
}

function parseStreamSection(doc: PdfDocument, offset: number): XrefSection {
  const { obj, num, end } = doc.readAt(offset);
  if (!(obj instanceof PdfStream) || obj.dict.name("Type") !== "XRef") throw bad(`no cross-reference stream at offset ${offset}`);
  const d = obj.dict;
  const data = decodeStream(obj);
  const w = d.get("W");
  if (!Array.isArray(w) || w.length !== 3 || !w.every((x) => typeof x === "number" && x >= 0 && x <= 8)) throw bad("cross-reference stream /W is not valid");
  const [w0, w1, w2] = w as [number, number, number];
  const size = Number(d.get("Size") ?? 0);
  const idx = d.get("Index");
  const ranges = Array.isArray(idx) ? (idx as number[]) : [0, size];
  const entries = new Map<number, XrefEntry>();
  const rowLen = w0 + w1 + w2;
  const field = (p: number, n: number) => {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + data[p + i]!;
    return v;
  };
  let p = 0;
  for (let r = 0; r + 1 < ranges.length; r += 2) {
    const start = Number(ranges[r]);
    const count = Number(ranges[r + 1]);
    for (let i = 0; i < count; i++) {
      if (p + rowLen > data.length) throw bad("cross-reference stream is shorter than its /Index says");
      const type = w0 === 0 ? 1 : field(p, w0);
      const a = field(p + w0, w1);
      const b = field(p + w0 + w1, w2);
      p += rowLen;
      const n = start + i;
      if (entries.has(n)) continue;
      if (type === 0) entries.set(n, { type: 0 });
      else if (type === 1) entries.set(n, { type: 1, offset: a, gen: b });
      else if (type === 2) entries.set(n, { type: 2, stream: a, index: b });
    }
  }
  return { offset, kind: "stream", trailer: d, entries, revisionEnd: revisionEndAfter(doc.buf, end), streamObject: num };
}

function loadXref(doc: PdfDocument): void {
  doc.startxref = findStartxref(doc.buf);
  const seen = new Set<number>();
  let off: number | undefined = doc.startxref;
  while (off !== undefined) {
    if (seen.has(off) || seen.size > 10_000) throw bad("the cross-reference /Prev chain loops");
    seen.add(off);
    if (off < 0 || off >= doc.buf.length) throw bad(`cross-reference offset ${off} is outside the file`);
    const lx: Lexer = new Lexer(doc.buf, off);
    const sec: XrefSection = lx.peekWord() === "xref" ? parseTable(doc, off) : parseStreamSection(doc, off);
    doc.sections.push(sec);
    for (const [k, v] of sec.entries) if (!doc.xref.has(k)) doc.xref.set(k, v);
    const prev: PdfObj | undefined = sec.trailer.get("Prev");
    off = typeof prev === "number" ? prev : undefined;
  }
  doc.trailer = doc.sections[0]!.trailer;
  // Sanity: every in-use entry of the newest section must point at its object.
  for (const [n, e] of doc.sections[0]!.entries) {
    if (e.type === 1) {
      const lx = new Lexer(doc.buf, e.offset);
      if (lx.word() !== String(n)) throw bad(`cross-reference entry of object ${n} points to the wrong place`);
    }
  }
}

function repairXref(doc: PdfDocument): void {
  const s = doc.buf.toString("latin1");
  const re = /(?:^|[\r\n\s])(\d{1,10})[ \t\r\n]+(\d{1,5})[ \t\r\n]+obj\b/g;
  let m: RegExpExecArray | null;
  let trailer: PdfDict | undefined;
  while ((m = re.exec(s))) {
    const off = m.index + m[0].indexOf(m[1]!);
    doc.xref.set(Number(m[1]), { type: 1, offset: off, gen: Number(m[2]) });
  }
  for (const [n] of doc.xref) {
    try {
      const o = doc.get(n);
      if (o instanceof PdfStream && o.dict.name("Type") === "XRef" && o.dict.has("Root")) trailer = o.dict;
      if (o instanceof PdfStream && o.dict.name("Type") === "ObjStm") {
        const count = Number(o.dict.get("N") ?? 0);
        const data = decodeStream(o);
        const lx = new Lexer(data, 0, Number(o.dict.get("First") ?? 0));
        for (let i = 0; i < count; i++) {
          const on = Number(lx.word());
          lx.word();
          if (!doc.xref.has(on)) doc.xref.set(on, { type: 2, stream: n, index: i });
        }
      }
    } catch {
      // skip unreadable objects
    }
  }
  const ti = s.lastIndexOf("trailer");
  if (ti >= 0) {
    try {
      const t = new Lexer(doc.buf, ti + 7).parse();
      if (t instanceof PdfDict && t.has("Root")) trailer = t;
    } catch {
      // fall through
    }
  }
  if (!trailer) {
    for (const [n] of doc.xref) {
      const o = (() => { try { return doc.get(n); } catch { return undefined; } })();
      if (o instanceof PdfDict && o.name("Type") === "Catalog") {
        trailer = new PdfDict().set("Root", new PdfRef(n, 0));
        break;
      }
    }
  }
  if (!trailer) throw bad("the cross-reference is damaged and no catalog could be found");
  doc.trailer = trailer;
  doc.repaired = true;
}

/** Opens a PDF. Throws PDF_INVALID when it is not one or (without `repair`) when its cross-reference is damaged. */
export function openPdf(input: Buffer, opts: OpenOptions = {}): PdfDocument {
  const buf = input;
  const head = buf.indexOf("%PDF-", 0, "latin1");
  if (head < 0 || head > 1024) throw bad("it does not start with %PDF- (not a PDF)");
  const doc = new PdfDocument(buf);
  try {
    loadXref(doc);
    doc.catalog();
  } catch (e) {
    if (!opts.repair) throw e instanceof AppError ? e : bad((e as Error).message, e);
    const fresh = new PdfDocument(buf);
    repairXref(fresh);
    return fresh;
  }
  return doc;
}

export { PdfDict, PdfName, PdfRef, PdfStream, PdfString };
