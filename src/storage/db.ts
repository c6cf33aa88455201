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

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../migrations/sqlite");

/**
 * When a commit is made durable (fsync of the WAL):
 * - "full": inside COMMIT, by SQLite, on the calling thread (the event loop waits for the disk);
 * - "grouped": COMMIT writes the WAL without an fsync; the write's promise resolves only once an fdatasync of the
 *   WAL that started after that COMMIT has finished, on libuv's thread pool. Commits made while one fdatasync runs
 *   share the next one. Every answered write is as durable as with "full" and the event loop never waits for the
 *   disk; a reader may see a commit up to one fdatasync (about a millisecond) before it is durable;
 * - "normal": no fsync per commit (durable across a process crash, not a power cut).
 */
export type SyncMode = "full" | "grouped" | "normal";

export interface OpenOptions {
  sync?: SyncMode;
  /**
   * Page cache of the writer connection, MiB (default 256). Every write dirties random pages of the random-keyed
   * indexes (holder hashes, log leaf keys); kept here they are not read from the disk again, and reads use this
   * connection too whenever no write transaction is open (repos/index.ts). The cache grows only as pages are read.
   * The reader keeps SQLite's 64 MiB: SQLite drops a connection's cache whenever another connection has committed,
   * which under write load is every few milliseconds.
   */
  writerCacheMb?: number;
  /** Apply pending migrations (default true). */
  migrate?: boolean;
  /**
   * Who copies the WAL back into the database file: "background" (a worker thread, see checkpointer.ts; the
   * writer's own automatic checkpoint stays as a fallback at FALLBACK_PAGES) or "inline" (SQLite's default: the
   * committing call does it). Default "inline"; the service turns "background" on (SIDIAN_DB_CHECKPOINT).
   */
  checkpoint?: "background" | "inline";
  onCheckpointerError?: (e: unknown) => void;
  /** Told about every write transaction and every fdatasync (metrics). */
  observer?: StoreObserver;
}

/** What the store reports for metrics (the PostgreSQL store reports the same). */
export interface StoreObserver {
  /** A write transaction: seconds waiting for the write lock, seconds holding it (BEGIN to COMMIT), committed or not. */
  write?(waitSeconds: number, holdSeconds: number, ok: boolean): void;
  /** One fdatasync of the WAL (SIDIAN_DB_SYNC=grouped), or one commit's wait for it. */
  sync?(seconds: number, ok: boolean): void;
}

export interface SqliteHandle {
  readonly path: string;
  readonly writer: BetterSqlite3.Database;
  readonly reader: BetterSqlite3.Database;
  readonly w: Drizzle;
  readonly r: Drizzle;
  /** Runs `fn` in one write transaction; the only way to change data. */
  transaction<T>(fn: (tx: TxScope) => Promise<T> | T, opts?: WriteOptions): Promise<T>;
  /** Resolves once every commit made so far is durable (at once unless SyncMode is "grouped"). */
  durable(): Promise<void>;
  ping(): boolean;
  /** The background checkpointer, when one runs. */
  readonly checkpointer: Checkpointer | null;
  /** Write transactions waiting for the write lock now (the writer queue's depth). */
  writersWaiting(): number;
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
  /**
   * Where the store groups units of work into one transaction (PostgreSQL): runs when this unit's changes are kept
   * in the open transaction, before it commits; the next unit of the group sees them. afterCommit or (for every
   * unit of a group that fails) afterRollback follows. Absent where each unit commits on its own.
   */
  afterKept?(fn: () => void): void;
}

function pragmas(db: BetterSqlite3.Database, sync: SyncMode): void {
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
  /** Holders and waiters. */
  private users = 0;
  get busy(): boolean {
    return this.users > 0;
  }
  lock(): Promise<() => void> {
    let release!: () => void;
    this.users++;
    const next = new Promise<void>((r) => (release = () => {
      this.users--;
      r();
    }));
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
    writer.pragma(`cache_size = -${Math.round((opts.writerCacheMb ?? 256) * 1024)}`);
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
  // The WAL sits beside the real file (SQLite resolves symlinks). A store that could not use WAL (journal_mode
  // answered otherwise) is synced by SQLite inside COMMIT, as with "full".
  const wal = file !== ":memory:" && String(writer.pragma("journal_mode", { simple: true })).toLowerCase() === "wal";
  const flusher = sync === "grouped" && wal ? createFlusher(`${fs.realpathSync(file)}-wal`) : null;
  if (sync === "grouped" && !flusher) writer.pragma("synchronous = FULL");
  let closing: Promise<void> | null = null;

  const observer = opts.observer;
  let waiting = 0;

  async function transaction<T>(fn: (tx: TxScope) => Promise<T> | T, opts: WriteOptions = {}): Promise<T> {
    const t0 = observer ? performance.now() : 0;
    waiting++;
    let release: () => void;
    try {
      release = await mutex.lock();
    } finally {
      waiting--;
    }
    const t1 = observer ? performance.now() : 0;
    let ok = false;
    // Refused before anything is written: once an fdatasync has failed a commit could not be made durable, and
    // once closing has begun nothing new may start.
    const refusal = closing ? new AppError("NOT_READY", "The database is closing.") : flusher?.refusal();
    if (refusal) {
      release();
      throw refusal;
    }
    const relax = Boolean(opts.relaxed) && sync === "full";
    if (relax) writer.pragma("synchronous = NORMAL");
    const commits: Array<() => void> = [];
    const rollbacks: Array<() => void> = [];
    const scope: TxScope = { afterCommit: (f) => commits.push(f), afterRollback: (f) => rollbacks.push(f) };
    let result: T;
    try {
      writer.exec("BEGIN IMMEDIATE");
      try {
        result = await fn(scope);
        writer.exec("COMMIT");
      } catch (e) {
        if (writer.inTransaction) writer.exec("ROLLBACK");
        for (const f of rollbacks) f();
        throw e;
      }
      for (const f of commits) f();
      ok = true;
    } finally {
      if (relax) writer.pragma("synchronous = FULL");
      release();
      if (observer?.write) observer.write((t1 - t0) / 1000, (performance.now() - t1) / 1000, ok);
    }
    // Outside the write lock: the next transaction runs while this one's fdatasync does.
    if (flusher && !opts.relaxed) {
      if (!observer?.sync) await flusher.durable();
      else {
        const t2 = performance.now();
        try {
          await flusher.durable();
          observer.sync((performance.now() - t2) / 1000, true);
        } catch (e) {
          observer.sync((performance.now() - t2) / 1000, false);
          throw e;
        }
      }
    }
    return result;
  }

  return {
    path: file,
    writer,
    reader,
    w,
    r,
    transaction,
    durable: () => (flusher ? flusher.durable() : Promise.resolve()),
    ping() {
      if (flusher?.failed()) return false;
      try {
        return reader.prepare("SELECT 1 AS ok").get() !== undefined;
      } catch {
        return false;
      }
    },
    checkpointer,
    writersWaiting: () => waiting,
    close() {
      if (closing) return closing;
      const closeConnections = () => {
        flusher?.close();
        if (reader !== writer && reader.open) reader.close();
        if (writer.open) writer.close();
      };
      // Nothing in flight and no checkpointer: the connections are closed before this returns (callers may delete
      // the file next). Otherwise the write in flight finishes (later ones are refused), its fdatasync too.
      if (!checkpointer && !flusher?.busy() && !mutex.busy) {
        closing = Promise.resolve();
        closeConnections();
        return closing;
      }
      closing = (async () => {
        const release = await mutex.lock();
        try {
          await flusher?.idle();
          await checkpointer?.stop();
          closeConnections();
        } finally {
          release();
        }
      })();
      return closing;
    },
  };
}

/**
 * Group durability for SyncMode "grouped": fdatasync of the WAL on libuv's thread pool, at most one at a time.
 * `durable()` resolves once an fdatasync that started after the call has finished; callers arriving while one
 * runs share the next. A failed fdatasync is final: the kernel may have dropped the unwritten pages, so a later
 * success would prove nothing; every later write is refused before it begins and the readiness probe reports the
 * store as down. Failing to open the WAL (too many open files, say) fails only the writes waiting then: nothing
 * was lost, and the next fdatasync covers their commits too.
 */
function createFlusher(walPath: string) {
  let fd: number | null = null;
  let running: Promise<void> | null = null;
  let queued: Promise<void> | null = null;
  let failure: Error | null = null;
  let closed = false;

  function once(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (closed) {
        reject(new AppError("NOT_READY", "The database is closed."));
        return;
      }
      try {
        fd ??= fs.openSync(walPath, "r");
      } catch (e) {
        reject(new AppError("INTERNAL", "The database could not open its WAL to make a commit durable.", { cause: e }));
        return;
      }
      fs.fdatasync(fd, (e) => {
        if (!e) return resolve();
        failure ??= e;
        reject(new AppError("INTERNAL", "The database could not make a commit durable (fdatasync of the WAL failed).", { cause: e }));
      });
    });
  }

  function refusal(): AppError | undefined {
    return failure ? new AppError("INTERNAL", "The database could not make an earlier commit durable; restart the service.", { cause: failure }) : undefined;
  }

  function durable(): Promise<void> {
    const r = refusal();
    if (r) return Promise.reject(r);
    if (!running) {
      running = once().finally(() => (running = null));
      return running;
    }
    // The one running may have started before this caller's commit: wait for the next.
    queued ??= running.catch(() => undefined).then(() => {
      queued = null;
      return durable();
    });
    return queued;
  }

  return {
    durable,
    refusal,
    failed: () => failure !== null,
    busy: () => running !== null || queued !== null,
    /** Resolves when no fdatasync is running or waiting. */
    async idle(): Promise<void> {
      while (running || queued) await Promise.allSettled([running, queued]);
    },
    close(): void {
      closed = true;
      if (fd !== null) fs.closeSync(fd);
      fd = null;
    },
  };
}
