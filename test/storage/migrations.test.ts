/**
 * Migrations on a database that already holds data: 0011_issuer_grants backfills an open issuer grant for every
 * (licence type, issuer) pair from the type's creation time, and allows one open grant per pair only.
 */
import fs from "node:fs";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import t from "tap";
import { MIGRATIONS_DIR, openSqlite } from "../../src/storage/db.js";
import { makeUscc, tempDir } from "../helpers/app.js";

/** A copy of migrations/ whose journal stops before `tag`. */
function migrationsBefore(dir: string, tag: string): string {
  const out = path.join(dir, "migrations-before");
  fs.cpSync(MIGRATIONS_DIR, out, { recursive: true });
  const journalPath = path.join(out, "meta", "_journal.json");
  const journal = JSON.parse(fs.readFileSync(journalPath, "utf8")) as { entries: Array<{ idx: number; tag: string }> };
  const stop = journal.entries.find((e) => e.tag === tag);
  if (!stop) throw new Error(`no migration ${tag}`);
  journal.entries = journal.entries.filter((e) => e.idx < stop.idx);
  fs.writeFileSync(journalPath, JSON.stringify(journal));
  return out;
}

t.test("0011_issuer_grants backfills grants for existing licence types", async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, "old.db");
  const old = new BetterSqlite3(file);
  migrate(drizzle(old), { migrationsFolder: migrationsBefore(dir, "0011_issuer_grants") });
  t.notOk(old.prepare("SELECT name FROM sqlite_master WHERE name = 'issuer_grants'").get(), "the table is new in 0011");
  const dept = old.prepare("INSERT INTO departments (id, name, uscc, region_code, created_at, updated_at) VALUES (?, ?, ?, '350100', 1, 1)");
  dept.run("d-a", "甲局", makeUscc(1));
  dept.run("d-b", "乙局", makeUscc(2));
  const type = old.prepare("INSERT INTO licence_types (code, name, holder_kind, holder_code_types, fields, validity_days, issuers, created_at, updated_at) VALUES (?, ?, 'person', '[\"111\"]', '[]', NULL, ?, ?, ?)");
  const a = makeUscc(10) + "001";
  const b = makeUscc(11) + "001";
  const c = makeUscc(12) + "001";
  type.run(a, "甲证", JSON.stringify(["d-a", "d-b"]), 1_600_000_000_000, 1_700_000_000_000);
  type.run(b, "乙证", JSON.stringify(["d-b"]), 1_650_000_000_000, 1_650_000_000_000);
  type.run(c, "丙证", "[]", 1_660_000_000_000, 1_660_000_000_000);
  old.close();

  const h = openSqlite(file);
  t.teardown(() => h.close());
  const rows = h.reader.prepare("SELECT type_code, department_id, valid_from, valid_to FROM issuer_grants ORDER BY type_code, department_id").all();
  t.same(rows, [
    { type_code: a, department_id: "d-a", valid_from: 1_600_000_000_000, valid_to: null },
    { type_code: a, department_id: "d-b", valid_from: 1_600_000_000_000, valid_to: null },
    { type_code: b, department_id: "d-b", valid_from: 1_650_000_000_000, valid_to: null },
  ], "one open grant per current issuer, from the type's created_at; none for a type without issuers");

  const open = h.writer.prepare("INSERT INTO issuer_grants (type_code, department_id, valid_from, valid_to) VALUES (?, ?, ?, ?)");
  t.throws(() => open.run(a, "d-a", 1_800_000_000_000, null), /UNIQUE/, "a second open grant for the same pair is refused");
  t.doesNotThrow(() => open.run(b, "d-a", 1_800_000_000_000, null));
  t.doesNotThrow(() => open.run(b, "d-a", 1_700_000_000_000, 1_750_000_000_000), "closed grants may be many");
  t.throws(() => open.run(b, "no-such-department", 1_800_000_000_000, null), /FOREIGN KEY/, "grants name existing departments");
});

t.test("0012_holder_key: holders are found through the 16-digit key index, on rows written before it too", async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, "old.db");
  const old = new BetterSqlite3(file);
  migrate(drizzle(old), { migrationsFolder: migrationsBefore(dir, "0012_holder_key") });
  const h1 = "a".repeat(16) + "1".repeat(48);
  const h2 = "a".repeat(16) + "2".repeat(48); // the same key, another holder: told apart by the whole hash
  const lic = old.prepare(`INSERT INTO licences (identifier, lineage, version, type_code, department_id, holder_hash, holder_code_type, payload_enc,
    signature, cert_serial, jws_sha256, valid_from, valid_until, status, status_at, status_index, log_index, created_at)
    VALUES (?, ?, '001', 't', 'd', ?, '111', 'x', 's', 'c', 'j', '2024-01-01', NULL, '01', 1, ?, 0, 1)`);
  lic.run("L1", "l1", h1, 1);
  lic.run("L2", "l2", h2, 2);
  const acc = old.prepare("INSERT INTO access_log (id, at, client_id, matter_code, holder_hash, identifiers, cause_enc, basis, consent_id, log_index) VALUES (?, ?, 'c', 'm', ?, '[]', 'x', 'exempt', NULL, 0)");
  acc.run("A1", 1, h1);
  acc.run("A2", 2, h2);
  acc.run("A3", 3, h1);
  old.close();

  const h = openSqlite(file);
  t.teardown(() => h.close());
  const names = h.reader.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ('licences_holder_idx', 'access_holder_idx', 'licences_holder_key_idx', 'access_holder_key_idx') ORDER BY name").pluck().all();
  t.same(names, ["access_holder_key_idx", "licences_holder_key_idx"], "the full-hash indexes are replaced");
  const { createLicenceRepo } = await import("../../src/storage/repos/licences.js");
  const { createAccessRepos } = await import("../../src/storage/repos/access.js");
  const { sqliteSql } = await import("../../src/storage/sql.js");
  const licences = createLicenceRepo(sqliteSql(h.reader));
  t.same((await licences.byHolder(h1)).map((r) => r.identifier), ["L1"], "only the holder with the whole hash");
  t.same((await licences.byHolder(h2)).map((r) => r.identifier), ["L2"]);
  t.same(await licences.byHolder("b".repeat(64)), []);
  const accesses = createAccessRepos(sqliteSql(h.reader)).accessLog;
  t.same((await accesses.forHolder(h1, { limit: 10 })).map((r) => r.id), ["A3", "A1"], "newest first, the other holder left out");
  t.same((await accesses.forHolder(h1, { limit: 10, before: new Date(3) })).map((r) => r.id), ["A1"]);

  // The plans use the key indexes (a WHERE that is not the index expression word for word would scan the table).
  const plan = (sql: string, ...more: number[]) => (h.reader.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...holderKeyArgs(h1), ...more) as Array<{ detail: string }>).map((r) => r.detail).join("; ");
  const { HOLDER_KEY_MATCH, holderKeyArgs } = await import("../../src/storage/schema/licences.js");
  t.match(plan(`SELECT * FROM licences WHERE ${HOLDER_KEY_MATCH} LIMIT ?`, 10), /USING INDEX licences_holder_key_idx/);
  t.match(plan(`SELECT * FROM access_log WHERE ${HOLDER_KEY_MATCH} AND at < ? ORDER BY at DESC LIMIT ?`, 10, 10), /USING INDEX access_holder_key_idx/);
  t.notMatch(plan(`SELECT * FROM access_log WHERE ${HOLDER_KEY_MATCH} AND at < ? ORDER BY at DESC LIMIT ?`, 10, 10), /TEMP B-TREE/, "ordered by the index, no sort");
});

t.test("0027_case_security: counter cases of unbound terminals become each terminal's own; case numbers unique per owner; matters get departments", async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, "old.db");
  const old = new BetterSqlite3(file);
  migrate(drizzle(old), { migrationsFolder: migrationsBefore(dir, "0027_case_security") });
  const ins = old.prepare("INSERT INTO cases (id, case_no, owner, department_id, client_id, channel, status, opened_at, log_index) VALUES (?, ?, ?, NULL, ?, 'counter', 'open', 1, 0)");
  ins.run("c1", "WIN-1", "counter:unbound", "term-a");
  ins.run("c2", "WIN-2", "counter:unbound", "term-b");
  ins.run("c3", "D-1", "dept:d1", "counter-d1");
  old.prepare("INSERT INTO matters (code, name, licence_types, consent_exempt, exempt_basis, created_at, updated_at) VALUES ('M', '事项', '[]', 0, NULL, 1, 1)").run();
  old.close();

  const h = openSqlite(file);
  t.teardown(() => h.close());
  t.same(h.reader.prepare("SELECT id, owner FROM cases ORDER BY id").all(), [
    { id: "c1", owner: "counter:term-a" }, { id: "c2", owner: "counter:term-b" }, { id: "c3", owner: "dept:d1" },
  ], "each unbound terminal owns the cases it opened; others unchanged");
  t.equal(h.reader.prepare("SELECT departments FROM matters WHERE code = 'M'").pluck().get(), "[]", "existing matters name no department");
  const add = h.writer.prepare("INSERT INTO cases (id, case_no, owner, department_id, client_id, channel, status, opened_at, log_index) VALUES (?, ?, ?, NULL, 'x', 'counter', 'open', 1, 0)");
  t.doesNotThrow(() => add.run("c4", "D-1", "dept:d2"), "another owner may use the same number");
  t.throws(() => add.run("c5", "D-1", "dept:d1"), /UNIQUE/, "one owner, one case per number");
});
