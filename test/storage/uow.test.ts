import path from "node:path";
import t from "tap";
import { openSqlite } from "../../src/storage/db.js";
import { tempDir } from "../helpers/app.js";

t.test("unit of work: serialised writers, rollback, relaxed commits", async (t) => {
  const h = openSqlite(path.join(tempDir(t), "u.db"), { sync: "full" });
  t.teardown(() => h.close());
  h.writer.exec("CREATE TABLE t (v INTEGER)");
  t.equal(h.writer.pragma("synchronous", { simple: true }), 2, "FULL by default");

  // concurrent writers never interleave: each reads then writes, and no increment is lost
  h.writer.exec("INSERT INTO t VALUES (0)");
  await Promise.all(Array.from({ length: 50 }, () => h.transaction(async () => {
    const v = (h.writer.prepare("SELECT v FROM t").get() as { v: number }).v;
    await new Promise((r) => setImmediate(r));
    h.writer.prepare("UPDATE t SET v = ?").run(v + 1);
  })));
  t.equal((h.reader.prepare("SELECT v FROM t").get() as { v: number }).v, 50);

  // a failed transaction leaves nothing, and runs its rollback hooks
  let rolledBack = false;
  await t.rejects(h.transaction(async (tx) => {
    tx.afterRollback(() => (rolledBack = true));
    h.writer.prepare("UPDATE t SET v = 999").run();
    throw new Error("boom");
  }), /boom/);
  t.ok(rolledBack);
  t.equal((h.reader.prepare("SELECT v FROM t").get() as { v: number }).v, 50);

  // the reader never sees a transaction's uncommitted writes
  await h.transaction(async () => {
    h.writer.prepare("UPDATE t SET v = 51").run();
    t.equal((h.reader.prepare("SELECT v FROM t").get() as { v: number }).v, 50, "reader sees the last commit");
  });
  t.equal((h.reader.prepare("SELECT v FROM t").get() as { v: number }).v, 51);

  // relaxed: commits, and the connection is back to FULL afterwards (even after a failure)
  await h.transaction(async () => {
    t.equal(h.writer.pragma("synchronous", { simple: true }), 1, "NORMAL inside a relaxed transaction");
    h.writer.prepare("UPDATE t SET v = 52").run();
  }, { relaxed: true });
  t.equal(h.writer.pragma("synchronous", { simple: true }), 2, "FULL again after it");
  await t.rejects(h.transaction(async () => { throw new Error("x"); }, { relaxed: true }));
  t.equal(h.writer.pragma("synchronous", { simple: true }), 2, "FULL again after a failed one");
  t.equal((h.reader.prepare("SELECT v FROM t").get() as { v: number }).v, 52);
});
