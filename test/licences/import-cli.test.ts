/** `sidian import file.ndjson`: the real command against the test database, with progress, summary and errors file. */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import t from "tap";
import { ROOT, TEST_STORE, tempDir } from "../helpers/app.js";
import { personLicence, world } from "./helpers.js";

t.test("sidian import", async (t) => {
  const w = await world(t);
  const dir = tempDir(t);
  const file = path.join(dir, "paper.ndjson");
  const lines = Array.from({ length: 120 }, (_, i) => JSON.stringify({ ...personLicence(w, 600 + i), idempotencyKey: `paper-${i}` }));
  lines.splice(50, 0, JSON.stringify({ ...personLicence(w, 1), fields: {} }));
  fs.writeFileSync(file, lines.join("\n") + "\n");
  const errors = path.join(dir, "errors.ndjson");
  const size = await w.h.ctx.tlog.size();
  const env = { ...process.env, SIDIAN_MODE: "test", SIDIAN_DB: w.h.ctx.config.dbPath, SIDIAN_KEYS_DIR: w.h.ctx.config.keysDir, SIDIAN_DB_SYNC: "normal" };
  const run = () => promisify(execFile)(process.execPath, ["--import", "tsx", path.join(ROOT, "src/main.ts"), "import", file, "--department", w.dept.id, "--errors", errors], { env, cwd: ROOT }).catch((e: { stdout: string; stderr: string; code: number }) => e);
  const r = await run();
  const summary = JSON.parse(r.stdout);
  t.match(summary, { lines: 121, issued: 120, replayed: 0, failed: 1, byCode: { FIELDS_INVALID: 1 } });
  t.match(r.stderr, /import\s+100\.0% 121\/121/, "progress reaches 100%");
  t.match(r.stderr, /imported 120, replayed 0, failed 1/);
  t.same(JSON.parse(fs.readFileSync(errors, "utf8").trim()), { line: 51, code: "FIELDS_INVALID", message: JSON.parse(fs.readFileSync(errors, "utf8")).message });
  t.equal(await w.h.ctx.tlog.size(), size + 120, "every imported licence is logged");
  const again = JSON.parse((await run()).stdout);
  t.match(again, { issued: 0, replayed: 120, failed: 1 }, "running the import again issues nothing twice");
});

t.test("sidian import: re-runs without keys, exit codes, a stopped import", async (t) => {
  const w = await world(t);
  const dir = tempDir(t);
  const env = { ...process.env, SIDIAN_MODE: "test", SIDIAN_DB: w.h.ctx.config.dbPath, SIDIAN_KEYS_DIR: w.h.ctx.config.keysDir, SIDIAN_DB_SYNC: "normal" };
  type Out = { stdout: string; stderr: string; code?: number };
  const run = (...args: string[]): Promise<Out> => promisify(execFile)(process.execPath, ["--import", "tsx", path.join(ROOT, "src/main.ts"), "import", ...args], { env, cwd: ROOT })
    .then((r) => ({ ...r, code: 0 }), (e: Out) => e);

  // Lines without keys, ended by lone CRs: a second run replays them; another line with a number already used fails.
  const file = path.join(dir, "nokeys.ndjson");
  fs.writeFileSync(file, [0, 1, 2].map((i) => JSON.stringify(personLicence(w, 700 + i))).join("\r") + "\r");
  const first = await run(file, "--department", w.dept.id);
  t.equal(first.code, 0, first.stderr);
  t.match(JSON.parse(first.stdout), { lines: 3, issued: 3, failed: 0 });
  t.match(first.stderr, /import\s+100\.0% 3\/3/, "lines ended by a lone CR are counted as readline reads them");
  const size = await w.h.ctx.tlog.size();
  const second = await run(file, "--department", w.dept.id);
  t.match(JSON.parse(second.stdout), { lines: 3, issued: 0, replayed: 3 }, "a second run issues nothing twice");
  t.equal(await w.h.ctx.tlog.size(), size, "and logs nothing");
  const clash = path.join(dir, "clash.ndjson");
  fs.writeFileSync(clash, JSON.stringify({ ...personLicence(w, 700), holder: { ...personLicence(w, 700).holder, name: "李四" } }) + "\n");
  const errs = path.join(dir, "errors.ndjson");
  const c = await run(clash, "--department", w.dept.id, "--errors", errs);
  t.equal(c.code, 1, "some lines failed");
  const e = JSON.parse(fs.readFileSync(errs, "utf8"));
  t.equal(e.code, "IDEMPOTENCY_CONFLICT");
  t.match(e.message, /licence type and number/, "said in the import's own terms");

  // A line JSON.parse accepts but canonical JSON cannot (a lone surrogate) fails alone; the import goes on.
  const odd = path.join(dir, "odd.ndjson");
  fs.writeFileSync(odd, [JSON.stringify(personLicence(w, 710)).replace("张三丰", "张\\ud800"), JSON.stringify(personLicence(w, 711))].join("\n"));
  const o = await run(odd, "--department", w.dept.id);
  t.equal(o.code, 1, o.stderr.slice(-300));
  t.match(JSON.parse(o.stdout), { lines: 2, issued: 1, failed: 1, byCode: { VALIDATION_FAILED: 1 } });
  t.notOk(JSON.parse(o.stdout).stopped, "not taken for an internal failure");

  // Nothing imported: exit 2, a one-line message, and the errors file of the earlier run left as it was.
  const before = fs.readFileSync(errs, "utf8");
  const missing = await run(path.join(dir, "nope.ndjson"), "--department", w.dept.id, "--errors", errs);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /^sidian: VALIDATION_FAILED: Cannot read .*nope\.ndjson/);
  t.equal(fs.readFileSync(errs, "utf8"), before, "the errors file is not truncated by a run that did not start");
  const dept = await run(file, "--department", "no-such-department", "--errors", errs);
  t.equal(dept.code, 2);
  t.match(dept.stderr, /DEPARTMENT_NOT_FOUND/);
  const badErrs = await run(file, "--department", w.dept.id, "--errors", path.join(dir, "no-dir", "errors.ndjson"));
  t.equal(badErrs.code, 2);
  t.notMatch(badErrs.stderr, /\n\s+at /, "no stack trace");
  const sizeBefore = await w.h.ctx.tlog.size();
  const fresh = path.join(dir, "fresh.ndjson");
  fs.writeFileSync(fresh, JSON.stringify(personLicence(w, 720)));
  const dirErrs = await run(fresh, "--department", w.dept.id, "--errors", dir);
  t.equal(dirErrs.code, 2, "an errors path that cannot be opened (a directory): the import does not start");
  t.equal(await w.h.ctx.tlog.size(), sizeBefore, "nothing imported");

  // Another process holds the write lock: every store fails (INTERNAL); the import stops, says why, exits 3.
  // SQLite's file lock only: on PostgreSQL a writer waits for a row lock rather than failing.
  if (TEST_STORE === "pg") {
    t.comment("skipped on PostgreSQL: the stopped-import case holds SQLite's file write lock");
    return;
  }
  const lockFile = path.join(dir, "lock.ndjson");
  fs.writeFileSync(lockFile, Array.from({ length: 5 }, (_, i) => JSON.stringify(personLicence(w, 800 + i))).join("\n"));
  const { default: Database } = await import("better-sqlite3");
  const holder = new Database(w.h.ctx.config.dbPath);
  holder.exec("BEGIN IMMEDIATE");
  try {
    const stopped = await run(lockFile, "--department", w.dept.id);
    t.equal(stopped.code, 3, stopped.stderr.slice(-500));
    t.match(JSON.parse(stopped.stdout).stopped, /internal failure/);
    t.match(stopped.stderr, /database is locked/, "the cause is on stderr");
  } finally {
    holder.exec("ROLLBACK");
    holder.close();
  }
});
