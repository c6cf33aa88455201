/**
 * Two Sidian instances on one PostgreSQL database (issue 16 §3–5), in one process: two complete services (store,
 * log engine, caches, HTTP app) sharing nothing but the database. Concurrent log appends and checkpoints from both,
 * concurrent issuance with shared Idempotency-Keys, a suspension on one seen by the other, then `sidian log
 * audit` over the database. Skips with one line where no PostgreSQL answers.
 */
import t from "tap";
import { build } from "../helpers/app.js";
import { pgTestUrl } from "../helpers/pg.js";
import { logAudit } from "../../src/modules/tlog/cli.js";
import { bearer, issue, personLicence, world, type World } from "../licences/helpers.js";

t.test("two instances on one database behave as one service", async (t) => {
  const url = await pgTestUrl(t, "mi");
  if (!url) return void t.pass("skipped: no PostgreSQL (see the line above)");
  const w = await world(t, { SIDIAN_DB: url });
  const a = w.h;
  const b = await build(t, { SIDIAN_DB: url });
  const wb: World = { ...w, h: b };

  await t.test("log appends and checkpoints from both instances make one log", async (t) => {
    const before = await a.ctx.tlog.size();
    const append = (h: typeof a, i: number) =>
      h.ctx.uow.write((repos, tx) => h.ctx.tlog.append(repos, tx, { type: "test.append", subject: `thing:${i}`, actor: "system:test", data: { i } }));
    const jobs: Array<Promise<unknown>> = [];
    for (let i = 0; i < 150; i++) {
      jobs.push(append(a, i), append(b, 1000 + i));
      if (i % 50 === 25) jobs.push(a.ctx.tlog.checkpoint(), b.ctx.tlog.checkpoint());
    }
    const results = await Promise.all(jobs);
    const indexes = results.filter((r): r is { index: number } => typeof (r as { index?: unknown }).index === "number").map((r) => r.index);
    t.equal(indexes.length, 300);
    t.equal(new Set(indexes).size, 300, "no index given twice");
    t.equal(await a.ctx.tlog.size(), before + 300, "every append is in the log");
    t.equal(await b.ctx.tlog.size(), before + 300, "as both instances see it");
    t.equal(Math.max(...indexes), before + 299, "contiguous");

    // A checkpoint is never stored for a smaller tree than the latest one, whichever instance signs it: A appends
    // (its memory holds that tree), B appends more and signs, then A is asked to sign.
    await append(a, 5000);
    await append(b, 5001);
    const cpB = await b.ctx.tlog.checkpoint();
    const sizes = async () => (await a.sql.column<number>("SELECT size FROM tlog_checkpoints ORDER BY size"));
    const known = await sizes();
    const cpA = await a.ctx.tlog.checkpoint();
    t.equal(cpA.size, cpB.size, "A answers with the latest checkpoint (B's)");
    t.same(await sizes(), known, "A stored no checkpoint for its smaller tree");
    await append(a, 5002);
    const cpA2 = await a.ctx.tlog.checkpoint();
    t.equal(cpA2.size, cpB.size + 1, "A signs the whole tree, B's entries included");
    t.equal((await b.ctx.tlog.latestCheckpoint()).root, cpA2.root, "one root whichever instance answers");
  });

  await t.test("issuance on both with shared Idempotency-Keys: one licence per key, serials and status indexes unique", async (t) => {
    const jobs: Array<Promise<{ statusCode: number; body: string; json(): { identifier: string } }>> = [];
    for (let i = 0; i < 12; i++) {
      const key = `mi-${i}`;
      const body = personLicence(w, 7000 + i);
      jobs.push(issue(w, body, w.tokens.issuer, { "idempotency-key": key }), issue(wb, body, w.tokens.issuer, { "idempotency-key": key }));
    }
    for (let i = 0; i < 6; i++) jobs.push(issue(i % 2 ? w : wb, personLicence(w, 7100 + i), w.tokens.issuer));
    const rs = await Promise.all(jobs);
    for (const r of rs) t.ok(r.statusCode === 201 || r.statusCode === 200, `${r.statusCode} ${r.statusCode >= 300 ? r.body : ""}`);
    for (let i = 0; i < 12; i++) t.equal(rs[2 * i]!.json().identifier, rs[2 * i + 1]!.json().identifier, `key mi-${i}: one licence on both instances`);
    const rows = await a.sql.all<{ identifier: string; lineage: string; status_index: number; department_id: string }>(
      "SELECT identifier, lineage, status_index, department_id FROM licences WHERE department_id = ?", [w.dept.id]);
    t.equal(rows.length, 18, "12 keyed + 6 plain");
    t.equal(new Set(rows.map((r) => r.identifier)).size, rows.length, "identifiers unique");
    t.equal(new Set(rows.map((r) => r.lineage)).size, rows.length, "serials unique");
    t.equal(new Set(rows.map((r) => r.status_index)).size, rows.length, "status-list indexes unique");
  });

  await t.test("a suspension on one instance is seen by the other within a second", async (t) => {
    const r = await issue(w, personLicence(w, 7200), w.tokens.issuer);
    const id = r.json().identifier;
    const v0 = await b.app.inject({ method: "POST", url: "/verify", payload: { identifier: id } });
    t.equal(v0.json().result, "VALID", "B verified it (and may keep the record in memory)");
    const s = await a.app.inject({ method: "POST", url: `/licences/${id}/status`, headers: bearer(w.tokens.issuer), payload: { action: "suspend", reason: "测试" } });
    t.equal(s.statusCode, 200, s.body);
    const t0 = Date.now();
    let seen = -1;
    while (Date.now() - t0 < 1000) {
      const v = await b.app.inject({ method: "POST", url: "/verify", payload: { identifier: id } });
      if (v.json().result !== "VALID") {
        seen = Date.now() - t0;
        break;
      }
      await new Promise((res) => setTimeout(res, 20));
    }
    t.ok(seen >= 0, `B saw the suspension after ${seen} ms`);
  });

  await t.test("a catalogue change on one instance is used by the other within a second", async (t) => {
    const first = await b.app.inject({ method: "GET", url: `/licence-types/${w.personType}`, headers: bearer(w.tokens.admin) });
    t.equal(first.statusCode, 200, "B holds the catalogue in memory");
    const admin = bearer(w.tokens.admin);
    const r = await a.app.inject({ method: "PATCH", url: `/licence-types/${w.personType}`, headers: admin, payload: { name: "食品经营许可证（个人，已更名）" } });
    t.equal(r.statusCode, 200, r.body);
    const t0 = Date.now();
    let seen = -1;
    while (Date.now() - t0 < 1000) {
      const g = await b.app.inject({ method: "GET", url: `/licence-types/${w.personType}`, headers: admin });
      if (g.json().name === "食品经营许可证（个人，已更名）") {
        seen = Date.now() - t0;
        break;
      }
      await new Promise((res) => setTimeout(res, 20));
    }
    t.ok(seen >= 0, `B uses the renamed type after ${seen} ms`);
  });

  await t.test("sidian log audit over the shared database passes", async (t) => {
    await a.ctx.tlog.checkpoint();
    const out: string[] = [];
    const report = await logAudit({ dbPath: url, vkey: a.ctx.tlog.publicKey().vkey, out: { write: (s: string) => out.push(s) }, err: null });
    t.ok(report.ok, out.join(""));
    t.equal(report.leaves, await b.ctx.tlog.size());
    t.ok(report.checkpoints >= 4, "checkpoints from both instances, each verified and consistent with the previous");
  });
});
