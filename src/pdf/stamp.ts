/**
 * The document half of stamping a seal: open the untrusted PDF, find the page and the place (coordinates or an
 * anchor text), add the signature field, widget and appearance by incremental update and hash the byte ranges.
 * Everything here depends only on its arguments (plain data, no keys, no database), so it runs on a PDF worker
 * (pool.ts); the caller signs the digest where its keys are and writes the CMS with `embedSignature`.
 */
import crypto from "node:crypto";
import { AppError } from "../errors.js";
import { Lexer } from "./lexer.js";
import { PdfDict } from "./objects.js";
import { openPdf } from "./reader.js";
import { byteRangeDigest, prepareSignature, type Appearance, type Prepared } from "./sign.js";
import { findText } from "./text.js";

/**
 * Where the stamp goes, in points: `page` (1-based) with the centre at x, y measured from the top-left corner of
 * the crop box; or centred `dx`, `dy` (y downwards) from the start of the first occurrence of `anchor` plus half the
 * stamp's width, on `page` or the first page that has it.
 */
export type StampPlacement =
  | { page: number; x: number; y: number }
  | { anchor: string; page?: number; dx: number; dy: number };

/** An appearance as plain data (crosses threads): `resources` is the /Resources dictionary in PDF syntax. */
export interface AppearanceData {
  readonly content: Uint8Array;
  readonly compressed: boolean;
  readonly bbox: readonly [number, number, number, number];
  readonly matrix: readonly [number, number, number, number, number, number];
  readonly resources?: string;
}

export interface StampOptions {
  placement: StampPlacement;
  /** Width and height of the stamp, points. */
  size: number;
  appearance: AppearanceData;
  fieldName: string;
  signingTime: Date;
  signerName?: string;
  reason?: string;
  location?: string;
  /** Bytes reserved for the DER CMS. */
  reserve: number;
}

export interface StampPrepared extends Prepared {
  /** 0-based page the stamp is on. */
  pageIndex: number;
  /** SHA-256 of the two byte ranges (what the CMS signs). */
  digest: Uint8Array;
  /** Lower-case hex SHA-256 of the input document. */
  documentSha256: string;
}

/** The appearance's /Resources parsed back from PDF syntax (nesting bounded like any PDF object). */
export function appearanceOf(a: AppearanceData): Appearance {
  let resources: PdfDict | undefined;
  if (a.resources !== undefined) {
    const r = new Lexer(Buffer.from(a.resources, "latin1")).parse();
    if (!(r instanceof PdfDict)) throw new AppError("INTERNAL", "The stamp appearance's resources are not a dictionary.");
    resources = r;
  }
  return {
    content: Buffer.from(a.content.buffer, a.content.byteOffset, a.content.byteLength),
    compressed: a.compressed,
    bbox: a.bbox,
    matrix: a.matrix,
    ...(resources ? { resources } : {}),
  };
}

export function prepareStamp(pdf: Buffer, o: StampOptions): StampPrepared {
  const documentSha256 = crypto.createHash("sha256").update(pdf).digest("hex");
  const doc = openPdf(pdf);
  if (doc.encrypted) throw new AppError("PDF_ENCRYPTED");
  // The number of pages really found in the page tree (never the declared /Count).
  const pageCount = doc.pageCount();
  const D = o.size;
  const p = o.placement;
  let pageIndex: number;
  let cx: number, cy: number; // centre, default user space
  if ("anchor" in p) {
    const [from, to] = p.page !== undefined ? [p.page - 1, p.page] : [0, pageCount];
    let found: [number, number] | null = null;
    pageIndex = -1;
    for (let pi = from; pi < to; pi++) {
      if (pi < 0 || pi >= pageCount) throw new AppError("PDF_PAGE_NOT_FOUND", `The document has ${pageCount} page(s).`);
      found = findText(doc, pi, p.anchor);
      if (found) {
        pageIndex = pi;
        break;
      }
    }
    if (!found) throw new AppError("PDF_ANCHOR_NOT_FOUND", `The text "${p.anchor.slice(0, 40)}" was not found.`);
    cx = found[0] + p.dx + D / 2;
    cy = found[1] - p.dy;
  } else {
    if (p.page < 1 || p.page > pageCount) throw new AppError("PDF_PAGE_NOT_FOUND", `The document has ${pageCount} page(s).`);
    pageIndex = p.page - 1;
    const pg = doc.page(pageIndex);
    const b = doc.resolve(pg.dict.get("CropBox") ?? pg.inherited.get("CropBox") ?? pg.dict.get("MediaBox") ?? pg.inherited.get("MediaBox"));
    const arr = Array.isArray(b) && b.length === 4 && b.every((x) => typeof x === "number") ? (b as number[]) : [0, 0, 595.28, 841.89];
    cx = Math.min(arr[0]!, arr[2]!) + p.x;
    cy = Math.max(arr[1]!, arr[3]!) - p.y;
  }
  const prepared = prepareSignature(doc, {
    pageIndex,
    rect: [cx - D / 2, cy - D / 2, cx + D / 2, cy + D / 2],
    appearance: appearanceOf(o.appearance),
    fieldName: o.fieldName,
    signingTime: o.signingTime,
    ...(o.signerName ? { signerName: o.signerName } : {}),
    ...(o.reason ? { reason: o.reason } : {}),
    ...(o.location ? { location: o.location } : {}),
    reserve: o.reserve,
  });
  return { ...prepared, pageIndex, digest: byteRangeDigest(prepared.bytes, prepared.byteRange), documentSha256 };
}
