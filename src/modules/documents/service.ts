/**
 * Licence documents (issue 6): a licence rendered as an A4 PDF and sealed (PAdES B-T, incremental) with the
 * issuing department's official seal (type 01); the use-annotated copy (加注件) as the same PDF with a visible
 * annotation banner and diagonal watermark, sealed the same way.
 *
 * Documents are stored content-addressed (SHA-256 of the sealed bytes) in the same transaction as the stamp
 * record and its log entry, and reused: a second request for the same licence (or copy link) returns the stored
 * bytes without rendering or stamping again. Without an active official seal there is no document
 * (LICENCE_SEAL_MISSING), never an unsealed one.
 */
import crypto from "node:crypto";
import { AppError } from "../../errors.js";
import { renderLicenceSheet, type LicenceSheet, type SheetRow } from "../../pdf/licence.js";
import type { CatalogueService } from "../catalogue/index.js";
import type { Actor, Clock, TxHooks, UnitOfWork } from "../kernel.js";
import type { AccessService } from "../access/index.js";
import type { LicencePayload, LicenceService, LicenceView } from "../licences/index.js";
import { qrMatrix } from "../qr/render.js";
import type { Seal, SealRepos, SealService } from "../seals/index.js";
import type { DocumentKind, DocumentRepos } from "./ports.js";

export interface DocumentsDeps<R extends DocumentRepos & SealRepos> {
  uow: UnitOfWork<R>;
  clock: Clock;
  catalogue: Pick<CatalogueService, "getType">;
  licences: Pick<LicenceService, "get" | "record" | "view">;
  access: Pick<AccessService, "copy">;
  seals: { officialSeal(departmentId: string): Promise<Seal | null>; stamp(sealId: string, input: Parameters<SealService["stamp"]>[1], actor: Actor, before?: (s: Seal) => void, within?: (repos: R, tx: TxHooks, r: { pdf: Buffer; record: { id: string } }) => Promise<void>): Promise<{ pdf: Buffer }> };
  publicUrl: string;
}

export interface LicenceDocument {
  pdf: Buffer;
  sha256: string;
  identifier: string;
  /** True when the stored bytes were reused. */
  stored: boolean;
}

/** Labels of the holder code by code type (GB/T 36903). */
const HOLDER_CODE_LABEL: Record<string, string> = {
  "001": "统一社会信用代码",
  "099": "组织机构代码",
  "111": "公民身份号码",
  "411": "护照号码", "412": "护照号码", "413": "护照号码", "414": "护照号码",
  "511": "台湾居民来往大陆通行证号码",
  "516": "港澳居民来往内地通行证号码",
  "999": "证件号码",
};

/** 2024-03-01 → 2024年3月1日 */
export function cnDate(d: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(d);
  return m ? `${m[1]}年${Number(m[2])}月${Number(m[3])}日` : d;
}

/** An instant in China Standard Time, to the minute: 2026年11月22日 09:00 */
export function cnDateTime(iso: string | Date): string {
  const t = new Date(new Date(iso).getTime() + 8 * 3600_000).toISOString();
  return `${cnDate(t.slice(0, 10))} ${t.slice(11, 16)}`;
}

export function createDocumentService<R extends DocumentRepos & SealRepos>(deps: DocumentsDeps<R>) {
  const { uow, clock } = deps;
  const publicUrl = deps.publicUrl.replace(/\/+$/, "");
  const inflight = new Map<string, Promise<LicenceDocument>>();

  async function sheet(data: LicencePayload, annotation?: LicenceSheet["annotation"]): Promise<LicenceSheet> {
    const type = await deps.catalogue.getType(data.typeCode);
    const rows: SheetRow[] = [
      { label: "证照编号", value: data.number },
      { label: "持证主体", value: data.holder.name },
      { label: HOLDER_CODE_LABEL[data.holder.codeType] ?? "证件号码", value: data.holder.code },
    ];
    for (const f of type.fields) {
      const v = data.fields[f.name];
      if (v === undefined) continue;
      rows.push({ label: f.label, value: f.type === "date" && typeof v === "string" ? cnDate(v) : String(v) });
    }
    rows.push(
      { label: "有效期限", value: `${cnDate(data.validFrom)} 至 ${data.validUntil ? cnDate(data.validUntil) : "长期"}` },
      { label: "发证机关", value: data.issuer.name },
      { label: "发证日期", value: cnDate(data.issueDate) },
    );
    const url = `${publicUrl}/v/l/${data.id}`;
    const m = qrMatrix(url, "M");
    return {
      title: data.name, rows, issuer: data.issuer.name, issueDate: cnDate(data.issueDate), identifier: data.id,
      qr: { size: m.size, modules: m.modules, text: url }, createdAt: clock.now(),
      ...(annotation ? { annotation } : {}),
    };
  }

  /** The department's official seal that may stamp now (see SealService.officialSeal), or LICENCE_SEAL_MISSING. */
  async function officialSeal(departmentId: string): Promise<Seal> {
    const seal = await deps.seals.officialSeal(departmentId);
    if (!seal) throw new AppError("LICENCE_SEAL_MISSING", "The issuing department has no active official seal (type 01); an administrator must create one.", { details: { departmentId } });
    return seal;
  }

  /** Stored document for `key`, or render + seal + store it (once per key in this process). */
  function obtain(key: string, kind: DocumentKind, lic: LicenceView, actor: Actor, annotation?: LicenceSheet["annotation"]): Promise<LicenceDocument> {
    let p = inflight.get(key);
    if (!p) {
      p = (async (): Promise<LicenceDocument> => {
        const hit = await uow.read.documents.byKey(key);
        if (hit) return { pdf: hit.bytes, sha256: hit.sha256, identifier: hit.identifier, stored: true };
        const seal = await officialSeal(lic.departmentId);
        const rendered = await renderLicenceSheet(await sheet(lic.data, annotation));
        let sha256 = "";
        const { pdf } = await deps.seals.stamp(seal.id, {
          pdf: rendered.pdf, placement: rendered.seal, reason: kind === "copy" ? "加注件" : "电子证照", location: lic.data.issuer.name,
        }, actor, undefined, async (repos, _tx, r) => {
          sha256 = crypto.createHash("sha256").update(r.pdf).digest("hex");
          await repos.documents.insert({ key, kind, identifier: lic.identifier, sha256, stampId: r.record.id, createdAt: clock.now() }, r.pdf);
        });
        return { pdf, sha256, identifier: lic.identifier, stored: false };
      })().finally(() => inflight.delete(key));
      inflight.set(key, p);
    }
    return p;
  }

  /** The sealed licence PDF, for the issuing department's issuers and administrators (FORBIDDEN_DEPARTMENT otherwise). */
  async function licenceDocument(identifier: string, actor: Actor): Promise<LicenceDocument> {
    const lic = await deps.licences.get(identifier, actor);
    return obtain(`licence:${lic.identifier}`, "licence", lic, actor);
  }

  /** The sealed licence PDF for its holder; another holder's licence is LICENCE_NOT_FOUND (no existence oracle). */
  async function holderDocument(identifier: string, actor: Actor): Promise<LicenceDocument> {
    if (actor.kind !== "holder") throw new AppError("FORBIDDEN_ROLE", "Only holders may do this.");
    const rec = await deps.licences.record(identifier);
    if (rec.holderHash !== actor.subjectHash) throw new AppError("LICENCE_NOT_FOUND");
    const lic = await deps.licences.view(rec);
    return obtain(`licence:${lic.identifier}`, "licence", lic, actor);
  }

  /** The 加注件 as a sealed PDF: the licence with the use annotation as a banner and a tiled watermark. */
  async function copyDocument(token: string, actor: Actor): Promise<LicenceDocument> {
    const c = await deps.access.copy(actor, token);
    const a = c.annotation;
    const lic = await deps.licences.view(await deps.licences.record(c.licence.identifier));
    const consumer = a.consumer.name;
    const annotation: NonNullable<LicenceSheet["annotation"]> = {
      heading: "加注件（仅供下列用途使用，他用无效）",
      lines: [
        `使用方：${consumer}（${a.consumer.clientId}）`,
        `办理事项：${a.matter.name}（${a.matter.code}）`,
        `用证事由：${a.useCause}`,
        `制作时间：${cnDateTime(a.madeAt)}（北京时间）`,
        `有效期至：${cnDateTime(a.validUntil)}（北京时间）`,
        `本件仅供${consumer}办理“${a.matter.name}”使用，有效期至${cnDateTime(a.validUntil)}，他用无效。`,
      ],
      watermark: `仅供${consumer}办理${a.matter.name}使用  ${cnDateTime(a.validUntil)}前有效`,
    };
    return obtain(`copy:${a.accessId}:${lic.identifier}:${a.validUntil}`, "copy", lic, actor, annotation);
  }

  return { licenceDocument, holderDocument, copyDocument };
}

export type DocumentService = ReturnType<typeof createDocumentService>;
