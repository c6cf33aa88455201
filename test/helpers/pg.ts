/**
 * PostgreSQL for tests: SIDIAN_TEST_PG (default postgres://127.0.0.1:5432/test, trust auth). Every call gets a
 * schema of its own with a random suffix (files run in parallel and other people use the same database), dropped
 * at teardown. Where no PostgreSQL answers, `pgTestUrl` returns null once per process with one visible line.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { Test } from "tap";
import { withUser } from "../../src/storage/pg.js";

export const TEST_PG = process.env.SIDIAN_TEST_PG || "postgres://127.0.0.1:5432/test";

let reachable: Promise<boolean> | undefined;

export function pgAvailable(): Promise<boolean> {
  reachable ??= (async () => {
    const c = new pg.Client({ connectionString: withUser(TEST_PG), connectionTimeoutMillis: 2000 });
    c.on("error", () => undefined);
    try {
      await c.connect();
      await c.query("SELECT 1");
      return true;
    } catch (e) {
      process.stderr.write(`# PostgreSQL tests skipped: no PostgreSQL answers at ${TEST_PG} (${(e as Error).message}); set SIDIAN_TEST_PG\n`);
      return false;
    } finally {
      await c.end().catch(() => undefined);
    }
  })();
  return reachable;
}

/** Runs SQL on the test database outside any schema of ours. */
export async function adminQuery(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: withUser(TEST_PG) });
  await c.connect();
  try {
    return await c.query(text, values);
  } finally {
    await c.end();
  }
}

/** A fresh schema name (not yet created), dropped with everything in it when `t` ends. */
export function pgSchema(t: Test, prefix = "t"): string {
  const schema = `${prefix}_${randomBytes(6).toString("hex")}`;
  t.teardown(async () => {
    await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
  });
  return schema;
}

/** A postgres:// URL for SIDIAN_DB on a schema of this test's own, or null (the test should skip) without PostgreSQL. */
export async function pgTestUrl(t: Test, prefix = "t"): Promise<string | null> {
  if (!(await pgAvailable())) return null;
  const u = new URL(TEST_PG);
  u.searchParams.set("schema", pgSchema(t, prefix));
  return u.toString();
}
