/**
 * The completion report (签署报告): drawn on the page reserved at send as the appearance of the final seal, so
 * that the signatures of the participants (made before it) stay valid and the report is covered by the seal.
 *
 * Text is real text (pdftotext extracts it): Chinese with the committed GB 2312 TrueType subset of WenQuanYi
 * Micro Hei (assets/fonts; embedded as a subset, Identity-H, with a ToUnicode map), ASCII with Helvetica (the
 * committed subset has no ASCII glyphs). The QR code links to the public log entry of the completion.
 */
import fs from "node:fs";
import zlib from "node:zlib";
import fontkit from "@pdf-lib/fontkit";
import { dict, name, PdfDict, PdfStream, str as strObj, type PdfObj, type PdfRef } from "../../pdf/objects.js";
import type { Appearance } from "../../pdf/sign.js";
import { padGlyphs } from "../../pdf/ttf.js";
import { DEFAULT_FONT_PATH } from "../seals/font.js";
import { qrMatrix } from "../qr/render.js";

export interface ReportParticipant {
  readonly no: number;
  readonly name: string;
  readonly role: string;
  readonly group: number;
  /** cloud | external */
  readonly method: string;
  readonly at: Date;
  readonly before: string;
  readonly after: string;
  readonly logIndex: number;
}

export interface ReportInput {
  readonly requestId: string;
  readonly title: string;
  readonly matterCode: string | null;
  readonly caseRef: string | null;
  readonly initiator: string;
  readonly createdAt: Date;
  readonly completedAt: Date;
  /** SHA-256 of the document as uploaded, and after the last signature (before this seal). */
  readonly documentSha256: string;
  readonly signedSha256: string;
  readonly completedLogIndex: number;
  readonly verifyUrl: string;
  readonly sealName: string;
  readonly participants: readonly ReportParticipant[];
}

type FkFont = ReturnType<typeof fontkit.create>;
let font: FkFont | undefined;
function cjk(): FkFont {
  font ??= fontkit.create(padGlyphs(fs.readFileSync(DEFAULT_FONT_PATH)));
  return font;
}

/** Beijing time (UTC+8), to the second. */
export function beijingTime(d: Date): string {
  return new Date(d.getTime() + 8 * 3_600_000).toISOString().replace("T", " ").slice(0, 19) + " (UTC+8)";
}

const ROLE: Record<string, string> = { signer: "签署人 signer", approver: "审批人 approver", copy: "抄送 copy" };
const AUTH: Record<string, string> = {
  cloud: "统一身份认证 + 通行密钥 (passkey), 云签名证书 cloud key",
  external: "统一身份认证, 自有密钥证书 own key (UKey / CA)",
};

function subsetBytes(subset: ReturnType<FkFont["createSubset"]>): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Uint8Array[] = [];
    subset.encodeStream().on("data", (d) => parts.push(d)).on("end", () => resolve(Buffer.concat(parts)));
  });
}

const esc = (s: string) => s.replace(/[\\()]/g, (c) => `\\${c}`);
const n2 = (x: number) => (Math.round(x * 100) / 100).toString();

/**
 * The report as an appearance covering the whole page `box` [x0 y0 x1 y1], with the seal's own appearance drawn
 * in it (its picture, the same ink as any stamp).
 */
export async function reportAppearance(r: ReportInput, box: readonly [number, number, number, number], seal: Appearance): Promise<Appearance> {
  const f = cjk();
  const subset = f.createSubset();
  const cids = new Map<number, { cid: number; width: number }>();
  const unicodeOf = new Map<number, number>();
  const ops: string[] = [];
  const [x0, y0, x1, y1] = box;
  const left = x0 + 48;
  let y = y1 - 60;

  /** One line of text at (x, y), switching between Helvetica (ASCII) and the CJK subset; returns nothing (the viewer advances). */
  function line(text: string, size: number, x = left, gray = 0.1) {
    let out = `BT ${n2(gray)} g ${n2(x)} ${n2(y)} Td`;
    let cur: "F1" | "F2" | null = null;
    let run = "";
    const flush = () => {
      if (!run) return;
      out += cur === "F1" ? ` (${run}) Tj` : ` <${run}> Tj`;
      run = "";
    };
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (cp >= 0x20 && cp < 0x7f) {
        if (cur !== "F1") {
          flush();
          cur = "F1";
          out += ` /F1 ${size} Tf`;
        }
        run += esc(ch);
        continue;
      }
      const g = f.hasGlyphForCodePoint(cp) ? f.glyphForCodePoint(cp) : null;
      if (!g) {
        if (cur !== "F1") {
          flush();
          cur = "F1";
          out += ` /F1 ${size} Tf`;
        }
        run += "?";
        continue;
      }
      let c = cids.get(g.id);
      if (!c) {
        c = { cid: subset.includeGlyph(g), width: Math.round((g.advanceWidth * 1000) / f.unitsPerEm) };
        cids.set(g.id, c);
        unicodeOf.set(c.cid, cp);
      }
      if (cur !== "F2") {
        flush();
        cur = "F2";
        out += ` /F2 ${size} Tf`;
      }
      run += c.cid.toString(16).padStart(4, "0");
    }
    flush();
    ops.push(`${out} ET`);
  }

  line("签署报告  Signing report", 18);
  y -= 16;
  ops.push(`0.6 G 0.8 w ${n2(left)} ${n2(y)} m ${n2(x1 - 48)} ${n2(y)} l S`);
  y -= 20;
  const facts: Array<[string, string]> = [
    ["文件 Document", r.title],
    ["签署流程 Request", r.requestId],
    ["事项 / 办件 Matter / case", `${r.matterCode ?? "-"} / ${r.caseRef ?? "-"}`],
    ["发起方 Initiator", r.initiator],
    ["创建 Created", beijingTime(r.createdAt)],
    ["完成 Completed", beijingTime(r.completedAt)],
    ["原文 SHA-256 (uploaded)", r.documentSha256],
    ["签署完成 SHA-256 (before seal)", r.signedSha256],
    ["完成日志序号 Completion log index", String(r.completedLogIndex)],
  ];
  for (const [k, v] of facts) {
    line(k, 8, left, 0.4);
    line(v, 9, left + 150);
    y -= 14;
  }
  y -= 8;
  line("签署方 Participants", 12);
  y -= 18;
  // Each participant: 5 lines; what does not fit above the QR/seal band is named in a closing line.
  const bottom = y0 + 200;
  let shown = 0;
  for (const p of r.participants) {
    if (y - 5 * 12 < bottom) break;
    line(`${p.no}. ${p.name}  ${ROLE[p.role] ?? p.role}  第${p.group}组 group ${p.group}`, 10);
    y -= 13;
    line(`认证 Authentication: ${AUTH[p.method] ?? p.method}`, 8, left + 14, 0.3);
    y -= 11;
    line(`时间 Time (北京时间 Beijing): ${beijingTime(p.at)}    日志序号 Log index: ${p.logIndex}`, 8, left + 14, 0.3);
    y -= 11;
    line(`签署前 SHA-256 before: ${p.before}`, 7, left + 14, 0.3);
    y -= 10;
    line(`签署后 SHA-256 after:  ${p.after}`, 7, left + 14, 0.3);
    y -= 16;
    shown++;
  }
  if (shown < r.participants.length) {
    line(`另有 ${r.participants.length - shown} 位签署方见证据文件 (evidence JSON): ${r.participants.length - shown} more in the evidence.`, 8);
  }

  // QR code to the public log entry of the completion, bottom right.
  const m = qrMatrix(r.verifyUrl, "M");
  const qs = 110;
  const mod = qs / (m.size + 8);
  const qx = x1 - 48 - qs, qy = y0 + 56;
  const rects: string[] = [];
  for (let row = 0; row < m.size; row++) {
    for (let col = 0; col < m.size; col++) {
      if (m.modules[row * m.size + col]) rects.push(`${n2(qx + (col + 4) * mod)} ${n2(qy + qs - (row + 5) * mod)} ${n2(mod)} ${n2(mod)} re`);
    }
  }
  ops.push(`q 0 g ${rects.join(" ")} f Q`);
  y = qy - 12;
  line("扫码核验 Scan to verify", 8, qx + 4, 0.3);
  y = y0 + 40;
  line(r.verifyUrl, 7, left, 0.4);

  // The seal, bottom left of the QR, over its caption.
  y = y0 + 150;
  line(`签章 Sealed by: ${r.sealName}`, 9, left);
  const sealOps = seal.compressed ? zlib.inflateSync(seal.content).toString("latin1") : seal.content.toString("latin1");
  const [a, b, c, d, e, ff] = seal.matrix;
  const cx = left + 230, cy = y0 + 120;
  ops.push(`q 1 0 0 1 ${n2(cx)} ${n2(cy)} cm ${a} ${b} ${c} ${d} ${e} ${ff} cm\n${sealOps}\nQ`);

  const content = zlib.deflateSync(Buffer.from(ops.join("\n"), "latin1"));
  const fontFile = await subsetBytes(subset);
  const widths = [...cids.values()].sort((p, q) => p.cid - q.cid);
  const toUnicode = [
    "/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap",
    "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def", "/CMapName /Adobe-Identity-UCS def", "/CMapType 2 def",
    "1 begincodespacerange", "<0000> <FFFF>", "endcodespacerange",
    ...chunks([...unicodeOf.entries()].sort((p, q) => p[0] - q[0]), 100).flatMap((ch) => [
      `${ch.length} beginbfchar`,
      ...ch.map(([cid, cp]) => `<${cid.toString(16).padStart(4, "0")}> <${Buffer.from(String.fromCodePoint(cp), "utf16le").swap16().toString("hex")}>`),
      "endbfchar",
    ]),
    "endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end",
  ].join("\n");
  const baseFont = name("SDRPRT+WenQuanYiMicroHei");
  const bbox = f.bbox;
  const sealRes = seal.resources;
  return {
    content, compressed: true, bbox: [x0, y0, x1, y1], matrix: [1, 0, 0, 1, 0, 0],
    extra: {
      count: 5,
      build(ref: (i: number) => PdfRef) {
        const objects: PdfObj[] = [
          new PdfStream(dict({ Length1: fontFile.length, Filter: name("FlateDecode") }), zlib.deflateSync(fontFile)),
          dict({
            Type: name("FontDescriptor"), FontName: baseFont, Flags: 4, FontBBox: [bbox.minX, bbox.minY, bbox.maxX, bbox.maxY].map((v) => Math.round((v * 1000) / f.unitsPerEm)),
            ItalicAngle: 0, Ascent: Math.round((f.ascent * 1000) / f.unitsPerEm), Descent: Math.round((f.descent * 1000) / f.unitsPerEm), CapHeight: 700, StemV: 80, FontFile2: ref(0),
          }),
          dict({
            Type: name("Font"), Subtype: name("CIDFontType2"), BaseFont: baseFont,
            CIDSystemInfo: dict({ Registry: strObj("Adobe"), Ordering: strObj("Identity"), Supplement: 0 }),
            FontDescriptor: ref(1), DW: 1000, W: widths.flatMap((w) => [w.cid, [w.width]]), CIDToGIDMap: name("Identity"),
          }),
          new PdfStream(dict({ Filter: name("FlateDecode") }), zlib.deflateSync(Buffer.from(toUnicode, "latin1"))),
          dict({ Type: name("Font"), Subtype: name("Type0"), BaseFont: baseFont, Encoding: name("Identity-H"), DescendantFonts: [ref(2)], ToUnicode: ref(3) }),
        ];
        const resources = new PdfDict();
        resources.set("Font", dict({ F1: dict({ Type: name("Font"), Subtype: name("Type1"), BaseFont: name("Helvetica"), Encoding: name("WinAnsiEncoding") }), F2: ref(4) }));
        const gs = sealRes?.get("ExtGState");
        if (gs) resources.set("ExtGState", gs);
        return { objects, resources };
      },
    },
  };
}

function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}
