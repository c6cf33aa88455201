// Placeholder: the PKI repositories (keys, certificates) are being written. Replace wholesale.
import type BetterSqlite3 from "better-sqlite3";
import type { Drizzle } from "../db.js";
export function createPkiRepos(_db: Drizzle, _raw: BetterSqlite3.Database) {
  return {};
}
