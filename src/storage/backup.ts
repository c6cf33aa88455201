/**
 * Backup and restore of the embedded SQLite store (`sidian db backup FILE`, `sidian db restore FILE`).
 *
 * Backup uses SQLite's online backup API (better-sqlite3 `.backup()`) from a connection of its own, so it runs
 * beside a live service: the copy is one consistent state of the database (the state of one read transaction).
 * SQLite restarts a backup whose source another connection changed between two steps; under steady write load the
 * step grows (×4 after every restart) until the rest of the file is copied in one step, which a writer cannot
 * interrupt (WAL: the backup's read transaction does not block the service's writes). The copy is written beside the
 * target as `FILE.partial-<pid>`, switched to rollback-journal mode (one self-contained file), checked with
 * `PRAGMA quick_check`, fsynced and only then renamed to FILE: an interrupted backup leaves no FILE.
 *
 * Restore checks the backup first (SQLite header, `PRAGMA integrity_check`, migrations this version knows; the CLI
 * also audits its transparency log against the deployment's log key), refuses to replace an existing database
 * unless forced and always refuses one that a running process has open (an exclusive lock cannot be taken), keeps
 * the replaced database beside it as `<db>.before-restore-<time>` (with its -wal), and puts the copy in place by
 * rename.
 *
 * What a backup does not hold: the keys folder (certificates, kek.b64 — without the KEK the personal data and the
 * wrapped department keys in the backup cannot be read), keys on a PKCS#11 token, and the configuration
 * (SIDIAN_PUBLIC_URL is in every certificate and QR code). Documents (licence PDFs, 加注件) are inside the database.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { AppError } from "../errors.js";
import { MIGRATIONS_DIR } from "./db.js";

const SQLITE_MAGIC = Buffer.from("SQLite format 3\0", "latin1");

export interface BackupProgress {
  readonly totalPages: number;
  readonly remainingPages: number;
}

export interface BackupResult {
  readonly file: string;
  readonly bytes: number;
  readonly pages: number;
  /** SHA-256 of the backup file, hex. */
  readonly sha256: string;
  /** Times SQLite restarted the copy because the database changed meanwhile. */
  readonly restarts: number;
  /** Leaves in the transparency log of the copy, and the size of its newest checkpoint. */
  readonly logSize: number;
  readonly checkpointSize: number | null;
  readonly ms: number;
}

function fsyncFile(file: string): void {
  const fd = fs.openSync(file, "r+");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // not supported everywhere (and not needed where it is not)
  }
}

function sha256File(file: string): string {
  const h = crypto.createHash("sha256");
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.alloc(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest("hex");
}

function logFacts(db: BetterSqlite3.Database): { logSize: number; checkpointSize: number | null } {
  const has = (t: string) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t) !== undefined;
  const logSize = has("tlog_leaves") ? (db.prepare("SELECT count(*) AS n FROM tlog_leaves").get() as { n: number }).n : 0;
  const cp = has("tlog_checkpoints") ? (db.prepare("SELECT max(size) AS s FROM tlog_checkpoints").get() as { s: number | null }).s : null;
  return { logSize, checkpointSize: cp };
}

/** Copies the database at `dbPath` to `file` (see the module comment). */
export async function backupSqlite(dbPath: string, file: string, opts: { force?: boolean; onProgress?: (p: BackupProgress) => void } = {}): Promise<BackupResult> {
  const t0 = performance.now();
  if (dbPath === ":memory:") throw new AppError("CONFIG_INVALID", "An in-memory database cannot be backed up.");
  if (!fs.existsSync(dbPath)) throw new AppError("CONFIG_INVALID", `No database at ${dbPath}.`);
  const target = path.resolve(file);
  if (target === path.resolve(dbPath)) throw new AppError("CONFIG_INVALID", "The backup file cannot be the database itself.");
  if (!fs.existsSync(path.dirname(target))) throw new AppError("CONFIG_INVALID", `The folder ${path.dirname(target)} does not exist.`);
  if (fs.existsSync(target) && !opts.force) throw new AppError("CONFLICT", `${target} exists; pass --force to replace it.`);
  const partial = `${target}.partial-${process.pid}`;
  fs.rmSync(partial, { force: true });

  const src = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
  let restarts = 0;
  try {
    src.pragma("busy_timeout = 5000");
    let rate = 256;
    let lastRemaining = Infinity;
    await src.backup(partial, {
      progress: ({ totalPages, remainingPages }) => {
        // A restart shows as more pages left than the step before left: copy bigger steps, at the end all at once.
        if (remainingPages > lastRemaining) {
          restarts++;
          rate = rate >= totalPages ? 0x7fffffff : rate * 4;
        }
        lastRemaining = remainingPages;
        opts.onProgress?.({ totalPages, remainingPages });
        return rate;
      },
    });
  } catch (e) {
    fs.rmSync(partial, { force: true });
    throw new AppError("INTERNAL", `The backup failed: ${(e as Error).message}`, { cause: e });
  } finally {
    src.close();
  }

  let facts: { logSize: number; checkpointSize: number | null };
  let pages: number;
  try {
    const copy = new BetterSqlite3(partial, { fileMustExist: true });
    try {
      // One self-contained file (no -wal beside it); the service switches it back to WAL when it opens it.
      copy.pragma("journal_mode = DELETE");
      const check = copy.pragma("quick_check", { simple: true });
      if (check !== "ok") throw new Error(`quick_check: ${String(check)}`);
      facts = logFacts(copy);
      pages = Number(copy.pragma("page_count", { simple: true }));
    } finally {
      copy.close();
    }
    fsyncFile(partial);
    fs.renameSync(partial, target);
    fsyncDir(path.dirname(target));
  } catch (e) {
    fs.rmSync(partial, { force: true });
    throw new AppError("INTERNAL", `The backup copy does not check out: ${(e as Error).message}`, { cause: e });
  }
  return {
    file: target, bytes: fs.statSync(target).size, pages, sha256: sha256File(target), restarts,
    logSize: facts.logSize, checkpointSize: facts.checkpointSize, ms: Math.round(performance.now() - t0),
  };
}

export interface BackupCheck {
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly migrations: number;
  readonly logSize: number;
  readonly checkpointSize: number | null;
}

/** Migrations this version knows: their `when` stamps from the drizzle journal. */
function knownMigrations(): number[] {
  try {
    const j = JSON.parse(fs.readFileSync(path.join(MIGRATIONS_DIR, "meta", "_journal.json"), "utf8")) as { entries: Array<{ when: number }> };
    return j.entries.map((e) => e.when);
  } catch {
    return [];
  }
}

/** Checks a backup file without changing it: SQLite header, full integrity check, known migrations. */
export function checkBackup(file: string): BackupCheck {
  const problems: string[] = [];
  const none = { ok: false, migrations: 0, logSize: 0, checkpointSize: null };
  let head: Buffer;
  try {
    const fd = fs.openSync(file, "r");
    head = Buffer.alloc(100);
    fs.readSync(fd, head, 0, 100, 0);
    fs.closeSync(fd);
  } catch (e) {
    return { ...none, problems: [`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`] };
  }
  if (!head.subarray(0, 16).equals(SQLITE_MAGIC)) return { ...none, problems: [`${file} is not an SQLite database`] };
  if (head[18] === 2 || head[19] === 2) problems.push("the file is in WAL mode: a backup made by `sidian db backup` is not; its -wal file may be missing");
  let db: BetterSqlite3.Database;
  try {
    db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
  } catch (e) {
    return { ...none, problems: [`${file} cannot be opened: ${(e as Error).message}`] };
  }
  try {
    const rows = db.pragma("integrity_check") as Array<{ integrity_check: string }>;
    if (rows.length !== 1 || rows[0]!.integrity_check !== "ok") problems.push(`integrity_check: ${rows.slice(0, 5).map((r) => r.integrity_check).join("; ")}`);
    const hasMig = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'").get() !== undefined;
    let migrations = 0;
    if (!hasMig) problems.push("no migrations table: not a Sidian database");
    else {
      const applied = (db.prepare("SELECT created_at FROM __drizzle_migrations ORDER BY created_at").all() as Array<{ created_at: number }>).map((r) => Number(r.created_at));
      migrations = applied.length;
      const known = new Set(knownMigrations());
      const unknown = applied.filter((w) => !known.has(w));
      if (unknown.length) problems.push(`${unknown.length} migration(s) this version does not know: the backup comes from a newer version of Sidian`);
    }
    const facts = logFacts(db);
    return { ok: problems.length === 0, problems, migrations, ...facts };
  } catch (e) {
    return { ...none, problems: [...problems, `the backup cannot be read: ${(e as Error).message}`] };
  } finally {
    db.close();
  }
}

/** Does the backup's log register this log key (the `key.registered` event every deployment logs at its first start)? */
export function backupHasLogKey(file: string, logPublicKey: crypto.KeyObject): boolean {
  const sha = crypto.createHash("sha256").update(logPublicKey.export({ type: "spki", format: "der" })).digest("hex");
  const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
  try {
    if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'registered_keys'").get() === undefined) return false;
    return db.prepare("SELECT 1 FROM registered_keys WHERE role = 'log' AND sha256 = ?").get(sha) !== undefined;
  } finally {
    db.close();
  }
}

/** Is some process using this database? (An exclusive lock cannot be had while any connection has it open.) */
function inUse(dbPath: string): boolean {
  let db: BetterSqlite3.Database | undefined;
  try {
    db = new BetterSqlite3(dbPath, { fileMustExist: true, timeout: 0 });
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
    db.exec("COMMIT");
    return false;
  } catch (e) {
    return (e as { code?: string }).code === "SQLITE_BUSY" || (e as { code?: string }).code === "SQLITE_LOCKED";
  } finally {
    db?.close();
  }
}

export interface RestoreResult {
  readonly dbPath: string;
  /** Where the replaced database was moved, or null when there was none. */
  readonly previous: string | null;
}

/** Puts a checked backup in place of the database at `dbPath` (see the module comment). */
export function restoreSqlite(file: string, dbPath: string, opts: { force?: boolean; now?: Date } = {}): RestoreResult {
  if (dbPath === ":memory:") throw new AppError("CONFIG_INVALID", "Cannot restore into an in-memory database.");
  const src = path.resolve(file);
  const dst = path.resolve(dbPath);
  if (src === dst) throw new AppError("CONFIG_INVALID", "The backup is the database itself.");
  const exists = fs.existsSync(dst);
  if (exists) {
    if (!opts.force) throw new AppError("CONFLICT", `A database is at ${dst}; pass --force to replace it (it is kept beside it as ${path.basename(dst)}.before-restore-…).`);
    if (inUse(dst)) throw new AppError("CONFLICT", `The database at ${dst} is open in a running process: stop the service first.`);
  }
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  const partial = `${dst}.restore-${process.pid}`;
  fs.copyFileSync(src, partial);
  fsyncFile(partial);
  let previous: string | null = null;
  if (exists) {
    previous = `${dst}.before-restore-${(opts.now ?? new Date()).toISOString().replace(/[:.]/g, "-")}`;
    fs.renameSync(dst, previous);
    if (fs.existsSync(`${dst}-wal`)) fs.renameSync(`${dst}-wal`, `${previous}-wal`);
    fs.rmSync(`${dst}-shm`, { force: true });
  }
  fs.renameSync(partial, dst);
  fsyncDir(path.dirname(dst));
  return { dbPath: dst, previous };
}
