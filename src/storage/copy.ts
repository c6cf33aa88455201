/**
 * Copies rows between the two stores, table by table, in primary-key order (keyset pages, multi-row INSERTs):
 * `sidian log audit` on PostgreSQL (a consistent snapshot of the log tables into a temporary SQLite file) and
 * `sidian db copy` (a whole deployment from SQLite to PostgreSQL). Values are stored alike in both dialects
 * (schema-pg), so rows travel as they are.
 */
import { getTableConfig, type SQLiteColumn, type SQLiteTable } from "drizzle-orm/sqlite-core";
import * as schema from "./schema/index.js";
import type { Sql } from "./sql.js";

export interface CopyTable {
  name: string;
  cols: string[];
  /** Primary-key columns (keyset order). */
  key: string[];
}

function describe(t: SQLiteTable): CopyTable {
  const cfg = getTableConfig(t);
  const cols = cfg.columns.map((c) => c.name);
  let key = cfg.columns.filter((c: SQLiteColumn) => c.primary).map((c) => c.name);
  if (!key.length && cfg.primaryKeys[0]) key = cfg.primaryKeys[0].columns.map((c) => c.name);
  if (!key.length) key = cols; // no key: every column orders the rows (tables here all have one)
  return { name: cfg.name, cols, key };
}

function isTable(v: unknown): v is SQLiteTable {
  try {
    return typeof v === "object" && v !== null && typeof getTableConfig(v as SQLiteTable).name === "string" && Object.getOwnPropertySymbols(v).length > 0;
  } catch {
    return false;
  }
}

/** Every table of the schema, referenced tables before the tables that reference them. */
export function allTables(): CopyTable[] {
  const pending = Object.values(schema).filter(isTable) as SQLiteTable[];
  const done = new Set<string>();
  const out: CopyTable[] = [];
  while (pending.length) {
    const before = pending.length;
    for (let i = 0; i < pending.length; i++) {
      const t = pending[i]!;
      const cfg = getTableConfig(t);
      const deps = cfg.foreignKeys.map((fk) => getTableConfig(fk.reference().foreignTable).name).filter((d) => d !== cfg.name);
      if (deps.every((d) => done.has(d))) {
        out.push(describe(t));
        done.add(cfg.name);
        pending.splice(i--, 1);
      }
    }
    if (pending.length === before) throw new Error("copy: the tables cannot be ordered by their references");
  }
  return out;
}

export function tablesNamed(names: readonly string[]): CopyTable[] {
  const all = new Map(allTables().map((t) => [t.name, t]));
  return names.map((n) => {
    const t = all.get(n);
    if (!t) throw new Error(`copy: no table ${n}`);
    return t;
  });
}

export interface CopyOptions {
  /** Rows read per page (default 5000). */
  page?: number;
  /** Called after every page: rows copied so far of this table. */
  onRows?(table: string, copied: number): void;
  /** Where to look for rows already copied (default `to`; a target written only inside transactions reads elsewhere). */
  read?: Sql;
  /** Writes one page into the target (inside whatever transaction the caller wants). */
  write?(t: CopyTable, run: () => Promise<void>): Promise<void>;
}

/** Rows of `t` in `from`. */
export async function countRows(from: Sql, t: CopyTable): Promise<number> {
  return Number((await from.value<number>(`SELECT count(*) AS n FROM ${t.name}`)) ?? 0);
}

/**
 * Copies every row of `t` from `from` to `to`, resuming after the largest key already in `to` (a copy interrupted
 * between pages goes on where it stopped). Returns the rows written now.
 */
export async function copyTable(from: Sql, to: Sql, t: CopyTable, opts: CopyOptions = {}): Promise<number> {
  const page = opts.page ?? 5000;
  const keyList = t.key.join(", ");
  const tuple = (n: number) => (t.key.length === 1 ? "?" : `(${Array(n).fill("?").join(", ")})`);
  const keyExpr = t.key.length === 1 ? t.key[0]! : `(${keyList})`;
  const desc = t.key.map((k) => `${k} DESC`).join(", ");
  const lastRow = await (opts.read ?? to).get(`SELECT ${keyList} FROM ${t.name} ORDER BY ${desc} LIMIT 1`);
  let after: unknown[] | null = lastRow ? t.key.map((k) => lastRow[k]) : null;
  const first = `SELECT ${t.cols.join(", ")} FROM ${t.name} ORDER BY ${keyList} LIMIT ?`;
  const next = `SELECT ${t.cols.join(", ")} FROM ${t.name} WHERE ${keyExpr} > ${tuple(t.key.length)} ORDER BY ${keyList} LIMIT ?`;
  // Parameters per statement: SQLite allows 32766, PostgreSQL 65535.
  const chunk = Math.max(1, Math.min(500, Math.floor(30000 / t.cols.length)));
  const row = `(${t.cols.map(() => "?").join(", ")})`;
  const insertText = (n: number) => `INSERT INTO ${t.name} (${t.cols.join(", ")}) VALUES ${Array(n).fill(row).join(", ")}`;
  const full = insertText(chunk);
  let copied = 0;
  for (;;) {
    const rows = await from.all(after ? next : first, after ? [...after, page] : [page]);
    if (!rows.length) break;
    const run = async () => {
      for (let i = 0; i < rows.length; i += chunk) {
        const part = rows.slice(i, i + chunk);
        const args: unknown[] = [];
        for (const r of part) for (const c of t.cols) args.push(r[c]);
        await to.run(part.length === chunk ? full : insertText(part.length), args);
      }
    };
    if (opts.write) await opts.write(t, run);
    else await run();
    copied += rows.length;
    const last = rows[rows.length - 1]!;
    after = t.key.map((k) => last[k]);
    opts.onRows?.(t.name, copied);
    if (rows.length < page) break;
  }
  return copied;
}
