/**
 * Cross-reference parsing (ISO 32000-1 §7.5.4-7.5.8): classic tables, cross-reference streams, hybrid files, the
 * /Prev chain, and the repair scan. Every count read here is checked before it is used: object numbers against
 * PDF_LIMITS.maxObjectNumber, entries against the file's budget (xrefEntryBudget), a stream's /Index against the
 * rows its data really holds, sections against maxRevisions.
 */
import { AppError } from "../errors.js";
import { bad, Lexer } from "./lexer.js";
import { checkLimit, limitExceeded, PDF_LIMITS } from "./limits.js";
import { PdfDict, PdfRef, PdfStream, type PdfObj } from "./objects.js";
import type { PdfDocument, XrefEntry, XrefSection } from "./reader.js";

const EOF_MARK = Buffer.from("%%EOF");

/**
 * Where the revision whose cross-reference ends at `from` ends: `eofEnd` just after its `%%EOF`, `revisionEnd` after
 * that and one end-of-line (CR, LF or CRLF); both the file length when there is no `%%EOF`. Writers differ on the
 * end-of-line (pdf-lib writes none, then the next update starts with one), so a signature's range may end at either
 * or anywhere in the whitespace that follows: the validator accepts the whole span (verify.ts `revisionSpans`).
 */
export function revisionEndAfter(buf: Buffer, from: number): { eofEnd: number; revisionEnd: number } {
  const i = buf.indexOf(EOF_MARK, from);
  if (i < 0) return { eofEnd: buf.length, revisionEnd: buf.length };
  const eofEnd = i + EOF_MARK.length;
  let p = eofEnd;
  if (buf[p] === 0x0d) p++;
  if (buf[p] === 0x0a) p++;
  return { eofEnd, revisionEnd: p };
}

const isUint = (x: PdfObj | undefined): x is number => typeof x === "number" && Number.isInteger(x) && x >= 0;

/** Takes `n` entries from the document's budget and checks the subsection [start, start+n) of object numbers. */
function claim(doc: PdfDocument, start: number, n: number): void {
  if (start + n - 1 > PDF_LIMITS.maxObjectNumber) throw limitExceeded("maxObjectNumber", `a cross-reference subsection reaches object ${start + n - 1}`);
  doc.xrefEntriesRead += n;
  if (doc.xrefEntriesRead > doc.xrefEntryBudget) {
    throw limitExceeded("maxXrefEntries", `the cross-reference declares ${doc.xrefEntriesRead} or more entries for a file of ${doc.buf.length} bytes (at most ${doc.xrefEntryBudget})`);
  }
}

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
    if (!/^\d{1,10}$/.test(w)) throw bad(`bad cross-reference subsection at offset ${lx.pos}`);
    lx.pos += w.length;
    const start = Number(w);
    const cw = lx.word();
    if (!/^\d{1,10}$/.test(cw)) throw bad("bad cross-reference subsection count");
    const count = Number(cw);
    claim(doc, start, count);
    // Each entry takes 20 bytes of the file (at least "0 0 n " when written loosely): more cannot be right.
    if (count * 6 > buf.length - lx.pos) throw bad(`a cross-reference subsection declares ${count} entries, more than the file holds`);
    for (let i = 0; i < count; i++) {
      const off = lx.word();
      const gen = lx.word();
      const kind = lx.word();
      if (!/^\d{1,10}$/.test(off) || !/^\d{1,5}$/.test(gen) || (kind !== "n" && kind !== "f")) throw bad(`bad cross-reference entry for object ${start + i}`);
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
  return { offset, kind: "table", trailer, entries, ...revisionEndAfter(buf, lx.pos) };
}

function parseStreamSection(doc: PdfDocument, offset: number): XrefSection {
  const { obj, num, end } = doc.readAt(offset);
  if (!(obj instanceof PdfStream) || obj.dict.name("Type") !== "XRef") throw bad(`no cross-reference stream at offset ${offset}`);
  const d = obj.dict;
  const w = d.get("W");
  if (!Array.isArray(w) || w.length !== 3 || !w.every((x) => isUint(x) && x <= 8)) throw bad("cross-reference stream /W is not valid");
  const [w0, w1, w2] = w as [number, number, number];
  const rowLen = w0 + w1 + w2;
  const size = d.get("Size");
  if (!isUint(size)) throw bad("cross-reference stream /Size is not a number");
  checkLimit("maxObjectNumber", size - 1, "cross-reference stream /Size");
  const idx = d.get("Index");
  const ranges = idx === undefined ? [0, size] : idx;
  if (!Array.isArray(ranges) || ranges.length % 2 !== 0 || !ranges.every(isUint)) throw bad("cross-reference stream /Index is not pairs of numbers");
  let rows = 0;
  for (let r = 0; r < ranges.length; r += 2) rows += ranges[r + 1] as number;
  // The declared rows count against the file's entry budget before any data is read or inflated.
  if (doc.xrefEntriesRead + rows > doc.xrefEntryBudget) {
    throw limitExceeded("maxXrefEntries", `a cross-reference stream declares ${rows} entries for a file of ${doc.buf.length} bytes (at most ${doc.xrefEntryBudget})`);
  }
  if (rowLen === 0) throw bad("cross-reference stream /W [0 0 0] gives rows no width");
  const data = doc.decode(obj);
  if (rows * rowLen > data.length) throw bad(`cross-reference stream is shorter than its /Index says (${rows} rows of ${rowLen} bytes, ${data.length} bytes)`);
  const entries = new Map<number, XrefEntry>();
  const field = (p: number, n: number) => {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + data[p + i]!;
    return v;
  };
  let p = 0;
  for (let r = 0; r < ranges.length; r += 2) {
    const start = ranges[r] as number;
    const count = ranges[r + 1] as number;
    claim(doc, start, count);
    for (let i = 0; i < count; i++) {
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
  return { offset, kind: "stream", trailer: d, entries, ...revisionEndAfter(doc.buf, end), streamObject: num };
}

export function loadXref(doc: PdfDocument): void {
  doc.startxref = findStartxref(doc.buf);
  const seen = new Set<number>();
  let off: number | undefined = doc.startxref;
  while (off !== undefined) {
    if (seen.has(off)) throw bad("the cross-reference /Prev chain loops");
    if (seen.size >= PDF_LIMITS.maxRevisions) throw limitExceeded("maxRevisions", `more than ${PDF_LIMITS.maxRevisions} cross-reference sections`);
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
  const size = doc.trailer.get("Size");
  if (typeof size === "number") checkLimit("maxObjectNumber", size - 1, "the trailer's /Size");
  // Sanity: every in-use entry of the newest section must point at its object.
  for (const [n, e] of doc.sections[0]!.entries) {
    if (e.type === 1) {
      const lx = new Lexer(doc.buf, e.offset);
      if (lx.word() !== String(n)) throw bad(`cross-reference entry of object ${n} points to the wrong place`);
    }
  }
}

/** Rebuilds the cross-reference by scanning for "n g obj" (damaged files; the result is marked `repaired`). */
export function repairXref(doc: PdfDocument): void {
  const s = doc.buf.toString("latin1");
  const re = /(?:^|[\r\n\s])(\d{1,10})[ \t\r\n]+(\d{1,5})[ \t\r\n]+obj\b/g;
  let m: RegExpExecArray | null;
  let trailer: PdfDict | undefined;
  while ((m = re.exec(s))) {
    const off = m.index + m[0].indexOf(m[1]!);
    const n = Number(m[1]);
    if (n > PDF_LIMITS.maxObjectNumber) continue;
    claim(doc, n, 1);
    doc.xref.set(n, { type: 1, offset: off, gen: Number(m[2]) });
  }
  for (const [n] of doc.xref) {
    try {
      const o = doc.get(n);
      if (o instanceof PdfStream && o.dict.name("Type") === "XRef" && o.dict.has("Root")) trailer = o.dict;
      if (o instanceof PdfStream && o.dict.name("Type") === "ObjStm") {
        const { offsets } = doc.objectStream(n);
        let i = 0;
        for (const on of offsets.keys()) {
          if (!doc.xref.has(on)) {
            claim(doc, on, 1);
            doc.xref.set(on, { type: 2, stream: n, index: i });
          }
          i++;
        }
      }
    } catch (e) {
      if (e instanceof AppError && e.code === "PDF_LIMIT_EXCEEDED") throw e;
      // skip unreadable objects
    }
  }
  const ti = s.lastIndexOf("trailer");
  if (ti >= 0) {
    try {
      const t = new Lexer(doc.buf, ti + 7).parse();
      if (t instanceof PdfDict && t.has("Root")) trailer = t;
    } catch (e) {
      if (e instanceof AppError && e.code === "PDF_LIMIT_EXCEEDED") throw e;
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
