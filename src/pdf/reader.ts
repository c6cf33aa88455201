/**
 * A small PDF reader: just enough of ISO 32000-1 to find the trailer, the catalog, the pages, the AcroForm and the
 * signatures, for classic cross-reference tables, cross-reference streams (with PNG predictors), hybrid files
 * and object streams. Objects are parsed lazily through the cross-reference, so the cost follows what is read,
 * not the size of the document. Every count, length and depth read is bounded (limits.ts).
 *
 * Problems throw AppError: PDF_INVALID (not a PDF, truncated, unparseable), PDF_LIMIT_EXCEEDED (over a limit),
 * PDF_ENCRYPTED (callers decide). When the cross-reference cannot be read, `openPdf(…, {repair: true})` rebuilds it
 * by scanning for objects and marks the document `repaired` (the validator reports that; the stamper refuses such
 * files).
 */
import { AppError } from "../errors.js";
import { decodeStream } from "./filters.js";
import { bad, Lexer } from "./lexer.js";
import { checkLimit, InflateBudget, xrefEntryBudget } from "./limits.js";
import { PdfDict, PdfName, PdfRef, PdfStream, PdfString, type PdfObj } from "./objects.js";
import { walkPages, type PageEntry } from "./pages.js";
import { loadXref, repairXref } from "./xref.js";

// ------------------------------------------------------------------------------------------ xref model

export type XrefEntry = { type: 0 } | { type: 1; offset: number; gen: number } | { type: 2; stream: number; index: number };

export interface XrefSection {
  /** Offset of `xref` or of the xref stream object. */
  readonly offset: number;
  readonly kind: "table" | "stream";
  readonly trailer: PdfDict;
  /** Entries this section defines (object number → entry). */
  readonly entries: Map<number, XrefEntry>;
  /** Offset just after the `%%EOF` that closes this revision (file length if none found)… */
  readonly eofEnd: number;
  /** …and after one end-of-line following it (CR, LF or CRLF), if any. */
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

export class PdfDocument {
  readonly sections: XrefSection[] = [];
  readonly xref = new Map<number, XrefEntry>();
  trailer!: PdfDict;
  repaired = false;
  startxref = -1;
  private cache = new Map<number, PdfObj>();
  private objStreams = new Map<number, { offsets: Map<number, number>; data: Buffer; first: number }>();
  private loading = new Set<number>();
  private pageList: PageEntry[] | undefined;
  private decodedStreams = new WeakSet<PdfStream>();
  private storedBytesDecoded = 0;
  /** Offsets of every "endstream" in the file, ascending (found once, when a stream's /Length is wrong). */
  private endstreams: number[] | undefined;
  /** Bytes inflated so far (limits.ts: maxInflatedStream, maxInflatedDocument). */
  readonly inflateBudget = new InflateBudget();
  /** Cross-reference entries read so far, and how many this file may have (limits.ts: maxXrefEntries). */
  xrefEntriesRead = 0;
  readonly xrefEntryBudget: number;

  constructor(readonly buf: Buffer) {
    this.xrefEntryBudget = xrefEntryBudget(buf.length);
  }

  /**
   * A stream's decoded data, counted against this document's inflate budget. The stored bytes of the distinct
   * streams decoded cannot add up to more than the file: streams whose /Length reaches over their neighbours'
   * data (every page's content running to one `endstream` at the end of the file) would otherwise make each of
   * them as long as the rest of the file, and reading them all quadratic.
   */
  decode(s: PdfStream): Buffer {
    if (!this.decodedStreams.has(s)) {
      this.decodedStreams.add(s);
      this.storedBytesDecoded += s.data.length;
      if (this.storedBytesDecoded > this.buf.length) throw bad(`the data of stream objects overlaps (${this.storedBytesDecoded} stored bytes in a file of ${this.buf.length}): a /Length reaches into other objects`);
    }
    return decodeStream(s, (o) => this.resolve(o), this.inflateBudget);
  }

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
      const o = e.type === 1 ? this.readAt(e.offset, num).obj : this.readFromStream(e.stream, num);
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
        const es = this.nextEndstream(dataStart);
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

  /**
   * The first "endstream" at or after `from`, or -1. The file is scanned once and the offsets kept: a damaged file
   * with thousands of streams whose /Length is wrong (the repair scan reads every object) costs one pass, not one
   * pass per stream.
   */
  nextEndstream(from: number): number {
    if (!this.endstreams) {
      const at: number[] = [];
      for (let i = this.buf.indexOf("endstream", 0, "latin1"); i >= 0; i = this.buf.indexOf("endstream", i + 9, "latin1")) at.push(i);
      this.endstreams = at;
    }
    const at = this.endstreams;
    let lo = 0, hi = at.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (at[mid]! < from) lo = mid + 1;
      else hi = mid;
    }
    return lo < at.length ? at[lo]! : -1;
  }

  /** Object stream `streamNum`: its header (object number → offset) and data, decoded once. */
  objectStream(streamNum: number): { offsets: Map<number, number>; data: Buffer; first: number } {
    let os = this.objStreams.get(streamNum);
    if (os) return os;
    const s = this.get(streamNum);
    if (!(s instanceof PdfStream) || s.dict.name("Type") !== "ObjStm") throw bad(`object stream ${streamNum} is missing`);
    const count = this.resolve(s.dict.get("N"));
    const first = this.resolve(s.dict.get("First"));
    if (typeof count !== "number" || !Number.isInteger(count) || count < 0) throw bad(`object stream ${streamNum} has no valid /N`);
    checkLimit("maxObjectStreamObjects", count, `object stream ${streamNum} /N`);
    const data = this.decode(s);
    if (typeof first !== "number" || !Number.isInteger(first) || first < 0 || first > data.length || count * 4 > first) {
      throw bad(`object stream ${streamNum} has no valid /First`);
    }
    const lx = new Lexer(data, 0, first);
    const offsets = new Map<number, number>();
    for (let i = 0; i < count; i++) {
      const on = lx.word();
      const off = lx.word();
      if (!/^\d{1,10}$/.test(on) || !/^\d{1,10}$/.test(off)) throw bad(`object stream ${streamNum} has a bad header`);
      offsets.set(Number(on), Number(off));
    }
    os = { offsets, data, first };
    this.objStreams.set(streamNum, os);
    return os;
  }

  private readFromStream(streamNum: number, num: number): PdfObj {
    const os = this.objectStream(streamNum);
    const off = os.offsets.get(num);
    if (off === undefined) throw bad(`object ${num} is not in object stream ${streamNum}`);
    if (os.first + off >= os.data.length) throw bad(`object ${num} lies outside object stream ${streamNum}`);
    return new Lexer(os.data, os.first + off).parse();
  }

  // ---------------------------------------------------------------------------------------- structure

  catalog(): PdfDict {
    const c = this.dict(this.trailer.get("Root"));
    if (!c) throw bad("the document catalog (/Root) is missing");
    return c;
  }

  /** Every page, in order (walked once; limits.ts: maxPages, maxPageTreeDepth). */
  pages(): readonly PageEntry[] {
    this.pageList ??= walkPages(this);
    return this.pageList;
  }

  /** Number of pages found in the page tree (not the declared /Count, which is only checked against the limit). */
  pageCount(): number {
    return this.pages().length;
  }

  /** Reference and dictionary of page `index` (0-based). */
  page(index: number): PageEntry {
    const p = Number.isInteger(index) && index >= 0 ? this.pages()[index] : undefined;
    if (!p) throw new AppError("PDF_PAGE_NOT_FOUND", `The document has no page ${index + 1}.`);
    return p;
  }

  /** Every page reference in order (used by the validator to tell page objects apart). */
  allPageRefs(): PdfRef[] {
    return this.pages().map((p) => p.ref);
  }
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
    if (e instanceof AppError && e.code === "PDF_LIMIT_EXCEEDED") throw e;
    if (!opts.repair) throw e instanceof AppError ? e : bad((e as Error).message, e);
    const fresh = new PdfDocument(buf);
    repairXref(fresh);
    return fresh;
  }
  return doc;
}

export { decodeStream, Lexer, PdfDict, PdfName, PdfRef, PdfStream, PdfString };
