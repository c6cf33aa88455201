/**
 * `sidian log audit` on PostgreSQL: the log's tables are read in one REPEATABLE READ transaction (a consistent
 * snapshot while instances keep appending) into a temporary SQLite file, which the audit then reads as it reads a
 * SQLite store. Removed afterwards.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { openSqlite } from "./db.js";
import { openPg } from "./pg.js";
import { pgSql, sqliteSql, type PgQueryable } from "./sql.js";
import { copyTable, tablesNamed } from "./copy.js";

export const LOG_TABLES = ["tlog_leaves", "tlog_nodes", "tlog_checkpoints"] as const;

export async function snapshotPgLog(url: string, onRows?: (table: string, copied: number) => void): Promise<{ db: BetterSqlite3.Database; dispose(): void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sidian-log-audit-"));
  const file = path.join(dir, "log.db");
  const pg = await openPg(url, { migrate: false, poolMax: 1, listen: false });
  try {
    const target = openSqlite(file, { sync: "normal" });
    try {
      const client = await pg.pool.connect();
      try {
        await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        const from = pgSql(() => client as unknown as PgQueryable);
        const to = sqliteSql(target.writer);
        await target.transaction(async () => {
          for (const t of tablesNamed(LOG_TABLES)) await copyTable(from, to, t, { page: 20_000, ...(onRows ? { onRows } : {}) });
        });
        await client.query("COMMIT");
      } finally {
        client.release();
      }
    } finally {
      await target.close();
    }
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  } finally {
    await pg.close();
  }
  const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
  return {
    db,
    dispose() {
      if (db.open) db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
