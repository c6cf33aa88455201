/**
 * What later incremental updates changed after a signature (ISO 32000-1 §12.8.2.2, PDF Insecurity's incremental
 * saving and shadow attacks): the signed revision (`old`) is compared with the final document, object by object for
 * the objects later sections define. Allowed: signatures, their widgets and fields, AcroForm/DSS bookkeeping.
 * Not allowed: page content, resources, other annotations, swapped objects. Work is linear in the objects and
 * annotations compared (sets, never nested scans).
 */
import { checkLimit } from "./limits.js";
import { PdfDict, PdfName, PdfRef, PdfStream, PdfString, type PdfObj } from "./objects.js";
import type { PdfDocument } from "./reader.js";

export interface ModResult {
  allowed: string[];
  disallowed: string[];
}

function keysOf(d: PdfDict | undefined): Set<string> {
  return new Set(d ? [...d.map.keys()] : []);
}

function same(a: PdfObj | undefined, b: PdfObj | undefined, depth = 0): boolean {
  if (depth > 32) return false;
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return a === b;
  if (typeof a !== "object" || typeof b !== "object") return a === b;
  if (a instanceof PdfName && b instanceof PdfName) return a.name === b.name;
  if (a instanceof PdfRef && b instanceof PdfRef) return a.num === b.num && a.gen === b.gen;
  if (a instanceof PdfString && b instanceof PdfString) return a.bytes.equals(b.bytes);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i], depth + 1));
  if (a instanceof PdfStream && b instanceof PdfStream) return a.data.equals(b.data) && same(a.dict, b.dict, depth + 1);
  if (a instanceof PdfDict && b instanceof PdfDict) {
    if (a.map.size !== b.map.size) return false;
    for (const [k, v] of a.map) if (!same(v, b.map.get(k), depth + 1)) return false;
    return true;
  }
  return false;
}

function changedKeys(a: PdfDict | undefined, b: PdfDict | undefined): string[] {
  const ks = new Set([...keysOf(a), ...keysOf(b)]);
  return [...ks].filter((k) => !same(a?.get(k), b?.get(k)));
}

function refNums(arr: PdfObj | undefined): number[] {
  return Array.isArray(arr) ? arr.filter((x): x is PdfRef => x instanceof PdfRef).map((r) => r.num) : [];
}

/**
 * Compares the signed revision (`old`) with the final document (`cur`). `laterSigNums` are signature dictionaries
 * signed after this signature, told by `isLaterSig` (a widget pointing at one of them is a later signature, which is allowed).
 */
export function analyse(old: PdfDocument, cur: PdfDocument, changed: Set<number>, isLaterSig: (num: number) => boolean): ModResult {
  const allowed: string[] = [];
  const disallowed: string[] = [];
  const rootNum = (cur.trailer.get("Root") as PdfRef | undefined)?.num;
  const oldRootNum = (old.trailer.get("Root") as PdfRef | undefined)?.num;
  if (rootNum !== oldRootNum) disallowed.push("the document catalog was replaced");
  const oldPages = new Set(old.allPageRefs().map((r) => r.num));
  const curPages = cur.allPageRefs().map((r) => r.num);
  if (curPages.length !== oldPages.size || curPages.some((n) => !oldPages.has(n))) disallowed.push("pages were added, removed or replaced");
  const acroNumOld = (() => { const a = old.catalog().get("AcroForm"); return a instanceof PdfRef ? a.num : null; })();
  const acroNumCur = (() => { const a = cur.catalog().get("AcroForm"); return a instanceof PdfRef ? a.num : null; })();
  const typeOf = (o: PdfObj | undefined) => (o instanceof PdfDict ? o.name("Type") ?? o.name("Subtype") : o instanceof PdfStream ? o.dict.name("Type") ?? o.dict.name("Subtype") ?? "stream" : Array.isArray(o) ? "array" : typeof o);

  const isSigWidgetOk = (num: number): string | null => {
    const w = cur.dict(new PdfRef(num, 0));
    if (!w) return `annotation ${num} is missing`;
    const ft = w.name("FT") ?? cur.dict(w.get("Parent"))?.name("FT");
    if (w.name("Subtype") !== "Widget" || ft !== "Sig") return `annotation ${num} (${w.name("Subtype") ?? "?"}) was added: annotations can change what is shown`;
    const fieldDict = w.has("V") ? w : cur.dict(w.get("Parent"));
    const v = fieldDict?.get("V");
    if (v instanceof PdfRef && isLaterSig(v.num)) return null;
    const rect = cur.resolve(w.get("Rect"));
    const invisible = Array.isArray(rect) && rect.length === 4 && Math.abs(Number(rect[2]) - Number(rect[0])) * Math.abs(Number(rect[3]) - Number(rect[1])) === 0;
    if (invisible) return null;
    return `a visible signature field ${num} was added that no later signature covers`;
  };

  // Annotation additions per page and field additions.
  const addedAnnots = new Set<number>();
  for (const pn of curPages) {
    const o = old.dict(new PdfRef(pn, 0));
    const c = cur.dict(new PdfRef(pn, 0));
    const ks = changedKeys(o, c);
    const annotsOld = refNums(old.resolve(o?.get("Annots")));
    const annotsNew = refNums(cur.resolve(c?.get("Annots")));
    checkLimit("maxAnnotationsPerPage", Math.max(annotsOld.length, annotsNew.length), `annotations on page object ${pn}`);
    const annotsChanged = annotsOld.length !== annotsNew.length || annotsOld.some((n, i) => annotsNew[i] !== n);
    const other = ks.filter((k) => k !== "Annots");
    if (other.length) disallowed.push(`page object ${pn}: ${other.map((k) => "/" + k).join(", ")} changed (what the page shows)`);
    if (annotsChanged) {
      const oldSet = new Set(annotsOld), newSet = new Set(annotsNew);
      if (!annotsOld.every((n) => newSet.has(n))) disallowed.push(`page object ${pn}: annotations were removed`);
      for (const n of annotsNew) if (!oldSet.has(n)) addedAnnots.add(n);
    }
  }
  for (const n of addedAnnots) {
    const why = isSigWidgetOk(n);
    if (why) disallowed.push(why);
    else allowed.push(`signature field ${n} added`);
  }

  const pageSet = new Set(curPages);
  for (const num of changed) {
    const o = old.info(num) ? safeGet(old, num) : undefined;
    const c = safeGet(cur, num);
    if (c instanceof PdfStream && (c.dict.name("Type") === "XRef" || c.dict.name("Type") === "ObjStm")) continue;
    if (o === undefined) continue; // new objects matter only through what references them (checked above/below)
    if (c === undefined) {
      disallowed.push(`object ${num} (${typeOf(o)}) was deleted`);
      continue;
    }
    if (same(o, c)) continue;
    if (pageSet.has(num)) continue; // analysed above
    if (num === rootNum) {
      const ks = changedKeys(o instanceof PdfDict ? o : undefined, c instanceof PdfDict ? c : undefined);
      const bad = ks.filter((k) => !["AcroForm", "DSS", "Extensions"].includes(k));
      if (bad.length) disallowed.push(`catalog: ${bad.map((k) => "/" + k).join(", ")} changed`);
      else allowed.push(`catalog: ${ks.map((k) => "/" + k).join(", ")} updated`);
      continue;
    }
    if (num === acroNumOld || num === acroNumCur) {
      const ks = changedKeys(o as PdfDict, c as PdfDict);
      const bad = ks.filter((k) => !["Fields", "SigFlags", "DR", "DA"].includes(k));
      if (bad.length) disallowed.push(`AcroForm: ${bad.map((k) => "/" + k).join(", ")} changed`);
      else allowed.push("AcroForm: fields added");
      continue;
    }
    if (Array.isArray(o) && Array.isArray(c)) {
      // /Fields or /Annots arrays held as separate objects: additions only.
      const on = refNums(o), cn = refNums(c);
      const onSet = new Set(on), cnSet = new Set(cn);
      if (on.every((n) => cnSet.has(n)) && o.length <= c.length) {
        for (const n of cn) if (!onSet.has(n) && !addedAnnots.has(n)) {
          const d = cur.dict(new PdfRef(n, 0));
          if (d?.name("Subtype") === "Widget" || d?.name("FT") === "Sig") {
            const why = isSigWidgetOk(n);
            if (why) disallowed.push(why);
          } else if (d && d.name("Type") === "Annot") disallowed.push(`annotation ${n} (${d.name("Subtype") ?? "?"}) was added`);
        }
        allowed.push(`array object ${num}: entries added`);
      } else disallowed.push(`array object ${num}: entries removed or replaced`);
      continue;
    }
    if (o instanceof PdfDict && c instanceof PdfDict && (o.name("FT") === "Sig" || c.name("FT") === "Sig")) {
      // An empty signature field filled in by a later signature.
      const ks = changedKeys(o, c);
      const v = c.get("V");
      if (ks.every((k) => ["V", "AP", "Lock", "SV"].includes(k)) && v instanceof PdfRef && isLaterSig(v.num)) allowed.push(`signature field ${num} signed`);
      else disallowed.push(`signature field ${num}: ${ks.map((k) => "/" + k).join(", ")} changed`);
      continue;
    }
    const t = typeOf(c);
    if (t === "DSS" || t === "VRI") {
      allowed.push(`validation data (${t}) updated`);
      continue;
    }
    disallowed.push(`object ${num} (${t}) was changed after signing`);
  }
  return { allowed, disallowed };
}

function safeGet(doc: PdfDocument, num: number): PdfObj | undefined {
  try {
    return doc.get(num);
  } catch {
    return undefined;
  }
}

/** DocMDP P value of a certification signature dictionary (null: not a certification signature). */
export function docMdp(doc: PdfDocument, sig: PdfDict): number | null {
  const refs = doc.resolve(sig.get("Reference"));
  if (!Array.isArray(refs)) return null;
  for (const r of refs) {
    const rd = doc.dict(r);
    if (rd?.name("TransformMethod") === "DocMDP") {
      const p = doc.dict(rd.get("TransformParams"))?.get("P");
      return typeof p === "number" ? p : 2;
    }
  }
  return null;
}
