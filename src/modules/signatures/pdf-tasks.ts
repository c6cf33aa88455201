/**
 * The PDF half of e-signatures (issue 14 §1, issue 17): everything that reads a request's untrusted document —
 * checking an upload, reserving the report page at send, preparing a participant's signature revision, drawing
 * the completion report under the final seal. Plain data in, plain data out (no keys, no database), so it runs on
 * a PDF worker (src/pdf/pool.ts, task kind "signing") under the pool's time and memory budget; the caller signs
 * the digest where its keys are and writes the CMS with `embedSignature`.
 */
import crypto from "node:crypto";
import { AppError } from "../../errors.js";
import { appendBlankPage, pageBox } from "../../pdf/blank-page.js";
import { openPdf, type PdfDocument } from "../../pdf/reader.js";
import { byteRangeDigest, prepareSignature } from "../../pdf/sign.js";
import { appearanceOf, type AppearanceData, type StampPrepared } from "../../pdf/stamp.js";
import { findText } from "../../pdf/text.js";
import { markAppearance, type SignatureMark } from "./mark.js";
import type { SignaturePlacement } from "./ports.js";
import type { ReportInput } from "./report.js";

/** A participant's index and where their signature goes. */
export interface Placed {
  idx: number;
  placement: SignaturePlacement | null;
}

/** What the signer writes into the signature dictionary, and the room kept for the CMS. */
export interface SignatureFields {
  fieldName: string;
  signingTime: Date;
  signerName: string;
  reason?: string;
  location?: string;
  reserve: number;
}

export type SigningOp =
  /** An upload: readable, not encrypted; its page count. */
  | { op: "inspect" }
  /** At send: every placement lands (pages exist, placeholders found); the blank report page is appended. */
  | { op: "send"; participants: Placed[] }
  /** A participant's revision: their drawn mark at their placement, the signature field, the digest to sign. */
  | { op: "sign"; participant: Placed; mark: SignatureMark; caption: string; fields: SignatureFields }
  /** The completion report drawn on the last (reserved) page as the appearance of the final seal. */
  | { op: "report"; report: ReportInput; seal: AppearanceData; fields: SignatureFields };

export type SigningAnswer =
  | { op: "inspect"; encrypted: boolean; pages: number; sha256: string }
  | { op: "send"; bytes: Uint8Array; sha256: string }
  | { op: "sign" | "report"; prepared: StampPrepared };

export type Rect = [number, number, number, number];

const MM = 72 / 25.4;
const sha256 = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest("hex");

/** Where each placement lands, checked against the document (pages exist, placeholders found). */
export function resolvePlacements(doc: PdfDocument, ps: readonly Placed[]): Map<number, { pageIndex: number; rect: Rect }> {
  const out = new Map<number, { pageIndex: number; rect: Rect }>();
  const n = doc.pageCount();
  for (const p of ps) {
    const pl = p.placement;
    if (!pl) continue;
    if ("placeholder" in pl) {
      let hit: [number, number] | null = null;
      let pi = 0;
      for (; pi < n && !hit; pi++) hit = findText(doc, pi, pl.placeholder);
      if (!hit) throw new AppError("PDF_ANCHOR_NOT_FOUND", `The placeholder "${pl.placeholder.slice(0, 40)}" of participant ${p.idx + 1} was not found.`, { details: { participant: p.idx } });
      // The signature box starts at the placeholder's baseline start and extends up and right.
      const [x, y] = hit;
      out.set(p.idx, { pageIndex: pi - 1, rect: [x, y - 0.3 * pl.heightMm * MM, x + pl.widthMm * MM, y + 0.7 * pl.heightMm * MM] });
    } else {
      if (pl.page < 1 || pl.page > n) throw new AppError("PDF_PAGE_NOT_FOUND", `Participant ${p.idx + 1}'s placement is on page ${pl.page}; the document has ${n}.`, { details: { participant: p.idx } });
      const [x0, , , top] = pageBox(doc, pl.page - 1);
      const x = x0 + pl.xMm * MM, y = top - pl.yMm * MM;
      out.set(p.idx, { pageIndex: pl.page - 1, rect: [x, y - pl.heightMm * MM, x + pl.widthMm * MM, y] });
    }
  }
  return out;
}

function prepared(doc: PdfDocument, pdf: Buffer, pageIndex: number, rect: Rect, appearance: ReturnType<typeof markAppearance>, f: SignatureFields): StampPrepared {
  const p = prepareSignature(doc, {
    pageIndex, rect, appearance, fieldName: f.fieldName, signingTime: f.signingTime, signerName: f.signerName,
    ...(f.reason ? { reason: f.reason } : {}), ...(f.location ? { location: f.location } : {}), reserve: f.reserve,
  });
  return { ...p, pageIndex, digest: byteRangeDigest(p.bytes, p.byteRange), documentSha256: sha256(pdf) };
}

/** Runs one operation on an untrusted document (on a PDF worker, or in-thread for the command line). */
export async function runSigningOp(pdf: Buffer, o: SigningOp): Promise<SigningAnswer> {
  const doc = openPdf(pdf);
  switch (o.op) {
    case "inspect":
      // The real page count (the page tree walked, never the declared /Count).
      return { op: "inspect", encrypted: doc.encrypted, pages: doc.encrypted ? 0 : doc.pageCount(), sha256: sha256(pdf) };
    case "send": {
      resolvePlacements(doc, o.participants);
      const bytes = appendBlankPage(doc);
      return { op: "send", bytes, sha256: sha256(bytes) };
    }
    case "sign": {
      const where = resolvePlacements(doc, [o.participant]).get(o.participant.idx);
      if (!where) throw new AppError("SIGNING_STATE_INVALID", "The participant has no placement.");
      return { op: "sign", prepared: prepared(doc, pdf, where.pageIndex, where.rect, markAppearance(o.mark, o.caption), o.fields) };
    }
    case "report": {
      if (doc.encrypted) throw new AppError("PDF_ENCRYPTED");
      const pageIndex = doc.pageCount() - 1;
      const box = pageBox(doc, pageIndex);
      // Loaded on first use: a worker that never draws a report does not load the font machinery.
      const { reportAppearance } = await import("./report.js");
      const ap = await reportAppearance(o.report, box, appearanceOf(o.seal));
      return { op: "report", prepared: prepared(doc, pdf, pageIndex, box, ap, o.fields) };
    }
  }
}
