/**
 * `sidian archive check` as a user runs it (a child process): exit 0 when every item passes, 1 when one fails (the
 * failing file named on stdout), 2 when the package cannot be read; trust from the keys folder, never the package.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { tempDir } from "../helpers/app.js";
import { buildFixture, ROOT } from "./fixture.js";

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", path.join(ROOT, "src/main.ts"), "archive", "check", ...args], {
      cwd: ROOT, env: { ...process.env, SIDIAN_MODE: "test", SIDIAN_KEYS_DIR: path.join(ROOT, "keys-dev"), SIDIAN_DB: "/nonexistent/never-opened.db", ...env }, maxBuffer: 1 << 24,
    }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }));
  });
}

t.test("exit codes and output", async (t) => {
  const f = await buildFixture(tempDir(t, "sidian-arc-cli-"));
  const ok = await run([f.dir, "--json"]);
  t.equal(ok.code, 0, ok.stderr);
  const report = JSON.parse(ok.stdout);
  t.equal(report.result, "pass");
  t.match(report.checker.anchors[0], /Sidian Root CA/, "anchors from the keys folder");

  fs.appendFileSync(path.join(f.dir, "data/materials/m3/说明.txt"), "changed\n");
  const bad = await run([f.dir, "--report", path.join(f.dir, "..", "report.json")]);
  t.equal(bad.code, 1);
  t.match(bad.stdout, /\[FAIL\] GD-1-2 authenticity\.payload-digests/);
  t.match(bad.stdout, /- data\/materials\/m3\/说明\.txt: sha256 is /, "names the file");
  t.equal(JSON.parse(fs.readFileSync(path.join(f.dir, "..", "report.json"), "utf8")).result, "fail", "--report writes the JSON");

  const missing = await run([path.join(f.dir, "nothing-here")]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /cannot be read: no such file or directory/);

  const untrusted = await run([f.dir, "--trust", path.join(ROOT, "keys-dev/sm2-root-ca.crt.pem")]);
  t.equal(untrusted.code, 1, "another trust anchor: the package does not verify");
  t.match(untrusted.stdout, /\[FAIL\] GD-1-4 authenticity\.signature/);

  const usage = await run([]);
  t.equal(usage.code, 2);
  t.match(usage.stderr, /usage: sidian archive check/);
});
