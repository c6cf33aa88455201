/**
 * Transfer and receipt (移交接收, issue 19 §4; DA/T 70 at the transfer stage): an archive office receives a package
 * built elsewhere (`POST /archives:receive`), checks it before taking it, and keeps it only when every item passed.
 *
 * Order of work:
 *  1. the body is streamed into a private temporary file (the zip reader needs random access), counted against
 *     `maxBytes` (over it: ARCHIVE_PACKAGE_TOO_LARGE, nothing more is read) and hashed as it passes;
 *  2. the zip is opened with the bounded reader: not a zip (or empty) is ARCHIVE_PACKAGE_MALFORMED; a zip the reader
 *     refuses for an entry (`../`, absolute, link, duplicate, bomb, encryption) is ARCHIVE_PACKAGE_UNSAFE naming it;
 *  3. 四性检测 at the transfer stage with the service's trust; a package that fails any item is refused
 *     (ARCHIVE_PACKAGE_REFUSED, with the report) and the refusal is logged (`archive.receive-refused`);
 *  4. a package that passes is stored in sealed 1 MiB chunks under a `receiving` row, then one transaction logs
 *     `archive.received` and makes the receipt `received`; only then is the report answered (DESIGN rule 5).
 * One receipt per department and tag manifest: the same package again is ARCHIVE_ALREADY_RECEIVED.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { AppError } from "../../errors.js";
import type { PiiProtector } from "../../crypto/pii.js";
import type { PdfWork } from "../../pdf/pool.js";
import type { VerifyPdfDeps } from "../../pdf/verify.js";
import { uuidv7 } from "../../util/uuid7.js";
import { actorLabel, type Actor, type Clock, type TxHooks, type UnitOfWork } from "../kernel.js";
import { TLOG_EVENTS } from "../tlog/events.js";
import { checkPackage, CHECK_LIMITS, openZipSource, SourceError, type CheckReport, type ClamdConfig, type Trust } from "./check/index.js";
import type { ArchiveReceiptRecord, ArchiveReceiptRepos } from "./receipt-ports.js";

/** Stored chunk size (as archives: service.ts CHUNK_BYTES). */
const CHUNK = 1024 * 1024;

export interface ReceiveLog<RR> {
  append(repos: RR, tx: TxHooks, event: { type: string; subject: string; actor: string; data: Record<string, unknown> }): Promise<{ index: number }>;
}

export interface ReceiveDeps<RR extends ArchiveReceiptRepos> {
  uow: UnitOfWork<RR>;
  clock: Clock;
  log: ReceiveLog<RR>;
  pii: PiiProtector;
  trust: Trust;
  pdf: PdfWork;
  pdfDeps: VerifyPdfDeps;
  pdfConcurrency: number;
  clamd: ClamdConfig | null;
  agent: string;
  /** Largest package received, bytes (SIDIAN_ARCHIVE_RECEIVE_MAX_BYTES). */
  maxBytes: number;
}

/** What a receipt shows: the record without its report text and chunk count. */
export type ReceiptView = Omit<ArchiveReceiptRecord, "report" | "chunks">;

export interface Received {
  receipt: ReceiptView;
  report: CheckReport;
}

const view = (r: ArchiveReceiptRecord): ReceiptView => ({
  id: r.id, departmentId: r.departmentId, bagName: r.bagName, caseNo: r.caseNo, sourceOrganization: r.sourceOrganization, sourceArchiveId: r.sourceArchiveId,
  status: r.status, packageSha256: r.packageSha256, packageSize: r.packageSize, tagmanifestSha256: r.tagmanifestSha256, reportSha256: r.reportSha256,
  receivedBy: r.receivedBy, receivedAt: r.receivedAt, logIndex: r.logIndex,
});

const failedIds = (r: CheckReport) => r.items.filter((i) => i.result === "fail").map((i) => i.id);

/** The receiving archive office: an archivist client's department. */
function receiverOf(actor: Actor): string {
  if (actor.kind === "client" && actor.role === "archivist" && actor.departmentId) return actor.departmentId;
  throw new AppError("FORBIDDEN_ROLE", "Only an archive office (an archivist client bound to a department) receives packages.");
}

export function createArchiveReceiver<RR extends ArchiveReceiptRepos>(deps: ReceiveDeps<RR>) {
  const { uow, clock, pii } = deps;

  /** Step 1: the body into `file`, at most maxBytes; its SHA-256 and size. */
  async function spool(body: AsyncIterable<Uint8Array>, file: string): Promise<{ sha256: string; size: number }> {
    const h = crypto.createHash("sha256");
    const out = await fs.promises.open(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    let size = 0;
    try {
      for await (const c of body) {
        size += c.length;
        if (size > deps.maxBytes) throw new AppError("ARCHIVE_PACKAGE_TOO_LARGE", `The package is over ${deps.maxBytes} bytes.`, { details: { limit: deps.maxBytes } });
        h.update(c);
        await out.write(c);
      }
    } finally {
      await out.close();
    }
    return { sha256: h.digest("hex"), size };
  }

  async function logRefusal(actor: Actor, dept: string, pkg: { sha256: string; size: number }, report: CheckReport, reportSha256: string): Promise<number> {
    const { index } = await uow.write((repos, tx) => deps.log.append(repos, tx, {
      type: TLOG_EVENTS.archiveReceiveRefused, subject: `department:${dept}`, actor: actorLabel(actor),
      data: { departmentId: dept, stage: "transfer", packageSha256: pkg.sha256, packageSize: pkg.size, tagmanifestSha256: report.package.tagManifestSha256, failed: failedIds(report), reportSha256 },
    }));
    return index;
  }

  /** Step 4: the checked package into sealed chunks, then `received` with its log entry. */
  async function store(rec: ArchiveReceiptRecord, file: string, actor: Actor): Promise<ArchiveReceiptRecord> {
    await uow.write(async (repos) => {
      const prev = await repos.archiveReceipts.byTagmanifest(rec.departmentId, rec.tagmanifestSha256);
      if (prev?.status === "received") throw new AppError("ARCHIVE_ALREADY_RECEIVED", undefined, { details: { receiptId: prev.id } });
      // A receipt of the same package that stopped half-way (never logged) is dropped and made anew.
      if (prev) await repos.archiveReceipts.discard(prev.id);
      await repos.archiveReceipts.insert(rec);
    });
    const fh = await fs.promises.open(file, "r");
    let seq = 0;
    try {
      const buf = Buffer.allocUnsafe(CHUNK);
      for (let pos = 0; pos < rec.packageSize; ) {
        let n = 0;
        while (n < CHUNK && pos + n < rec.packageSize) {
          const r = await fh.read(buf, n, Math.min(CHUNK - n, rec.packageSize - pos - n), pos + n);
          if (r.bytesRead === 0) throw new AppError("INTERNAL", "The received package's spool file ended early.");
          n += r.bytesRead;
        }
        const sealed = pii.sealBytes(buf.subarray(0, n), `archive-receipt:${rec.id}:${seq}`);
        const s = seq++;
        // Relaxed: the final (synced) commit that logs the receipt makes these durable with it.
        await uow.write((repos) => repos.archiveReceipts.insertChunk(rec.id, s, sealed), { relaxed: true });
        pos += n;
      }
    } finally {
      await fh.close();
    }
    const chunks = seq;
    const logIndex = await uow.write(async (repos, tx) => {
      const { index } = await deps.log.append(repos, tx, {
        type: TLOG_EVENTS.archiveReceived, subject: `archive-receipt:${rec.id}`, actor: actorLabel(actor),
        data: {
          receiptId: rec.id, departmentId: rec.departmentId, stage: "transfer", bagName: rec.bagName, caseNo: rec.caseNo, sourceOrganization: rec.sourceOrganization,
          sourceArchiveId: rec.sourceArchiveId, packageSha256: rec.packageSha256, packageSize: rec.packageSize, tagmanifestSha256: rec.tagmanifestSha256, reportSha256: rec.reportSha256,
        },
      });
      await repos.archiveReceipts.markReceived(rec.id, { chunks, logIndex: index });
      return index;
    });
    return { ...rec, status: "received", chunks, logIndex };
  }

  /**
   * Receives a package: see the module comment for the order of work. `declaredLength` (Content-Length) over the
   * limit is refused before anything is read.
   */
  async function receive(actor: Actor, body: AsyncIterable<Uint8Array>, opts: { declaredLength?: number } = {}): Promise<Received> {
    const dept = receiverOf(actor);
    if (opts.declaredLength !== undefined && opts.declaredLength > deps.maxBytes) {
      throw new AppError("ARCHIVE_PACKAGE_TOO_LARGE", `The package is over ${deps.maxBytes} bytes.`, { details: { limit: deps.maxBytes } });
    }
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "sidian-receive-"));
    const file = path.join(dir, "package.zip");
    try {
      const pkg = await spool(body, file);
      if (pkg.size === 0) throw new AppError("ARCHIVE_PACKAGE_MALFORMED", "The body is empty: send the package zip.", { details: { reason: "empty" } });
      let src;
      try {
        src = await openZipSource(file, "package", CHECK_LIMITS);
      } catch (e) {
        if (e instanceof SourceError) throw new AppError("ARCHIVE_PACKAGE_MALFORMED", `The package is not a readable zip: ${e.message}`, { details: { reason: e.message } });
        throw e;
      }
      let report: CheckReport;
      let bag: { caseNo: string | null; org: string | null; archiveId: string | null };
      try {
        report = await checkPackage(src, {
          trust: deps.trust, pdf: deps.pdf, pdfDeps: deps.pdfDeps, pdfConcurrency: deps.pdfConcurrency, clamd: deps.clamd,
          stage: "transfer", now: () => clock.now(), agent: deps.agent,
        });
        bag = await bagFacts(src, report);
      } catch (e) {
        // A package the checker could not read at all (a tag file that is not where the listing said).
        if (e instanceof SourceError) throw new AppError("ARCHIVE_PACKAGE_MALFORMED", `The package cannot be read: ${e.message}`, { details: { reason: e.message } });
        throw e;
      } finally {
        await src.close();
      }
      const reportText = JSON.stringify(report);
      const reportSha256 = crypto.createHash("sha256").update(reportText).digest("hex");
      if (src.refusal || report.result !== "pass") {
        const logIndex = await logRefusal(actor, dept, pkg, report, reportSha256);
        const failed = failedIds(report);
        if (src.refusal) {
          throw new AppError("ARCHIVE_PACKAGE_UNSAFE", `The zip was refused at ${src.refusal.entry}: ${src.refusal.detail}`, {
            details: { entry: src.refusal.entry, reason: src.refusal.detail, item: src.refusal.item, failed, logIndex, report },
          });
        }
        throw new AppError("ARCHIVE_PACKAGE_REFUSED", `The package failed 四性检测 at receipt: ${failed.join(", ")}.`, { details: { failed, logIndex, report } });
      }
      const now = clock.now();
      const rec: ArchiveReceiptRecord = {
        id: uuidv7(now.getTime()), departmentId: dept, bagName: report.package.name, caseNo: bag.caseNo, sourceOrganization: bag.org, sourceArchiveId: bag.archiveId,
        status: "receiving", packageSha256: pkg.sha256, packageSize: pkg.size, tagmanifestSha256: report.package.tagManifestSha256!, chunks: null,
        report: reportText, reportSha256, receivedBy: actorLabel(actor), receivedAt: now, logIndex: null,
      };
      return { receipt: view(await store(rec, file, actor)), report };
    } finally {
      await fs.promises.rm(dir, { recursive: true, force: true });
    }
  }

  /** A receipt, for the archivists of the receiving department (anyone else: ARCHIVE_RECEIPT_NOT_FOUND). */
  async function visible(id: string, actor: Actor): Promise<ArchiveReceiptRecord> {
    const r = await uow.read.archiveReceipts.byId(id);
    const ok = r && r.status === "received" && (actor.kind === "system" || (actor.kind === "client" && actor.role === "archivist" && actor.departmentId === r.departmentId));
    if (!ok) throw new AppError("ARCHIVE_RECEIPT_NOT_FOUND");
    return r;
  }

  return {
    receive,
    async get(id: string, actor: Actor): Promise<Received> {
      const r = await visible(id, actor);
      return { receipt: view(r), report: JSON.parse(r.report) as CheckReport };
    },
    /** The received package as it arrived, streamed from its chunks (one in memory at a time). */
    async packageStream(id: string, actor: Actor): Promise<{ stream: Readable; size: number; sha256: string; filename: string }> {
      const r = await visible(id, actor);
      const chunks = r.chunks ?? 0;
      async function* read() {
        for (let seq = 0; seq < chunks; seq++) {
          const sealed = await uow.read.archiveReceipts.chunk(r.id, seq);
          if (!sealed) throw new AppError("INTERNAL", `Chunk ${seq} of received package ${r.id} is missing.`);
          yield pii.openBytes(sealed, `archive-receipt:${r.id}:${seq}`);
        }
      }
      return { stream: Readable.from(read(), { objectMode: false }), size: r.packageSize, sha256: r.packageSha256, filename: `${r.bagName}.zip` };
    },
  };
}

/** What bag-info.txt and case.json say about the sender (for the receipt's record). */
async function bagFacts(src: Awaited<ReturnType<typeof openZipSource>>, report: CheckReport): Promise<{ caseNo: string | null; org: string | null; archiveId: string | null }> {
  if (src.refusal || !src.files.some((f) => f.path === "bag-info.txt")) return { caseNo: report.package.caseNo, org: null, archiveId: null };
  const text = (await src.read("bag-info.txt", CHECK_LIMITS.maxTagFileBytes)).toString("utf8");
  const one = (label: string): string | null => {
    const vals = text.split("\n").filter((l) => l.startsWith(`${label}:`)).map((l) => l.slice(label.length + 1).trim());
    return vals.length === 1 && vals[0]!.length > 0 && vals[0]!.length <= 500 ? vals[0]! : null;
  };
  return { caseNo: report.package.caseNo, org: one("Source-Organization"), archiveId: one("Sidian-Archive-Id") };
}

export type ArchiveReceiver = ReturnType<typeof createArchiveReceiver>;
