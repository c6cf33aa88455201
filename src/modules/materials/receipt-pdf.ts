/**
 * The receipt as a PDF (on request): one A4 page naming what the receipt JWS names (identifier, type, media type,
 * size, SHA-256, SM3, source, registrant, time, log index, status) with a QR code of the verification address,
 * sealed (PAdES B-T) with the platform's seal (SIDIAN_SIGNING_SEAL). Without a platform seal that may stamp there
 * is no receipt PDF (MATERIAL_RECEIPT_SEAL_MISSING), never an unsealed one. Not stored: drawn and sealed per request
 * (each seal use is logged by the seals module).
 */
import { AppError } from "../../errors.js";
import { renderLicenceSheet } from "../../pdf/licence.js";
import { qrMatrix } from "../qr/render.js";
import type { Actor } from "../kernel.js";
import type { Seal, StampInput, StampResult } from "../seals/index.js";
import type { MaterialCore } from "./core.js";
import type { MaterialRecord, MaterialRepos } from "./ports.js";

const SOURCE_TEXT: Record<MaterialRecord["source"], string> = { approval: "审批系统", counter: "窗口（纸质原件扫描）", holder: "持有人本人", department: "部门系统生成" };
const SYSTEM: Actor = { kind: "system", name: "materials" };

export interface MaterialsReceiptPdf {
  render(rec: MaterialRecord): Promise<Buffer>;
}

export function createReceiptPdf<R extends MaterialRepos>(core: MaterialCore<R>, deps: {
  seals: { get(id: string): Promise<Seal>; stamp(sealId: string, input: StampInput, actor: Actor): Promise<StampResult> };
  platformSealId: string | null;
  devMark?: string;
}): MaterialsReceiptPdf {
  return {
    async render(rec) {
      if (!deps.platformSealId) throw new AppError("MATERIAL_RECEIPT_SEAL_MISSING");
      const seal = await deps.seals.get(deps.platformSealId).catch(() => null);
      if (!seal) throw new AppError("MATERIAL_RECEIPT_SEAL_MISSING");
      const v = await core.view(rec);
      const url = `${core.publicUrl}/log/entries/${rec.logIndex}`;
      const m = qrMatrix(url, "M");
      const rows = [
        { label: "材料标识", value: v.identifier },
        { label: "材料类型", value: `${v.typeName ?? v.typeCode}（${v.typeCode}）` },
        { label: "文件格式", value: `${v.mediaType}，${v.size} 字节` },
        { label: "SHA-256", value: v.sha256 },
        { label: "SM3", value: v.sm3 },
        { label: "来源", value: SOURCE_TEXT[rec.source] },
        { label: "登记方", value: v.registrant },
        { label: "持有人", value: v.holder },
        { label: "登记时间", value: v.registeredAt },
        { label: "日志序号", value: String(v.logIndex) },
        { label: "当前状态", value: v.statusText },
      ];
      const sheet = await renderLicenceSheet({
        title: "电子材料登记回执", rows, issuer: seal.name, issueDate: v.registeredAt.slice(0, 10), identifier: v.identifier,
        qr: { size: m.size, modules: m.modules, text: url }, createdAt: core.deps.clock.now(), ...(deps.devMark ? { devMark: deps.devMark } : {}),
      });
      const r = await deps.seals.stamp(seal.id, { pdf: sheet.pdf, placement: sheet.seal, reason: "电子材料登记回执" }, SYSTEM);
      return r.pdf;
    },
  };
}
