/**
 * `sidian db backup` under write load and `sidian db restore`, run as the commands an operator runs (child
 * processes beside a live service writing to the same file), then `sidian log audit` on the restored copy; and the
 * restore's refusals: a database in the way, a database in use, a damaged file, not a database, a backup of another
 * deployment, a backup from a newer version.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import BetterSqlite3 from "better-sqlite3";
import t from "tap";
import { dbRestoreCommand } from "../../src/cli/db.js";
import { loadConfig } from "../../src/config.js";
import { keysInit } from "../../src/pki/index.js";
import { backupSqlite, checkBackup } from "../../src/storage/backup.js";
import { build, ROOT, tempDir } from "../helpers/app.js";
import { issue, personLicence, world } from "../licences/helpers.js";

function cli(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "src/main.ts"), ...args], {
      cwd: ROOT, env: { ...process.env, SIDIAN_MODE: "test", SIDIAN_LOG_LEVEL: "silent", SIDIAN_KEYS_DIR: path.join(ROOT, "keys-dev"), ...env },
    });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

function io() {
  const out = new PassThrough();
  const err = new PassThrough() as unknown as NodeJS.WriteStream;
  let text = "";
  out.on("data", (d) => (text += d));
  (err as unknown as PassThrough).on("data", (d) => (text += d));
  return { io: { out, err }, text: () => text };
}

t.test("backup under write load, restore, and the restored copy audits and verifies", async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, "live.db");
  const w = await world(t, { SIDIAN_DB: db });
  for (let n = 1; n <= 20; n++) t.equal((await issue(w, personLicence(w, n))).statusCode, 201);
  const before = (await w.h.ctx.uow.read.tlog.size());

  // The service keeps issuing while `sidian db backup` runs in another process.
  let writing = true;
  let issued = 20;
  const writer = (async () => {
    while (writing) {
      const r = await issue(w, personLicence(w, ++issued));
      if (r.statusCode !== 201) throw new Error(`issue during backup: ${r.statusCode} ${r.body}`);
    }
  })();
  const backupFile = path.join(dir, "backup.db");
  const b = await cli(["db", "backup", backupFile], { SIDIAN_DB: db });
  writing = false;
  await writer;
  t.equal(b.status, 0, b.stderr);
  const summary = JSON.parse(b.stdout.slice(0, b.stdout.lastIndexOf("}") + 1)) as { logSize: number; sha256: string; restarts: number };
  t.ok(issued > 20, `the service issued ${issued - 20} licences while the backup ran (restarts: ${summary.restarts})`);
  t.ok(summary.logSize >= before, "the backup holds at least what was there when it started");
  t.notOk(fs.existsSync(`${backupFile}-wal`), "one self-contained file");
  t.same(fs.readdirSync(dir).filter((f) => f.includes(".partial-")), [], "no partial file left");

  // A second backup to the same name is refused without --force.
  const again = await cli(["db", "backup", backupFile], { SIDIAN_DB: db });
  t.equal(again.status, 2);
  t.match(again.stderr, /exists; pass --force/);

  // Restore into a new place, then `sidian log audit` proves it.
  const restored = path.join(dir, "restored", "sidian.db");
  const r = await cli(["db", "restore", backupFile], { SIDIAN_DB: restored });
  t.equal(r.status, 0, r.stdout + r.stderr);
  t.match(r.stdout, /integrity ok/);
  const audit = await cli(["log", "audit"], { SIDIAN_DB: restored });
  t.equal(audit.status, 0, audit.stdout + audit.stderr);
  t.match(audit.stdout, new RegExp(`^OK: ${summary.logSize} leaves`));

  // The restored database serves: its licences verify, and every licence has its log entry.
  const h = await build(t, { SIDIAN_DB: restored });
  const rows = (await h.sql.all("SELECT identifier, log_index FROM licences")) as Array<{ identifier: string; log_index: number }>;
  t.ok(rows.length >= 20 && rows.every((x) => x.log_index >= 0 && x.log_index < summary.logSize), `${rows.length} licences, each with its log entry inside the copy`);
  for (const row of [rows[0]!, rows[rows.length - 1]!]) {
    const v = await h.app.inject({ method: "POST", url: "/verify", payload: { identifier: row.identifier } });
    t.equal(v.json().result, "VALID", `${row.identifier} verifies in the restored copy`);
  }
});

t.test("restore refuses what it must, and changes nothing then", async (t) => {
  const dir = tempDir(t);
  const live = path.join(dir, "live.db");
  const h = await build(t, { SIDIAN_DB: live });
  await h.department();
  const good = path.join(dir, "good.db");
  const made = await backupSqlite(live, good);
  t.ok(made.bytes > 0 && made.logSize > 0);
  t.same(checkBackup(good), { ok: true, problems: [], migrations: checkBackup(good).migrations, logSize: made.logSize, checkpointSize: made.checkpointSize });
  const config = (db: string, keys = path.join(ROOT, "keys-dev")) => loadConfig({ SIDIAN_MODE: "test", SIDIAN_DB: db, SIDIAN_KEYS_DIR: keys }, ROOT);

  // A database in the way: refused without --force; with --force still refused while a process has it open.
  let o = io();
  t.equal(await dbRestoreCommand(config(live), good, {}, o.io), 2);
  t.match(o.text(), /A database is at .*pass --force/);
  o = io();
  t.equal(await dbRestoreCommand(config(live), good, { force: true }, o.io), 2);
  t.match(o.text(), /open in a running process: stop the service first/);

  // With the service stopped, --force replaces it and keeps the old one beside it.
  await h.ctx.close();
  await h.app.close();
  o = io();
  t.equal(await dbRestoreCommand(config(live), good, { force: true }, o.io), 0, o.text());
  t.ok(fs.readdirSync(dir).some((f) => f.startsWith("live.db.before-restore-")), "the replaced database is kept");

  const target = path.join(dir, "target.db");
  const refusedWith = async (file: string, re: RegExp, keys?: string) => {
    const x = io();
    t.equal(await dbRestoreCommand(config(target, keys), file, {}, x.io), 1, file);
    t.match(x.text(), re);
    t.notOk(fs.existsSync(target), "nothing was restored");
  };
  // Damaged: a page in the middle overwritten.
  const damaged = path.join(dir, "damaged.db");
  fs.copyFileSync(good, damaged);
  const fd = fs.openSync(damaged, "r+");
  const size = fs.statSync(damaged).size;
  fs.writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, Math.floor(size / 4096 / 2) * 4096);
  fs.closeSync(fd);
  await refusedWith(damaged, /does not check out|integrity_check|malformed|cannot be read/);
  // Not a database at all; a missing file.
  const text = path.join(dir, "notes.txt");
  fs.writeFileSync(text, "hello, this is not a database\n".repeat(10));
  await refusedWith(text, /is not an SQLite database/);
  await refusedWith(path.join(dir, "missing.db"), /cannot read/);
  // From a newer version: a migration this version does not know.
  const newer = path.join(dir, "newer.db");
  fs.copyFileSync(good, newer);
  const n = new BetterSqlite3(newer);
  n.prepare("INSERT INTO __drizzle_migrations (hash, created_at) VALUES ('x', ?)").run(Date.now() + 1e9);
  n.close();
  await refusedWith(newer, /newer version of Sidian/);
  // Another deployment's backup: its log does not verify with this deployment's log key.
  const otherKeys = tempDir(t, "sidian-other-keys-");
  await keysInit({ dir: otherKeys, dev: true, force: true, publicUrl: "http://127.0.0.1:8080" });
  await refusedWith(good, /not a backup of this deployment/, otherKeys);
  // …and with a checkpoint in it, the audit itself fails on the signature.
  const h2 = await build(t, { SIDIAN_DB: path.join(dir, "second.db") });
  await h2.department();
  await h2.ctx.tlog.checkpoint();
  const signed = path.join(dir, "signed.db");
  await backupSqlite(h2.ctx.config.dbPath, signed);
  await refusedWith(signed, /does not verify with this deployment's log key/, otherKeys);
});

t.test("db backup: usage and refusals", async (t) => {
  const dir = tempDir(t);
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "src/main.ts"), "db", "backup"], { cwd: ROOT, encoding: "utf8", env: { ...process.env, SIDIAN_DB: path.join(dir, "x.db") } });
  t.equal(r.status, 2);
  t.match(r.stderr, /db backup\|restore FILE/);
  await t.rejects(backupSqlite(path.join(dir, "none.db"), path.join(dir, "b.db")), { message: /No database/ });
  await t.rejects(backupSqlite(":memory:", path.join(dir, "b.db")), { message: /in-memory/ });
  const h = await build(t, { SIDIAN_DB: path.join(dir, "x.db") });
  await t.rejects(backupSqlite(h.ctx.config.dbPath, h.ctx.config.dbPath), { message: /cannot be the database itself/ });
  await t.rejects(backupSqlite(h.ctx.config.dbPath, path.join(dir, "no-such-folder", "b.db")), { message: /does not exist/ });
});

t.test("a backup that SQLite restarts because of writes finishes with a consistent copy", async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, "busy.db");
  const w = new BetterSqlite3(file);
  w.pragma("journal_mode = WAL");
  w.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB); CREATE TABLE __drizzle_migrations (id INTEGER PRIMARY KEY, hash TEXT, created_at NUMERIC)");
  const ins = w.prepare("INSERT INTO t (v) VALUES (randomblob(1000))");
  w.transaction(() => { for (let i = 0; i < 8000; i++) ins.run(); })();
  // A writer on its own connection commits between the backup's steps.
  let writes = 0;
  const timer = setInterval(() => { ins.run(); writes++; }, 1);
  const r = await backupSqlite(file, path.join(dir, "copy.db"));
  clearInterval(timer);
  t.ok(r.restarts > 0, `SQLite restarted the copy ${r.restarts} time(s) (${writes} writes meanwhile)`);
  const c = new BetterSqlite3(path.join(dir, "copy.db"), { readonly: true });
  t.equal(c.pragma("integrity_check", { simple: true }), "ok");
  const rows = (c.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n;
  t.ok(rows >= 8000 && rows <= 8000 + writes, `${rows} rows: one state of the database`);
  c.close();
  w.close();
});
