/**
 * The page tree (ISO 32000-1 §7.7.3), walked once per document: each node at most once (a node met twice — a
 * cycle or a shared subtree — makes the tree invalid), depth and page count bounded (PDF_LIMITS.maxPageTreeDepth,
 * maxPages; the declared /Count is checked before anything else and never used to size anything).
 */
import { bad } from "./lexer.js";
import { checkLimit, limitExceeded, PDF_LIMITS } from "./limits.js";
import { PdfRef, type PdfDict, type PdfObj } from "./objects.js";
import type { PdfDocument } from "./reader.js";

export interface PageEntry {
  readonly ref: PdfRef;
  readonly dict: PdfDict;
  /** Inheritable attributes (Resources, MediaBox, CropBox, Rotate) set on ancestors. */
  readonly inherited: Map<string, PdfObj>;
}

const INHERITABLE = ["Resources", "MediaBox", "CropBox", "Rotate"];

export function walkPages(doc: PdfDocument): PageEntry[] {
  const rootRef = doc.catalog().get("Pages");
  const root = doc.dict(rootRef);
  if (!root) return [];
  const declared = doc.resolve(root.get("Count"));
  if (typeof declared === "number") checkLimit("maxPages", declared, "the page tree's /Count");
  const out: PageEntry[] = [];
  const seen = new Set<number>();
  const walk = (node: PdfObj | undefined, depth: number, inherited: Map<string, PdfObj>) => {
    if (!(node instanceof PdfRef)) return; // page tree nodes are indirect objects; anything else is ignored
    if (depth > PDF_LIMITS.maxPageTreeDepth) throw limitExceeded("maxPageTreeDepth", "the page tree is deeper than that");
    if (seen.has(node.num)) throw bad(`the page tree meets object ${node.num} twice (a cycle or a shared node)`);
    seen.add(node.num);
    const d = doc.dict(node);
    if (!d) return;
    if (d.name("Type") === "Page" || !d.has("Kids")) {
      if (out.length >= PDF_LIMITS.maxPages) throw limitExceeded("maxPages", "the page tree holds more pages than that");
      out.push({ ref: node, dict: d, inherited });
      return;
    }
    let inh = inherited;
    for (const k of INHERITABLE) {
      if (d.has(k)) {
        if (inh === inherited) inh = new Map(inherited);
        inh.set(k, d.get(k)!);
      }
    }
    const kids = doc.resolve(d.get("Kids"));
    if (!Array.isArray(kids)) throw bad("a page tree node has no /Kids");
    for (const k of kids) walk(k, depth + 1, inh);
  };
  walk(rootRef, 0, new Map());
  return out;
}
