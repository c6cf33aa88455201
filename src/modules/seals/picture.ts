/**
 * The seal picture: a standard round red official seal drawn as vectors at its physical size in millimetres
 * (GA 241-style layout): outer ring, five-pointed star in the centre, the department name clockwise along the
 * upper arc, the seal type text (e.g. 合同专用章) horizontally below the star, and the seal ID in small digits
 * along the lower arc. Glyphs come from the bundled TrueType font as outlines, so the same geometry is served
 * as SVG and drawn natively into PDF appearance streams (no raster, no embedded font).
 */
import { AppError } from "../../errors.js";
import { sealFont, type OutlineFont, type PathCmd } from "./font.js";

export interface SealPictureSpec {
  /** Text along the upper arc (the department's name). */
  readonly name: string;
  /** Horizontal text below the star; empty for none. */
  readonly typeText: string;
  /** Small text along the lower arc (the seal ID); empty for none. */
  readonly code: string;
  /** Diameter in mm. */
  readonly diameterMm: number;
  /** DEV key material: this mark (开发测试 · 非正式 DEV) drawn across the seal above the star. */
  readonly dev?: string;
}

export interface Shape {
  readonly rule: "nonzero" | "evenodd";
  readonly cmds: readonly PathCmd[];
}

export interface SealPicture {
  readonly widthMm: number;
  readonly heightMm: number;
  /** Shapes in mm, origin at the centre, y up. */
  readonly shapes: readonly Shape[];
}

/** sRGB of the seal ink. */
export const SEAL_RED: readonly [number, number, number] = [0.86, 0.08, 0.08];

const K = 0.5522847498;

function circle(r: number, ccw = false): PathCmd[] {
  const pts: Array<[number, number]> = ccw ? [[r, 0], [0, r], [-r, 0], [0, -r]] : [[r, 0], [0, -r], [-r, 0], [0, r]];
  const cmds: PathCmd[] = [{ op: "M", x: pts[0]![0], y: pts[0]![1] }];
  for (let i = 0; i < 4; i++) {
    const [x0, y0] = pts[i]!;
    const [x1, y1] = pts[(i + 1) % 4]!;
    // Bézier handles along the tangents at both ends of the quarter circle.
    const sgn = ccw ? 1 : -1;
    cmds.push({ op: "C", c1x: x0 - sgn * K * y0, c1y: y0 + sgn * K * x0, c2x: x1 + sgn * K * y1, c2y: y1 - sgn * K * x1, x: x1, y: y1 });
  }
  cmds.push({ op: "Z" });
  return cmds;
}

function star(rOuter: number): PathCmd[] {
  const rInner = rOuter * 0.381966; // regular pentagram
  const cmds: PathCmd[] = [];
  for (let i = 0; i < 10; i++) {
    const a = (Math.PI / 5) * i; // from the top, clockwise
    const r = i % 2 === 0 ? rOuter : rInner;
    cmds.push({ op: i === 0 ? "M" : "L", x: r * Math.sin(a), y: r * Math.cos(a) });
  }
  cmds.push({ op: "Z" });
  return cmds;
}

type Xf = (u: number, v: number) => [number, number];

function mapCmds(cmds: readonly PathCmd[], f: Xf): PathCmd[] {
  return cmds.map((c): PathCmd => {
    switch (c.op) {
      case "M":
      case "L": {
        const [x, y] = f(c.x, c.y);
        return { op: c.op, x, y };
      }
      case "Q": {
        const [cx, cy] = f(c.cx, c.cy);
        const [x, y] = f(c.x, c.y);
        return { op: "Q", cx, cy, x, y };
      }
      case "C": {
        const [c1x, c1y] = f(c.c1x, c.c1y);
        const [c2x, c2y] = f(c.c2x, c.c2y);
        const [x, y] = f(c.x, c.y);
        return { op: "C", c1x, c1y, c2x, c2y, x, y };
      }
      default:
        return c;
    }
  });
}

/** Characters of `text` the font cannot draw (whitespace ignored). */
export function missingGlyphs(text: string, font: OutlineFont = sealFont()): string[] {
  return [...new Set([...text].filter((ch) => !/\s/.test(ch) && !font.has(ch)))];
}

export function checkSealText(texts: readonly string[], font: OutlineFont = sealFont()): void {
  const missing = missingGlyphs(texts.join(""), font);
  if (missing.length) {
    throw new AppError("SEAL_TEXT_UNSUPPORTED", `The seal font cannot draw: ${missing.join(" ")}.`, { details: { characters: missing } });
  }
}

/** Lays out the seal. Pure: the same spec always gives the same shapes. */
export function drawSeal(spec: SealPictureSpec, font: OutlineFont = sealFont()): SealPicture {
  checkSealText([spec.name, spec.typeText, spec.code, spec.dev ?? ""], font);
  const D = spec.diameterMm;
  const R = D / 2;
  const ring = D * (1.2 / 42);
  const em = font.unitsPerEm;
  // Reference ideograph box: centre the glyphs vertically on it.
  const ref = font.glyph("国")?.bbox ?? [0, -0.1 * em, em, 0.85 * em];
  const refH = ref[3] - ref[1];
  const refMid = (ref[1] + ref[3]) / 2;
  const shapes: Shape[] = [];
  shapes.push({ rule: "evenodd", cmds: [...circle(R), ...circle(R - ring)] });
  shapes.push({ rule: "nonzero", cmds: star(R * 0.32) });

  const glyphAt = (ch: string, size: number, squeeze: number, place: (u: number, v: number) => [number, number]) => {
    const g = font.glyph(ch);
    if (!g || g.cmds.length === 0) return;
    const s = size / refH;
    const cx = g.advance / 2;
    shapes.push({ rule: "nonzero", cmds: mapCmds(g.cmds, (x, y) => place((x - cx) * s * squeeze, (y - refMid) * s)) });
  };

  // Department name, clockwise along the upper arc, glyph tops outwards.
  const name = [...spec.name.replace(/\s+/g, "")];
  if (name.length) {
    const size = D * (6.2 / 42) * (name.length > 16 ? 16 / name.length : 1);
    const rc = R - ring - D * (0.9 / 42) - size / 2;
    const span = Math.min((250 * Math.PI) / 180, Math.max((90 * Math.PI) / 180, (name.length * size * 1.05) / rc));
    const step = name.length > 1 ? span / (name.length - 1) : 0;
    const squeeze = Math.min(1, Math.max(0.55, (step * rc) / (size * 1.02)) || 1);
    name.forEach((ch, i) => {
      const th = name.length > 1 ? -span / 2 + i * step : 0;
      const c = Math.cos(th), s = Math.sin(th);
      glyphAt(ch, size, squeeze, (u, v) => [rc * s + u * c + v * s, rc * c - u * s + v * c]);
    });
  }
  // Seal type text, horizontal below the star.
  const type = [...spec.typeText.replace(/\s+/g, "")];
  if (type.length) {
    const size = D * (4.6 / 42);
    const width = Math.min(D * 0.62, type.length * size);
    const step = width / type.length;
    const squeeze = Math.min(1, step / size);
    const y = -R * 0.5;
    type.forEach((ch, i) => glyphAt(ch, size, squeeze, (u, v) => [-width / 2 + step * (i + 0.5) + u, y + v]));
  }
  // Seal ID along the lower arc, upright towards the centre, read left to right.
  const code = [...spec.code];
  if (code.length) {
    const size = D * (2.0 / 42);
    const rc = R - ring - D * (0.8 / 42) - size / 2;
    const step = (size * 0.62) / rc;
    const span = step * (code.length - 1);
    code.forEach((ch, i) => {
      const a = -span / 2 + i * step;
      const c = Math.cos(a), s = Math.sin(a);
      glyphAt(ch, size, 1, (u, v) => [rc * s + u * c - v * s, -rc * c + u * s + v * c]);
    });
  }
  // DEV mark, horizontal between the star and the name.
  const dev = [...(spec.dev ?? "").replace(/\s+/g, "")];
  if (dev.length) {
    const size = D * (3.4 / 42);
    const width = Math.min(D * 0.66, dev.length * size);
    const step = width / dev.length;
    const squeeze = Math.min(1, step / size);
    const y = R * 0.47;
    dev.forEach((ch, i) => glyphAt(ch, size, squeeze, (u, v) => [-width / 2 + step * (i + 0.5) + u, y + v]));
  }
  return { widthMm: D, heightMm: D, shapes };
}

const f3 = (n: number) => {
  const s = n.toFixed(3).replace(/\.?0+$/, "");
  return s === "-0" ? "0" : s;
};

/** SVG document at physical size (width/height in mm), y axis flipped so the geometry stays y-up. */
export function sealSvg(p: SealPicture, title = ""): string {
  const R = p.widthMm / 2;
  const [r, g, b] = SEAL_RED.map((c) => Math.round(c * 255));
  const paths = p.shapes.map((s) => {
    let d = "";
    for (const c of s.cmds) {
      if (c.op === "M" || c.op === "L") d += `${c.op}${f3(c.x)} ${f3(c.y)}`;
      else if (c.op === "Q") d += `Q${f3(c.cx)} ${f3(c.cy)} ${f3(c.x)} ${f3(c.y)}`;
      else if (c.op === "C") d += `C${f3(c.c1x)} ${f3(c.c1y)} ${f3(c.c2x)} ${f3(c.c2y)} ${f3(c.x)} ${f3(c.y)}`;
      else d += "Z";
    }
    return `<path fill-rule="${s.rule}" d="${d}"/>`;
  });
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${f3(p.widthMm)}mm" height="${f3(p.heightMm)}mm" viewBox="${f3(-R)} ${f3(-R)} ${f3(p.widthMm)} ${f3(p.heightMm)}">` +
    (title ? `<title>${esc(title)}</title>` : "") +
    `<g fill="rgb(${r},${g},${b})" transform="scale(1,-1)">${paths.join("")}</g></svg>`;
}

/** PDF content-stream operators drawing the seal in mm units (origin at the centre, y up). */
export function sealPdfOps(p: SealPicture): string {
  const out: string[] = [`${SEAL_RED.map(f3).join(" ")} rg`];
  for (const s of p.shapes) {
    let x = 0, y = 0;
    for (const c of s.cmds) {
      if (c.op === "M") out.push(`${f3(c.x)} ${f3(c.y)} m`);
      else if (c.op === "L") out.push(`${f3(c.x)} ${f3(c.y)} l`);
      else if (c.op === "Q") {
        // quadratic → cubic
        const c1x = x + (2 / 3) * (c.cx - x), c1y = y + (2 / 3) * (c.cy - y);
        const c2x = c.x + (2 / 3) * (c.cx - c.x), c2y = c.y + (2 / 3) * (c.cy - c.y);
        out.push(`${f3(c1x)} ${f3(c1y)} ${f3(c2x)} ${f3(c2y)} ${f3(c.x)} ${f3(c.y)} c`);
      } else if (c.op === "C") out.push(`${f3(c.c1x)} ${f3(c.c1y)} ${f3(c.c2x)} ${f3(c.c2y)} ${f3(c.x)} ${f3(c.y)} c`);
      else out.push("h");
      if (c.op !== "Z") {
        x = c.x;
        y = c.y;
      }
    }
    out.push(s.rule === "evenodd" ? "f*" : "f");
  }
  return out.join("\n");
}
