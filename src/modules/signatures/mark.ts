/**
 * The handwritten mark a signer draws (kept as vector paths, never as a picture): strokes of points in the
 * drawing surface's pixels (origin top-left, y down), turned into the PDF appearance of their signature.
 */
import zlib from "node:zlib";
import { AppError } from "../../errors.js";
import { dict, name, type PdfDict } from "../../pdf/objects.js";
import type { Appearance } from "../../pdf/sign.js";

export interface SignatureMark {
  /** Size of the drawing surface (px). */
  readonly width: number;
  readonly height: number;
  /** Each stroke: x0, y0, x1, y1, … (px). */
  readonly strokes: readonly (readonly number[])[];
}

export const MARK_LIMITS = { strokes: 200, points: 5000, size: 4000 } as const;

/** Throws SIGNATURE_MARK_INVALID unless the mark is a bounded, non-empty drawing inside its surface. */
export function checkMark(m: SignatureMark): void {
  const bad = (why: string) => new AppError("SIGNATURE_MARK_INVALID", `The drawn signature ${why}.`);
  if (!(m.width >= 10 && m.width <= MARK_LIMITS.size && m.height >= 10 && m.height <= MARK_LIMITS.size)) throw bad(`surface must be 10 to ${MARK_LIMITS.size} px each way`);
  if (m.strokes.length === 0) throw bad("is empty");
  if (m.strokes.length > MARK_LIMITS.strokes) throw bad(`has more than ${MARK_LIMITS.strokes} strokes`);
  let points = 0;
  for (const s of m.strokes) {
    if (s.length < 2 || s.length % 2 !== 0) throw bad("has a stroke without whole points");
    points += s.length / 2;
    if (points > MARK_LIMITS.points) throw bad(`has more than ${MARK_LIMITS.points} points`);
    for (let i = 0; i < s.length; i += 2) {
      const x = s[i]!, y = s[i + 1]!;
      if (!Number.isFinite(x) || !Number.isFinite(y) || x < 0 || y < 0 || x > m.width || y > m.height) throw bad("has a point outside its surface");
    }
  }
}

const f = (n: number) => (Math.round(n * 10) / 10).toString();

/** The mark as a form XObject: strokes in dark blue ink, with an ASCII caption (time) in small type below. */
export function markAppearance(m: SignatureMark, caption: string): Appearance {
  const W = m.width, H = m.height;
  const capH = Math.max(8, H * 0.12);
  const ops: string[] = ["q", "0.05 0.12 0.45 RG", "1 J", "1 j", `${f(Math.max(1.5, W / 150))} w`];
  for (const s of m.strokes) {
    // y flipped (PDF is y up), the drawing lifted above the caption.
    const pt = (i: number) => `${f(s[i]!)} ${f(capH + (H - s[i + 1]!))}`;
    if (s.length === 2) ops.push(`${pt(0)} m ${f(s[0]! + 0.5)} ${f(capH + (H - s[1]!))} l S`);
    else {
      const seg = [`${pt(0)} m`];
      for (let i = 2; i < s.length; i += 2) seg.push(`${pt(i)} l`);
      ops.push(seg.join(" ") + " S");
    }
  }
  ops.push("Q");
  const safe = caption.replace(/[^\x20-\x7e]/g, "").replace(/([()\\])/g, "\\$1");
  ops.push(`BT /F1 ${f(capH * 0.8)} Tf 0.25 g 2 ${f(capH * 0.2)} Td (${safe}) Tj ET`);
  const resources: PdfDict = dict({ Font: dict({ F1: dict({ Type: name("Font"), Subtype: name("Type1"), BaseFont: name("Helvetica"), Encoding: name("WinAnsiEncoding") }) }) });
  return {
    content: zlib.deflateSync(Buffer.from(ops.join("\n"), "latin1")),
    compressed: true,
    bbox: [0, 0, W, H + capH],
    matrix: [1, 0, 0, 1, 0, 0],
    resources,
  };
}
