/** `sidian import file.ndjson`: the real command against the test database, with progress, summary and errors file. */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import t from "tap";
import { ROOT, tempDir } from "../helpers/app.js";
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
