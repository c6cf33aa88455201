/**
 * Incremental-update writer (ISO 32000-1 §7.5.6): the original bytes are kept byte for byte; new and changed
 * objects, a new cross-reference section and a trailer with /Prev are appended. The new section is a
 * cross-reference stream when the file's last section is one (a reader that only knows streams must still
 * find everything), a classic table otherwise.
 */
import crypto from "node:crypto";
import zlib from "node:zlib";
import { AppError } from "../errors.js";
import { name, PdfDict, PdfRef, PdfStream, PdfString, serializeTo, type PdfObj } from "./objects.js";
import type { PdfDocument } from "./reader.js";

export interface UpdateObject {
  readonly num: number;
  readonly gen: number;
  readonly obj: PdfObj;
}

export interface WrittenUpdate {
  readonly bytes: Buffer;
  /** Offset of each written object ("n g obj"). */
  readonly offsets: Map<number, number>;
  /** Byte length of the original document (start of the update). */
  readonly originalLength: number;
}

function subsections(nums: number[]): Array<[number, number[]]> {
  const sorted = [...nums].sort((a, b) => a - b);
  const out: Array<[number, number[]]> = [];
  for (const n of sorted) {
    const last = out[out.length - 1];
    if (last && last[0] + last[1].length === n) last[1].push(n);
    else out.push([n, [n]]);
  }
  return out;
}

function trailerBase(doc: PdfDocument, size: number): PdfDict {
  const t = new PdfDict();
  t.set("Size", size);
  const root = doc.trailer.get("Root");
  if (!(root instanceof PdfRef)) throw new AppError("PDF_INVALID", "The PDF cannot be read: the trailer /Root is not a reference.");
  t.set("Root", root);
  const info = doc.trailer.get("Info");
  if (info instanceof PdfRef) t.set("Info", info);
  const id = doc.trailer.get("ID");
  const fresh = new PdfString(crypto.randomBytes(16), true);
  if (Array.isArray(id) && id[0] instanceof PdfString) t.set("ID", [new PdfString(id[0].bytes, true), fresh]);
  else t.set("ID", [fresh, fresh]);
  t.set("Prev", doc.startxref);
  return t;
}

/** Appends `objects` to the document as one incremental update. */
export function writeIncremental(doc: PdfDocument, objects: readonly UpdateObject[]): WrittenUpdate {
  if (doc.repaired || doc.startxref < 0) throw new AppError("PDF_UNSUPPORTED", "The PDF's cross-reference is damaged; repair it (e.g. `qpdf in.pdf out.pdf`) before stamping.");
  const orig = doc.buf;
  const parts: Buffer[] = [orig];
  let pos = orig.length;
  const last = orig[orig.length - 1];
  if (last !== 0x0a && last !== 0x0d) {
    parts.push(Buffer.from("\n"));
    pos += 1;
  }
  const offsets = new Map<number, number>();
  let size = doc.nextObjectNumber;
  for (const o of objects) {
    offsets.set(o.num, pos);
    pos += serializeTo(o.obj, parts, `${o.num} ${o.gen} obj\n`, "\nendobj\n");
    if (o.num + 1 > size) size = o.num + 1;
  }
  const xrefOffset = pos;
  if (doc.lastSectionIsStream) {
    const xnum = size;
    size += 1;
    offsets.set(xnum, xrefOffset);
    const nums = [...offsets.keys()];
    const subs = subsections(nums);
    const rows = Buffer.alloc(nums.length * 7);
    let r = 0;
    const gens = new Map(objects.map((o) => [o.num, o.gen]));
    for (const [, ns] of subs) {
      for (const n of ns) {
        rows[r] = 1;
        rows.writeUInt32BE(offsets.get(n)!, r + 1);
        rows.writeUInt16BE(gens.get(n) ?? 0, r + 5);
        r += 7;
      }
    }
    const d = trailerBase(doc, size);
    d.set("Type", name("XRef"));
    d.set("W", [1, 4, 2]);
    d.set("Index", subs.flatMap(([s, ns]) => [s, ns.length]));
    d.set("Filter", name("FlateDecode"));
    serializeTo(new PdfStream(d, zlib.deflateSync(rows)), parts, `${xnum} 0 obj\n`, `\nendobj\nstartxref\n${xrefOffset}\n%%EOF\n`);
  } else {
    const lines: string[] = ["xref\n"];
    const gens = new Map(objects.map((o) => [o.num, o.gen]));
    for (const [start, ns] of subsections([...offsets.keys()])) {
      lines.push(`${start} ${ns.length}\n`);
      for (const n of ns) lines.push(`${String(offsets.get(n)!).padStart(10, "0")} ${String(gens.get(n) ?? 0).padStart(5, "0")} n\r\n`);
    }
    lines.push("trailer\n");
    serializeTo(trailerBase(doc, size), parts, lines.join(""), `\nstartxref\n${xrefOffset}\n%%EOF\n`);
  }
  return { bytes: Buffer.concat(parts), offsets, originalLength: orig.length };
}
