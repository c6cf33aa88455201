/**
 * `sidian db copy --from A --to B`: a whole deployment from one store to another (SQLite → PostgreSQL to move up,
 * PostgreSQL → SQLite and back): every table of the schema — rows, document blobs, the transparency log, key
 * material references (the keys themselves stay in the keys folder or on the token) — then checked.
 *
 * - The source is read in one snapshot (SQLite: one read transaction; PostgreSQL: REPEATABLE READ), so a service
 *   still writing to it does not tear the copy; stop it first anyway, or what it writes afterwards is not copied.
 * - The target must be empty (freshly migrated), or an unfinished copy of the same source. While the copy runs the
 *   target holds the row `deployment.copy_in_progress`: the service refuses to start on such a database, so a
 *   half-copied target never looks complete. The row goes only after the checks pass.
 * - Interrupted (killed, a lost connection), it is run again: each table resumes after the largest key already in
 *   the target (pages are written in key order, one transaction each). `restart` empties the target first.
 * - Checks: row counts per table equal; the log's root recomputed from the stored tree on both sides equal, and the
 *   latest checkpoint equal. (The CLI then runs `log audit` on the target.)
 */
import BetterSqlite3 from "better-sqlite3";
import { AppError } from "../errors.js";
import { rootFromNodes, type NodeId } from "../modules/tlog/merkle.js";
import { allTables, copyTable, countRows, type CopyTable } from "./copy.js";
import { openSqlite } from "./db.js";
import { isPgUrl, openPg } from "./pg.js";
import { createTlogRepo } from "./repos/tlog.js";
import { pgSql, sqliteSql, type PgQueryable, type Sql } from "./sql.js";

export const COPY_MARK = "copy_in_progress";

export interface CopyStoreOptions {
  /** Empty an unfinished target before copying (instead of resuming). */
  restart?: boolean;
  /** Rows read per page (default 5000). */
  page?: number;
  /** Before copying: rows to copy in all (for a progress bar). */
  onStart?(total: number, resumed: boolean): void;
  /** After every page: rows now in the target in all. */
  onProgress?(done: number): void;
  /** After a table is done (tests interrupt the copy here). */
  afterTable?(name: string): void | Promise<void>;
}

export interface CopyCheck {
  table: string;
  source: number;
  target: number;
}

export interface CopyStoreResult {
  from: string;
  to: string;
  resumed: boolean;
  rows: number;
  copiedNow: number;
  seconds: number;
  tables: CopyCheck[];
  log: { size: number; sourceRoot: string; targetRoot: string; checkpoint: number | null };
  ok: boolean;
  problems: string[];
}

interface Side {
  label: string;
  sql: Sql;
  close(): Promise<void>;
}

interface Target extends Side {
  /** Statements of the write transaction in progress (inside `write` only). */
  w: Sql;
  /** Runs `fn` in one write transaction of the target (its Sql inside). */
  write(fn: (w: Sql) => Promise<void>): Promise<void>;
  /** After the copy: serial columns continue after the copied ids (PostgreSQL). */
  fixSequences(): Promise<void>;
}

function label(loc: string): string {
  if (!isPgUrl(loc)) return loc;
  const u = new URL(loc);
  u.password = "";
  return u.toString();
}

/** The source, migrated like the service would, then read in one snapshot. */
async function openSource(loc: string): Promise<Side> {
  if (isPgUrl(loc)) {
    const h = await openPg(loc, { listen: false, poolMax: 2 });
    const client = await h.pool.connect();
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    return {
      label: label(loc),
      sql: pgSql(() => client as unknown as PgQueryable),
      async close() {
        await client.query("COMMIT").catch(() => undefined);
        client.release();
        await h.close();
      },
    };
  }
  const m = openSqlite(loc);
  await m.close();
  const db = new BetterSqlite3(loc, { readonly: true, fileMustExist: true });
  db.exec("BEGIN");
  const sql = sqliteSql(db);
  sql.value("SELECT count(*) FROM tlog_checkpoints"); // the snapshot starts at the first read
  return {
    label: loc,
    sql,
    async close() {
      if (db.inTransaction) db.exec("COMMIT");
      db.close();
    },
  };
}

async function openTarget(loc: string): Promise<Target> {
  if (isPgUrl(loc)) {
    const h = await openPg(loc, { listen: false, poolMax: 2 });
    return {
      label: label(loc),
      sql: h.r,
      w: h.w,
      write: (fn) => h.transaction(() => fn(h.w)),
      async fixSequences() {
        const cols = await h.r.all<{ t: string; c: string }>(
          "SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = current_schema() AND column_default LIKE 'nextval(%'");
        for (const { t, c } of cols) {
          await h.r.get(`SELECT setval(pg_get_serial_sequence('${t}', '${c}'), COALESCE((SELECT max(${c}) FROM ${t}), 0) + 1, false)`);
        }
      },
      close: () => h.close(),
    };
  }
  const h = openSqlite(loc, { sync: "full" });
  const sql = sqliteSql(h.writer);
  return {
    label: loc,
    sql,
    w: sql,
    // Pages commit without an fsync each; the last write (the mark's removal) is synced, and with it every page.
    write: (fn) => h.transaction(() => fn(sql), { relaxed: true }),
    fixSequences: async () => undefined,
    close: () => h.close(),
  };
}

async function logRoot(sql: Sql): Promise<{ size: number; root: string; checkpoint: { size: number; root: string } | null }> {
  const repo = createTlogRepo(sql);
  const size = await repo.size();
  const root = (await rootFromNodes(size, (ids: readonly NodeId[]) => repo.getNodes(ids))).toString("base64");
  const cp = await repo.latestCheckpoint();
  return { size, root, checkpoint: cp ? { size: cp.size, root: cp.root.toString("base64") } : null };
}

export async function copyStore(fromLoc: string, toLoc: string, opts: CopyStoreOptions = {}): Promise<CopyStoreResult> {
  if (fromLoc === toLoc) throw new AppError("CONFIG_INVALID", "db copy: --from and --to name the same database.");
  const t0 = performance.now();
  const source = await openSource(fromLoc);
  let target: Target;
  try {
    target = await openTarget(toLoc);
  } catch (e) {
    await source.close();
    throw e;
  }
  try {
    const tables = allTables();
    const deployment = tables.find((t) => t.name === "deployment")!;
    const others = tables.filter((t) => t !== deployment);
    const mark = await target.sql.value<string>("SELECT value FROM deployment WHERE key = ?", [COPY_MARK]);
    let resumed = false;
    if (mark !== undefined) {
      const was = (JSON.parse(mark) as { from?: string }).from;
      if (was !== source.label) {
        throw new AppError("CONFLICT", `db copy: ${target.label} holds an unfinished copy of ${was}, not of ${source.label}; copy from that source again, or use another target.`);
      }
      if (opts.restart) {
        await target.write(async (w) => {
          for (const t of [...tables].reverse()) await w.run(`DELETE FROM ${t.name}${t === deployment ? " WHERE key <> ?" : ""}`, t === deployment ? [COPY_MARK] : []);
        });
      } else resumed = true;
    } else {
      for (const t of tables) {
        if ((await countRows(target.sql, t)) > 0) {
          throw new AppError("CONFLICT", `db copy: ${target.label} is not empty (table ${t.name} has rows); copy into a new, empty database.`);
        }
      }
      await target.write(async (w) => {
        await w.run("INSERT INTO deployment (key, value, set_at) VALUES (?, ?, ?)", [COPY_MARK, JSON.stringify({ from: source.label, startedAt: new Date().toISOString() }), Date.now()]);
      });
    }

    const counts = new Map<string, number>();
    for (const t of tables) counts.set(t.name, await countRows(source.sql, t));
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    opts.onStart?.(total, resumed);
    let done = 0;
    for (const t of others) done += await countRows(target.sql, t);
    let copiedNow = 0;
    for (const t of others) {
      let before = 0;
      const n = await copyTable(source.sql, target.w, t, {
        page: opts.page ?? 5000,
        write: (_t: CopyTable, run: () => Promise<void>) => target.write(() => run()),
        read: target.sql,
        onRows: (_name, copied) => {
          done += copied - before;
          before = copied;
          opts.onProgress?.(done);
        },
      });
      copiedNow += n;
      await opts.afterTable?.(t.name);
    }
    // The deployment table is small and holds the mark: its rows are copied (the source's own mark, if any, not).
    const depRows = await source.sql.all<{ key: string; value: string; set_at: number }>("SELECT key, value, set_at FROM deployment WHERE key <> ? ORDER BY key", [COPY_MARK]);
    await target.write(async (w) => {
      for (const r of depRows) {
        await w.run("INSERT INTO deployment (key, value, set_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING", [r.key, r.value, r.set_at]);
      }
    });
    done += depRows.length;
    opts.onProgress?.(done);
    await target.fixSequences();

    // ---- checks ----
    const problems: string[] = [];
    const checks: CopyCheck[] = [];
    for (const t of tables) {
      const src = counts.get(t.name)! - (t === deployment ? ((await source.sql.value<number>("SELECT count(*) FROM deployment WHERE key = ?", [COPY_MARK])) ? 1 : 0) : 0);
      const dst = (await countRows(target.sql, t)) - (t === deployment ? 1 : 0);
      checks.push({ table: t.name, source: src, target: dst });
      if (src !== dst) problems.push(`${t.name}: ${src} rows in the source, ${dst} in the target`);
    }
    const a = await logRoot(source.sql);
    const b = await logRoot(target.sql);
    if (a.size !== b.size || a.root !== b.root) problems.push(`log: the source's tree (${a.size} leaves, root ${a.root}) is not the target's (${b.size} leaves, root ${b.root})`);
    if (JSON.stringify(a.checkpoint) !== JSON.stringify(b.checkpoint)) problems.push("log: the latest checkpoints differ");
    const ok = problems.length === 0;
    if (ok) {
      // Complete: the mark goes (on SQLite this commit is synced, and with it every page before it).
      await target.write(async (w) => void (await w.run("DELETE FROM deployment WHERE key = ?", [COPY_MARK])));
    }
    return {
      from: source.label, to: target.label, resumed, rows: total, copiedNow, seconds: (performance.now() - t0) / 1000,
      tables: checks, log: { size: b.size, sourceRoot: a.root, targetRoot: b.root, checkpoint: b.checkpoint?.size ?? null }, ok, problems,
    };
  } finally {
    await target.close();
    await source.close();
  }
}

/** The service refuses a database that an unfinished `sidian db copy` is filling (it would look complete). */
export async function refuseUnfinishedCopy(sql: Sql, dbLabel: string): Promise<void> {
  const mark = await sql.value<string>("SELECT value FROM deployment WHERE key = ?", [COPY_MARK]);
  if (mark === undefined) return;
  let from = "another database";
  try {
    from = (JSON.parse(mark) as { from?: string }).from ?? from;
  } catch {
    // keep the generic wording
  }
  throw new AppError("CONFIG_INVALID", `The database ${dbLabel} is an unfinished copy of ${from} (sidian db copy): run the same copy again to finish it.`);
}
