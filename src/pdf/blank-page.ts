/**
 * Adding a blank page by incremental update (the original bytes are kept): a new page object is appended to the
 * root page-tree node's /Kids and its /Count raised by one. Used to reserve the completion-report page of a
 * signing request before the first signature, so the report can later be drawn as the appearance of the final
 * seal signature without changing any page that a participant signed.
 */
import { AppError } from "../errors.js";
import { dict, name, PdfDict, PdfRef, type PdfObj } from "./objects.js";
import type { PdfDocument } from "./reader.js";
import { writeIncremental } from "./writer.js";

/** The page's box [x1 y1 x2 y2] (CropBox, else MediaBox, inherited), normalised; A4 when unreadable. */
export function pageBox(doc: PdfDocument, pageIndex: number): [number, number, number, number] {
  const pg = doc.page(pageIndex);
  const b = doc.resolve(pg.dict.get("CropBox") ?? pg.inherited.get("CropBox") ?? pg.dict.get("MediaBox") ?? pg.inherited.get("MediaBox"));
  const a = Array.isArray(b) && b.length === 4 && b.every((x) => typeof x === "number") ? (b as number[]) : [0, 0, 595.28, 841.89];
  return [Math.min(a[0]!, a[2]!), Math.min(a[1]!, a[3]!), Math.max(a[0]!, a[2]!), Math.max(a[1]!, a[3]!)];
}

/** Appends a blank page of `size` points (default: the last page's size) and returns the new file. */
export function appendBlankPage(doc: PdfDocument, size?: readonly [number, number]): Buffer {
  if (doc.encrypted) throw new AppError("PDF_ENCRYPTED");
  const n = doc.pageCount();
  let w: number, h: number;
  if (size) [w, h] = size;
  else {
    const b = pageBox(doc, n - 1);
    w = b[2] - b[0];
    h = b[3] - b[1];
  }
  const catalog = doc.catalog();
  const pagesRef = catalog.get("Pages");
  if (!(pagesRef instanceof PdfRef)) throw new AppError("PDF_UNSUPPORTED", "The page tree root is not an indirect object.");
  const pages = doc.dict(pagesRef);
  if (!pages) throw new AppError("PDF_INVALID", "The PDF cannot be read: no page tree.");
  const kidsRaw = pages.get("Kids");
  const kids = doc.resolve(kidsRaw) as PdfObj[] | undefined;
  if (!Array.isArray(kids)) throw new AppError("PDF_INVALID", "The PDF cannot be read: /Pages /Kids is not an array.");
  const count = doc.resolve(pages.get("Count"));
  if (typeof count !== "number") throw new AppError("PDF_INVALID", "The PDF cannot be read: /Pages /Count is not a number.");
  const num = doc.nextObjectNumber;
  const pageRef = new PdfRef(num, 0);
  const gen = (k: number) => doc.info(k)?.gen ?? 0;
  const updates = [{ num, gen: 0, obj: dict({ Type: name("Page"), Parent: pagesRef, MediaBox: [0, 0, w, h], Resources: new PdfDict() }) as PdfObj }];
  const newPages = pages.clone().set("Count", count + 1);
  if (kidsRaw instanceof PdfRef) updates.push({ num: kidsRaw.num, gen: gen(kidsRaw.num), obj: [...kids, pageRef] });
  else newPages.set("Kids", [...kids, pageRef]);
  updates.push({ num: pagesRef.num, gen: pagesRef.gen, obj: newPages });
  return writeIncremental(doc, updates).bytes;
}
