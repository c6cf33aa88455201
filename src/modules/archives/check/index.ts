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

export { CHECK_LIMITS, type CheckLimits } from "./limits.js";
export { formatReport, type CheckReport, type CheckItem, type Stage, type ItemResult, type Property } from "./report.js";
export { openDirectorySource, openPackage, SourceError, type PackageSource } from "./source.js";
export type { Trust } from "./context.js";
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
  /** Name of the checking software (report). */
  agent?: string;
}

export async function checkPackage(source: PackageSource, o: CheckOptions): Promise<CheckReport> {
  const started = Date.now();
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
