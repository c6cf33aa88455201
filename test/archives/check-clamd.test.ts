/**
 * The virus-scan item against a FAKE clamd (an outside service; test/archives/fake-clamd.ts speaks clamd's real
 * INSTREAM protocol over a unix socket and flags the EICAR test string): each file is streamed in its own session,
 * an infected file is named, a scanner that refuses a file fails the item, and no scanner configured is "not
 * applicable".
 */
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { tempDir } from "../helpers/app.js";
import { buildFixture } from "./fixture.js";
import { checkDir, item } from "./check-helpers.js";
import { EICAR, startFakeClamd } from "./fake-clamd.js";

function walk(dir: string, rel = ""): string[] {
  return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((d) => {
    const p = rel ? `${rel}/${d.name}` : d.name;
    return d.isDirectory() ? walk(dir, p) : [p];
  });
}

t.test("clamd INSTREAM", async (t) => {
  const f = await buildFixture(tempDir(t, "sidian-arc-clam-"));
  const clamd = await startFakeClamd({ streamMaxLength: 4096 });
  t.teardown(() => clamd.close());
  const cfg = { address: clamd.address, timeoutMs: 10_000, chunkBytes: 1000 };

  const clean = await checkDir(f.dir, { clamd: cfg });
  const v = item(clean, "security.virus-scan");
  t.equal(v.result, "fail", "the fake's StreamMaxLength (4 KiB) refuses the larger files: not scanned is a failure");
  const over = walk(f.dir).filter((p) => fs.statSync(path.join(f.dir, p)).size > 4096).sort();
  t.same(v.failures.map((x) => x.subject).sort(), over, "each file over the limit is named");
  t.ok(v.failures.every((x) => /INSTREAM size limit exceeded/.test(x.detail)), JSON.stringify(v.failures.slice(0, 2)));
  t.match(clean.checker.virusScanner, /ClamAV 1\.0\.0-fake/, "the scanner's own VERSION answer is in the report");
  t.ok(clamd.sessions >= 19, "one INSTREAM session per file");

  const big = await startFakeClamd();
  t.teardown(() => big.close());
  const ok = await checkDir(f.dir, { clamd: { ...cfg, address: big.address } });
  t.equal(item(ok, "security.virus-scan").result, "pass");
  t.match(item(ok, "security.virus-scan").found, /^19 file\(s\) scanned clean/);

  fs.writeFileSync(path.join(f.dir, "data/materials/m3/说明.txt"), `申请人说明\n${EICAR}\n`);
  const bad = await checkDir(f.dir, { clamd: { ...cfg, address: big.address } });
  t.same(item(bad, "security.virus-scan").failures, [{ subject: "data/materials/m3/说明.txt", detail: "infected: Eicar-Test-Signature" }]);

  const none = await checkDir(f.dir);
  t.equal(item(none, "security.virus-scan").result, "not_applicable");

  const gone = await checkDir(f.dir, { clamd: { ...cfg, address: path.join(f.dir, "no.sock") } });
  t.equal(item(gone, "security.virus-scan").result, "fail", "a configured scanner that does not answer is a failure, not a pass");
  t.match(item(gone, "security.virus-scan").failures[0]!.detail, /not scanned: clamd at .*ENOENT/);
});
