/**
 * PAdES signing by incremental update: a signature field + widget (with the seal appearance) is added to a page,
 * the AcroForm and the page's /Annots are extended, and a signature dictionary with a /Contents placeholder and a
 * fixed-width /ByteRange is appended; the caller hashes the two byte ranges, builds the CMS and `embedSignature`
 * writes it into the placeholder. The original bytes are never touched, so earlier signatures stay valid.
 */
import crypto from "node:crypto";
import { AppError } from "../errors.js";
import { dict, name, pdfDate, PdfDict, PdfRaw, PdfRef, PdfStream, PdfString, text, type PdfObj } from "./objects.js";
import { limitExceeded, PDF_LIMITS } from "./limits.js";
import type { PdfDocument } from "./reader.js";
import { writeIncremental, type UpdateObject } from "./writer.js";

export interface Appearance {
  /** Content stream of the form XObject, already Flate-compressed when `compressed`. */
  readonly content: Buffer;
  readonly compressed: boolean;
  /** Form bounding box in form space. */
  readonly bbox: readonly [number, number, number, number];
  readonly matrix: readonly [number, number, number, number, number, number];
  readonly resources?: PdfDict;
  /**
   * Indirect objects the appearance needs (an embedded font, a nested form): written in the same revision.
   * `build` gets the reference of its i-th object and returns the objects and the form's resources.
   */
  readonly extra?: { readonly count: number; build(ref: (i: number) => PdfRef): { objects: PdfObj[]; resources: PdfDict } };
}

export interface PrepareOptions {
  readonly pageIndex: number;
  /** Widget rectangle in default user space of the page [x1 y1 x2 y2] (points); zero area = invisible. */
  readonly rect: readonly [number, number, number, number];
  readonly appearance?: Appearance;
  /** Field name prefix; a unique suffix is added when needed. */
  readonly fieldName: string;
  readonly signingTime: Date;
  readonly reason?: string;
  readonly location?: string;
  readonly signerName?: string;
  readonly contactInfo?: string;
  /** Bytes reserved for the DER CMS. */
  readonly reserve: number;
  readonly subFilter?: "ETSI.CAdES.detached" | "adbe.pkcs7.detached";
}

export interface Prepared {
  /** The whole new file, /Contents still zero-filled. */
  readonly bytes: Buffer;
  readonly byteRange: readonly [number, number, number, number];
  /** Offset of the first hex digit inside <…> and the number of hex digits. */
  readonly contentsHexStart: number;
  readonly contentsHexLength: number;
  readonly fieldName: string;
}

const BR_PLACEHOLDER = "[0 9999999999 9999999999 9999999999]";

/** `<000…0>` with `hexLen` zeros. */
function contentsPlaceholder(hexLen: number): Buffer {
  const b = Buffer.alloc(hexLen + 2, 0x30);
  b[0] = 0x3c;
  b[hexLen + 1] = 0x3e;
  return b;
}

function uniqueFieldName(doc: PdfDocument, fields: PdfObj[], prefix: string): string {
  const names = new Set<string>();
  const seen = new Set<number>();
  let count = 0;
  const walk = (arr: PdfObj[], depth: number) => {
    if (depth > PDF_LIMITS.maxFieldDepth) throw limitExceeded("maxFieldDepth", "the form-field tree is deeper than that");
    for (const f of arr) {
      if (f instanceof PdfRef) {
        if (seen.has(f.num)) continue;
        seen.add(f.num);
      }
      if (++count > PDF_LIMITS.maxFormFields) throw limitExceeded("maxFormFields", "the form has more fields than that");
      const d = doc.dict(f);
      if (!d) continue;
      const t = d.get("T");
      if (t instanceof PdfString) names.add(t.text());
      const kids = doc.resolve(d.get("Kids"));
      if (Array.isArray(kids)) walk(kids, depth + 1);
    }
  };
  walk(fields, 0);
  if (!names.has(prefix)) return prefix;
  for (let i = 2; ; i++) if (!names.has(`${prefix}-${i}`)) return `${prefix}-${i}`;
}

/** DocMDP P value of a certification signature, if any (1 = no changes allowed). */
export function docMdpPermission(doc: PdfDocument): number | null {
  const perms = doc.dict(doc.catalog().get("Perms"));
  const sig = perms ? doc.dict(perms.get("DocMDP")) : undefined;
  if (!sig) return null;
  const refs = doc.resolve(sig.get("Reference"));
  if (Array.isArray(refs)) {
    for (const r of refs) {
      const rd = doc.dict(r);
      if (rd?.name("TransformMethod") === "DocMDP") {
        const p = doc.dict(rd.get("TransformParams"))?.get("P");
        return typeof p === "number" ? p : 2;
      }
    }
  }
  return 2;
}

export function prepareSignature(doc: PdfDocument, o: PrepareOptions): Prepared {
  if (doc.encrypted) throw new AppError("PDF_ENCRYPTED");
  if (docMdpPermission(doc) === 1) throw new AppError("PDF_CHANGES_NOT_ALLOWED");
  const page = doc.page(o.pageIndex);
  const rootRef = doc.trailer.get("Root") as PdfRef;
  const catalog = doc.catalog();
  let next = doc.nextObjectNumber;
  const sigNum = next++;
  const widgetNum = next++;
  const apNum = o.appearance ? next++ : -1;
  const extraBase = next;
  next += o.appearance?.extra?.count ?? 0;
  const updates: UpdateObject[] = [];
  const gen = (num: number) => doc.info(num)?.gen ?? 0;

  // AcroForm (indirect, inline or new) and its /Fields (inline or indirect array).
  const acroRaw = catalog.get("AcroForm");
  const acro = (doc.dict(acroRaw) ?? new PdfDict()).clone();
  const fieldsRaw = acro.get("Fields");
  const fields = (doc.resolve(fieldsRaw) as PdfObj[] | undefined) ?? [];
  if (!Array.isArray(fields)) throw new AppError("PDF_INVALID", "The PDF cannot be read: /AcroForm /Fields is not an array.");
  const fieldName = uniqueFieldName(doc, fields, o.fieldName);
  const widgetRef = new PdfRef(widgetNum, 0);
  if (fieldsRaw instanceof PdfRef) updates.push({ num: fieldsRaw.num, gen: gen(fieldsRaw.num), obj: [...fields, widgetRef] });
  else acro.set("Fields", [...fields, widgetRef]);
  acro.set("SigFlags", 3);
  if (acroRaw instanceof PdfRef) updates.push({ num: acroRaw.num, gen: gen(acroRaw.num), obj: acro });
  else {
    let acroObj: PdfObj = acro;
    if (!acroRaw) {
      const acroNum = next++;
      updates.push({ num: acroNum, gen: 0, obj: acro });
      acroObj = new PdfRef(acroNum, 0);
    }
    updates.push({ num: rootRef.num, gen: gen(rootRef.num), obj: catalog.clone().set("AcroForm", acroObj) });
  }

  // Page /Annots (inline or indirect array).
  const annotsRaw = page.dict.get("Annots");
  const annots = (doc.resolve(annotsRaw) as PdfObj[] | undefined) ?? [];
  if (!Array.isArray(annots)) throw new AppError("PDF_INVALID", "The PDF cannot be read: a page's /Annots is not an array.");
  if (annots.length >= PDF_LIMITS.maxAnnotationsPerPage) throw limitExceeded("maxAnnotationsPerPage", `the page already has ${annots.length} annotations`);
  if (annotsRaw instanceof PdfRef) updates.push({ num: annotsRaw.num, gen: gen(annotsRaw.num), obj: [...annots, widgetRef] });
  else updates.push({ num: page.ref.num, gen: page.ref.gen, obj: page.dict.clone().set("Annots", [...annots, widgetRef]) });

  // Signature dictionary with placeholders.
  const hexLen = o.reserve * 2;
  const sig = dict({
    Type: name("Sig"),
    Filter: name("Adobe.PPKLite"),
    SubFilter: name(o.subFilter ?? "ETSI.CAdES.detached"),
    ByteRange: new PdfRaw(Buffer.from(BR_PLACEHOLDER)),
    Contents: new PdfRaw(contentsPlaceholder(hexLen)),
    M: pdfDate(o.signingTime),
    Name: o.signerName ? text(o.signerName) : undefined,
    Reason: o.reason ? text(o.reason) : undefined,
    Location: o.location ? text(o.location) : undefined,
    ContactInfo: o.contactInfo ? text(o.contactInfo) : undefined,
    Prop_Build: dict({ App: dict({ Name: name("Sidian") }) }),
  });
  updates.push({ num: sigNum, gen: 0, obj: sig });

  const widget = dict({
    Type: name("Annot"),
    Subtype: name("Widget"),
    FT: name("Sig"),
    T: text(fieldName),
    V: new PdfRef(sigNum, 0),
    F: 132,
    P: page.ref,
    Rect: [...o.rect],
    AP: o.appearance ? dict({ N: new PdfRef(apNum, 0) }) : undefined,
  });
  updates.push({ num: widgetNum, gen: 0, obj: widget });
  if (o.appearance) {
    const a = o.appearance;
    let resources = a.resources ?? new PdfDict();
    if (a.extra) {
      const built = a.extra.build((i) => {
        if (!(i >= 0 && i < a.extra!.count)) throw new Error(`appearance object ${i} of ${a.extra!.count}`);
        return new PdfRef(extraBase + i, 0);
      });
      if (built.objects.length !== a.extra.count) throw new Error("appearance objects: count mismatch");
      built.objects.forEach((obj, i) => updates.push({ num: extraBase + i, gen: 0, obj }));
      resources = built.resources;
    }
    const fd = dict({
      Type: name("XObject"),
      Subtype: name("Form"),
      BBox: [...a.bbox],
      Matrix: [...a.matrix],
      Resources: resources,
      Filter: a.compressed ? name("FlateDecode") : undefined,
    });
    updates.push({ num: apNum, gen: 0, obj: new PdfStream(fd, a.content) });
  }

  // Page, catalog and AcroForm may coincide with nothing else; keep one entry per object number (last wins).
  const byNum = new Map<number, UpdateObject>();
  for (const u of updates) byNum.set(u.num, u);
  const written = writeIncremental(doc, [...byNum.values()]);
  const bytes = written.bytes;
  const sigOff = written.offsets.get(sigNum)!;
  const brAt = bytes.indexOf(`/ByteRange ${BR_PLACEHOLDER}`, sigOff, "latin1");
  const cAt = bytes.indexOf("/Contents <", sigOff, "latin1");
  if (brAt < 0 || cAt < 0) throw new Error("signature placeholders not found");
  const contentsStart = cAt + "/Contents ".length; // at "<"
  const contentsEnd = contentsStart + hexLen + 2; // after ">"
  const byteRange = [0, contentsStart, contentsEnd, bytes.length - contentsEnd] as const;
  const br = `[${byteRange.join(" ")}]`;
  if (br.length > BR_PLACEHOLDER.length) throw new AppError("PDF_UNSUPPORTED", "The document is too large to sign.");
  bytes.write(br.padEnd(BR_PLACEHOLDER.length, " "), brAt + "/ByteRange ".length, "latin1");
  return { bytes, byteRange, contentsHexStart: contentsStart + 1, contentsHexLength: hexLen, fieldName };
}

/** SHA-256 over the two byte ranges. */
export function byteRangeDigest(bytes: Buffer, br: readonly [number, number, number, number], alg = "sha256"): Buffer {
  return crypto.createHash(alg).update(bytes.subarray(br[0], br[0] + br[1])).update(bytes.subarray(br[2], br[2] + br[3])).digest();
}

/** Writes the DER CMS into the placeholder (in place) and returns the buffer. */
export function embedSignature(p: Prepared, cms: Uint8Array): Buffer {
  const hex = Buffer.from(cms).toString("hex");
  if (hex.length > p.contentsHexLength) {
    throw new AppError("INTERNAL", `The signature (${cms.length} bytes) does not fit the reserved space (${p.contentsHexLength / 2} bytes).`);
  }
  p.bytes.write(hex, p.contentsHexStart, "latin1");
  return p.bytes;
}
