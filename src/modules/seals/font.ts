/**
 * A TrueType (glyf) outline reader: cmap (formats 4 and 12), loca, glyf (simple and composite glyphs), hmtx.
 * Enough to turn seal text into vector paths; no hinting, no layout. The bundled font is a GB 2312 subset of
 * WenQuanYi Micro Hei (assets/fonts/, Apache-2.0).
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export type PathCmd =
  | { readonly op: "M" | "L"; readonly x: number; readonly y: number }
  | { readonly op: "Q"; readonly cx: number; readonly cy: number; readonly x: number; readonly y: number }
  | { readonly op: "C"; readonly c1x: number; readonly c1y: number; readonly c2x: number; readonly c2y: number; readonly x: number; readonly y: number }
  | { readonly op: "Z" };

export interface Glyph {
  readonly advance: number;
  readonly cmds: readonly PathCmd[];
  readonly bbox: readonly [number, number, number, number];
}

export interface OutlineFont {
  readonly unitsPerEm: number;
  has(ch: string): boolean;
  glyph(ch: string): Glyph | undefined;
}

export const DEFAULT_FONT_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../assets/fonts/wqy-microhei-gb2312.ttf");

export function parseTrueType(buf: Buffer): OutlineFont {
  if (buf.length < 12) throw new Error("font file too short");
  const numTables = buf.readUInt16BE(4);
  const tables = new Map<string, { off: number; len: number }>();
  for (let i = 0; i < numTables; i++) {
    const r = 12 + i * 16;
    tables.set(buf.toString("latin1", r, r + 4), { off: buf.readUInt32BE(r + 8), len: buf.readUInt32BE(r + 12) });
  }
  const t = (tag: string) => {
    const x = tables.get(tag);
    if (!x) throw new Error(`font has no ${tag} table`);
    return x;
  };
  const head = t("head").off;
  const unitsPerEm = buf.readUInt16BE(head + 18);
  const longLoca = buf.readInt16BE(head + 50) === 1;
  const numGlyphs = buf.readUInt16BE(t("maxp").off + 4);
  const loca = t("loca").off;
  const glyf = t("glyf").off;
  const numHMetrics = buf.readUInt16BE(t("hhea").off + 34);
  const hmtx = t("hmtx").off;

  // cmap: prefer (3,10) format 12, else (3,1) / (0,x) format 4.
  const cmapOff = t("cmap").off;
  const nSub = buf.readUInt16BE(cmapOff + 2);
  let fmt12 = -1;
  let fmt4 = -1;
  for (let i = 0; i < nSub; i++) {
    const r = cmapOff + 4 + i * 8;
    const pid = buf.readUInt16BE(r);
    const eid = buf.readUInt16BE(r + 2);
    const off = cmapOff + buf.readUInt32BE(r + 4);
    const format = buf.readUInt16BE(off);
    if (format === 12 && (pid === 3 || pid === 0)) fmt12 = off;
    if (format === 4 && ((pid === 3 && eid === 1) || pid === 0)) fmt4 = off;
  }
  const map = new Map<number, number>();
  if (fmt12 >= 0) {
    const n = buf.readUInt32BE(fmt12 + 12);
    for (let i = 0; i < n; i++) {
      const r = fmt12 + 16 + i * 12;
      const s = buf.readUInt32BE(r), e = buf.readUInt32BE(r + 4), g = buf.readUInt32BE(r + 8);
      for (let c = s; c <= e; c++) map.set(c, g + c - s);
    }
  } else if (fmt4 >= 0) {
    const segX2 = buf.readUInt16BE(fmt4 + 6);
    const ends = fmt4 + 14;
    const starts = ends + segX2 + 2;
    const deltas = starts + segX2;
    const ranges = deltas + segX2;
    for (let i = 0; i < segX2 / 2; i++) {
      const end = buf.readUInt16BE(ends + i * 2), start = buf.readUInt16BE(starts + i * 2);
      const delta = buf.readInt16BE(deltas + i * 2), ro = buf.readUInt16BE(ranges + i * 2);
      for (let c = start; c <= end && c !== 0xffff; c++) {
        let g: number;
        if (ro === 0) g = (c + delta) & 0xffff;
        else {
          const gi = buf.readUInt16BE(ranges + i * 2 + ro + (c - start) * 2);
          g = gi === 0 ? 0 : (gi + delta) & 0xffff;
        }
        if (g) map.set(c, g);
      }
    }
  } else throw new Error("font has no usable cmap");

  const locaAt = (g: number) => (longLoca ? buf.readUInt32BE(loca + g * 4) : buf.readUInt16BE(loca + g * 2) * 2);
  const advance = (g: number) => buf.readUInt16BE(hmtx + Math.min(g, numHMetrics - 1) * 4);

  type Pt = { x: number; y: number; on: boolean };
  function contours(g: number, depth: number): Pt[][] {
    if (g >= numGlyphs || depth > 8) return [];
    const start = locaAt(g), end = locaAt(g + 1);
    if (end <= start) return [];
    const p0 = glyf + start;
    const nc = buf.readInt16BE(p0);
    if (nc >= 0) {
      const endPts: number[] = [];
      for (let i = 0; i < nc; i++) endPts.push(buf.readUInt16BE(p0 + 10 + i * 2));
      const nPts = nc ? endPts[nc - 1]! + 1 : 0;
      let p = p0 + 10 + nc * 2;
      p += 2 + buf.readUInt16BE(p);
      const flags: number[] = [];
      while (flags.length < nPts) {
        const f = buf[p++]!;
        flags.push(f);
        if (f & 8) for (let r = buf[p++]!; r > 0; r--) flags.push(f);
      }
      const xs: number[] = [];
      let v = 0;
      for (const f of flags) {
        if (f & 2) v += (f & 16 ? 1 : -1) * buf[p++]!;
        else if (!(f & 16)) { v += buf.readInt16BE(p); p += 2; }
        xs.push(v);
      }
      const ys: number[] = [];
      v = 0;
      for (const f of flags) {
        if (f & 4) v += (f & 32 ? 1 : -1) * buf[p++]!;
        else if (!(f & 32)) { v += buf.readInt16BE(p); p += 2; }
        ys.push(v);
      }
      const out: Pt[][] = [];
      let s = 0;
      for (const e of endPts) {
        const c: Pt[] = [];
        for (let i = s; i <= e; i++) c.push({ x: xs[i]!, y: ys[i]!, on: (flags[i]! & 1) === 1 });
        out.push(c);
        s = e + 1;
      }
      return out;
    }
    // composite
    const out: Pt[][] = [];
    let p = p0 + 10;
    for (;;) {
      const flags = buf.readUInt16BE(p);
      const gi = buf.readUInt16BE(p + 2);
      p += 4;
      let dx: number, dy: number;
      if (flags & 1) { dx = buf.readInt16BE(p); dy = buf.readInt16BE(p + 2); p += 4; } else { dx = buf.readInt8(p); dy = buf.readInt8(p + 1); p += 2; }
      let a = 1, b = 0, c = 0, d = 1;
      const f2 = (o: number) => buf.readInt16BE(o) / 16384;
      if (flags & 8) { a = d = f2(p); p += 2; } else if (flags & 0x40) { a = f2(p); d = f2(p + 2); p += 4; } else if (flags & 0x80) { a = f2(p); b = f2(p + 2); c = f2(p + 4); d = f2(p + 6); p += 8; }
      if (!(flags & 2)) { dx = 0; dy = 0; } // point matching not supported
      for (const ct of contours(gi, depth + 1)) out.push(ct.map((q) => ({ x: a * q.x + c * q.y + dx, y: b * q.x + d * q.y + dy, on: q.on })));
      if (!(flags & 0x20)) break;
    }
    return out;
  }

  function toCmds(cs: Pt[][]): PathCmd[] {
    const cmds: PathCmd[] = [];
    for (const c of cs) {
      if (c.length === 0) continue;
      // Start at an on-curve point (or the midpoint of two off-curve points).
      let startIdx = c.findIndex((q) => q.on);
      let pts = c;
      if (startIdx < 0) {
        const m = { x: (c[0]!.x + c[1 % c.length]!.x) / 2, y: (c[0]!.y + c[1 % c.length]!.y) / 2, on: true };
        pts = [m, ...c.slice(1), c[0]!];
        startIdx = 0;
      } else pts = [...c.slice(startIdx), ...c.slice(0, startIdx)];
      const first = pts[0]!;
      cmds.push({ op: "M", x: first.x, y: first.y });
      let ctrl: Pt | null = null;
      for (let i = 1; i <= pts.length; i++) {
        const q = pts[i % pts.length]!;
        if (q.on) {
          if (ctrl) cmds.push({ op: "Q", cx: ctrl.x, cy: ctrl.y, x: q.x, y: q.y });
          else if (i < pts.length) cmds.push({ op: "L", x: q.x, y: q.y });
          ctrl = null;
        } else {
          if (ctrl) {
            const mx = (ctrl.x + q.x) / 2, my = (ctrl.y + q.y) / 2;
            cmds.push({ op: "Q", cx: ctrl.x, cy: ctrl.y, x: mx, y: my });
          }
          ctrl = q;
        }
      }
      if (ctrl) cmds.push({ op: "Q", cx: ctrl.x, cy: ctrl.y, x: first.x, y: first.y });
      cmds.push({ op: "Z" });
    }
    return cmds;
  }

  const cache = new Map<string, Glyph | undefined>();
  return {
    unitsPerEm,
    has: (ch) => map.has(ch.codePointAt(0)!),
    glyph(ch) {
      if (cache.has(ch)) return cache.get(ch);
      const g = map.get(ch.codePointAt(0)!);
      let out: Glyph | undefined;
      if (g !== undefined) {
        const cs = contours(g, 0);
        let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
        for (const c of cs) for (const q of c) { x0 = Math.min(x0, q.x); y0 = Math.min(y0, q.y); x1 = Math.max(x1, q.x); y1 = Math.max(y1, q.y); }
        out = { advance: advance(g), cmds: toCmds(cs), bbox: cs.length ? [x0, y0, x1, y1] : [0, 0, 0, 0] };
      }
      cache.set(ch, out);
      return out;
    },
  };
}

let defaultFont: OutlineFont | null = null;

/** The bundled seal font, read once. */
export function sealFont(file = DEFAULT_FONT_PATH): OutlineFont {
  if (file !== DEFAULT_FONT_PATH) return parseTrueType(fs.readFileSync(file));
  return (defaultFont ??= parseTrueType(fs.readFileSync(file)));
}
