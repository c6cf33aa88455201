/**
 * 可用性 (DA/T 70 usability): the metadata is readable, every file opens as its format says (PDF parses; PNG and
 * JPEG headers decode; JSON parses), formats are on the archival allow-list, nothing is encrypted or packed in a
 * proprietary or compressed container.
 */
import { utf8 } from "./bag.js";
import { itemMaker, type CheckContext } from "./context.js";
import { ARCHIVAL_FORMATS, fits, formatOfExtension } from "./formats.js";
import type { CheckItem } from "./report.js";

export function usability(ctx: CheckContext): CheckItem[] {
  const { scan, model: m } = ctx;
  const item = itemMaker(ctx, "usability");
  const items: CheckItem[] = [];
  const claimed = (p: string) => {
    const f = m.filesByPath.get(p)?.format;
    return typeof f === "string" ? f : formatOfExtension(p);
  };
  {
    const b = item("metadata-readable", "元数据可读（UTF-8，JSON/XML 可解析）");
    for (const [p, buf] of scan.tags) {
      if (p.startsWith("signature/")) continue;
      if (utf8(buf) === null) b.fail(p, "not UTF-8 text");
    }
    for (const p of m.caseJsonProblems.filter((x) => /not JSON|UTF-8|object/.test(x))) b.fail("metadata/case.json", p);
    for (const p of m.eventsProblems.filter((x) => /not JSON|UTF-8|object/.test(x))) b.fail("metadata/events.json", p);
    if (m.xmlProblems.length) b.fail("metadata/case.xml", m.xmlProblems[0]!);
    items.push(b.done(`${scan.tags.size} tag file(s) readable`));
  }
  {
    const b = item("content-readable", "内容数据可按其格式打开（PDF 可解析、图像可解码、JSON 可解析）");
    let n = 0;
    for (const p of m.payload) {
      const facts = scan.facts.get(p);
      if (!facts) continue;
      const fmt = claimed(p);
      const c = scan.content.get(p);
      if (fmt && !fits(fmt, facts.sniffed) && ARCHIVAL_FORMATS.has(fmt)) {
        b.fail(p, `claims ${fmt} but its bytes are ${facts.sniffDetail ?? facts.sniffed}`);
        continue;
      }
      if (c?.unreadable) b.fail(p, c.unreadable);
      else if (c?.notExamined) b.fail(p, `could not be opened: ${c.notExamined}`);
      else if ((fmt === "text/plain" || fmt === "application/xml" || fmt === "text/xml") && facts.sniffed === "unknown") b.fail(p, "not text");
      else n++;
    }
    items.push(b.done(`${n} file(s) open as their format says`));
  }
  {
    const b = item("formats", "内容数据格式在归档格式清单内");
    for (const p of m.payload) {
      const fmt = claimed(p);
      if (!fmt) b.fail(p, "no format (metadata names none and the extension is not known)");
      else if (!ARCHIVAL_FORMATS.has(fmt)) b.fail(p, `${fmt} is not on the archival allow-list (${[...ARCHIVAL_FORMATS].join(", ")})`);
    }
    items.push(b.done(`every payload file is ${[...new Set(m.payload.map(claimed))].filter(Boolean).join(", ") || "—"}`));
  }
  {
    const b = item("no-encryption", "无加密、无专有或压缩封装");
    for (const p of m.payload) {
      const c = scan.content.get(p);
      const facts = scan.facts.get(p);
      if (c?.encrypted) b.fail(p, c.encrypted);
      if (facts?.sniffed === "archive") b.fail(p, facts.sniffDetail ?? "a compressed archive");
      if (facts?.sniffed === "application/zip" && claimed(p) !== "application/ofd") b.fail(p, "a zip container (its content is not examined)");
    }
    items.push(b.done("no encrypted PDF, no compressed or proprietary container"));
  }
  return items;
}
