/**
 * The background WAL checkpointer (src/storage/checkpointer.ts): a worker thread with its own connection copies
 * committed WAL frames into the database file, the writer keeps only a high fallback threshold, nothing written is
 * lost, and closing stops the worker before the connections close.
 */
import fs from "node:fs";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import t from "tap";
import { openSqlite } from "../../src/storage/db.js";
import { FALLBACK_PAGES } from "../../src/storage/checkpointer.js";
import { tempDir } from "../helpers/app.js";

t.test("background checkpoints copy the WAL into the database file", async (t) => {
  const file = path.join(tempDir(t), "c.db");
  const h = openSqlite(file, { sync: "full", checkpoint: "background", migrate: false });
  t.ok(h.checkpointer, "a checkpointer runs for a file database");
  t.equal(h.writer.pragma("wal_autocheckpoint", { simple: true }), FALLBACK_PAGES, "the writer keeps only the fallback threshold");
  h.writer.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)");
  for (let i = 0; i < 40; i++) {
    await h.transaction(() => {
      const ins = h.writer.prepare("INSERT INTO t (v) VALUES (?)");
      for (let k = 0; k < 50; k++) ins.run(Buffer.alloc(1000, k));
    });
  }
  const r = await h.checkpointer!.now();
  t.equal(r.busy, 0, "not blocked by the writer");
  t.ok(r.log > 0, `the WAL held ${r.log} frames`);
  t.equal(r.checkpointed, r.log, "every committed frame was copied");
  const st = await h.checkpointer!.stats();
  t.ok(st.runs >= 1, `${st.runs} runs`);
  t.equal(st.lastError, null);
  t.ok(fs.statSync(file).size > 2000 * 1000, "the rows are in the main file before any connection closes");
  await h.close();
  t.notOk(h.writer.open, "closed");
  const again = new BetterSqlite3(file, { readonly: true });
  t.equal((again.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n, 2000, "nothing lost");
  again.close();
});

t.test("inline mode and in-memory databases have no checkpointer", async (t) => {
  const a = openSqlite(path.join(tempDir(t), "i.db"), { checkpoint: "inline", migrate: false });
  t.equal(a.checkpointer, null);
  t.equal(a.writer.pragma("wal_autocheckpoint", { simple: true }), 1000, "SQLite's default threshold");
  await a.close();
  const m = openSqlite(":memory:", { checkpoint: "background", migrate: false });
  t.equal(m.checkpointer, null);
  await m.close();
});

t.test("a stopped checkpointer answers no more, and stopping twice is harmless", async (t) => {
  const h = openSqlite(path.join(tempDir(t), "s.db"), { checkpoint: "background", migrate: false });
  const cp = h.checkpointer!;
  await cp.stop();
  await cp.stop();
  await t.rejects(cp.now(), /stopped/);
  await h.close();
});
