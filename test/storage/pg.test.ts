/**
 * The PostgreSQL store: the derived schema covers every SQLite table, migrations apply once when instances start
 * together, and a wrong or unreachable URL stops with one line.
 */
import { getTableConfig as sqliteConfig, type SQLiteTable } from "drizzle-orm/sqlite-core";
import { getTableConfig as pgConfig, type PgTable } from "drizzle-orm/pg-core";
import t from "tap";
import * as sqlite from "../../src/storage/schema/index.js";
import * as pgSchemaModule from "../../src/storage/schema-pg/index.js";
import { openPg } from "../../src/storage/pg.js";
import { AppError } from "../../src/errors.js";
import { loadConfig } from "../../src/config.js";
import { adminQuery, pgTestUrl } from "../helpers/pg.js";

const isTable = (v: unknown) => typeof v === "object" && v !== null && Object.getOwnPropertySymbols(v).some((s) => s.description === "drizzle:IsDrizzleTable");

t.test("every SQLite table has a PostgreSQL twin exported under the same name (drizzle-kit needs the export)", async (t) => {
  for (const [name, v] of Object.entries(sqlite)) {
    if (!isTable(v)) continue;
    const twin = (pgSchemaModule as Record<string, unknown>)[name] as PgTable | undefined;
    t.ok(twin, `${name} is exported by src/storage/schema-pg/index.ts (add it to the export list there)`);
    if (!twin) continue;
    const a = sqliteConfig(v as SQLiteTable);
    const b = pgConfig(twin);
    t.equal(b.name, a.name);
    t.same(b.columns.map((c) => c.name).sort(), a.columns.map((c) => c.name).sort(), `${a.name}: same columns`);
    t.same(b.indexes.map((i) => i.config.name).sort(), a.indexes.map((i) => i.config.name).sort(), `${a.name}: same indexes`);
  }
});

t.test("SIDIAN_DB: a postgres URL selects PostgreSQL; other URLs and bad schema names are refused", async (t) => {
  const base = { SIDIAN_MODE: "test", SIDIAN_KEYS_DIR: "keys-dev" };
  const c = loadConfig({ ...base, SIDIAN_DB: "postgres://u@db.example:5433/sidian?schema=prov" });
  t.equal(c.dbKind, "pg");
  t.equal(c.dbPath, "postgres://u@db.example:5433/sidian?schema=prov");
  t.equal(loadConfig({ ...base, SIDIAN_DB: "./x.db" }).dbKind, "sqlite");
  t.throws(() => loadConfig({ ...base, SIDIAN_DB: "mysql://h/db" }), /SQLite file path or a postgres:\/\/ URL/);
  t.throws(() => loadConfig({ ...base, SIDIAN_DB: "postgres://h/db?schema=Bad-Name" }), /schema= must be/);
});

t.test("an unreachable PostgreSQL stops start-up with one line naming host and database, never the password", async (t) => {
  const e = await openPg("postgres://u:secret@127.0.0.1:1/nodb", { connectTimeoutSeconds: 2 }).catch((e: unknown) => e);
  t.ok(e instanceof AppError);
  t.equal((e as AppError).code, "CONFIG_INVALID");
  t.match((e as AppError).message, /^Cannot use the PostgreSQL database at 127\.0\.0\.1:1\/nodb: /);
  t.notMatch((e as AppError).message, /secret|\n/);
});

t.test("migrations: two instances starting together apply them once; the schema has every table", async (t) => {
  const url = await pgTestUrl(t);
  if (!url) return void t.pass("skipped: no PostgreSQL");
  const [a, b] = await Promise.all([openPg(url), openPg(url)]);
  t.teardown(async () => { await a.close(); await b.close(); });
  const schema = new URL(url).searchParams.get("schema")!;
  const applied = await adminQuery(`SELECT count(*)::int AS n FROM "${schema}".__drizzle_migrations`);
  t.ok(applied.rows[0].n >= 1);
  const tables = (await adminQuery("SELECT table_name FROM information_schema.tables WHERE table_schema = $1", [schema])).rows.map((r) => r.table_name as string);
  for (const v of Object.values(sqlite)) if (isTable(v)) t.ok(tables.includes(sqliteConfig(v as SQLiteTable).name), sqliteConfig(v as SQLiteTable).name);
  t.ok(tables.includes("store_coord"));
  const again = await openPg(url);
  t.equal((await adminQuery(`SELECT count(*)::int AS n FROM "${schema}".__drizzle_migrations`)).rows[0].n, applied.rows[0].n, "nothing applied twice");
  await again.close();
});

t.test("a wrong database name stops with one line", async (t) => {
  const url = await pgTestUrl(t);
  if (!url) return void t.pass("skipped: no PostgreSQL");
  const u = new URL(url);
  u.pathname = "/no_such_database_here";
  const e = await openPg(u.toString()).catch((e: unknown) => e);
  t.equal((e as AppError).code, "CONFIG_INVALID");
  t.match((e as AppError).message, /no_such_database_here.*does not exist/);
});

t.test("leases: one holder at a time, taken over when the holder stops renewing (database time)", async (t) => {
  const url = await pgTestUrl(t);
  if (!url) return void t.pass("skipped: no PostgreSQL");
  const [a, b] = await Promise.all([openPg(url, { listen: false }), openPg(url, { listen: false })]);
  t.teardown(async () => { await a.close(); await b.close(); });
  t.equal(await a.lease("job", 1), true, "A takes it");
  t.equal(await b.lease("job", 1), false, "B cannot while A holds it");
  t.equal(await a.lease("job", 1), true, "A renews");
  t.equal(await b.lease("other", 1), true, "another lease is independent");
  await new Promise((r) => setTimeout(r, 1200));
  t.equal(await b.lease("job", 1), true, "B takes it once A's ran out");
  t.equal(await a.lease("job", 1), false, "and A no longer holds it");
});

t.test("a connection lost mid-transaction answers STORE_UNAVAILABLE; the pool recovers", async (t) => {
  const url = await pgTestUrl(t);
  if (!url) return void t.pass("skipped: no PostgreSQL");
  const h = await openPg(url, { listen: false });
  t.teardown(() => h.close());
  await h.transaction(async () => void (await h.w.run("CREATE TABLE probe (v BIGINT)")));
  const lost = h.transaction(async () => {
    await h.w.run("INSERT INTO probe (v) VALUES (1)");
    const pid = await h.w.value<number>("SELECT pg_backend_pid() AS pid");
    await adminQuery("SELECT pg_terminate_backend($1)", [pid]);
    await h.w.run("INSERT INTO probe (v) VALUES (2)");
  });
  await t.rejects(lost, { code: "STORE_UNAVAILABLE" }, "the request fails with the documented code (503)");
  await h.transaction(async () => void (await h.w.run("INSERT INTO probe (v) VALUES (3)")));
  t.same(await h.r.column<number>("SELECT v FROM probe ORDER BY v"), [3], "nothing of the lost transaction; the next one commits");
  t.equal(await h.ping(), true);
});
