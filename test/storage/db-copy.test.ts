/**
 * `sidian db copy` (issue 16 §7): a whole deployment from SQLite to PostgreSQL and back. A copy interrupted part-way
 * leaves a target the service refuses (it must not look complete); run again, it resumes where it stopped and
 * checks out (row counts, log root, checkpoint); the service on the target verifies the licences copied, issues new
 * ones (serial columns continue) and its log audits. A non-empty target is refused; --restart starts clean.
 * Skips where no PostgreSQL answers.
 */
import path from "node:path";
import { Writable } from "node:stream";
import t from "tap";
import { build, tempDir } from "../helpers/app.js";
import { pgTestUrl } from "../helpers/pg.js";
import { AppError } from "../../src/errors.js";
import { copyStore } from "../../src/storage/copy-store.js";
import { dbCopyCommand } from "../../src/cli/db.js";
import { logAudit } from "../../src/modules/tlog/cli.js";
import { loadKeyMaterial } from "../../src/pki/index.js";
import { bearer, issued, personLicence, world } from "../licences/helpers.js";

function sink() {
  let text = "";
  const s = new Writable({ write(chunk, _enc, cb) { text += String(chunk); cb(); } }) as Writable & { isTTY?: boolean };
  return { stream: s as unknown as NodeJS.WriteStream, text: () => text };
}

t.test("SQLite → PostgreSQL, interrupted and resumed, then back to SQLite", async (t) => {
  const pgUrl = await pgTestUrl(t, "cp");
  if (!pgUrl) return void t.pass("skipped: no PostgreSQL (see the line above)");
  const dir = tempDir(t);
  const src = path.join(dir, "source.db");
  const w = await world(t, { SIDIAN_DB: src });
  const ids: string[] = [];
  for (let i = 0; i < 12; i++) ids.push((await issued(w, personLicence(w, 8100 + i))).identifier);
  const s = await w.h.app.inject({ method: "POST", url: `/licences/${ids[0]}/status`, headers: bearer(w.tokens.issuer), payload: { action: "suspend", reason: "检查" } });
  t.equal(s.statusCode, 200, "suspended");
  await w.h.ctx.tlog.checkpoint();

  // Interrupted after the first tables (small pages: several per table).
  let tablesDone = 0;
  const e = await copyStore(src, pgUrl, {
    page: 3,
    afterTable: () => {
      if (++tablesDone === 8) throw new Error("interrupted");
    },
  }).catch((x: unknown) => x);
  t.match(e, { message: "interrupted" });
  const refused = await build(t, { SIDIAN_DB: pgUrl }).catch((x: unknown) => x);
  t.ok(refused instanceof AppError && refused.code === "CONFIG_INVALID", "the service refuses the half-copied target");
  t.match((refused as Error).message, /unfinished copy of .*source\.db.*run the same copy again/);

  const other = await copyStore(path.join(dir, "other.db"), pgUrl).catch((x: unknown) => x);
  t.match(other, { code: "CONFLICT", message: /unfinished copy of .*source\.db/ }, "a copy from another source is refused");

  let started: { total: number; resumed: boolean } | undefined;
  const r = await copyStore(src, pgUrl, { page: 3, onStart: (total, resumed) => (started = { total, resumed }) });
  t.ok(r.ok, r.problems.join("; "));
  t.equal(r.resumed, true);
  t.same(started, { total: r.rows, resumed: true });
  t.ok(r.copiedNow > 0 && r.copiedNow < r.rows, `resumed: ${r.copiedNow} of ${r.rows} rows copied in the second run`);
  for (const c of r.tables) t.equal(c.target, c.source, `${c.table}: ${c.source} rows`);
  t.equal(r.log.sourceRoot, r.log.targetRoot, "one log root");
  t.ok(r.log.size > 12, `${r.log.size} log entries`);

  // The service on the target: the licences verify (signatures checked from the copied keys and certificates), the
  // suspension holds, new licences are issued (serial columns continue after the copied ids), the log audits.
  const w2 = { ...w, h: await build(t, { SIDIAN_DB: pgUrl }) };
  for (const id of ids) {
    const v = await w2.h.app.inject({ method: "POST", url: "/verify", payload: { identifier: id } });
    // The suspended one: INVALID by its status (its signature still checks out).
    t.equal(v.json().result, id === ids[0] ? "INVALID" : "VALID", `${id} verifies from the target`);
  }
  const fresh = await issued(w2, personLicence(w2, 8200));
  t.ok(fresh.logIndex >= r.log.size, "a licence issued on the target extends the copied log");
  const m = await loadKeyMaterial(w2.h.ctx.config.keysDir, { publicOnly: true });
  await w2.h.ctx.tlog.checkpoint();
  const audit = await logAudit({ dbPath: pgUrl, publicKeyPem: m.log.publicKeyPem, previousPublicKeyPems: m.previous.log.map((l) => l.publicKeyPem), origin: w2.h.ctx.config.logOrigin, json: false, out: { write: () => true } as unknown as NodeJS.WritableStream, err: null });
  t.ok(audit.ok, "the target's log audits after new writes");

  const again = await copyStore(src, pgUrl).catch((x: unknown) => x);
  t.match(again, { code: "CONFLICT", message: /not empty/ }, "a complete, non-empty target is refused");

  // And back: PostgreSQL → a new SQLite file, through the command (progress bar, checks, log audit).
  const back = path.join(dir, "back.db");
  const out = sink();
  const err = sink();
  const code = await dbCopyCommand(w2.h.ctx.config, pgUrl, back, {}, { out: out.stream, err: err.stream });
  t.equal(code, 0, code === 0 ? "exit 0" : err.text());
  t.match(err.text(), /copying rows +100\.0% (\d+)\/\1/, "the progress bar reached 100%");
  const res = JSON.parse(out.text().slice(0, out.text().indexOf("\n}\n") + 2)) as { ok: boolean; log: { sourceRoot: string; targetRoot: string } };
  t.equal(res.ok, true);
  t.equal(res.log.sourceRoot, res.log.targetRoot);
  t.match(out.text(), /"ok": true/);
  const w3 = { ...w, h: await build(t, { SIDIAN_DB: back }) };
  const v = await w3.h.app.inject({ method: "POST", url: "/verify", payload: { identifier: fresh.identifier } });
  t.equal(v.json().result, "VALID", "a licence issued on PostgreSQL verifies from the SQLite copy");
});

t.test("--restart empties an unfinished target and copies from the start", async (t) => {
  const pgUrl = await pgTestUrl(t, "cp");
  if (!pgUrl) return void t.pass("skipped: no PostgreSQL (see the line above)");
  const dir = tempDir(t);
  const src = path.join(dir, "source.db");
  const w = await world(t, { SIDIAN_DB: src });
  await issued(w, personLicence(w, 8300));
  const e = await copyStore(src, pgUrl, { afterTable: (n) => { if (n === "licences") throw new Error("interrupted"); } }).catch((x: unknown) => x);
  t.match(e, { message: "interrupted" });
  const r = await copyStore(src, pgUrl, { restart: true });
  t.ok(r.ok, r.problems.join("; "));
  t.equal(r.resumed, false);
  t.equal(r.copiedNow, r.tables.filter((c) => c.table !== "deployment").reduce((n, c) => n + c.source, 0), "every row copied again");
});
