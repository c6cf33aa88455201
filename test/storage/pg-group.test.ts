/**
 * Grouped write transactions on PostgreSQL (storage/pg.ts): units of work that queue while a group runs share the
 * next PostgreSQL transaction, each under a savepoint of its own. A failing unit is rolled back alone, the others
 * are kept; nobody is answered before COMMIT; two instances appending to one log at once leave one contiguous log
 * that audits clean, with every acknowledged append present and no failed one. Skips where no PostgreSQL answers.
 */
import { generateKeyPairSync } from "node:crypto";
import pg from "pg";
import t, { type Test } from "tap";
import { openPg, withUser, type PgHandle } from "../../src/storage/pg.js";
import { createPgUnitOfWork } from "../../src/storage/repos/index.js";
import { silentLogger, systemClock } from "../../src/modules/kernel.js";
import { createTlog } from "../../src/modules/tlog/index.js";
import { logAudit } from "../../src/modules/tlog/cli.js";
import { pgTestUrl } from "../helpers/pg.js";

/** A second, independent connection: sees only what has been committed. */
async function outside(url: string, t: Test): Promise<pg.Pool> {
  const u = new URL(url);
  const schema = u.searchParams.get("schema")!;
  u.searchParams.delete("schema");
  const c = new pg.Pool({ connectionString: withUser(u.toString()), options: `-c search_path=${schema}`, max: 4 });
  t.teardown(() => c.end());
  return c;
}

/** Holds the group in progress until `open()` is called, so that the next units queue and form one group. */
function gate() {
  let open!: () => void;
  let started!: () => void;
  const p = new Promise<void>((r) => (open = r));
  const running = new Promise<void>((r) => (started = r));
  return { p, open, started, running };
}

t.test("a failing unit inside a group is rolled back alone; the others are kept, and answered only after COMMIT", async (t) => {
  const url = await pgTestUrl(t, "grp");
  if (!url) return void t.pass("skipped: no PostgreSQL (see the line above)");
  const h: PgHandle = await openPg(url, { listen: false });
  t.teardown(() => h.close());
  const c = await outside(url, t);
  await c.query("CREATE TABLE grp_t (k text PRIMARY KEY)");

  const g = gate();
  const first = h.transaction(async () => {
    await h.w.run("INSERT INTO grp_t (k) VALUES (?)", ["first"]);
    g.started();
    await g.p;
  });
  await g.running;
  // Queued while the first group runs: these form the next group.
  const seenAtAnswer: Record<string, boolean> = {};
  const committedHooks: string[] = [];
  const rolledBackHooks: string[] = [];
  const unit = (k: string, how: "ok" | "throw" | "sql-error") =>
    h.transaction(async (tx) => {
      tx.afterCommit(() => committedHooks.push(k));
      tx.afterRollback(() => rolledBackHooks.push(k));
      await h.w.run("INSERT INTO grp_t (k) VALUES (?)", [k]);
      if (how === "throw") throw new Error(`unit ${k} refuses`);
      // A statement error puts the transaction in the aborted state: only the savepoint rollback recovers it.
      if (how === "sql-error") await h.w.run("INSERT INTO grp_t (k) VALUES (?)", ["first"]);
      return k;
    }).then(async (v) => {
      seenAtAnswer[k] = (await c.query("SELECT 1 FROM grp_t WHERE k = $1", [k])).rowCount === 1;
      return v;
    });
  const jobs = [unit("a", "ok"), unit("b", "throw"), unit("c", "ok"), unit("d", "sql-error"), unit("e", "ok")];
  g.open();
  await first;
  const rs = await Promise.allSettled(jobs);
  t.same(rs.map((r) => r.status), ["fulfilled", "rejected", "fulfilled", "rejected", "fulfilled"]);
  t.match((rs[1] as PromiseRejectedResult).reason, { message: "unit b refuses" }, "the unit's own error");
  t.match((rs[3] as PromiseRejectedResult).reason, { code: "23505" }, "a unique violation inside the group answers that unit");
  const keys = (await c.query<{ k: string }>("SELECT k FROM grp_t ORDER BY k")).rows.map((r) => r.k);
  t.same(keys, ["a", "c", "e", "first"], "the failing units' rows are gone; every other unit's is committed");
  t.same(seenAtAnswer, { a: true, c: true, e: true }, "each answer came after its row was visible to another connection (committed)");
  t.same(committedHooks, ["a", "c", "e"], "afterCommit hooks of the kept units, in order");
  t.same(rolledBackHooks, ["b", "d"], "afterRollback hooks of the failing units only");
  const stats = h.groupStats();
  t.same(stats, { groups: 1, units: 6 }, "the units queued while the first ran joined its transaction: one group of six");
});

t.test("a failing first unit of a group does not take the later ones with it", async (t) => {
  const url = await pgTestUrl(t, "grp");
  if (!url) return void t.pass("skipped: no PostgreSQL (see the line above)");
  const h = await openPg(url, { listen: false });
  t.teardown(() => h.close());
  const c = await outside(url, t);
  await c.query("CREATE TABLE grp_t (k text PRIMARY KEY)");
  const g = gate();
  // The group's first unit runs without a savepoint: when it fails the whole transaction is rolled back and begun
  // again for the units that queued behind it.
  const first = h.transaction(async () => {
    await h.w.run("INSERT INTO grp_t (k) VALUES (?)", ["w"]);
    g.started();
    await g.p;
    throw new Error("first of the group fails");
  });
  await g.running;
  const jobs = ["x", "y", "z"].map((k) => h.transaction(async () => void (await h.w.run("INSERT INTO grp_t (k) VALUES (?)", [k]))));
  g.open();
  const rs = await Promise.allSettled([first, ...jobs]);
  t.same(rs.map((r) => r.status), ["rejected", "fulfilled", "fulfilled", "fulfilled"]);
  t.same((await c.query<{ k: string }>("SELECT k FROM grp_t ORDER BY k")).rows.map((r) => r.k), ["x", "y", "z"]);
  t.same(h.groupStats(), { groups: 1, units: 4 }, "one group");
});

t.test("two instances appending at once, with failing units among them: one contiguous log, every acknowledged append present, none of the failed", async (t) => {
  const url = await pgTestUrl(t, "grp");
  if (!url) return void t.pass("skipped: no PostgreSQL (see the line above)");
  const [a, b] = await Promise.all([openPg(url), openPg(url)]);
  t.teardown(async () => { await a.close(); await b.close(); });
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const logOn = (h: PgHandle) => {
    const uow = createPgUnitOfWork(h);
    const tlog = createTlog({
      uow, clock: systemClock, signer: { name: "test.sidian/log", privateKey, publicKey },
      checkpointIntervalSeconds: 1, checkpointMaxEntries: 1_000_000, log: silentLogger, autoCheckpoint: false,
    });
    return { uow, tlog };
  };
  const A = logOn(a);
  const B = logOn(b);
  const acknowledged = new Map<number, string>();
  const refused: string[] = [];
  const jobs: Array<Promise<void>> = [];
  for (let i = 0; i < 400; i++) {
    for (const [name, inst] of [["A", A], ["B", B]] as const) {
      const subject = `thing:${name}-${i}`;
      const n = 1 + (i % 3);
      const fail = i % 7 === 3;
      jobs.push(inst.uow.write(async (repos, tx) => {
        const r = await inst.tlog.appendMany(repos, tx, Array.from({ length: n }, (_, j) => ({ type: "test.append", subject: `${subject}/${j}`, actor: "system:test", data: { i, j } })));
        if (fail) throw new Error("refused after appending");
        return r;
      }).then(
        (r) => r.forEach((x, j) => acknowledged.set(x.index, `${subject}/${j}`)),
        (e: Error) => {
          if (e.message !== "refused after appending") throw e;
          refused.push(subject);
        },
      ));
    }
  }
  await Promise.all(jobs);
  const sa = a.groupStats();
  const sb = b.groupStats();
  t.ok(sa.units > sa.groups && sb.units > sb.groups, `units were grouped (A ${sa.units} units in ${sa.groups} groups, B ${sb.units} in ${sb.groups})`);
  const size = await A.tlog.size();
  t.equal(size, acknowledged.size, "the log holds exactly the acknowledged leaves");
  t.equal(Math.max(...acknowledged.keys()), size - 1, "indexes 0…size-1, no gap");
  t.ok(refused.length > 0, `${refused.length} units failed after appending`);
  const rows = await a.r.all<{ idx: number; data: string }>("SELECT idx, data FROM tlog_leaves ORDER BY idx");
  t.equal(rows.length, size);
  let mismatched = 0;
  for (const r of rows) if ((JSON.parse(r.data) as { subject: string }).subject !== acknowledged.get(r.idx)) mismatched++;
  t.equal(mismatched, 0, "each index holds the leaf its writer was told");
  const failedInLog = rows.filter((r) => refused.some((s) => (JSON.parse(r.data) as { subject: string }).subject.startsWith(`${s}/`)));
  t.equal(failedInLog.length, 0, "no leaf of a failed unit");
  await B.tlog.checkpoint();
  const rep = await logAudit({ dbPath: url, vkey: A.tlog.publicKey().vkey, out: { write: () => undefined }, err: null });
  t.ok(rep.ok, `log audit passes (${rep.leaves} leaves)${rep.ok ? "" : `: ${JSON.stringify(rep.problems).slice(0, 300)}`}`);
});

t.test("checkpoints are signed by the holder of the lease alone; when it stops, another instance takes over", async (t) => {
  const url = await pgTestUrl(t, "grp");
  if (!url) return void t.pass("skipped: no PostgreSQL (see the line above)");
  const [a, b] = await Promise.all([openPg(url), openPg(url)]);
  t.teardown(async () => { await a.close(); await b.close(); });
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const signed: Record<string, number[]> = { A: [], B: [] };
  const logOn = (h: PgHandle, name: "A" | "B") => {
    const uow = createPgUnitOfWork(h);
    const log = { ...silentLogger, info: (o: object, msg?: string) => void (msg === "tlog: checkpoint published" && signed[name]!.push((o as { size: number }).size)) };
    const tlog = createTlog({
      uow, clock: systemClock, signer: { name: "test.sidian/log", privateKey, publicKey },
      checkpointIntervalSeconds: 1, checkpointMaxEntries: 1_000_000, log, autoCheckpoint: true,
      checkpointLease: () => h.lease("log-checkpoints", 2),
    });
    return { uow, tlog };
  };
  const A = logOn(a, "A");
  t.ok(await a.lease("log-checkpoints", 2), "A holds the lease first");
  const B = logOn(b, "B");
  const append = (x: typeof A, i: number) => x.uow.write((repos, tx) => x.tlog.append(repos, tx, { type: "test.append", subject: `thing:${i}`, actor: "system:test", data: { i } }));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // Both append for ~3.5 s (B more than A): only A signs, and it signs B's entries too.
  for (let i = 0; i < 35; i++) {
    await Promise.all([append(A, i), append(B, 1000 + i), append(B, 2000 + i)]);
    await sleep(100);
  }
  await sleep(1200);
  t.ok(signed.A!.length >= 2, `A signed ${signed.A!.length} checkpoints`);
  t.same(signed.B, [], "B signed none while A held the lease");
  t.equal(Math.max(...signed.A!), await B.tlog.size(), "A's latest checkpoint covers every instance's entries");
  // A stops (as a dead instance would: it no longer renews); B takes over once the lease has run out.
  await A.tlog.close();
  const before = signed.A!.length;
  const t0 = Date.now();
  for (let i = 0; Date.now() - t0 < 6000 && signed.B!.length < 2; i++) {
    await append(B, 3000 + i);
    await sleep(100);
  }
  t.equal(signed.A!.length, before, "A signs no more");
  t.ok(signed.B!.length >= 1, `B took over after ${((Date.now() - t0) / 1000).toFixed(1)} s and signed ${signed.B!.length}`);
  const sizes = await a.r.column<number>("SELECT size FROM tlog_checkpoints ORDER BY created_at, size");
  t.same(sizes, [...sizes].sort((x, y) => x - y), "checkpoints strictly increasing in the order stored");
  await B.tlog.close();
  const rep = await logAudit({ dbPath: url, vkey: A.tlog.publicKey().vkey, out: { write: () => undefined }, err: null });
  t.ok(rep.ok, "log audit passes");
});
