/**
 * One SQL text for both stores. Repositories talk to a `Sql`: `?` placeholders, snake_case columns, values stored
 * the same way in both dialects (times as integer milliseconds, booleans as 0/1, JSON as text, bytes as Buffer;
 * see schema-pg/index.ts). On SQLite the calls answer synchronously (prepared statements of better-sqlite3, kept
 * per SQL text); on PostgreSQL they return promises (named prepared statements of node-postgres, `?` turned into
 * `$n`). Write `await` in front of every call and the same code serves both.
 *
 * Portable SQL, the rules that matter in practice:
 * - a parameter whose type PostgreSQL cannot infer (`? IS NULL`, `? = 1` beside OR) needs a CAST(? AS TEXT/BIGINT);
 * - no boolean parameters: compare integers (`? = 1`);
 * - name every aggregate (`count(*) AS n`): the column names differ otherwise;
 * - `INSERT … ON CONFLICT DO NOTHING` (not INSERT OR IGNORE), `RETURNING` works in both;
 * - a JSON array parameter as a set: `IN (${sql.jsonEach})`.
 */
import type BetterSqlite3 from "better-sqlite3";

export type Awaitable<T> = T | Promise<T>;
export type Row = Record<string, unknown>;

export interface Sql {
  readonly dialect: "sqlite" | "pg";
  get<T = Row>(text: string, args?: readonly unknown[]): Awaitable<T | undefined>;
  all<T = Row>(text: string, args?: readonly unknown[]): Awaitable<T[]>;
  /** Rows changed. */
  run(text: string, args?: readonly unknown[]): Awaitable<number>;
  /** The first column of the first row. */
  value<T = unknown>(text: string, args?: readonly unknown[]): Awaitable<T | undefined>;
  /** The first column of every row. */
  column<T = unknown>(text: string, args?: readonly unknown[]): Awaitable<T[]>;
  /** A sub-select of the elements of a JSON array text parameter (one `?`): `x IN (${sql.jsonEach})`. */
  readonly jsonEach: string;
}

export function sqliteSql(raw: BetterSqlite3.Database): Sql {
  const stmts = new Map<string, BetterSqlite3.Statement>();
  const plucked = new Map<string, BetterSqlite3.Statement>();
  const st = (text: string) => {
    let s = stmts.get(text);
    if (!s) stmts.set(text, (s = raw.prepare(text)));
    return s;
  };
  const pl = (text: string) => {
    let s = plucked.get(text);
    if (!s) plucked.set(text, (s = raw.prepare(text).pluck()));
    return s;
  };
  return {
    dialect: "sqlite",
    get: <T>(text: string, args: readonly unknown[] = []) => st(text).get(...args) as T | undefined,
    all: <T>(text: string, args: readonly unknown[] = []) => st(text).all(...args) as T[],
    run: (text: string, args: readonly unknown[] = []) => st(text).run(...args).changes,
    value: <T>(text: string, args: readonly unknown[] = []) => pl(text).get(...args) as T | undefined,
    column: <T>(text: string, args: readonly unknown[] = []) => pl(text).all(...args) as T[],
    jsonEach: "SELECT value FROM json_each(?)",
  };
}

/** `?` → `$1, $2, …` outside quoted strings and identifiers. */
export function numbered(text: string): string {
  let n = 0;
  let out = "";
  let quote: string | null = null;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = null;
      out += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      out += ch;
    } else if (ch === "?") out += `$${++n}`;
    else out += ch;
  }
  return out;
}

/** What a PostgreSQL `Sql` runs its queries on (a pool, or the client of the transaction in progress). */
export interface PgQueryable {
  query(q: { text: string; values: unknown[]; name?: string; rowMode?: "array" }): Promise<{ rows: unknown[]; rowCount: number | null }>;
}

/** Prepared-statement names and `$n` texts, shared by every PostgreSQL `Sql` of a process. */
const texts = new Map<string, { text: string; name: string }>();
function prepared(text: string): { text: string; name: string } {
  let p = texts.get(text);
  if (!p) texts.set(text, (p = { text: numbered(text), name: `s${texts.size}` }));
  return p;
}

export function pgSql(on: () => PgQueryable): Sql {
  const q = (text: string, args: readonly unknown[], array = false) => {
    const p = prepared(text);
    return on().query({ text: p.text, name: array ? `${p.name}a` : p.name, values: args as unknown[], ...(array ? { rowMode: "array" as const } : {}) });
  };
  return {
    dialect: "pg",
    get: async <T>(text: string, args: readonly unknown[] = []) => (await q(text, args)).rows[0] as T | undefined,
    all: async <T>(text: string, args: readonly unknown[] = []) => (await q(text, args)).rows as T[],
    run: async (text: string, args: readonly unknown[] = []) => (await q(text, args)).rowCount ?? 0,
    value: async <T>(text: string, args: readonly unknown[] = []) => ((await q(text, args, true)).rows[0] as unknown[] | undefined)?.[0] as T | undefined,
    column: async <T>(text: string, args: readonly unknown[] = []) => ((await q(text, args, true)).rows as unknown[][]).map((r) => r[0] as T),
    jsonEach: "SELECT json_array_elements_text(CAST(? AS json))",
  };
}
