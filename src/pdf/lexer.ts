/**
 * Tokeniser and object parser (ISO 32000-1 §7.2-7.3) over a buffer. Positions are absolute file offsets; nesting is
 * bounded (PDF_LIMITS.maxNesting); every other length is bounded by the buffer itself.
 */
import { AppError } from "../errors.js";
import { limitExceeded, PDF_LIMITS } from "./limits.js";
import { PdfDict, PdfName, PdfRef, PdfString, type PdfObj } from "./objects.js";

const WS = new Uint8Array(256);
for (const c of [0x00, 0x09, 0x0a, 0x0c, 0x0d, 0x20]) WS[c] = 1;
const DELIM = new Uint8Array(256);
for (const c of "()<>[]{}/%") DELIM[c.charCodeAt(0)] = 1;

export const MAX_OBJECT_DEPTH = PDF_LIMITS.maxNesting;

/** PDF_INVALID with a message saying what failed. */
export function bad(msg: string, cause?: unknown): AppError {
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
    if (depth > MAX_OBJECT_DEPTH) throw limitExceeded("maxNesting", `objects nested deeper than ${MAX_OBJECT_DEPTH} at offset ${this.pos}`);
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
