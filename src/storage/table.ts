/**
 * Row ↔ record mapping for repositories that use the portable `Sql` (sql.ts), derived from the drizzle table
 * (schema/*.ts): the column list, an INSERT text, and the value mapping drizzle itself would apply (timestamps ↔
 * Date, booleans ↔ 0/1, JSON ↔ text, blobs as Buffer). Values are stored alike in both dialects (schema-pg), so
 * one mapping serves SQLite and PostgreSQL.
 */
import { getTableConfig, type SQLiteColumn, type SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Row } from "./sql.js";

export interface TableMap<T> {
  readonly name: string;
  /** Every column, in declaration order: `a, b, c`. */
  readonly cols: string;
  /** The column names, in declaration order. */
  readonly names: readonly string[];
  /** `INSERT INTO name (cols) VALUES (?, …)` (autoincrement keys left out). */
  readonly insert: string;
  /** A row as read (snake_case columns, driver values) → the record drizzle's select would give. */
  from(row: Row): T;
  /** `from`, tolerating undefined (a missing row). */
  maybe(row: Row | undefined): T | undefined;
  /** The arguments of `insert` for a record (defaults applied as drizzle would). */
  args(rec: Partial<T>): unknown[];
  /** `SET a = ?, b = ?` and its arguments for the keys present in `patch` (undefined keys left out). */
  set(patch: Partial<T>): { text: string; args: unknown[] };
  /** The column name of a record key. */
  col(key: keyof T & string): string;
}

interface Col {
  key: string;
  name: string;
  c: SQLiteColumn;
  auto: boolean;
}

export function tableOf<T>(t: SQLiteTable): TableMap<T> {
  const cfg = getTableConfig(t);
  const cols: Col[] = [];
  for (const [key, v] of Object.entries(t) as Array<[string, unknown]>) {
    const c = v as SQLiteColumn;
    if (cfg.columns.includes(c)) cols.push({ key, name: c.name, c, auto: Boolean((c as unknown as { autoIncrement?: boolean }).autoIncrement) });
  }
  const byKey = new Map(cols.map((c) => [c.key, c]));
  const ins = cols.filter((c) => !c.auto);
  const toDriver = (c: Col, v: unknown): unknown => {
    if (v === undefined) {
      if (c.c.defaultFn) v = c.c.defaultFn();
      else if (c.c.hasDefault && c.c.default !== undefined) v = c.c.default;
      else return null;
    }
    if (v === null) return null;
    if (v instanceof Uint8Array && !Buffer.isBuffer(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    return c.c.mapToDriverValue(v);
  };
  const setTexts = new Map<string, string>();
  return {
    name: cfg.name,
    cols: cols.map((c) => c.name).join(", "),
    names: cols.map((c) => c.name),
    insert: `INSERT INTO ${cfg.name} (${ins.map((c) => c.name).join(", ")}) VALUES (${ins.map(() => "?").join(", ")})`,
    from(row) {
      const out: Record<string, unknown> = {};
      for (const c of cols) {
        const v = row[c.name];
        out[c.key] = v === null || v === undefined ? null : c.c.mapFromDriverValue(v);
      }
      return out as T;
    },
    maybe(row) {
      return row ? this.from(row) : undefined;
    },
    args(rec) {
      const r = rec as Record<string, unknown>;
      return ins.map((c) => toDriver(c, r[c.key]));
    },
    set(patch) {
      const p = patch as Record<string, unknown>;
      const keys = Object.keys(p).filter((k) => p[k] !== undefined && byKey.has(k));
      const sig = keys.join(",");
      let text = setTexts.get(sig);
      if (!text) setTexts.set(sig, (text = `SET ${keys.map((k) => `${byKey.get(k)!.name} = ?`).join(", ")}`));
      return { text, args: keys.map((k) => (p[k] === null ? null : toDriver(byKey.get(k)!, p[k]))) };
    },
    col(key) {
      const c = byKey.get(key);
      if (!c) throw new Error(`${cfg.name}: no column for ${key}`);
      return c.name;
    },
  };
}
