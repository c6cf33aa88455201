// Placeholder: the transparency-log repository is being written. Replace wholesale.
import type BetterSqlite3 from "better-sqlite3";
import type { Drizzle } from "../db.js";
export function createTlogRepo(_db: Drizzle, _raw: BetterSqlite3.Database) {
  return {};
}
