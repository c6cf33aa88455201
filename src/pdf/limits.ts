/**
 * Limits on what an untrusted PDF may make the reader, the validator and the stamper do (DESIGN rule 8).
 *
 * Every count, length and depth read from a PDF is checked against this table before it is used; a document over
 * a limit is refused with PDF_LIMIT_EXCEEDED (422) naming the limit. README "PDF limits" documents each row; keep
 * both in step. The limits are generous for real documents (a 50 MB upload with thousands of pages and
 * hundreds of signatures fits) and small enough that no input costs more than a few hundred MB or a linear pass.
 */
import { AppError } from "../errors.js";

export const PDF_LIMITS = {
  /** Highest object number (ISO 32000-1 Annex C: 8,388,607 indirect objects). */
  maxObjectNumber: 8_388_607,
  /** Cross-reference entries read in all sections together: at most this many… */
  maxXrefEntries: 1_000_000,
  /** …and at most 1,024 + this many per byte of the file (an object needs bytes somewhere in the file). */
  xrefEntriesPerByte: 0.5,
  /** Cross-reference sections (revisions) followed through /Prev and /XRefStm. */
  maxRevisions: 500,
  /** Bytes one stream may inflate to (Flate output is capped while it is produced, not afterwards). */
  maxInflatedStream: 16 * 1024 * 1024,
  /** Bytes all streams of one document may inflate to together (each decoding counts). */
  maxInflatedDocument: 128 * 1024 * 1024,
  /** Objects one object stream may declare (/N); also at most one per 2 bytes of its data. */
  maxObjectStreamObjects: 100_000,
  /** Nesting of arrays and dictionaries inside one object. */
  maxNesting: 64,
  /** Pages (declared /Count and pages found). */
  maxPages: 100_000,
  /** Depth of the page tree. */
  maxPageTreeDepth: 64,
  /** Annotations on one page. */
  maxAnnotationsPerPage: 10_000,
  /** Form fields walked in /AcroForm /Fields (all levels). */
  maxFormFields: 100_000,
  /** Depth of the form-field tree. */
  maxFieldDepth: 32,
  /** Signatures (distinct signature dictionaries) validated in one document. */
  maxSignatures: 10_000,
  /** Entries of one /ToUnicode CMap (bfchar + expanded bfrange). */
  maxCMapEntries: 131_072,
  /** Entries of all the /ToUnicode CMaps an anchor search reads in one document together (each CMap read once). */
  maxCMapEntriesPerDocument: 1_048_576,
  /** Bytes of one PNG-predictor row (Columns × Colors × BitsPerComponent / 8). */
  maxPredictorRow: 1 << 20,
} as const;

export type PdfLimit = keyof typeof PDF_LIMITS;

/** The error for a document over `limit`; `what` says what was found. */
export function limitExceeded(limit: PdfLimit, what: string): AppError {
  return new AppError("PDF_LIMIT_EXCEEDED", `The PDF is over a limit (${limit} = ${PDF_LIMITS[limit]}): ${what}.`, { details: { limit, max: PDF_LIMITS[limit] } });
}

/** Throws PDF_LIMIT_EXCEEDED when `value` > the limit. */
export function checkLimit(limit: PdfLimit, value: number, what: string): void {
  if (!(value <= PDF_LIMITS[limit])) throw limitExceeded(limit, `${what} (${value})`);
}

/** Cross-reference entries this file may declare in all its sections. */
export function xrefEntryBudget(fileSize: number): number {
  return Math.min(PDF_LIMITS.maxXrefEntries, 1024 + Math.floor(fileSize * PDF_LIMITS.xrefEntriesPerByte));
}

/** Bytes inflated so far in one document (shared by every decoding of that document). */
export class InflateBudget {
  used = 0;
  constructor(readonly max: number = PDF_LIMITS.maxInflatedDocument) {}
  /** What the next stream may inflate to. */
  get allowance(): number {
    return Math.min(PDF_LIMITS.maxInflatedStream, this.max - this.used);
  }
  take(n: number): void {
    this.used += n;
  }
}
