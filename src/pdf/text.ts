/**
 * Finding an anchor text on a page, for placing a seal "next to" it. A small content-stream interpreter: text
 * objects, text/line matrices (Tm, Td, TD, T*, TL, ', "), the CTM (cm, q/Q) and strings shown with Tj/TJ.
 * Strings are decoded through the font's /ToUnicode CMap (bfchar/bfrange) when it has one, else as single bytes
 * (WinAnsi ≈ Latin-1). Returns the position of the start of the first match in default user space; good enough
 * for placement, not a text extractor (no glyph widths, so x is where the showing string starts).
 */
import { limitExceeded, PDF_LIMITS } from "./limits.js";
import { Lexer, type PdfDocument } from "./reader.js";
import { PdfDict, PdfName, PdfStream, PdfString, type PdfObj } from "./objects.js";

type M = [number, number, number, number, number, number];
const mul = (a: M, b: M): M => [
  a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3],
  a[2] * b[0] + a[3] * b[2], a[2] * b[1] + a[3] * b[3],
  a[4] * b[0] + a[5] * b[2] + b[4], a[4] * b[1] + a[5] * b[3] + b[5],
];

/** A CMap's codes; `allowance` is what the document may still read (maxCMapEntriesPerDocument), checked as it is read. */
function parseToUnicode(data: Buffer, allowance: number): { map: Map<string, string>; bytes: number; entries: number } {
  const s = data.toString("latin1");
  const map = new Map<string, string>();
  let bytes = 1;
  let entries = 0; // codes mapped, counting repeats (the limit bounds the work, not the map)
  const over = () => entries > allowance && limitExceeded("maxCMapEntriesPerDocument", "the document's /ToUnicode CMaps map more codes than that together");
  const hexToStr = (h: string) => Buffer.from(h.length % 4 ? h.padStart(h.length + (4 - (h.length % 4)), "0") : h, "hex").swap16().toString("utf16le");
  for (const block of s.matchAll(/beginbfchar([\s\S]*?)endbfchar/g)) {
    for (const m of block[1]!.matchAll(/<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>/g)) {
      if (++entries > PDF_LIMITS.maxCMapEntries) throw limitExceeded("maxCMapEntries", "a /ToUnicode CMap maps more codes than that");
      const o = over();
      if (o) throw o;
      map.set(m[1]!.toLowerCase(), hexToStr(m[2]!));
      bytes = m[1]!.length / 2;
    }
  }
  for (const block of s.matchAll(/beginbfrange([\s\S]*?)endbfrange/g)) {
    for (const m of block[1]!.matchAll(/<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>/g)) {
      const lo = parseInt(m[1]!, 16), hi = parseInt(m[2]!, 16), dst = parseInt(m[3]!, 16);
      bytes = m[1]!.length / 2;
      entries += Math.max(0, Math.min(hi - lo + 1, 65536));
      if (entries > PDF_LIMITS.maxCMapEntries) throw limitExceeded("maxCMapEntries", "a /ToUnicode CMap maps more codes than that");
      const o = over();
      if (o) throw o;
      for (let c = lo; c <= hi && c - lo < 65536; c++) map.set(c.toString(16).padStart(m[1]!.length, "0"), String.fromCodePoint(dst + c - lo));
    }
  }
  return { map, bytes, entries };
}

/**
 * The CMaps read so far in a document: each is read once however many font names and pages share it, and all of
 * them count together (three thousand font names over one 60-byte CMap of 131,072 codes were 393 million entries).
 */
const cmapCache = new WeakMap<PdfDocument, { cmaps: Map<PdfStream, ReturnType<typeof parseToUnicode>>; entries: number }>();
function cmapsOf(doc: PdfDocument) {
  let c = cmapCache.get(doc);
  if (!c) cmapCache.set(doc, (c = { cmaps: new Map(), entries: 0 }));
  return c;
}

/** Position [x, y] (points, default user space) of the first occurrence of `needle` on the page, or null. */
export function findText(doc: PdfDocument, pageIndex: number, needle: string): [number, number] | null {
  const page = doc.page(pageIndex);
  const resources = doc.dict(page.dict.get("Resources") ?? page.inherited.get("Resources"));
  const fonts = resources ? doc.dict(resources.get("Font")) : undefined;
  const decoders = new Map<string, (b: Buffer) => string>();
  const read = cmapsOf(doc);
  const decoderFor = (fontName: string) => {
    let d = decoders.get(fontName);
    if (d) return d;
    const f = fonts ? doc.dict(fonts.get(fontName)) : undefined;
    const tu = f ? doc.resolve(f.get("ToUnicode")) : undefined;
    if (tu instanceof PdfStream) {
      let cm = read.cmaps.get(tu);
      if (!cm) {
        cm = parseToUnicode(doc.decode(tu), PDF_LIMITS.maxCMapEntriesPerDocument - read.entries);
        read.entries += cm.entries;
        read.cmaps.set(tu, cm);
      }
      const { map, bytes } = cm;
      d = (b) => {
        let out = "";
        for (let i = 0; i + bytes <= b.length; i += bytes) out += map.get(b.subarray(i, i + bytes).toString("hex")) ?? "\ufffd";
        return out;
      };
    } else d = (b) => b.toString("latin1");
    decoders.set(fontName, d);
    return d;
  };
  const contents = doc.resolve(page.dict.get("Contents"));
  const streams = (Array.isArray(contents) ? contents.map((c) => doc.resolve(c)) : [contents]).filter((s): s is PdfStream => s instanceof PdfStream);
  const data = Buffer.concat(streams.map((s) => Buffer.concat([doc.decode(s), Buffer.from("\n")])));
  const lx = new Lexer(data);
  const stack: PdfObj[] = [];
  let ctm: M = [1, 0, 0, 1, 0, 0];
  const saved: M[] = [];
  let tm: M = [1, 0, 0, 1, 0, 0];
  let tlm: M = [1, 0, 0, 1, 0, 0];
  let leading = 0;
  let font = "";
  const num = (i: number) => Number(stack[stack.length - i] ?? 0);
  const show = (s: string): [number, number] | null => {
    if (!s.includes(needle)) return null;
    const m = mul(tm, ctm);
    return [m[4], m[5]];
  };
  const nextLine = (tx: number, ty: number) => {
    tlm = mul([1, 0, 0, 1, tx, ty], tlm);
    tm = tlm;
  };
  let guard = 0;
  while (guard++ < 2_000_000) {
    lx.skipWs();
    if (lx.pos >= data.length) break;
    const c = data[lx.pos]!;
    const isOperand = c === 0x2f || c === 0x28 || c === 0x3c || c === 0x5b || c === 0x2d || c === 0x2b || c === 0x2e || (c >= 0x30 && c <= 0x39);
    if (isOperand) {
      try {
        stack.push(lx.parse());
      } catch {
        return null;
      }
      continue;
    }
    const op = lx.word();
    if (op === "") {
      lx.pos++;
      continue;
    }
    if (op === "BI") {
      const ei = data.indexOf("EI", lx.pos, "latin1");
      lx.pos = ei < 0 ? data.length : ei + 2;
    }
    let hit: [number, number] | null = null;
    switch (op) {
      case "q": saved.push(ctm); break;
      case "Q": ctm = saved.pop() ?? ctm; break;
      case "cm": ctm = mul([num(6), num(5), num(4), num(3), num(2), num(1)], ctm); break;
      case "BT": tm = tlm = [1, 0, 0, 1, 0, 0]; break;
      case "Tf": font = stack[stack.length - 2] instanceof PdfName ? (stack[stack.length - 2] as PdfName).name : font; break;
      case "TL": leading = num(1); break;
      case "Td": nextLine(num(2), num(1)); break;
      case "TD": leading = -num(1); nextLine(num(2), num(1)); break;
      case "Tm": tm = tlm = [num(6), num(5), num(4), num(3), num(2), num(1)]; break;
      case "T*": nextLine(0, -leading); break;
      case "Tj": case "'": case "\"": {
        if (op !== "Tj") nextLine(0, -leading);
        const s = stack[stack.length - 1];
        if (s instanceof PdfString) hit = show(decoderFor(font)(s.bytes));
        break;
      }
      case "TJ": {
        const arr = stack[stack.length - 1];
        if (Array.isArray(arr)) hit = show(arr.filter((x): x is PdfString => x instanceof PdfString).map((x) => decoderFor(font)(x.bytes)).join(""));
        break;
      }
      default: break;
    }
    if (hit) return hit;
    stack.length = 0;
  }
  return null;
}

export { PdfDict };
