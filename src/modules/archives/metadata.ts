/**
 * The case-level metadata of a package: metadata/case.json and metadata/case.xml say the same thing (docs/archives.md
 * names every field). The XML follows GB/T 42727-2023's package structure (封装包 → 办件 → 文件实体 → 事件) with the
 * core items of DA/T 46-2009 / GB/T 36903 as they apply to a government-service case; each element carries the
 * DA/T 46 item it stands for (`项`) where there is one.
 *
 * Personal data (DESIGN rule 7), decided here: the applicant's name is kept (an archive must say whose case it was);
 * the applicant's code is kept masked (`410***********1234`) with the holder key (the keyed hash Sidian looks the
 * holder up by), never in full; the 经办 staff member's name and staff number are kept (acts of office).
 */
import type { DigestedFile } from "./bag.js";

export const RETENTION = {
  permanent: { code: "Y", zh: "永久" },
  "30y": { code: "D30", zh: "30年" },
  "10y": { code: "D10", zh: "10年" },
} as const;
export type Retention = keyof typeof RETENTION;

export interface CaseMeta {
  archiveId: string;
  caseId: string;
  caseNo: string;
  title: string;
  channel: string;
  matter: { code: string | null; name: string | null };
  department: { id: string; name: string; uscc: string };
  applicant: { name: string; codeType: string; codeMasked: string; holderKey: string } | null;
  staff: { name: string; id?: string } | null;
  openedAt: string;
  closedAt: string | null;
  result: string | null;
  archivedAt: string;
  retention: Retention;
  eventCount: number;
}

export const PACKAGE_FORMAT = "sidian-case-package/1";

export function caseJson(m: CaseMeta, files: readonly DigestedFile[]): unknown {
  const r = RETENTION[m.retention];
  return {
    format: PACKAGE_FORMAT,
    standards: ["GB/T 42727-2023", "DA/T 46-2009", "GB/T 36903", "DA/T 70-2018", "DA/T 97-2023", "RFC 8493", "PREMIS 3.0"],
    case: {
      archiveId: m.archiveId, id: m.caseId, caseNo: m.caseNo, title: m.title, channel: m.channel,
      matterCode: m.matter.code, matterName: m.matter.name,
      department: m.department,
      applicant: m.applicant, staff: m.staff,
      openedAt: m.openedAt, closedAt: m.closedAt, result: m.result, archivedAt: m.archivedAt,
    },
    retention: { period: m.retention, code: r.code, zh: r.zh },
    files: files.map((f) => ({
      path: f.path, name: f.name, format: f.mediaType, size: f.size, sha256: f.sha256, sm3: f.sm3, role: f.role, item: f.item,
    })),
    events: { file: "metadata/events.json", count: m.eventCount },
  };
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const el = (name: string, value: string | number | null | undefined, attrs: Record<string, string | number | null | undefined> = {}, indent = "    ") => {
  const a = Object.entries(attrs).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => ` ${k}="${esc(String(v))}"`).join("");
  return value === null || value === undefined ? `${indent}<${name}${a}/>\n` : `${indent}<${name}${a}>${esc(String(value))}</${name}>\n`;
};

export function caseXml(m: CaseMeta, files: readonly DigestedFile[]): string {
  const r = RETENTION[m.retention];
  let x = '<?xml version="1.0" encoding="UTF-8"?>\n';
  x += `<封装包 xmlns="urn:sidian:archive:case:1" 格式="${PACKAGE_FORMAT}" 封装="BagIt 1.0" 依据="GB/T 42727-2023">\n`;
  x += "  <办件>\n";
  x += el("档案标识", m.archiveId);
  x += el("办件标识", m.caseId);
  x += el("办件编号", m.caseNo, { 项: "M13" });
  x += el("题名", m.title, { 项: "M14" });
  x += el("事项编码", m.matter.code);
  x += el("事项名称", m.matter.name);
  x += el("受理渠道", m.channel);
  x += el("受理部门", m.department.name, { 统一社会信用代码: m.department.uscc, 标识: m.department.id, 项: "M32" });
  x += m.applicant
    ? el("申请人", m.applicant.name, { 证件类型: m.applicant.codeType, 证件号码: m.applicant.codeMasked, 持有人标识: m.applicant.holderKey })
    : el("申请人", null);
  x += m.staff ? el("经办人", m.staff.name, { 工号: m.staff.id }) : el("经办人", null);
  x += el("受理时间", m.openedAt, { 项: "M40" });
  x += el("办结时间", m.closedAt);
  x += el("办理结果", m.result);
  x += el("归档时间", m.archivedAt);
  x += el("保管期限", r.zh, { 代码: r.code, 项: "M29" });
  x += "  </办件>\n";
  x += `  <文件实体 数量="${files.length}">\n`;
  files.forEach((f, i) => {
    x += `    <文件 序号="${i + 1}" 角色="${esc(f.role)}" 来源="${esc(`${f.item.kind}:${f.item.ref}`)}">\n`;
    x += el("文件名", f.name, { 项: "M81" }, "      ");
    x += el("路径", f.path, {}, "      ");
    x += el("格式", f.mediaType, { 项: "M85" }, "      ");
    x += el("大小", f.size, { 单位: "字节", 项: "M88" }, "      ");
    x += el("摘要", f.sha256, { 算法: "SHA-256" }, "      ");
    x += el("摘要", f.sm3, { 算法: "SM3" }, "      ");
    x += "    </文件>\n";
  });
  x += "  </文件实体>\n";
  x += `  <事件 引用="metadata/events.json" 数量="${m.eventCount}"/>\n`;
  x += "</封装包>\n";
  return x;
}
