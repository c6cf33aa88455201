/**
 * `sidian db backup FILE [--force]` and `sidian db restore FILE [--force]` (src/storage/backup.ts does the work).
 *
 * Exit codes: 0 done; 1 the backup does not check out (restore: nothing was changed); 2 refused or did not start
 * (usage, a file or database in the way, a database in use, PostgreSQL).
 */
import type { Config } from "../config.js";
import { AppError } from "../errors.js";
import { logAudit } from "../modules/tlog/cli.js";
import { loadKeyMaterial } from "../pki/index.js";
import { backupHasLogKey, backupSqlite, checkBackup, restoreSqlite } from "../storage/backup.js";
import { copyStore, type CopyStoreResult } from "../storage/copy-store.js";
import { progressBar, type Progress } from "./progress.js";

interface Io {
  out: NodeJS.WritableStream;
  err: NodeJS.WriteStream;
}

function refused(io: Io, e: unknown): number {
  if (e instanceof AppError && (e.code === "CONFLICT" || e.code === "CONFIG_INVALID")) {
    io.err.write(`sidian: ${e.message}\n`);
    return 2;
  }
  throw e;
}

export async function dbBackupCommand(config: Config, file: string, opts: { force?: boolean }, io: Io = { out: process.stdout, err: process.stderr }): Promise<number> {
  let bar: Progress | null = null;
  try {
    const r = await backupSqlite(config.dbPath, file, {
      ...(opts.force ? { force: true } : {}),
      onProgress: ({ totalPages, remainingPages }) => {
        bar ??= progressBar("backing up pages", totalPages, io.err);
        bar.set(totalPages - remainingPages);
      },
    });
    (bar as Progress | null)?.done();
    io.out.write(`${JSON.stringify(r, null, 2)}\n`);
    io.out.write("Keep it with the keys folder (kek.b64 decrypts its personal data and department keys) and the configuration; see README, 'Backups'.\n");
    return 0;
  } catch (e) {
    return refused(io, e);
  }
}

export async function dbRestoreCommand(config: Config, file: string, opts: { force?: boolean }, io: Io = { out: process.stdout, err: process.stderr }): Promise<number> {
  const check = checkBackup(file);
  if (!check.ok) {
    io.err.write(`sidian: ${file} does not check out; nothing was changed:\n${check.problems.map((p) => `  - ${p}`).join("\n")}\n`);
    return 1;
  }
  io.out.write(`backup ${file}: integrity ok, ${check.migrations} migrations, ${check.logSize} log entries (newest checkpoint ${check.checkpointSize ?? "none"})\n`);
  // The backup's transparency log must verify against this deployment's log key: a copy of another deployment, or
  // one whose log was altered, is refused before anything changes.
  const m = await loadKeyMaterial(config.keysDir, { publicOnly: true });
  const audit = await logAudit({ dbPath: file, publicKeyPem: m.log.publicKeyPem, previousPublicKeyPems: m.previous.log.map((l) => l.publicKeyPem), origin: config.logOrigin, json: false, out: io.out, err: io.err });
  if (!audit.ok) {
    io.err.write("sidian: the backup's transparency log does not verify with this deployment's log key; nothing was changed\n");
    return 1;
  }
  // Without a checkpoint the audit saw no signature: the log key registered in the backup's log must be ours.
  if (check.checkpointSize === null && !backupHasLogKey(file, m.log.publicKey)) {
    io.err.write("sidian: the backup's log has no checkpoint and does not register this deployment's log key: it is not a backup of this deployment; nothing was changed\n");
    return 1;
  }
  try {
    const r = restoreSqlite(file, config.dbPath, opts.force ? { force: true } : {});
    io.out.write(`restored into ${r.dbPath}${r.previous ? `; the database it replaced is kept as ${r.previous}` : ""}\n`);
    io.out.write("Check it with `sidian log audit`; the service applies newer migrations when it starts.\n");
    return 0;
  } catch (e) {
    return refused(io, e);
  }
}

/**
 * `sidian db copy --from A --to B [--restart]` (storage/copy-store.ts does the work): a progress bar on stderr,
 * the checks' result as JSON on stdout, then `log audit` on the target with this deployment's log key.
 * Exit codes: 0 copied and checked; 1 the checks failed (the target keeps its copy mark: the service refuses it);
 * 2 refused or did not start (usage, a target that is not empty, an unreachable store).
 */
export async function dbCopyCommand(config: Config, from: string, to: string, opts: { restart?: boolean }, io: Io = { out: process.stdout, err: process.stderr }): Promise<number> {
  let bar: Progress | null = null;
  let r: CopyStoreResult;
  try {
    r = await copyStore(from, to, {
      ...(opts.restart ? { restart: true } : {}),
      onStart: (total, resumed) => {
        if (resumed) io.err.write("sidian: resuming an unfinished copy\n");
        bar = progressBar("copying rows", total, io.err);
      },
      onProgress: (done) => (bar as Progress | null)?.set(done),
    });
  } catch (e) {
    if (e instanceof AppError && (e.code === "CONFLICT" || e.code === "CONFIG_INVALID")) {
      io.err.write(`sidian: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  (bar as Progress | null)?.done(`${r.copiedNow} rows copied in ${r.seconds.toFixed(1)} s (${Math.round(r.copiedNow / Math.max(r.seconds, 1e-3))} rows/s)`);
  io.out.write(`${JSON.stringify(r, null, 2)}\n`);
  if (!r.ok) {
    io.err.write(`sidian: the copy does not check out; the target stays marked unfinished:\n${r.problems.map((p) => `  - ${p}`).join("\n")}\n`);
    return 1;
  }
  const m = await loadKeyMaterial(config.keysDir, { publicOnly: true }).catch(() => null);
  if (!m) {
    io.err.write(`sidian: copied and checked; no key material at ${config.keysDir}, so run \`sidian log audit\` on the target yourself\n`);
    return 0;
  }
  const audit = await logAudit({ dbPath: to, publicKeyPem: m.log.publicKeyPem, previousPublicKeyPems: m.previous.log.map((l) => l.publicKeyPem), origin: config.logOrigin, json: false, out: io.out, err: io.err });
  if (!audit.ok) {
    io.err.write("sidian: the target's transparency log does not audit with this deployment's log key\n");
    return 1;
  }
  return 0;
}
