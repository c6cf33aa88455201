/**
 * 完整性 (DA/T 70 integrity): every file the metadata and manifests name is present, nothing is present they do
 * not name, Payload-Oxum matches, required metadata items are there, the event sequence has no gaps.
 */
import { isObj } from "./bag.js";
import { itemMaker, type CheckContext } from "./context.js";
import { bagInfoOne } from "./model.js";
import type { CheckItem } from "./report.js";
import { TAG_FILES } from "./scan.js";
import { isoTime } from "./authenticity.js";

export const REQUIRED_BAG_INFO = ["Source-Organization", "Sidian-Department-Code", "External-Identifier", "Bagging-Date", "Payload-Oxum", "Bag-Software-Agent"] as const;
/** Required of every case (a counter case has no matter, applicant or staff: docs/archives.md). */
export const REQUIRED_CASE = ["caseNo", "title", "department.name", "department.uscc", "openedAt", "closedAt", "result"] as const;
export const REQUIRED_FILE = ["name", "format", "size", "sha256", "sm3", "role"] as const;
/** Events every archived case has: it was opened, closed and archived. */
export const REQUIRED_EVENTS = ["created", "closed", "archived"] as const;

export function integrity(ctx: CheckContext): CheckItem[] {
  const { scan, model: m } = ctx;
  const item = itemMaker(ctx, "integrity");
  const items: CheckItem[] = [];
  const present = new Set(scan.source.files.map((f) => f.path));

  {
    const b = item("files-present", "元数据与清单所列文件齐全");
    for (const f of m.files) if (!present.has(f.path)) b.fail(f.path, `named in metadata/case.json files[${f.index}] but not in the package`);
    for (const [name, lines] of [["manifest-sha256.txt", m.manifests.sha256], ["manifest-sm3.txt", m.manifests.sm3]] as const) {
      for (const l of lines ?? []) if (!present.has(l.path)) b.fail(l.path, `listed in ${name} line ${l.line} but not in the package`);
    }
    for (const [p, why] of scan.readErrors) b.fail(p, `cannot be read to its end: ${why}`);
    items.push(b.done(`${m.files.length} file(s) named in the metadata, all present`));
  }
  {
    const b = item("no-extra-files", "无元数据或清单未列的多余文件");
    const inSha = new Set((m.manifests.sha256 ?? []).map((l) => l.path));
    const inSm3 = new Set((m.manifests.sm3 ?? []).map((l) => l.path));
    for (const p of m.payload) {
      const missing = [m.filesByPath.has(p) ? null : "metadata/case.json", m.manifests.sha256 && !inSha.has(p) ? "manifest-sha256.txt" : null, m.manifests.sm3 && !inSm3.has(p) ? "manifest-sm3.txt" : null].filter(Boolean);
      if (missing.length) b.fail(p, `present but not named in ${missing.join(", ")}`);
    }
    for (const l of m.manifests.sha256 ?? []) if (!l.path.startsWith("data/")) b.fail(l.path, "manifest-sha256.txt lists a file outside data/");
    items.push(b.done(`${m.payload.length} payload file(s), each named in the metadata and both manifests`));
  }
  {
    const b = item("payload-oxum", "总字节数与总件数相符（Payload-Oxum）");
    const oxum = bagInfoOne(m, "Payload-Oxum");
    const bytes = m.payload.reduce((s, p) => s + (scan.facts.get(p)?.size ?? scan.source.files.find((f) => f.path === p)!.size), 0);
    const count = m.payload.length;
    if (oxum === null) b.fail("bag-info.txt Payload-Oxum", "missing");
    else if (oxum !== `${bytes}.${count}`) b.fail("bag-info.txt Payload-Oxum", `says ${oxum}; the payload is ${bytes}.${count} (octets.count)`);
    if (m.caseJson && m.files.length !== count) b.fail("metadata/case.json files", `${m.files.length} file(s) named; the payload holds ${count}`);
    items.push(b.done(`${bytes} bytes in ${count} file(s), as Payload-Oxum says`));
  }
  {
    const b = item("required-metadata", "必填元数据项齐全");
    for (const t of TAG_FILES) if (t !== "metadata/log-keys.json" && !present.has(t)) b.fail(t, "required tag file missing");
    for (const k of REQUIRED_BAG_INFO) if (!m.bagInfo?.get(k)?.[0]) b.fail(`bag-info.txt ${k}`, "missing or empty");
    const c = m.caseJson && isObj(m.caseJson.case) ? m.caseJson.case : null;
    if (m.caseJson && !c) b.fail("metadata/case.json case", "missing");
    if (c) {
      for (const k of REQUIRED_CASE) {
        const v = k.split(".").reduce<unknown>((o, s) => (isObj(o) ? o[s] : undefined), c);
        if (v === undefined || v === null || v === "") b.fail(`metadata/case.json case.${k}`, "missing or empty");
      }
    }
    if (m.caseJson && m.caseJson.retention === undefined) b.fail("metadata/case.json retention", "missing");
    for (const f of m.files) {
      for (const k of REQUIRED_FILE) {
        const v = (f as unknown as Record<string, unknown>)[k];
        if (v === undefined || v === null || v === "") b.fail(`metadata/case.json files[${f.index}] ${f.path}`, `${k} missing`);
      }
    }
    items.push(b.done(`bag-info (${REQUIRED_BAG_INFO.length}), case (${REQUIRED_CASE.length}), retention and each file's ${REQUIRED_FILE.length} items present`));
  }
  {
    const b = item("event-sequence", "过程信息（事件序列）连续完整");
    const ev = m.events;
    if (!ev) b.fail("metadata/events.json", m.eventsProblems[0] ?? "missing");
    else {
      ev.forEach((e, i) => {
        if (e.raw.seq !== i + 1) b.fail(`metadata/events.json events[${i}]`, `seq is ${JSON.stringify(e.raw.seq)}, expected ${i + 1} (events numbered 1…n without gaps, in order)`);
      });
      for (const t of REQUIRED_EVENTS) if (!ev.some((e) => e.raw.type === t)) b.fail("metadata/events.json", `no ${t} event`);
      if (ev.length && ev[0]!.raw.type !== "created") b.fail("metadata/events.json events[0]", `the first event is ${JSON.stringify(ev[0]!.raw.type)}, not created`);
      for (let i = 1; i < ev.length; i++) {
        const a = isoTime(ev[i - 1]!.raw.at);
        const c = isoTime(ev[i]!.raw.at);
        if (a && c && c < a) b.fail(`metadata/events.json events[${i}]`, `at ${ev[i]!.raw.at} is before the event before it (${ev[i - 1]!.raw.at})`);
        const li = ev[i]!.raw.logIndex;
        const lp = ev[i - 1]!.raw.logIndex;
        if (typeof li === "number" && typeof lp === "number" && li <= lp) b.fail(`metadata/events.json events[${i}]`, `logIndex ${li} is not after the event before it (${lp})`);
      }
    }
    items.push(b.done(`${ev?.length ?? 0} event(s), numbered 1…${ev?.length ?? 0}, created → closed → archived, in log order`));
  }
  return items;
}
