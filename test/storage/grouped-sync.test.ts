/**
 * SIDIAN_DB_SYNC=grouped (src/storage/db.ts): COMMIT writes the WAL without an fsync, and a write resolves only
 * once an fdatasync of the WAL that started after its COMMIT has finished, off the event loop. Writes made while
 * one fdatasync runs share the next one; a relaxed write does not wait; a failed fdatasync fails that write and
 * every later one, and the readiness ping reports the store as down.
 */
import fs from "node:fs";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import t, { type Test } from "tap";
import { openSqlite } from "../../src/storage/db.js";
import { tempDir } from "../helpers/app.js";

type SyncFn = (fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => void;

/** Replaces fs.fdatasync for one test: each call is recorded with the number of commits made before it started. */
function spySync(t: Test, behave: (call: number, done: (e: NodeJS.ErrnoException | null) => void) => void, commits: () => number) {
  const real = fs.fdatasync as unknown as SyncFn;
  const calls: Array<{ commitsBefore: number; finished: boolean }> = [];
  (fs as unknown as { fdatasync: SyncFn }).fdatasync = (fd, cb) => {
    const c = { commitsBefore: commits(), finished: false };
    calls.push(c);
    behave(calls.length, (e) => {
      if (e) {
        c.finished = true;
        cb(e);
        return;
      }
      real(fd, (err) => {
        c.finished = true;
        cb(err);
      });
    });
  };
  t.teardown(() => void ((fs as unknown as { fdatasync: SyncFn }).fdatasync = real));
  return calls;
}

t.test("a write resolves after an fdatasync that started after its commit; concurrent writes share one", async (t) => {
  const file = path.join(tempDir(t), "g.db");
  const h = openSqlite(file, { sync: "grouped", migrate: false });
  t.teardown(() => h.close());
  t.equal(h.writer.pragma("synchronous", { simple: true }), 1, "the connection commits with synchronous=NORMAL");
  h.writer.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)");
  let committed = 0;
  // Each fdatasync is held for 5 ms, so writes pile up behind it.
  const calls = spySync(t, (_n, go) => setTimeout(() => go(null), 5), () => committed);
  const N = 60;
  const order: number[] = [];
  await Promise.all(Array.from({ length: N }, async (_, i) => {
    await new Promise((r) => setTimeout(r, i % 7));
    let mine = 0;
    await h.transaction((tx) => {
      h.writer.prepare("INSERT INTO t (v) VALUES (?)").run(`row ${i}`);
      tx.afterCommit(() => (mine = ++committed));
    });
    // Resolved: some fdatasync that started after this commit has finished.
    const covering = calls.find((c) => c.finished && c.commitsBefore >= mine);
    order.push(covering ? 1 : 0);
  }));
  t.equal(order.filter((x) => x === 1).length, N, "every write was covered by an fdatasync started after its commit");
  t.ok(calls.length < N, `${N} writes shared ${calls.length} fdatasyncs`);
  t.ok(calls.length >= 2, "more than one");
  t.equal((h.reader.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n, N);

  // A relaxed write does not wait for one.
  const before = calls.length;
  await h.transaction(() => void h.writer.prepare("INSERT INTO t (v) VALUES ('relaxed')").run(), { relaxed: true });
  t.equal(calls.length, before, "no fdatasync for a relaxed write");
  await h.close();
  const again = new BetterSqlite3(file, { readonly: true });
  t.equal((again.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n, N + 1, "nothing lost");
  again.close();
});

t.test("a failed fdatasync fails the write and every later one; the ping reports it", async (t) => {
  const file = path.join(tempDir(t), "f.db");
  const h = openSqlite(file, { sync: "grouped", migrate: false });
  t.teardown(() => h.close());
  h.writer.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)");
  await h.transaction(() => void h.writer.prepare("INSERT INTO t (v) VALUES ('ok')").run());
  t.ok(h.ping());
  spySync(t, (_n, go) => go(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" })), () => 0);
  await t.rejects(h.transaction(() => void h.writer.prepare("INSERT INTO t (v) VALUES ('lost?')").run()), { code: "INTERNAL" });
  t.notOk(h.ping(), "the store reports itself down");
  await t.rejects(h.transaction(() => void h.writer.prepare("INSERT INTO t (v) VALUES ('later')").run()), { code: "INTERNAL" }, "later writes fail too");
  const rows = (h.reader.prepare("SELECT v FROM t ORDER BY k").all() as Array<{ v: string }>).map((r) => r.v);
  t.same(rows, ["ok", "lost?"], "a later write is refused before it begins: nothing of it is committed");
});

t.test("a symlinked database path: the WAL beside the real file is the one synced", async (t) => {
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, "real"));
  fs.symlinkSync(path.join(dir, "real"), path.join(dir, "link"));
  const h = openSqlite(path.join(dir, "link", "s.db"), { sync: "grouped", migrate: false });
  t.teardown(() => h.close());
  h.writer.exec("CREATE TABLE t (v TEXT)");
  await h.transaction(() => void h.writer.prepare("INSERT INTO t VALUES ('x')").run());
  await h.durable();
  t.ok(h.ping(), "synced without error");
  t.ok(fs.existsSync(path.join(dir, "real", "s.db-wal")));
});

t.test("close lets the write in flight finish and refuses later ones", async (t) => {
  const file = path.join(tempDir(t), "close.db");
  const h = openSqlite(file, { sync: "grouped", migrate: false });
  h.writer.exec("CREATE TABLE t (v TEXT)");
  let committed = 0;
  spySync(t, (_n, go) => setTimeout(() => go(null), 20), () => committed);
  const inFlight = h.transaction((tx) => {
    h.writer.prepare("INSERT INTO t VALUES ('in flight')").run();
    tx.afterCommit(() => committed++);
  });
  await new Promise((r) => setImmediate(r));
  const closed = h.close();
  await t.rejects(h.transaction(() => void h.writer.prepare("INSERT INTO t VALUES ('late')").run()), { code: "NOT_READY" });
  await inFlight;
  await closed;
  t.notOk(h.writer.open, "closed after the write in flight was durable");
  t.equal(h.close(), closed, "a second close is the same");
  const again = new BetterSqlite3(file, { readonly: true });
  t.same((again.prepare("SELECT v FROM t").all() as Array<{ v: string }>).map((r) => r.v), ["in flight"]);
  again.close();
});

t.test("full and :memory: do not use it", async (t) => {
  const file = path.join(tempDir(t), "x.db");
  const f = openSqlite(file, { sync: "full", migrate: false });
  t.equal(f.writer.pragma("synchronous", { simple: true }), 2, "FULL: SQLite fsyncs inside COMMIT");
  await f.close();
  const m = openSqlite(":memory:", { sync: "grouped", migrate: false });
  m.writer.exec("CREATE TABLE t (v TEXT)");
  await m.transaction(() => void m.writer.prepare("INSERT INTO t VALUES ('x')").run());
  t.ok(m.ping());
  await m.close();
});

t.test("configuration: sync mode and the writer's page cache", async (t) => {
  const { loadConfig } = await import("../../src/config.js");
  const base = { SIDIAN_MODE: "test", SIDIAN_DB: ":memory:" };
  const c = loadConfig(base);
  t.equal(c.dbSync, "grouped", "grouped by default");
  t.equal(c.dbCacheMb, 256);
  t.equal(loadConfig({ ...base, SIDIAN_DB_SYNC: "full", SIDIAN_DB_CACHE_MB: "64" }).dbCacheMb, 64);
  t.throws(() => loadConfig({ ...base, SIDIAN_DB_SYNC: "sometimes" }), { code: "CONFIG_INVALID" });
  t.throws(() => loadConfig({ ...base, SIDIAN_DB_CACHE_MB: "2" }), { code: "CONFIG_INVALID" }, "below the 8 MiB floor");
  const file = path.join(tempDir(t), "c.db");
  const h = openSqlite(file, { migrate: false });
  t.equal(h.writer.pragma("cache_size", { simple: true }), -256 * 1024, "writer: 256 MiB by default");
  t.equal(h.reader.pragma("cache_size", { simple: true }), -64 * 1024, "reader: SQLite's 64 MiB");
  await h.close();
  const s = openSqlite(file, { migrate: false, writerCacheMb: 32 });
  t.equal(s.writer.pragma("cache_size", { simple: true }), -32 * 1024);
  await s.close();
});
