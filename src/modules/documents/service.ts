/**
 * Licence documents (issue 6): a licence rendered as an A4 PDF and sealed (PAdES B-T, incremental) with the
 * issuing department's official seal (type 01); the use-annotated copy (加注件) as the same PDF with a visible
 * annotation banner and diagonal watermark, sealed the same way.
 *
 * Documents are stored content-addressed (SHA-256 of the sealed bytes) in the same transaction as the stamp
 * record and its log entry, and reused: a second request for the same licence (or copy link) returns the stored
 * bytes without rendering or stamping again. Without an active official seal there is no document
 * (LICENCE_SEAL_MISSING), never an unsealed one.
 *
 * A stored document is a snapshot for one licence status: it records the effective status it was rendered for,
 * and once the licence is no longer valid (suspended, cancelled, deregistered, expired, revoked, superseded) the
 * next request renders, seals and stores a new one with a status banner and a diagonal status mark ("已吊销
 * REVOKED"). Printed copies of the earlier document stay verifiable: their QR code verifies the licence live.
 * Stored 加注件 PDFs are deleted by `sweepExpiredCopies` once their link has expired.
 *
 * The stored bytes are encrypted (AES-256-GCM with the personal-data key, bound to the document's SHA-256): a
 * licence PDF shows the holder's name and code in its text, a copy the use cause too (DESIGN rule 7). Documents
 * stored in the clear by an earlier version are encrypted by `encryptStoredDocuments` (run at start) and read as
 * they are until then.
 */
import crypto from "node:crypto";
import type { PiiProtector } from "../../crypto/pii.js";
import { AppError } from "../../errors.js";
import { renderLicenceSheet, type LicenceSheet, type SheetRow } from "../../pdf/licence.js";
import type { CatalogueService } from "../catalogue/index.js";
import { isDate, presentFields } from "../catalogue/fields.js";
import type { Actor, Clock, TxHooks, UnitOfWork } from "../kernel.js";
import type { AccessService } from "../access/index.js";
import { STATUS_TEXT, type LicencePayload, type LicenceService, type LicenceStatus, type LicenceView } from "../licences/index.js";
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
  /** Seals stored document bytes (personal data at rest). */
  pii: Pick<PiiProtector, "sealBytes" | "openBytes">;
  /** DEV key material: the mark every licence PDF carries (开发测试 · 非正式 DEV). */
  devMark?: string;
}

export interface LicenceDocument {
  pdf: Buffer;
  sha256: string;
  identifier: string;
  /** The licence's effective status the document was rendered for (a banner says so when it is not 01). */
  status: LicenceStatus;
  /** True when the stored bytes were reused. */
  stored: boolean;
}

/** Banner heading and diagonal mark for a licence that is no longer valid. */
export const STATUS_BANNER: Record<Exclude<LicenceStatus, "01">, { zh: string; en: string }> = {
  "02": { zh: "已暂扣", en: "SUSPENDED" },
  "03": { zh: "已撤销", en: "CANCELLED" },
  "04": { zh: "已注销", en: "DEREGISTERED" },
  "05": { zh: "已过期", en: "EXPIRED" },
  "07": { zh: "已吊销", en: "REVOKED" },
  "99": { zh: "已变更", en: "SUPERSEDED" },
};

/** How many expired copies one sweep deletes at most (the next sweep takes the rest). */
const SWEEP_LIMIT = 1000;
/** Documents stored in the clear encrypted per transaction by encryptStoredDocuments. */
const ENCRYPT_BATCH = 50;

/** The additional data a stored document's ciphertext is bound to: its content address. */
const blobAad = (sha256: string) => `document:${sha256}`;

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

  /** The status banner of a licence that is not valid now; undefined for a valid one. */
  function statusBanner(lic: LicenceView): LicenceSheet["status"] {
    if (lic.status === "01") return undefined;
    const b = STATUS_BANNER[lic.status];
    const lines = [`证照状态：${lic.status} ${STATUS_TEXT[lic.status]}`];
    if (lic.status === "99" && lic.supersededBy) lines.push(`已由新版本替代：${lic.supersededBy}`);
    if (lic.status === "05" && lic.validUntil) lines.push(`有效期已于${cnDate(lic.validUntil)}届满。`);
    lines.push("本文件不代表证照现行有效，证照的当前状态以扫描二维码核验的结果为准。");
    return { heading: `本证照${b.zh} / ${b.en}`, lines, mark: `${b.zh} ${b.en}` };
  }

  async function sheet(data: LicencePayload, annotation?: LicenceSheet["annotation"], status?: LicenceSheet["status"]): Promise<LicenceSheet> {
    const type = await deps.catalogue.getType(data.typeCode);
    const rows: SheetRow[] = [
      { label: "证照编号", value: data.number },
      { label: "持证主体", value: data.holder.name },
      { label: HOLDER_CODE_LABEL[data.holder.codeType] ?? "证件号码", value: data.holder.code },
    ];
    // Every signed field is shown: those the type still defines in its order and with its labels, then any the type
    // has dropped since the licence was signed, under their own names (the sheet shows what was signed).
    const signed = presentFields(data.fields);
    const defined = new Set<string>();
    for (const f of type.fields) {
      defined.add(f.name);
      const v = Object.hasOwn(signed, f.name) ? signed[f.name] : undefined;
      if (v === undefined) continue;
      rows.push({ label: f.label, value: f.type === "date" && typeof v === "string" && isDate(v) ? cnDate(v) : String(v) });
    }
    for (const [name, v] of Object.entries(signed)) if (!defined.has(name)) rows.push({ label: name, value: String(v) });
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
      ...(status ? { status } : {}),
      ...(deps.devMark ? { devMark: deps.devMark } : {}),
    };
  }

  /** `licence:<id>` while valid (as before statuses were recorded), `licence:<id>:<status>` otherwise. */
  const licenceKey = (lic: LicenceView) => `licence:${lic.identifier}${lic.status === "01" ? "" : `:${lic.status}`}`;

  /** The department's official seal that may stamp now (see SealService.officialSeal), or LICENCE_SEAL_MISSING. */
  async function officialSeal(departmentId: string): Promise<Seal> {
    const seal = await deps.seals.officialSeal(departmentId);
    if (!seal) throw new AppError("LICENCE_SEAL_MISSING", "The issuing department has no active official seal (type 01); an administrator must create one.", { details: { departmentId } });
    return seal;
  }

  /**
   * Stored document for `key`, or render + seal + store it (once per key in this process). Every key names the
   * licence's effective status (see licenceKey), so a status change after the first rendering gives a new
   * document with the status banner instead of the stored one that shows the licence as valid.
   */
  function obtain(key: string, kind: DocumentKind, lic: LicenceView, actor: Actor, annotation?: LicenceSheet["annotation"], expiresAt?: Date): Promise<LicenceDocument> {
    let p = inflight.get(key);
    if (!p) {
      p = (async (): Promise<LicenceDocument> => {
        const hit = await uow.read.documents.byKey(key);
        // Rows from before the status was recorded were rendered without a banner, i.e. as valid.
        if (hit && (hit.licenceStatus ?? "01") === lic.status) {
          const pdf = hit.encrypted ? deps.pii.openBytes(hit.bytes, blobAad(hit.sha256)) : hit.bytes;
          return { pdf, sha256: hit.sha256, identifier: hit.identifier, status: lic.status, stored: true };
        }
        const seal = await officialSeal(lic.departmentId);
        const rendered = await renderLicenceSheet(await sheet(lic.data, annotation, statusBanner(lic)));
        let sha256 = "";
        const { pdf } = await deps.seals.stamp(seal.id, {
          pdf: rendered.pdf, placement: rendered.seal, reason: kind === "copy" ? "加注件" : "电子证照", location: lic.data.issuer.name,
        }, actor, undefined, async (repos, _tx, r) => {
          sha256 = crypto.createHash("sha256").update(r.pdf).digest("hex");
          await repos.documents.insert({
            key, kind, identifier: lic.identifier, sha256, stampId: r.record.id, createdAt: clock.now(), licenceStatus: lic.status, expiresAt: expiresAt ?? null,
          }, deps.pii.sealBytes(r.pdf, blobAad(sha256)));
        });
        return { pdf, sha256, identifier: lic.identifier, status: lic.status, stored: false };
      })().finally(() => inflight.delete(key));
      inflight.set(key, p);
    }
    return p;
  }

  /** The sealed licence PDF, for the issuing department's issuers and administrators (LICENCE_NOT_FOUND otherwise). */
  async function licenceDocument(identifier: string, actor: Actor): Promise<LicenceDocument> {
    const lic = await deps.licences.get(identifier, actor);
    return obtain(licenceKey(lic), "licence", lic, actor);
  }

  /** The sealed licence PDF for its holder; another holder's licence is LICENCE_NOT_FOUND (no existence oracle). */
  async function holderDocument(identifier: string, actor: Actor): Promise<LicenceDocument> {
    if (actor.kind !== "holder") throw new AppError("FORBIDDEN_ROLE", "Only holders may do this.");
    const rec = await deps.licences.record(identifier);
    if (rec.holderHash !== actor.subjectHash) throw new AppError("LICENCE_NOT_FOUND");
    const lic = await deps.licences.view(rec);
    return obtain(licenceKey(lic), "licence", lic, actor);
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
    const key = `copy:${a.accessId}:${lic.identifier}:${a.validUntil}${lic.status === "01" ? "" : `:${lic.status}`}`;
    return obtain(key, "copy", lic, actor, annotation, new Date(a.validUntil));
  }

  /**
   * Deletes the stored 加注件 PDFs whose link has expired (their links only answer COPY_LINK_INVALID now), with
   * their blobs. The stamp records and log entries stay. Run periodically (context.ts) and by tests.
   */
  async function sweepExpiredCopies(limit = SWEEP_LIMIT): Promise<{ documents: number; blobs: number }> {
    const now = clock.now();
    // Not a trust event (nothing is logged): no fsync of its own.
    return uow.write((repos) => repos.documents.deleteExpiredCopies(now, limit), { relaxed: true });
  }

  /**
   * Encrypts the documents an earlier version stored in the clear, ENCRYPT_BATCH per transaction, until none is
   * left or `stopped()` says to stop (checked between transactions: the service is closing; the rest is done at
   * the next start). Returns how many were encrypted. Idempotent; run at start (context.ts): a read finds nothing
   * to do.
   */
  async function encryptStoredDocuments(opts: { stopped?: () => boolean } = {}): Promise<number> {
    let done = 0;
    for (;;) {
      if (opts.stopped?.() || (await uow.read.documents.clearBlobs(1)).length === 0) return done;
      done += await uow.write(async (repos) => {
        const rows = await repos.documents.clearBlobs(ENCRYPT_BATCH);
        for (const r of rows) await repos.documents.encryptBlob(r.sha256, deps.pii.sealBytes(r.bytes, blobAad(r.sha256)));
        return rows.length;
      });
    }
  }

  return { licenceDocument, holderDocument, copyDocument, sweepExpiredCopies, encryptStoredDocuments };
}

export type DocumentService = ReturnType<typeof createDocumentService>;
