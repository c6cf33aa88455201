/**
 * 安全性 (DA/T 70 security): no executable or foreign files, a virus scan when a scanner (clamd) is configured
 * (not applicable otherwise), no path traversal, link or otherwise unsafe entries.
 */
import { itemMaker, type CheckContext } from "./context.js";
import { isExecutableExtension } from "./formats.js";
import type { CheckItem } from "./report.js";
import { isTagFile } from "./scan.js";

export function security(ctx: CheckContext): CheckItem[] {
  const { scan } = ctx;
  const item = itemMaker(ctx, "security");
  const items: CheckItem[] = [];
  {
    const b = item("file-types", "无可执行文件及外来文件");
    for (const f of scan.source.files) {
      const facts = scan.facts.get(f.path);
      if (facts?.sniffed === "executable") b.fail(f.path, `executable content: ${facts.sniffDetail}`);
      else if (isExecutableExtension(f.path)) b.fail(f.path, "a program or script by its extension");
      if (!f.path.startsWith("data/") && !isTagFile(f.path)) {
        b.fail(f.path, f.path === "fetch.txt" ? "fetch.txt (a bag that fetches content from URLs is not accepted)" : "a file outside data/ that is not part of the package layout");
      }
    }
    items.push(b.done(`${scan.source.files.length} file(s): no program, script or foreign file`));
  }
  {
    const b = item("virus-scan", "病毒检测（ClamAV clamd）");
    if (!ctx.scanner) items.push(b.notApplicable("no virus scanner configured (SIDIAN_CLAMD / --clamd)"));
    else {
      let clean = 0;
      for (const [p, v] of scan.virus) {
        if (v.status === "infected") b.fail(p, `infected: ${v.signature}`);
        else if (v.status === "error") b.fail(p, `not scanned: ${v.detail}`);
        else clean++;
      }
      items.push(b.done(`${clean} file(s) scanned clean by ${ctx.scanner}`));
    }
  }
  {
    const b = item("entries", "无路径穿越、链接或不安全条目");
    for (const p of scan.source.problems) b.fail(p.entry, p.detail);
    items.push(b.done(`${scan.source.files.length} entries: regular files with safe NFC names`));
  }
  return items;
}
