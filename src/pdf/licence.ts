/**
 * Licence document rendering (issue 6): one A4 page — title, the GB/T 36903 core facts and the type's fields with
 * their Chinese labels, the identifier, a vector QR code (modules drawn as filled rectangles, no raster) and a
 * reserved seal position — optionally with a use-annotation (加注件) banner and a tiled diagonal watermark, and for
 * a licence that is no longer valid a status banner and a large diagonal status mark.
 *
 * Text is drawn with the committed GB 2312 TrueType subset of WenQuanYi Micro Hei, embedded as a subset
 * (pdf-lib + fontkit, Identity-H with a ToUnicode map, so `pdftotext` extracts it). The subset has no ASCII
 * punctuation ('.', '/', ':'…): printable ASCII and anything else the CJK font lacks is drawn with Helvetica.
 *
 * This module knows nothing about licences as domain objects: it takes a plain `LicenceSheet`.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fontkit from "@pdf-lib/fontkit";
import {
  clip, degrees, endPath, fill, PDFDocument, popGraphicsState, pushGraphicsState, rectangle, rgb, setFillingColor,
  StandardFonts, type PDFFont, type PDFPage, type RGB,
} from "pdf-lib";
import { padGlyphs } from "./ttf.js";

export const CJK_FONT_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../assets/fonts/wqy-microhei-gb2312.ttf");

const PT_PER_MM = 72 / 25.4;
const A4: [number, number] = [595.28, 841.89];

export interface SheetRow {
  label: string;
  value: string;
}

export interface LicenceSheet {
  /** Document title: the licence type's name. */
  title: string;
  rows: readonly SheetRow[];
  /** Issuing authority and the issue date as printed above the seal. */
  issuer: string;
  issueDate: string;
  identifier: string;
  /** QR module matrix (row-major, 1 = dark) and the text it encodes (printed under the code). */
  qr: { size: number; modules: Uint8Array; text: string };
  /** Use annotation (加注件): banner lines and a short phrase tiled diagonally over the page. */
  annotation?: { heading: string; lines: readonly string[]; watermark: string };
  /**
   * A licence that is no longer valid (suspended, revoked, superseded…): a banner above everything else and a
   * large diagonal mark (e.g. "已吊销 REVOKED"), so the document never presents it as current.
   */
  status?: { heading: string; lines: readonly string[]; mark: string };
  /** DEV key material: this text (开发测试 · 非正式 DEV) across the top and diagonally over the page. */
  devMark?: string;
  /** Document information dictionary. */
  createdAt: Date;
  producer?: string;
}

export interface RenderedSheet {
  pdf: Buffer;
  /** Where the seal's centre goes: page 1, millimetres from the page's left and top edges. */
  seal: { page: 1; xMm: number; yMm: number };
}

type Fontkit = typeof fontkit;
type FkFont = ReturnType<Fontkit["create"]>;
let fontBytes: Buffer | undefined;
let parsed: FkFont | undefined;
const hasGlyph = new Map<number, boolean>();

/**
 * The CJK font, parsed once: pdf-lib calls `fontkit.create` for every document, so it gets a fontkit whose
 * `create` returns the already parsed font for our bytes (glyph and layout caches are reused; each document still
 * makes its own subset).
 */
function cjkFont(): { bytes: Buffer; kit: Fontkit; has(cp: number): boolean } {
  fontBytes ??= padGlyphs(fs.readFileSync(CJK_FONT_PATH));
  const bytes = fontBytes;
  parsed ??= fontkit.create(bytes);
  const font = parsed;
  const kit = { ...fontkit, create: (b: Uint8Array, name?: string) => (b === bytes ? font : fontkit.create(b, name)) } as Fontkit;
  return {
    bytes, kit,
    has(cp) {
      let v = hasGlyph.get(cp);
      if (v === undefined) hasGlyph.set(cp, (v = font.hasGlyphForCodePoint(cp)));
      return v;
    },
  };
}

interface Fonts {
  cjk: PDFFont;
  latin: PDFFont;
  has(cp: number): boolean;
}

/** Splits text into runs drawn with one font each. */
function runs(f: Fonts, text: string): Array<{ font: PDFFont; text: string }> {
  const out: Array<{ font: PDFFont; text: string }> = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    let font: PDFFont;
    let c = ch;
    if (cp >= 0x20 && cp < 0x7f) font = f.latin;
    else if (f.has(cp)) font = f.cjk;
    else {
      font = f.latin;
      // WinAnsi covers “ ” ‘ ’ and a few more; anything else becomes '?'.
      try {
        f.latin.encodeText(ch);
      } catch {
        c = "?";
      }
    }
    const last = out[out.length - 1];
    if (last && last.font === font) last.text += c;
    else out.push({ font, text: c });
  }
  return out;
}

function widthOf(f: Fonts, text: string, size: number): number {
  let w = 0;
  for (const r of runs(f, text)) w += r.font.widthOfTextAtSize(r.text, size);
  return w;
}

function draw(page: PDFPage, f: Fonts, text: string, x: number, y: number, size: number, color: RGB, opts: { rotate?: number; opacity?: number } = {}): number {
  let cx = x;
  let cy = y;
  const a = ((opts.rotate ?? 0) * Math.PI) / 180;
  for (const r of runs(f, text)) {
    page.drawText(r.text, {
      x: cx, y: cy, size, font: r.font, color,
      ...(opts.rotate ? { rotate: degrees(opts.rotate) } : {}),
      ...(opts.opacity !== undefined ? { opacity: opts.opacity } : {}),
    });
    const w = r.font.widthOfTextAtSize(r.text, size);
    cx += w * Math.cos(a);
    cy += w * Math.sin(a);
  }
  return cx - x;
}

/** Breaks text into lines no wider than `max` (by character; CJK text has no spaces to break at). */
function wrap(f: Fonts, text: string, size: number, max: number): string[] {
  const lines: string[] = [];
  let cur = "";
  for (const ch of text) {
    if (cur && widthOf(f, cur + ch, size) > max) {
      lines.push(cur);
      cur = ch;
    } else cur += ch;
  }
  if (cur || lines.length === 0) lines.push(cur);
  return lines;
}

const INK = rgb(0.1, 0.1, 0.12);
const MUTED = rgb(0.38, 0.38, 0.42);
const FRAME = rgb(0.62, 0.45, 0.16);
const RED = rgb(0.72, 0.08, 0.08);

export async function renderLicenceSheet(s: LicenceSheet): Promise<RenderedSheet> {
  const [W, H] = A4;
  const doc = await PDFDocument.create({ updateMetadata: false });
  const font = cjkFont();
  doc.registerFontkit(font.kit);
  const f: Fonts = { cjk: await doc.embedFont(font.bytes, { subset: true }), latin: await doc.embedFont(StandardFonts.Helvetica), has: font.has };
  doc.setTitle(s.title);
  doc.setProducer(s.producer ?? "Sidian");
  doc.setCreator("Sidian");
  doc.setCreationDate(s.createdAt);
  doc.setModificationDate(s.createdAt);
  doc.setLanguage("zh-CN");
  const page = doc.addPage(A4);

  // Frame: a heavy outer rule and a thin inner one.
  page.drawRectangle({ x: 24, y: 24, width: W - 48, height: H - 48, borderColor: FRAME, borderWidth: 3 });
  page.drawRectangle({ x: 31, y: 31, width: W - 62, height: H - 62, borderColor: FRAME, borderWidth: 0.8 });

  // Diagonal watermark first, so everything else is drawn over it.
  if (s.annotation) {
    const size = 18;
    const wm = s.annotation.watermark;
    const w = widthOf(f, wm, size);
    page.pushOperators(pushGraphicsState(), rectangle(32, 32, W - 64, H - 64), clip(), endPath());
    for (let row = 0; row < 6; row++) {
      for (let col = 0; col < 2; col++) {
        const x = 40 + col * (W / 2) - (row % 2) * 90;
        const y = 110 + row * 125;
        if (x + w * Math.cos(Math.PI / 6) < 0) continue;
        draw(page, f, wm, x, y, size, RED, { rotate: 30, opacity: 0.11 });
      }
    }
    page.pushOperators(popGraphicsState());
  }

  // Status mark: a few large diagonal lines across the page, under the content.
  if (s.status) {
    const size = 44;
    const mark = s.status.mark;
    const w = widthOf(f, mark, size);
    const a = Math.PI / 6;
    page.pushOperators(pushGraphicsState(), rectangle(32, 32, W - 64, H - 64), clip(), endPath());
    for (const cy of [H * 0.42, H * 0.7]) {
      draw(page, f, mark, W / 2 - (w / 2) * Math.cos(a), cy - (w / 2) * Math.sin(a), size, RED, { rotate: 30, opacity: 0.16 });
    }
    page.pushOperators(popGraphicsState());
  }

  // DEV key material: a mark nobody can miss, under the content and as a band at the top.
  if (s.devMark) {
    const size = 40;
    const w = widthOf(f, s.devMark, size);
    const a = Math.PI / 6;
    page.pushOperators(pushGraphicsState(), rectangle(32, 32, W - 64, H - 64), clip(), endPath());
    for (const cy of [H * 0.3, H * 0.56, H * 0.82]) {
      draw(page, f, s.devMark, W / 2 - (w / 2) * Math.cos(a), cy - (w / 2) * Math.sin(a), size, RED, { rotate: 30, opacity: 0.14 });
    }
    page.pushOperators(popGraphicsState());
    const band = `${s.devMark} · 开发测试密钥签发，不具效力`;
    page.drawRectangle({ x: 32, y: H - 58, width: W - 64, height: 24, color: RED });
    draw(page, f, band, (W - widthOf(f, band, 12)) / 2, H - 51, 12, rgb(1, 1, 1));
  }

  // Title
  const titleSize = s.title.length > 12 ? 24 : 28;
  const tw = widthOf(f, s.title, titleSize);
  draw(page, f, s.title, (W - tw) / 2, H - 105, titleSize, INK);
  const sub = "电子证照";
  draw(page, f, sub, (W - widthOf(f, sub, 11)) / 2, H - 128, 11, MUTED);
  page.drawLine({ start: { x: 70, y: H - 142 }, end: { x: W - 70, y: H - 142 }, thickness: 0.6, color: FRAME });

  let y = H - 170;

  // Banners: the licence's status (when not valid) first, then the use annotation (加注件).
  const banner = (b: { heading: string; lines: readonly string[] }, headingSize: number) => {
    const lineH = 15;
    const body: string[] = [];
    for (const l of b.lines) body.push(...wrap(f, l, 10, W - 160));
    const h = headingSize + 14 + body.length * lineH + 8;
    page.drawRectangle({ x: 64, y: y - h + 10, width: W - 128, height: h, borderColor: RED, borderWidth: 1, color: rgb(1, 0.97, 0.96) });
    draw(page, f, b.heading, 76, y - 8 - (headingSize - 12), headingSize, RED);
    let by = y - 8 - (headingSize - 12) - 20;
    for (const l of body) {
      draw(page, f, l, 76, by, 10, RED);
      by -= lineH;
    }
    y -= h + 14;
  };
  if (s.status) banner(s.status, 16);
  if (s.annotation) banner(s.annotation, 12);

  // Facts table: right-aligned labels, wrapped values.
  const labelRight = 200;
  const valueX = 214;
  const valueMax = W - 70 - valueX;
  const size = 12;
  const rowGap = 24;
  for (const r of s.rows) {
    const label = `${r.label}：`;
    draw(page, f, label, labelRight - widthOf(f, label, size), y, size, MUTED);
    const lines = wrap(f, r.value === "" ? "—" : r.value, size, valueMax);
    for (let i = 0; i < lines.length; i++) {
      draw(page, f, lines[i]!, valueX, y, size, INK);
      if (i < lines.length - 1) y -= 16;
    }
    page.drawLine({ start: { x: valueX, y: y - 5 }, end: { x: W - 70, y: y - 5 }, thickness: 0.3, color: rgb(0.8, 0.8, 0.82) });
    y -= rowGap;
  }

  // QR code (vector): one path of rectangles, runs of dark modules merged per row.
  const qrSize = 96;
  const qx = 66;
  const qy = 96;
  const mod = qrSize / s.qr.size;
  const n = s.qr.size;
  const ops = [pushGraphicsState(), setFillingColor(rgb(0, 0, 0))];
  for (let row = 0; row < n; row++) {
    let x = 0;
    while (x < n) {
      if (!s.qr.modules[row * n + x]) {
        x++;
        continue;
      }
      const start = x;
      while (x < n && s.qr.modules[row * n + x]) x++;
      ops.push(rectangle(qx + start * mod, qy + qrSize - (row + 1) * mod, (x - start) * mod, mod));
    }
  }
  ops.push(fill(), popGraphicsState());
  page.pushOperators(...ops);
  const cap = "扫码核验";
  draw(page, f, cap, qx + (qrSize - widthOf(f, cap, 9)) / 2, qy - 13, 9, MUTED);

  // Identifier and verification address along the bottom.
  const idLine = `证照标识：${s.identifier}`;
  draw(page, f, idLine, 66, 62, 8, MUTED);
  draw(page, f, `核验地址：${s.qr.text}`, 66, 50, 7, MUTED);

  // Issuer and date, bottom right; the seal goes over them.
  const cx = 420;
  const iy = 170;
  const issuerLines = wrap(f, s.issuer, 14, 200);
  let ly = iy + (issuerLines.length - 1) * 9;
  for (const l of issuerLines) {
    draw(page, f, l, cx - widthOf(f, l, 14) / 2, ly, 14, INK);
    ly -= 18;
  }
  draw(page, f, s.issueDate, cx - widthOf(f, s.issueDate, 12) / 2, ly - 4, 12, INK);

  const pdf = Buffer.from(await doc.save({ useObjectStreams: false }));
  return { pdf, seal: { page: 1, xMm: cx / PT_PER_MM, yMm: (H - (iy - 4)) / PT_PER_MM } };
}
