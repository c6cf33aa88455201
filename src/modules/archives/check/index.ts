/**
 * DA/T 70-2018 四性检测 of an archival package (a BagIt bag as docs/archives.md lays out): authenticity, integrity,
 * usability and security, one item per check. `checkPackage` never throws for a bad package (it reports); it
 * throws SourceError only when the package cannot be read at all (the CLI's exit 2).
 */
import { offlineVerifyDeps } from "../../seals/verifier.js";
import type { VerifyPdfDeps } from "../../../pdf/verify.js";
import type { PdfWork } from "../../../pdf/pool.js";
import { authenticity } from "./authenticity.js";
import { clamdVersion, type ClamdConfig } from "./clamd.js";
import type { CheckContext, Trust } from "./context.js";
import { integrity } from "./integrity.js";
import { CHECK_LIMITS, type CheckLimits } from "./limits.js";
import { buildModel } from "./model.js";
import { summarise, type CheckReport, type Stage } from "./report.js";
import { readTags, scanPackage, type Progress } from "./scan.js";
import { security } from "./security.js";
import type { PackageSource } from "./source.js";
import { usability } from "./usability.js";
import { isObj, parseJson } from "./bag.js";
import type { Refusal, ZipPackageSource } from "./zip-source.js";
import { dat70, type CheckItem, type Property } from "./report.js";

export { CHECK_LIMITS, type CheckLimits } from "./limits.js";
export { formatReport, type CheckReport, type CheckItem, type Stage, type ItemResult, type Property } from "./report.js";
export { openDirectorySource, openPackage, SourceError, type PackageSource } from "./source.js";
export type { Trust } from "./context.js";
export { openZipSource, type ZipPackageSource } from "./zip-source.js";
export type { ClamdConfig } from "./clamd.js";
export type { Progress } from "./scan.js";

export interface CheckOptions {
  trust: Trust;
  pdf: PdfWork;
  /** The PDF validator's dependencies (online: the service's registry); default offline from `trust`. */
  pdfDeps?: VerifyPdfDeps;
  pdfConcurrency?: number;
  clamd?: ClamdConfig | null;
  stage?: Stage;
  now?: () => Date;
  limits?: Partial<CheckLimits>;
  progress?: (p: Progress) => void;
  /** SM3 of big files on a second thread while SHA-256 runs here (default true). */
  sm3Thread?: boolean;
  /** Name of the checking software (report). */
  agent?: string;
}

export async function checkPackage(source: PackageSource, o: CheckOptions): Promise<CheckReport> {
  const started = Date.now();
  const refusal = (source as Partial<ZipPackageSource>).refusal;
  if (refusal) return refusedReport(source, refusal, o, started);
  const now = o.now ?? (() => new Date());
  const limits: CheckLimits = { ...CHECK_LIMITS, ...o.limits };
  const tags = await readTags(source, limits);
  // Formats claimed by the metadata steer which files are examined (PDF validation, image headers, JSON, JWS).
  const formats = new Map<string, string>();
  const cj = tags.tags.get("metadata/case.json");
  if (cj) {
    const r = parseJson(cj);
    if (isObj(r.value) && Array.isArray(r.value.files)) {
      for (const f of r.value.files) if (isObj(f) && typeof f.path === "string" && typeof f.format === "string" && !formats.has(f.path)) formats.set(f.path, f.format);
    }
  }
  const scanner = o.clamd ? (await clamdVersion(o.clamd)) ?? `clamd at ${o.clamd.address} (no version answer)` : null;
  const scan = await scanPackage(source, tags, {
    limits,
    pdf: o.pdf,
    pdfDeps: o.pdfDeps ?? offlineVerifyDeps([...o.trust.anchors, ...o.trust.intermediates], now),
    pdfConcurrency: o.pdfConcurrency ?? 2,
    clamd: o.clamd ?? null,
    ...(o.progress ? { progress: o.progress } : {}),
    claimedFormat: (p) => formats.get(p) ?? null,
    ...(o.sm3Thread === false ? { sm3Thread: false } : {}),
  });
  const model = buildModel(scan, limits);
  const ctx: CheckContext = { scan, model, trust: o.trust, limits, stage: o.stage ?? "archiving", now: now(), scanner };
  const items = [...(await authenticity(ctx)), ...integrity(ctx), ...usability(ctx), ...security(ctx)];
  const c = model.caseJson && isObj(model.caseJson.case) ? model.caseJson.case : null;
  return {
    result: items.some((i) => i.result === "fail") ? "fail" : "pass",
    stage: ctx.stage,
    checkedAt: ctx.now.toISOString(),
    package: {
      name: source.name,
      source: source.kind,
      caseNo: typeof c?.caseNo === "string" ? c.caseNo : null,
      payloadFiles: model.payload.length,
      payloadBytes: model.payload.reduce((s, p) => s + (scan.facts.get(p)?.size ?? 0), 0),
      tagManifestSha256: scan.facts.get("tagmanifest-sha256.txt")?.sha256 ?? null,
    },
    summary: summarise(items),
    items,
    checker: {
      agent: o.agent ?? "sidian",
      anchors: o.trust.anchors.map((a) => `${a.subject} (sha256 ${a.sha256})`),
      logKey: o.trust.logKey ? `${o.trust.logKey.name} ${o.trust.logKey.keyId.toString("hex")}` : null,
      virusScanner: scanner,
    },
    elapsedMs: Date.now() - started,
  };
}

/** Every item this checker has, in report order (the ids of a full report). */
export const ITEM_IDS: ReadonlyArray<[Property, string, string]> = [
  ["authenticity", "bag-structure", "信息包目录结构规范性（BagIt 1.0）"],
  ["authenticity", "payload-digests", "内容数据摘要值与清单一致（SHA-256、SM3）"],
  ["authenticity", "tag-manifest", "标签文件摘要值与标签清单一致"],
  ["authenticity", "signature", "信息包电子签名（CAdES，覆盖标签清单）有效且可信"],
  ["authenticity", "timestamp", "签名时间戳（RFC 3161）及续期时间戳有效"],
  ["authenticity", "signed-pdfs", "内容中签名/签章PDF验证通过（Sidian 验证器）"],
  ["authenticity", "jws", "电子证照（JWS）签名验证通过"],
  ["authenticity", "log-proofs", "过程事件存证：透明日志包含证明与签名检查点有效"],
  ["authenticity", "metadata-values", "元数据格式规范、取值在值域内、与 bag-info 一致"],
  ["authenticity", "file-attributes", "内容数据电子属性（大小、格式、摘要）与元数据一致"],
  ["integrity", "files-present", "元数据与清单所列文件齐全"],
  ["integrity", "no-extra-files", "无元数据或清单未列的多余文件"],
  ["integrity", "payload-oxum", "总字节数与总件数相符（Payload-Oxum）"],
  ["integrity", "required-metadata", "必填元数据项齐全"],
  ["integrity", "event-sequence", "过程信息（事件序列）连续完整"],
  ["usability", "metadata-readable", "元数据可读（UTF-8，JSON/XML 可解析）"],
  ["usability", "content-readable", "内容数据可按其格式打开（PDF 可解析、图像可解码、JSON 可解析）"],
  ["usability", "formats", "内容数据格式在归档格式清单内"],
  ["usability", "no-encryption", "无加密、无专有或压缩封装"],
  ["security", "file-types", "无可执行文件及外来文件"],
  ["security", "virus-scan", "病毒检测（ClamAV clamd）"],
  ["security", "entries", "无路径穿越、链接或不安全条目"],
];

/**
 * The report of a zip the reader refused as a whole (an unsafe, linked or duplicate entry, a bomb, encryption):
 * the item it fails names the entry; nothing inside was read, so every other item is not applicable and says so.
 */
function refusedReport(source: PackageSource, r: Refusal, o: CheckOptions, started: number): CheckReport {
  const stage = o.stage ?? "archiving";
  const counters: Record<Property, number> = { authenticity: 0, integrity: 0, usability: 0, security: 0 };
  const items: CheckItem[] = ITEM_IDS.map(([p, id, title]) => {
    const full = `${p}.${id}`;
    const base = { id: full, property: p, title, dat70: dat70(stage, p, ++counters[p]) };
    return full === r.item
      ? { ...base, result: "fail" as const, found: `the zip was refused: ${r.entry}: ${r.detail}`, failures: [{ subject: r.entry, detail: r.detail }] }
      : { ...base, result: "not_applicable" as const, found: `not checked: the zip was refused before its content was read (see ${r.item})`, failures: [] };
  });
  return {
    result: "fail", stage, checkedAt: (o.now ?? (() => new Date()))().toISOString(),
    package: { name: source.name, source: source.kind, caseNo: null, payloadFiles: 0, payloadBytes: 0, tagManifestSha256: null },
    summary: summarise(items), items,
    checker: { agent: o.agent ?? "sidian", anchors: o.trust.anchors.map((a) => `${a.subject} (sha256 ${a.sha256})`), logKey: o.trust.logKey ? `${o.trust.logKey.name} ${o.trust.logKey.keyId.toString("hex")}` : null, virusScanner: null },
    elapsedMs: Date.now() - started,
  };
}
