/** PostgreSQL URLs for SIDIAN_DB (no driver import: config.ts uses this). */
import { AppError } from "../errors.js";

export function isPgUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//i.test(s);
}

export interface PgTarget {
  /** node-postgres connection string without our own parameters. */
  connectionString: string;
  /** The schema every table lives in (`?schema=`, default public). */
  schema: string;
  /** host:port/database, for messages (never the password). */
  label: string;
}

/** Parses postgres://user:pass@host:port/db?schema=name; refuses what cannot be a database URL with one line. */
export function parsePgUrl(url: string): PgTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new AppError("CONFIG_INVALID", "SIDIAN_DB is not a valid postgres:// URL.");
  }
  const schema = u.searchParams.get("schema") ?? "public";
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new AppError("CONFIG_INVALID", "SIDIAN_DB: schema= must be a lower-case SQL name (letters, digits, _).");
  u.searchParams.delete("schema");
  const db = u.pathname.replace(/^\//, "") || "postgres";
  return { connectionString: u.toString(), schema, label: `${u.hostname || "localhost"}:${u.port || 5432}/${db}${schema !== "public" ? ` (schema ${schema})` : ""}` };
}

