/**
 * `sidian log audit` and `sidian log verify-proof` (wired in src/main.ts). This file is an edge adapter, like the
 * HTTP routes: it is the only part of the module that opens the database (read-only) and files.
 */
import fs from "node:fs";
import { createPublicKey } from "node:crypto";
import BetterSqlite3 from "better-sqlite3";
import { createTlogAuditSource } from "../../storage/repos/tlog.js";
import { isPgUrl } from "../../storage/pg-url.js";
import { snapshotPgLog } from "../../storage/log-snapshot.js";
import { progressBar } from "../../cli/progress.js";
import { auditLog, type AuditReport } from "./audit.js";
import { formatVkey, keyIdFor, ALG_ED25519, parseNote, parseVkey, rawEd25519PublicKey, type NoteVerifier } from "./checkpoint.js";
import { verifyLogEvidence, type LogVerification } from "./verify.js";
import type { LogEvidence } from "./model.js";

type Out = { write(s: string): unknown };

/**
 * The log verifier from a vkey, or from a PEM public key plus the key name found in the stored checkpoints'
 * signature lines (the name whose key ID matches the key).
 */
function verifierFrom(opts: { vkey?: string; publicKeyPem?: string }, notes: string[]): NoteVerifier {
  if (opts.vkey) return parseVkey(opts.vkey);
  if (!opts.publicKeyPem) throw new Error("give the log's vkey or its public key (PEM)");
  const pub = createPublicKey(opts.publicKeyPem);
  const raw = rawEd25519PublicKey(pub);
  for (const n of notes) {
    for (const s of parseNote(n).sigs) {
      if (keyIdFor(s.name, ALG_ED25519, raw).equals(s.keyId)) return parseVkey(formatVkey(s.name, pub));
    }
  }
  // No checkpoint names the key: verify against the key under a placeholder name (every checkpoint will fail).
  return parseVkey(formatVkey("unknown", pub));
}

export interface LogAuditOptions {
  dbPath: string;
  vkey?: string;
  publicKeyPem?: string;
  /** Earlier log keys (PEM) replaced by `sidian keys rotate`: checkpoints they signed verify too. */
  previousPublicKeyPems?: readonly string[];
  /** Expected origin line (recommended: config.logOrigin). */
  origin?: string;
  /** Report (text, or JSON with `json: true`). Default stdout. */
  out?: Out;
  /** Progress bar. Default stderr; `null` for none. */
  err?: NodeJS.WriteStream | null;
  json?: boolean;
}

/** Recomputes the whole tree from the leaves and checks every node, checkpoint and consecutive consistency. */
export async function logAudit(opts: LogAuditOptions): Promise<AuditReport> {
  const out = opts.out ?? process.stdout;
  // PostgreSQL: a consistent snapshot of the log's tables, audited as an SQLite file.
  const snapshot = isPgUrl(opts.dbPath) ? await snapshotPgLog(opts.dbPath) : null;
  const db = snapshot ? snapshot.db : new BetterSqlite3(opts.dbPath, { readonly: true, fileMustExist: true });
  try {
    const src = createTlogAuditSource(db);
    const notes = src.checkpoints().map((c) => c.note);
    const verifier = verifierFrom(opts, notes);
    const previous = (opts.previousPublicKeyPems ?? []).map((pem) => verifierFrom({ publicKeyPem: pem }, notes));
    const total = src.leafCount();
    const bar = opts.err === null ? null : progressBar("auditing leaves", total, opts.err ?? process.stderr);
    const report = await auditLog(src, {
      verifier: [verifier, ...previous],
      ...(opts.origin !== undefined ? { origin: opts.origin } : {}),
      ...(bar ? { onProgress: (done: number) => bar.set(done) } : {}),
    });
    bar?.done();
    if (opts.json) {
      out.write(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      out.write(
        `${report.ok ? "OK" : "FAILED"}: ${report.leaves} leaves, ${report.nodes} nodes, ${report.checkpoints} checkpoints, ` +
          `${report.consistencyChecks} consistency checks in ${(report.ms / 1000).toFixed(2)} s\n` +
          `key ${verifier.name}+${verifier.keyId.toString("hex")}, root ${report.root}\n`,
      );
      for (const p of report.problems) out.write(`  ${p.kind}: ${p.detail}\n`);
      if (report.problemCount > report.problems.length) out.write(`  … and ${report.problemCount - report.problems.length} more\n`);
    }
    return report;
  } finally {
    db.close();
    snapshot?.dispose();
  }
}

export interface LogVerifyProofOptions {
  /** A JSON file holding the evidence bundle (`LogEvidence`, as returned with verdicts and by the proof route). */
  proofFile?: string;
  /** …or the bundle itself (JSON text or object). */
  json?: string | Partial<LogEvidence>;
  /** Checkpoint note to verify against (text); default: the bundle's own. */
  checkpoint?: string;
  checkpointFile?: string;
  /** The log's verifier key. */
  vkey: string;
  origin?: string;
  /** Leaf bytes file (canonical JSON) to check against the leaf hash. */
  leafFile?: string;
  out?: Out;
}

/** Checks an inclusion proof offline against a checkpoint and the log's public key. */
export async function logVerifyProof(opts: LogVerifyProofOptions): Promise<LogVerification> {
  const out = opts.out ?? process.stdout;
  let bundle: Partial<LogEvidence>;
  try {
    const raw = opts.proofFile ? fs.readFileSync(opts.proofFile, "utf8") : opts.json;
    if (raw === undefined) throw new Error("give a proof file or JSON");
    bundle = typeof raw === "string" ? (JSON.parse(raw) as Partial<LogEvidence>) : raw;
  } catch (e) {
    const v: LogVerification = { result: "INDETERMINATE", checks: [{ id: "tlog.inclusion", status: "INDETERMINATE", detail: `cannot read the proof: ${(e as Error).message}` }] };
    out.write(`${v.result}\n  ${v.checks[0]!.detail}\n`);
    return v;
  }
  const checkpoint = opts.checkpointFile ? fs.readFileSync(opts.checkpointFile, "utf8") : opts.checkpoint;
  const leaf = opts.leafFile ? fs.readFileSync(opts.leafFile) : bundle.leaf;
  const v = verifyLogEvidence(bundle, {
    logKey: opts.vkey,
    ...(opts.origin !== undefined ? { origin: opts.origin } : {}),
    ...(checkpoint !== undefined ? { checkpoint } : {}),
    ...(leaf !== undefined ? { leaf } : {}),
  });
  out.write(`${v.result}\n`);
  for (const c of v.checks) out.write(`  ${c.status.padEnd(13)} ${c.id}: ${c.detail}\n`);
  return v;
}
