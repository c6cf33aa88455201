/**
 * Embedded SQLite (better-sqlite3, WAL) behind drizzle-orm.
 *
 * Two connections to one file: a writer, used only inside `UnitOfWork.write` (serialised by an async mutex and
 * wrapped in BEGIN IMMEDIATE … COMMIT), and a reader for everything else. WAL lets the reader see the last
 * committed state while a write is in flight, so a request never observes another request's half-done change.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import BetterSqlite3 from "better-sqlite3";
import { drizzle, type BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { AppError } from "../errors.js";
import * as schema from "./schema/index.js";
import { FALLBACK_PAGES, startCheckpointer, type Checkpointer } from "./checkpointer.js";

export type Schema = typeof schema;
export type Drizzle = BetterSQLite3Database<Schema>;

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../migrations");

export interface OpenOptions {
  sync?: "full" | "normal";
  /** Apply pending migrations (default true). */
  migrate?: boolean;
  /**
   * Who copies the WAL back into the database file: "background" (a worker thread, see checkpointer.ts; the
   * writer's own automatic checkpoint stays as a fallback at FALLBACK_PAGES) or "inline" (SQLite's default: the
   * committing call does it). Default "inline"; the service turns "background" on (SIDIAN_DB_CHECKPOINT).
   */
  checkpoint?: "background" | "inline";
  onCheckpointerError?: (e: unknown) => void;
}

export interface SqliteHandle {
  readonly path: string;
  readonly writer: BetterSqlite3.Database;
  readonly reader: BetterSqlite3.Database;
  readonly w: Drizzle;
  readonly r: Drizzle;
  /** Runs `fn` in one write transaction; the only way to change data. */
  transaction<T>(fn: (tx: TxScope) => Promise<T> | T, opts?: WriteOptions): Promise<T>;
  ping(): boolean;
  /** The background checkpointer, when one runs. */
  readonly checkpointer: Checkpointer | null;
  /** Stops the checkpointer (if any) and closes both connections. */
  close(): Promise<void>;
}

export interface WriteOptions {
  /**
   * Commit without an fsync of its own (synchronous=NORMAL for this transaction only): the commit survives a
   * process crash, and is made durable against power loss by the next ordinary commit. For records whose loss
   * in a power cut is acceptable (page-scan statistics), never for trust events.
   */
  relaxed?: boolean;
}

/** What a transaction body can hook: run code after commit (publish caches) or after rollback (drop caches). */
export interface TxScope {
  afterCommit(fn: () => void): void;
  afterRollback(fn: () => void): void;
}

function pragmas(db: BetterSqlite3.Database, sync: "full" | "normal"): void {
  db.pragma("journal_mode = WAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  db.pragma(`synchronous = ${sync === "full" ? "FULL" : "NORMAL"}`);
  db.pragma("temp_store = MEMORY");
  db.pragma("cache_size = -65536");
}

/** A FIFO async mutex: write transactions never interleave on the writer connection. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const prev = this.tail;
    this.tail = prev.then(() => next);
    return prev.then(() => release);
  }
}

export function openSqlite(file: string, opts: OpenOptions = {}): SqliteHandle {
  const sync = opts.sync ?? "full";
  let writer: BetterSqlite3.Database;
  let reader: BetterSqlite3.Database;
  try {
    if (file !== ":memory:") fs.mkdirSync(path.dirname(file), { recursive: true });
    writer = new BetterSqlite3(file);
    pragmas(writer, sync);
    if (opts.migrate !== false) migrate(drizzle(writer, { schema }), { migrationsFolder: MIGRATIONS_DIR });
    // ":memory:" cannot be shared across connections: use the writer for reads too (tests only).
    reader = file === ":memory:" ? writer : new BetterSqlite3(file, { readonly: false });
    if (reader !== writer) pragmas(reader, sync);
  } catch (cause) {
    throw new AppError("CONFIG_INVALID", `Cannot open the database at ${file}: ${(cause as Error).message}`, { cause });
  }
  let checkpointer: Checkpointer | null = null;
  if (opts.checkpoint === "background" && file !== ":memory:") {
    writer.pragma(`wal_autocheckpoint = ${FALLBACK_PAGES}`);
    checkpointer = startCheckpointer(file, { ...(opts.onCheckpointerError ? { onError: opts.onCheckpointerError } : {}) });
  }
  const w = drizzle(writer, { schema });
  const r = drizzle(reader, { schema });
  const mutex = new Mutex();

  async function transaction<T>(fn: (tx: TxScope) => Promise<T> | T, opts: WriteOptions = {}): Promise<T> {
    const release = await mutex.lock();
    const relax = Boolean(opts.relaxed) && sync === "full";
    if (relax) writer.pragma("synchronous = NORMAL");
    const commits: Array<() => void> = [];
    const rollbacks: Array<() => void> = [];
    const scope: TxScope = { afterCommit: (f) => commits.push(f), afterRollback: (f) => rollbacks.push(f) };
    try {
      writer.exec("BEGIN IMMEDIATE");
      let result: T;
      try {
        result = await fn(scope);
        writer.exec("COMMIT");
      } catch (e) {
        if (writer.inTransaction) writer.exec("ROLLBACK");
        for (const f of rollbacks) f();
        throw e;
      }
      for (const f of commits) f();
      return result;
    } finally {
      if (relax) writer.pragma("synchronous = FULL");
      release();
    }
  }

  return {
    path: file,
    writer,
    reader,
    w,
    r,
    transaction,
    ping() {
      try {
        return reader.prepare("SELECT 1 AS ok").get() !== undefined;
      } catch {
        return false;
      }
    },
    checkpointer,
    close() {
      const closeConnections = () => {
        if (reader !== writer && reader.open) reader.close();
        if (writer.open) writer.close();
      };
      // Without a checkpointer the connections are closed before this returns (callers may delete the file next).
      if (!checkpointer) return Promise.resolve(closeConnections());
      return checkpointer.stop().then(closeConnections);
    },
  };
}
