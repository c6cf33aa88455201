/**
 * `sidian archive check PACKAGE` — DA/T 70 四性检测 of a package (a zip or a bag directory), offline: the trust
 * anchors and the log key come from the keys folder or flags, never from the package (DESIGN rule 6). Prints the
 * report (text, or JSON with --json; --report FILE writes the JSON too); progress on stderr for big packages.
 * Exit 0 every item passed (or is not applicable), 1 an item failed, 2 the package (or the trust) could not be read.
 */
import fs from "node:fs";
import { parseArgs } from "node:util";
import type { Config } from "../config.js";
import { AppError } from "../errors.js";
import { checkPackage, formatReport, openPackage, SourceError, type CheckReport, type Progress, type Stage, type Trust } from "../modules/archives/check/index.js";
import { formatVkey, parseVkey, type NoteVerifier } from "../modules/tlog/checkpoint.js";
import { createPdfPool } from "../pdf/pool.js";
import { loadKeyMaterial } from "../pki/index.js";
import crypto from "node:crypto";
import { readInputFile, trustBundleOf } from "./seals.js";

export const ARCHIVE_CHECK_USAGE = "usage: sidian archive check PACKAGE(.zip|dir) [--trust bundle.pem] [--log-key log.pub.pem|vkey] [--clamd ADDR] [--stage archiving|transfer|preservation] [--json] [--report FILE]";

/** The log key from a file: a C2SP vkey line, or an Ed25519 public key (PEM SPKI) named by `origin`. */
export function logKeyOf(text: string, origin: string, file: string): NoteVerifier {
  try {
    if (text.includes("-----BEGIN PUBLIC KEY-----")) return parseVkey(formatVkey(origin, crypto.createPublicKey(text)));
    return parseVkey(text.trim());
  } catch (e) {
    throw new AppError("TRUST_BUNDLE_INVALID", `The log key ${file} is neither a vkey nor an Ed25519 public key: ${(e as Error).message}.`);
  }
}

/** The trust of an offline check: flags, else the keys folder (root + issuing CA; the log's public key). */
export async function cliTrust(config: Config, o: { trust?: string | undefined; "log-key"?: string | undefined }): Promise<Trust> {
  const m = await loadKeyMaterial(config.keysDir, { publicOnly: true });
  const bundle = o.trust
    ? trustBundleOf(readInputFile(o.trust, "The trust bundle").toString("latin1"), `The trust bundle ${o.trust}`)
    : trustBundleOf(m.trustBundlePem, "The keys folder's trust bundle");
  const logKey = o["log-key"]
    ? logKeyOf(readInputFile(o["log-key"], "The log key").toString("utf8"), config.logOrigin, o["log-key"])
    : parseVkey(formatVkey(config.logOrigin, m.log.publicKey));
  return {
    anchors: bundle.filter((c) => c.issuer === c.subject),
    intermediates: bundle.filter((c) => c.issuer !== c.subject),
    knownTsaCerts: o.trust ? [] : [m.tsa.cert, ...m.previous.tsa.map((t) => t.cert)],
    logKey,
    logOrigin: config.logOrigin,
  };
}

/** Progress lines on stderr, at most one a second, only for packages over 64 MB or 200 files. */
export function progressPrinter(write: (s: string) => void): (p: Progress) => void {
  let last = 0;
  return (p) => {
    if (p.totalBytes < 64 * 1024 * 1024 && p.totalFiles < 200) return;
    const now = Date.now();
    if (now - last < 1000 && p.files < p.totalFiles) return;
    last = now;
    const mb = (n: number) => (n / 1024 / 1024).toFixed(0);
    write(`archive check: ${p.files}/${p.totalFiles} files, ${mb(p.bytes)}/${mb(p.totalBytes)} MB\n`);
  };
}

export async function archiveCheckCommand(config: Config, args: string[], io: { out: (s: string) => void; err: (s: string) => void }): Promise<number> {
  const { values: o, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: { trust: { type: "string" }, "log-key": { type: "string" }, clamd: { type: "string" }, stage: { type: "string" }, json: { type: "boolean" }, report: { type: "string" } },
  });
  const file = positionals[0];
  if (!file || positionals.length > 1) throw new AppError("VALIDATION_FAILED", ARCHIVE_CHECK_USAGE);
  const stage = (o.stage ?? "archiving") as Stage;
  if (!["archiving", "transfer", "preservation"].includes(stage)) throw new AppError("VALIDATION_FAILED", "--stage must be archiving, transfer or preservation");
  const trust = await cliTrust(config, o);
  const clamd = o.clamd ? { address: o.clamd, timeoutMs: config.clamd?.timeoutMs ?? 60_000 } : config.clamd;
  let source;
  try {
    source = await openPackage(file);
  } catch (e) {
    if (e instanceof SourceError || e instanceof AppError) {
      io.err(`sidian: the package ${file} cannot be read: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const pdf = createPdfPool({ threads: config.pdfWorkers, queue: config.pdfQueue, timeBudgetMs: config.pdfTimeBudgetMs, memoryMb: config.pdfWorkerMemoryMb });
  let report: CheckReport;
  try {
    report = await checkPackage(source, { trust, pdf, clamd, stage, progress: progressPrinter(io.err), agent: "sidian archive check", pdfConcurrency: config.pdfWorkers });
  } catch (e) {
    if (e instanceof SourceError) {
      io.err(`sidian: the package ${file} cannot be read: ${e.message}\n`);
      return 2;
    }
    throw e;
  } finally {
    await source.close();
    await pdf.close();
  }
  const json = JSON.stringify(report, null, 2) + "\n";
  if (o.report) fs.writeFileSync(o.report, json);
  io.out(o.json ? json : formatReport(report));
  return report.result === "pass" ? 0 : 1;
}
