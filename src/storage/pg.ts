/**
 * PostgreSQL store (SIDIAN_DB=postgres://…): a bounded node-postgres pool behind the same `Sql` and unit of work
 * as SQLite (sql.ts, repos/index.ts), for several Sidian instances on one database.
 *
 * Writes: one write transaction at a time per process (a FIFO mutex, as on SQLite), and across instances through
 * one coordination row (`store_coord`, id 1) locked FOR UPDATE as the first statement of every write transaction.
 * Every write therefore sees the state the previous one committed, whichever instance made it: the transparency
 * log's next index and Merkle frontier are read from the database under that lock (the log engine reloads its edge
 * when another instance has appended), counters and "check, then insert" steps behave as on the single writer.
 * Reads run on any pool connection and see the last committed state (READ COMMITTED).
 *
 * After every commit a NOTIFY on channel `sidian_changes` (sent inside the transaction, so delivered only if it
 * commits) tells the other instances that something changed: `changeMark()` moves, and in-memory caches that
 * check it (the catalogue, the log engine's edge) drop what they kept, well within a second.
 *
 * Faults: a connection lost mid-request answers 503 STORE_UNAVAILABLE (the pool replaces broken connections and
 * recovers when PostgreSQL returns); serialisation failures and deadlocks (40001, 40P01) are retried a few times,
 * then answer 503 STORE_BUSY. Migrations run under an advisory lock: several instances starting together apply
 * them once.
 */
import os from "node:os";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import { AppError } from "../errors.js";
import { pgSql, type PgQueryable, type Sql } from "./sql.js";
import { parsePgUrl, type PgTarget } from "./pg-url.js";

export { isPgUrl, parsePgUrl, type PgTarget } from "./pg-url.js";
import type { StoreObserver, TxScope, WriteOptions } from "./db.js";

export const PG_MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../migrations/pg");
export const CHANGES_CHANNEL = "sidian_changes";
/** How many times a transaction that hit a serialisation failure or deadlock is run again. */
export const PG_RETRIES = 3;

/** As libpq: without a user in the URL (or PGUSER), the operating-system user's name. */
export function withUser(connectionString: string): string {
  const u = new URL(connectionString);
  if (u.username || process.env.PGUSER || process.env.USER) return connectionString;
  try {
    u.username = os.userInfo().username;
    return u.toString();
  } catch {
    return connectionString;
  }
}

const int8 = (v: string) => Number(v);
const TYPES = {
  getTypeParser: ((oid: number, format?: string) => (oid === 20 ? int8 : pg.types.getTypeParser(oid, format as "text"))) as typeof pg.types.getTypeParser,
};

export interface PgOptions {
  /** Pool size (default 10). */
  poolMax?: number;
  /** Apply pending migrations (default true). */
  migrate?: boolean;
  /** Listen for other instances' commits (default true; off for one-off tools). */
  listen?: boolean;
  observer?: StoreObserver;
  /** Seconds to wait for a connection at start-up and from the pool (default 5). */
  connectTimeoutSeconds?: number;
}

export interface PgHandle {
  readonly kind: "pg";
  readonly target: PgTarget;
  readonly pool: pg.Pool;
  /** Reads on any pool connection. */
  readonly r: Sql;
  /** Statements of the write transaction in progress (only inside `transaction`). */
  readonly w: Sql;
  transaction<T>(fn: (tx: TxScope) => Promise<T> | T, opts?: WriteOptions): Promise<T>;
  inTransaction(): boolean;
  durable(): Promise<void>;
  /** Moves whenever another instance (or process) has committed a write. */
  changeMark(): number;
  ping(): Promise<boolean>;
  /**
   * Takes or renews the lease `name` for `seconds` (database time, so clocks of the machines do not matter):
   * true while this process holds it. A holder that stops renewing loses it when it runs out; another takes over.
   */
  lease(name: string, seconds: number): Promise<boolean>;
  writersWaiting(): number;
  close(): Promise<void>;
}

const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "57P01", "57P02", "57P03", "53300"]);

/** Connection-class failures: the store is away (not the request's fault). */
export function isConnectionError(e: unknown): boolean {
  const err = e as { code?: string; message?: string } | null;
  if (!err) return false;
  if (err.code && (CONNECTION_CODES.has(err.code) || err.code.startsWith("08"))) return true;
  return /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect|Client was closed/i.test(err.message ?? "");
}

/** The database's clock, in ms since the epoch (leases use it: one clock for every instance). */
const NOW_MS = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

/** Collations that compare text bytewise (as SQLite does). */
const BYTEWISE = /^(C|POSIX|C\.UTF-?8|C\.utf-?8|ucs_basic)$/;

export function isRetryable(e: unknown): boolean {
  const c = (e as { code?: string } | null)?.code;
  return c === "40001" || c === "40P01";
}

/** Turns a driver failure into the documented store errors; anything else is left as it is. */
export function storeError(e: unknown): unknown {
  if (e instanceof AppError) return e;
  if (isConnectionError(e)) return new AppError("STORE_UNAVAILABLE", undefined, { cause: e });
  if (isRetryable(e)) return new AppError("STORE_BUSY", undefined, { cause: e });
  return e;
}

function oneLine(e: unknown): string {
  const err = e as { message?: string; code?: string };
  const m = (err.message || err.code || String(e)).split("\n")[0]!;
  return m.length > 200 ? `${m.slice(0, 200)}…` : m;
}

class Mutex {
  private tail: Promise<void> = Promise.resolve();
  users = 0;
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

/** Creates the schema (if needed) and applies pending migrations, once across instances (advisory lock). */
async function migrateOnce(pool: pg.Pool, target: PgTarget): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock(hashtext($1))", [`sidian:migrate:${target.schema}`]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${target.schema}"`);
      await migrate(drizzle(client), { migrationsFolder: PG_MIGRATIONS_DIR, migrationsSchema: target.schema });
      await client.query("INSERT INTO store_coord (id, tx) VALUES (1, 0) ON CONFLICT DO NOTHING");
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtext($1))", [`sidian:migrate:${target.schema}`]).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}

export async function openPg(url: string, opts: PgOptions = {}): Promise<PgHandle> {
  const target = parsePgUrl(url);
  const timeout = (opts.connectTimeoutSeconds ?? 5) * 1000;
  const config: pg.PoolConfig = {
    connectionString: withUser(target.connectionString),
    max: opts.poolMax ?? 10,
    connectionTimeoutMillis: timeout,
    idleTimeoutMillis: 30_000,
    options: `-c search_path=${target.schema}`,
    types: TYPES,
    application_name: "sidian",
  };
  const pool = new pg.Pool(config);
  // A connection that breaks while idle is dropped by the pool; without a listener the error would end the process.
  pool.on("error", () => undefined);
  try {
    if (opts.migrate !== false) await migrateOnce(pool, target);
    else await pool.query("SELECT 1");
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw new AppError("CONFIG_INVALID", `Cannot use the PostgreSQL database at ${target.label}: ${oneLine(e)}`, { cause: e });
  }
  // Text must compare bytewise, as in SQLite: identifiers are paged and ranged by comparison (a licence type's
  // lineage range, cursors), and a linguistic collation orders punctuation and case differently.
  const collation = (await pool.query<{ c: string }>("SELECT datcollate AS c FROM pg_database WHERE datname = current_database()").catch(() => ({ rows: [] as Array<{ c: string }> }))).rows[0]?.c;
  if (collation !== undefined && !BYTEWISE.test(collation)) {
    await pool.end().catch(() => undefined);
    throw new AppError("CONFIG_INVALID", `Cannot use the PostgreSQL database at ${target.label}: its collation is ${collation}; Sidian needs C or C.UTF-8 (CREATE DATABASE … LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0).`);
  }

  const me = randomUUID();
  const channel = `sidian_changes_${target.schema}`.slice(0, 63);
  let current: pg.PoolClient | null = null;
  const w = pgSql(() => {
    if (!current) throw new Error("store: a write repository was used outside a write transaction");
    return current as PgQueryable;
  });
  const r = pgSql(() => pool as unknown as PgQueryable);
  const mutex = new Mutex();
  let waiting = 0;
  let closing: Promise<void> | null = null;
  const observer = opts.observer;

  // ---- change notifications from other instances ----
  let mark = 0;
  let listener: pg.Client | null = null;
  let listenTimer: NodeJS.Timeout | null = null;
  async function listen(): Promise<void> {
    if (closing) return;
    const c = new pg.Client({ connectionString: withUser(target.connectionString), connectionTimeoutMillis: timeout, options: `-c search_path=${target.schema}` });
    c.on("notification", (n) => {
      if (n.payload !== me) mark++;
    });
    c.on("error", () => {
      // Lost: every cache must assume something changed meanwhile; listen again shortly.
      mark++;
      if (listener === c) listener = null;
      c.end().catch(() => undefined);
      if (!closing && !listenTimer) listenTimer = setTimeout(() => { listenTimer = null; void listen().catch(() => undefined); }, 500);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${channel}`);
      listener = c;
      mark++;
    } catch {
      await c.end().catch(() => undefined);
      mark++;
      if (!closing && !listenTimer) listenTimer = setTimeout(() => { listenTimer = null; void listen().catch(() => undefined); }, 1000);
    }
  }
  if (opts.listen !== false) await listen();

  async function attempt<T>(fn: (tx: TxScope) => Promise<T> | T): Promise<T> {
    const client = await pool.connect();
    let broken = false;
    // A connection lost while checked out emits 'error' on the client (the pool listens only to idle ones): the
    // query in flight fails with it and the client is dropped below; without a listener it would end the process.
    const onError = () => void (broken = true);
    client.on("error", onError);
    const commits: Array<() => void> = [];
    const rollbacks: Array<() => void> = [];
    const scope: TxScope = { afterCommit: (f) => commits.push(f), afterRollback: (f) => rollbacks.push(f) };
    current = client;
    try {
      await client.query("BEGIN");
      let result: T;
      try {
        await client.query({ name: "coord", text: "UPDATE store_coord SET tx = tx + 1 WHERE id = 1" });
        result = await fn(scope);
        await client.query({ name: "notify", text: "SELECT pg_notify($1, $2)", values: [channel, me] });
        await client.query("COMMIT");
      } catch (e) {
        current = null;
        await client.query("ROLLBACK").catch(() => void (broken = true));
        for (const f of rollbacks) f();
        if (isConnectionError(e)) broken = true;
        throw e;
      }
      current = null;
      for (const f of commits) f();
      return result;
    } finally {
      current = null;
      client.off("error", onError);
      client.release(broken ? true : undefined);
    }
  }

  async function transaction<T>(fn: (tx: TxScope) => Promise<T> | T, _opts: WriteOptions = {}): Promise<T> {
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
    try {
      if (closing) throw new AppError("NOT_READY", "The database is closing.");
      for (let i = 0; ; i++) {
        try {
          const res = await attempt(fn);
          ok = true;
          return res;
        } catch (e) {
          if (isRetryable(e) && i < PG_RETRIES) {
            await new Promise((res) => setTimeout(res, 5 * (i + 1) + Math.random() * 10));
            continue;
          }
          throw storeError(e);
        }
      }
    } finally {
      release();
      if (observer?.write) observer.write((t1 - t0) / 1000, (performance.now() - t1) / 1000, ok);
    }
  }

  return {
    kind: "pg",
    target,
    pool,
    r: wrapReads(r),
    w,
    transaction,
    inTransaction: () => current !== null,
    durable: () => Promise.resolve(),
    changeMark: () => mark,
    async lease(name, seconds) {
      try {
        const r = await pool.query({
          name: "lease",
          text: `INSERT INTO store_leases (name, holder, until) VALUES ($1, $2, ${NOW_MS} + $3)
            ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
            WHERE store_leases.holder = excluded.holder OR store_leases.until < ${NOW_MS}
            RETURNING holder`,
          values: [name, me, Math.round(seconds * 1000)],
        });
        return (r.rowCount ?? 0) > 0;
      } catch {
        return false;
      }
    },
    async ping() {
      try {
        await pool.query("SELECT 1");
        return true;
      } catch {
        return false;
      }
    },
    writersWaiting: () => waiting,
    close() {
      if (closing) return closing;
      closing = (async () => {
        const release = await mutex.lock();
        try {
          if (listenTimer) clearTimeout(listenTimer);
          await listener?.end().catch(() => undefined);
          await pool.end();
        } finally {
          release();
        }
      })();
      return closing;
    },
  };
}

/** Reads through the pool: connection failures become 503 STORE_UNAVAILABLE. */
function wrapReads(s: Sql): Sql {
  const wrap = <A extends unknown[], R>(f: (...a: A) => R) => async (...a: A) => {
    try {
      return await f(...a);
    } catch (e) {
      throw storeError(e);
    }
  };
  return {
    dialect: s.dialect,
    jsonEach: s.jsonEach,
    get: wrap(s.get) as Sql["get"],
    all: wrap(s.all) as Sql["all"],
    run: wrap(s.run) as Sql["run"],
    value: wrap(s.value) as Sql["value"],
    column: wrap(s.column) as Sql["column"],
  };
}
