/**
 * PDF object model (ISO 32000-1 §7.3) and the serialiser used by the incremental-update writer.
 *
 * Strings are kept as bytes (never decoded) so a re-written object keeps its exact value; dictionaries remember
 * where each value sat in the file (needed to locate a signature's /Contents and /ByteRange precisely).
 */

export class PdfName {
  constructor(readonly name: string) {}
}

export class PdfRef {
  constructor(readonly num: number, readonly gen: number) {}
  get key(): string {
    return `${this.num} ${this.gen}`;
  }
}

export class PdfString {
  /** `hex`: written as <…>; `start`/`end`: byte span of the token in the file, when parsed. */
  constructor(readonly bytes: Buffer, readonly hex = false, readonly start = -1, readonly end = -1) {}
  /** Latin-1/PDFDocEncoding or UTF-16BE (with BOM) text. */
  text(): string {
    const b = this.bytes;
    if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) {
      const body = Buffer.from(b.subarray(2, 2 + ((b.length - 2) & ~1)));
      return body.swap16().toString("utf16le");
    }
    return b.toString("latin1");
  }
}

export class PdfDict {
  readonly map = new Map<string, PdfObj>();
  /** Byte span of each value in the file (parsed objects only). */
  readonly spans = new Map<string, [number, number]>();
  /** Keys that occurred more than once in the source (a red flag for signature dictionaries). */
  duplicates: string[] = [];
  start = -1;
  end = -1;
  get(k: string): PdfObj | undefined {
    return this.map.get(k);
  }
  set(k: string, v: PdfObj): this {
    this.map.set(k, v);
    return this;
  }
  has(k: string): boolean {
    return this.map.has(k);
  }
  name(k: string): string | undefined {
    const v = this.map.get(k);
    return v instanceof PdfName ? v.name : undefined;
  }
  clone(): PdfDict {
    const d = new PdfDict();
    for (const [k, v] of this.map) d.map.set(k, v);
    return d;
  }
}

export class PdfStream {
  /** `data`: the raw (still encoded) bytes between `stream` and `endstream`. */
  constructor(readonly dict: PdfDict, readonly data: Buffer, readonly dataStart = -1) {}
}

/** Raw bytes written as-is (e.g. a pre-formatted placeholder). */
export class PdfRaw {
  constructor(readonly bytes: Buffer) {}
}

export type PdfObj = null | boolean | number | PdfName | PdfString | PdfRef | PdfDict | PdfStream | PdfRaw | PdfObj[];

// ------------------------------------------------------------------------------------------------ helpers

export const name = (n: string) => new PdfName(n);
export const str = (s: string) => new PdfString(Buffer.from(s, "latin1"));
/** A text string: PDFDocEncoding-compatible ASCII as is, anything else as UTF-16BE with BOM. */
export function text(s: string): PdfString {
  if (/^[\x20-\x7e]*$/.test(s)) return new PdfString(Buffer.from(s, "latin1"));
  const b = Buffer.from(s, "utf16le").swap16();
  return new PdfString(Buffer.concat([Buffer.from([0xfe, 0xff]), b]), true);
}
export function dict(entries: Record<string, PdfObj | undefined>): PdfDict {
  const d = new PdfDict();
  for (const [k, v] of Object.entries(entries)) if (v !== undefined) d.set(k, v);
  return d;
}

/** PDF date string `D:YYYYMMDDHHmmSS+00'00'` (UTC). */
export function pdfDate(d: Date): PdfString {
  const iso = d.toISOString();
  return str(`D:${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}+00'00'`);
}

// ------------------------------------------------------------------------------------------------ writer

const NAME_SAFE = /^[!-~]$/;
/** Names that need no escaping at all (nearly all of them). */
const NAME_PLAIN = /^[A-Za-z0-9_.+-]*$/;

function writeName(n: string): string {
  if (NAME_PLAIN.test(n)) return "/" + n;
  let out = "/";
  for (const ch of Buffer.from(n, "utf8")) {
    const c = String.fromCharCode(ch);
    if (ch < 0x21 || ch > 0x7e || "#()<>[]{}/%".includes(c) || !NAME_SAFE.test(c)) out += "#" + ch.toString(16).padStart(2, "0");
    else out += c;
  }
  return out;
}

export function formatNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  const s = n.toFixed(4).replace(/0+$/, "").replace(/\.$/, "");
  return s === "-0" ? "0" : s;
}

function writeString(s: PdfString): string {
  if (s.hex) return "<" + s.bytes.toString("hex") + ">";
  let out = "(";
  for (const b of s.bytes) {
    if (b === 0x28 || b === 0x29 || b === 0x5c) out += "\\" + String.fromCharCode(b);
    else if (b === 0x0a) out += "\\n";
    else if (b === 0x0d) out += "\\r";
    else if (b < 0x20 || b > 0x7e) out += "\\" + b.toString(8).padStart(3, "0");
    else out += String.fromCharCode(b);
  }
  return out + ")";
}

/**
 * Serialises an object onto `out` (streams: dictionary + stream body; /Length is set from the data), between
 * the Latin-1 texts `before` and `after`; returns the number of bytes pushed. Text is gathered into strings and
 * binary data (stream bodies, raw bytes) is pushed as is, so the caller's final concatenation is the only copy.
 */
export function serializeTo(o: PdfObj, out: Buffer[], before = "", after = ""): number {
  let s = before;
  let n = 0;
  const push = (b: Buffer) => {
    if (s) {
      const t = Buffer.from(s, "latin1");
      out.push(t);
      n += t.length;
      s = "";
    }
    out.push(b);
    n += b.length;
  };
  const emit = (x: PdfObj) => {
    if (x === null) s += "null";
    else if (typeof x === "boolean") s += x ? "true" : "false";
    else if (typeof x === "number") s += formatNumber(x);
    else if (x instanceof PdfName) s += writeName(x.name);
    else if (x instanceof PdfString) s += writeString(x);
    else if (x instanceof PdfRef) s += `${x.num} ${x.gen} R`;
    else if (x instanceof PdfRaw) push(x.bytes);
    else if (Array.isArray(x)) {
      s += "[";
      for (let i = 0; i < x.length; i++) {
        if (i) s += " ";
        emit(x[i]!);
      }
      s += "]";
    } else if (x instanceof PdfDict) {
      s += "<<";
      for (const [k, v] of x.map) {
        s += writeName(k) + " ";
        emit(v);
      }
      s += ">>";
    } else if (x instanceof PdfStream) {
      emit(x.dict.clone().set("Length", x.data.length));
      s += "\nstream\n";
      push(x.data);
      s += "\nendstream";
    }
  };
  emit(o);
  s += after;
  if (s) {
    const t = Buffer.from(s, "latin1");
    out.push(t);
    n += t.length;
  }
  return n;
}

/** Serialises an object (streams: dictionary + stream body; /Length is set from the data). */
export function serialize(o: PdfObj): Buffer {
  const parts: Buffer[] = [];
  serializeTo(o, parts);
  return Buffer.concat(parts);
}
