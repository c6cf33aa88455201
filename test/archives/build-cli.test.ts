/**
 * `sidian archive build` (issue 19 §2) and a build that stopped half-way: the CLI archives a closed case by its
 * number and writes the stored package; an archive left `building` (chunks half written) is finished by archiving
 * again — same archive, same log entry — and its package is whole.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { openZip } from "../../src/containers/zip/index.js";
import type { Actor } from "../../src/modules/kernel.js";
import { ADMIN_ACTOR, build, ROOT, TEST_STORE, tempDir } from "../helpers/app.js";

const SYSTEM: Actor = { kind: "system", name: "test" };

async function closedCase(h: Awaited<ReturnType<typeof build>>, caseNo: string) {
  const dept = await h.department("福州市行政审批局");
  if (!(await h.ctx.uow.read.matters.byCode("M-ARC"))) await h.ctx.catalogue.createMatter({ code: "M-ARC", name: "归档测试事项", licenceTypes: [], departments: [dept.id] }, ADMIN_ACTOR);
  const consumer = await h.client("consumer", { matters: ["M-ARC"] });
  const actor: Actor = { kind: "client", clientId: consumer.id, role: "consumer", departmentId: null, matters: ["M-ARC"], scopes: [] };
  const c = await h.ctx.cases.open({ caseNo, matterCode: "M-ARC", title: "归档测试", departmentId: dept.id, applicant: { name: "张三", codeType: "111", code: "11010519491231002X" }, staff: { name: "李四" } }, actor);
  await h.ctx.cases.close(c.id, { result: "rejected" }, actor);
  return { c, actor };
}

t.test("an archive left building is finished by archiving again", async (t) => {
  const h = await build(t);
  const { c, actor } = await closedCase(h, `HALF${Date.now() % 1e8}`);
  const a = await h.ctx.archives.archive(c.id, actor);
  t.equal(a.status, "stored");
  // as if the process had stopped after the first chunk
  await h.sql.run("UPDATE archives SET status = 'building', package_sha256 = NULL WHERE id = ?", [a.id]);
  await h.sql.run("DELETE FROM archive_chunks WHERE archive_id = ? AND seq > 0", [a.id]);
  await t.rejects(h.ctx.archives.packageStream(a.id, actor), { code: "ARCHIVE_NOT_STORED" });
  const again = await h.ctx.archives.archive(c.id, actor);
  t.equal(again.id, a.id, "the same archive");
  t.equal(again.logIndex, a.logIndex, "under the same log entry");
  t.equal(again.status, "stored");
  const p = await h.ctx.archives.packageStream(a.id, actor);
  const chunks: Buffer[] = [];
  for await (const ch of p.stream) chunks.push(ch as Buffer);
  const zip = Buffer.concat(chunks);
  t.equal(createHash("sha256").update(zip).digest("hex"), again.packageSha256);
  const z = await openZip(zip);
  t.ok(z.get(`${again.bagName}/signature/tagmanifest-sha256.txt.p7s`), "whole: the signature is there");
  t.equal((await z.readEntry(z.get(`${again.bagName}/bag-info.txt`)!, 65536)).toString().match(/Payload-Oxum: (.*)/)?.[1], "0.0", "an empty case: no payload");
  await z.close();
  await t.rejects(h.ctx.archives.archive(c.id, SYSTEM), { code: "CASE_ALREADY_ARCHIVED" });
});

t.test("sidian archive build CASE_NO --out FILE", { skip: TEST_STORE === "pg" ? "the CLI run uses the SQLite file of the test service" : false }, async (t) => {
  const h = await build(t);
  const caseNo = `CLI${Date.now() % 1e8}`;
  await closedCase(h, caseNo);
  const dir = tempDir(t);
  const out = path.join(dir, "p.zip");
  const run = () => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ["--import", "tsx", path.join(ROOT, "src/main.ts"), "archive", "build", caseNo, "--out", out, "--retention", "10y"], {
      cwd: ROOT, env: { ...process.env, SIDIAN_DB: h.ctx.config.dbPath, SIDIAN_KEYS_DIR: h.ctx.config.keysDir, SIDIAN_MODE: "test" }, timeout: 120_000,
    }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }));
  });
  const r = await run();
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, new RegExp(`archive \\S+ of case ${caseNo}`));
  const zip = fs.readFileSync(out);
  const z = await openZip(zip);
  const meta = JSON.parse((await z.readEntry(z.get(`${caseNo}/metadata/case.json`)!, 1 << 20)).toString());
  t.equal(meta.retention.code, "D10");
  t.equal(meta.case.result, "rejected");
  await z.close();
  const a = await h.ctx.uow.read.archives.byCase((await h.ctx.uow.read.cases.withCaseNo(caseNo, 1))[0]!.id);
  t.equal(a?.packageSha256, createHash("sha256").update(zip).digest("hex"), "the file is the stored package");
  const again = await run();
  t.not(again.code, 0, "the file exists: not overwritten");
});
