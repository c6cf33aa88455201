/**
 * PostgreSQL store (SIDIAN_DB=postgres://…): a bounded node-postgres pool behind the same `Sql` and unit of work
 * as SQLite (sql.ts, repos/index.ts), for several Sidian instances on one database.
 *
 * Writes: one write transaction at a time per process, and across instances through one coordination row
 * (`store_coord`, id 1) locked (UPDATE, as FOR UPDATE would) as the first statement of every write transaction.
 * Units of work that queue meanwhile are grouped into the next transaction, each under a SAVEPOINT of its own
 * (one WAL flush and one lock for the group; a failing unit is rolled back alone); each is answered only once the
 * group has committed.
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
/**
 * Units of work at most in one write transaction. The group holds the coordination row (every other instance's
 * writes wait) while it runs, so it is bounded.
 */
export const PG_MAX_GROUP = 64;

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
  /** Units of work at most in one grouped write transaction (default PG_MAX_GROUP). */
  maxGroup?: number;
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
  /** Write groups run so far and the units of work they held (units / groups is the mean group size). */
  groupStats(): { groups: number; units: number };
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
  let closing: Promise<void> | null = null;
  const observer = opts.observer;
  const maxGroup = Math.max(1, opts.maxGroup ?? PG_MAX_GROUP);

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

  // ---- write transactions, grouped ----
  // Units of work that queue while a group runs wait for the next group: one PostgreSQL transaction, one lock of
  // the coordination row and one WAL flush for all of them. The first unit of a group runs without a savepoint (if
  // it fails, the transaction is rolled back and begun again for the next); every later one under its own
  // SAVEPOINT, so a failing unit is rolled back alone and the others are kept. Nobody is answered before COMMIT
  // has returned (DESIGN rule 5): results, failures and afterCommit hooks wait for the group's end.
  interface Unit {
    fn: (tx: TxScope) => Promise<unknown> | unknown;
    resolve(v: unknown): void;
    reject(e: unknown): void;
    queuedAt: number;
    /** Groups this unit was in that failed with a retryable error. */
    groupTries: number;
  }
  const queue: Unit[] = [];
  const notifyAndCommit = `SELECT pg_notify('${channel}', '${me}'); COMMIT`;
  let running: Promise<void> | null = null;
  let groups = 0;
  let groupedUnits = 0;

  function transaction<T>(fn: (tx: TxScope) => Promise<T> | T, _opts: WriteOptions = {}): Promise<T> {
    if (closing) return Promise.reject(new AppError("NOT_READY", "The database is closing."));
    return new Promise<T>((resolve, reject) => {
      queue.push({ fn, resolve: resolve as (v: unknown) => void, reject, queuedAt: performance.now(), groupTries: 0 });
      // The queue is not empty here, so pump() cannot finish synchronously (it would leave `running` set).
      running ??= pump();
    });
  }

  async function pump(): Promise<void> {
    try {
      while (queue.length) await runGroup();
    } finally {
      // In the same turn as the last look at the queue: a unit queued after this starts a new pump.
      running = null;
    }
  }

  interface Done {
    u: Unit;
    result?: unknown;
    error?: unknown;
    commits: Array<() => void>;
    rollbacks: Array<() => void>;
  }

  async function runGroup(): Promise<void> {
    const startedAt = performance.now();
    const members: Done[] = [];
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      // No connection: those waiting now are answered (503); later ones try again.
      for (const u of queue.splice(0)) u.reject(storeError(e));
      return;
    }
    let broken = false;
    const onError = () => void (broken = true);
    client.on("error", onError);
    let open = false;
    const begin = async () => {
      await client.query("BEGIN");
      open = true;
      await client.query({ name: "coord", text: "UPDATE store_coord SET tx = tx + 1 WHERE id = 1" });
    };
    current = client;
    let groupError: unknown = null;
    try {
      for (let n = 0; n < maxGroup && queue.length > 0; n++) {
        const u = queue.shift()!;
        const d: Done = { u, commits: [], rollbacks: [] };
        members.push(d);
        for (let i = 0; ; i++) {
          if (!open) await begin();
          // Nothing kept yet: a failure may roll back the whole transaction, no savepoint needed.
          const alone = !members.some((m) => m !== d && !("error" in m));
          if (!alone) await client.query("SAVEPOINT unit");
          const kept: Array<() => void> = [];
          d.commits = [];
          d.rollbacks = [];
          const scope: TxScope = { afterCommit: (f) => d.commits.push(f), afterRollback: (f) => d.rollbacks.push(f), afterKept: (f) => kept.push(f) };
          try {
            d.result = await u.fn(scope);
            for (const f of kept) f();
            break;
          } catch (e) {
            if (broken || isConnectionError(e)) throw e;
            if (alone) {
              await client.query("ROLLBACK");
              open = false;
            } else {
              // Savepoints are not released (one round trip less per unit; COMMIT ends them all): the innermost
              // one named "unit" is this unit's.
              await client.query("ROLLBACK TO SAVEPOINT unit");
            }
            for (const f of d.rollbacks) f();
            if (isRetryable(e) && i < PG_RETRIES) {
              await new Promise((res) => setTimeout(res, 5 * (i + 1) + Math.random() * 10));
              continue;
            }
            d.error = e;
            d.commits = [];
            d.rollbacks = [];
            break;
          }
        }
      }
      if (open) {
        // One round trip: the channel (a checked schema name) and the instance id (a UUID) need no parameters.
        await client.query(notifyAndCommit);
        open = false;
      }
    } catch (e) {
      groupError = e;
      if (isConnectionError(e)) broken = true;
      if (open) await client.query("ROLLBACK").catch(() => void (broken = true));
    } finally {
      current = null;
      client.off("error", onError);
      client.release(broken ? true : undefined);
    }
    groups++;
    groupedUnits += members.length;
    const held = (performance.now() - startedAt) / 1000;
    if (groupError !== null) {
      // Nothing of the group was kept: every member's rollback hooks run; a retryable failure runs the whole
      // group again (its members first in the queue, in their order), anything else answers every member.
      const retry: Unit[] = [];
      for (const d of members) {
        if (!("error" in d)) for (const f of d.rollbacks) f();
        if (isRetryable(groupError) && d.u.groupTries < PG_RETRIES) {
          d.u.groupTries++;
          retry.push(d.u);
        } else {
          observer?.write?.((startedAt - d.u.queuedAt) / 1000, held, false);
          d.u.reject(storeError(groupError));
        }
      }
      queue.unshift(...retry);
      return;
    }
    for (const d of members) {
      observer?.write?.((startedAt - d.u.queuedAt) / 1000, held, !("error" in d));
      if ("error" in d) {
        d.u.reject(storeError(d.error));
        continue;
      }
      for (const f of d.commits) f();
      d.u.resolve(d.result);
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
    writersWaiting: () => queue.length,
    groupStats: () => ({ groups, units: groupedUnits }),
    close() {
      if (closing) return closing;
      closing = (async () => {
        // Units already queued are still written; new ones are refused.
        while (running) await running;
        if (listenTimer) clearTimeout(listenTimer);
        await listener?.end().catch(() => undefined);
        await pool.end();
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
