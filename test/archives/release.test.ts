/**
 * Check-before-release (issue 19 §4): POST /cases/:id/archive stores the package held and checks it at the
 * archiving stage; it is handed out only once a run passes. Here the configured virus scanner (clamd) does not
 * answer at first, so 四性检测 fails (security.virus-scan) and the package is held (ARCHIVE_NOT_RELEASED); once the
 * scanner answers, an archiving-stage re-check passes and releases it (archive.released logged with the run).
 * Fails on the code before check-before-release (the package was handed out at once). SQLite and PostgreSQL.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import t from "tap";
import { world } from "../licences/helpers.js";
import { builtPackage } from "./built.js";
import { startFakeClamd } from "./fake-clamd.js";

t.test("a package is not released until 四性检测 at archiving passes", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sidian-release-"));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sock = path.join(dir, "clamd.sock");
  const w = await world(t, { SIDIAN_CLAMD: sock, SIDIAN_CLAMD_TIMEOUT_MS: "2000" });
  // builtPackage downloads the package: with no scanner answering that must fail, so build by hand here
  const built = await builtPackage(t, w).then(() => null, (e: Error) => e);
  t.match(built?.message, /ARCHIVE_NOT_RELEASED/, "the package of a failed archiving check is not handed out");
  const archives = await w.h.sql.all("SELECT id FROM archives ORDER BY created_at DESC LIMIT 1");
  const id = (archives[0] as { id: string }).id;
  const api = (method: "GET" | "POST", url: string, token: string, payload?: object) => w.h.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload ? { payload } : {}) });
  const a = (await api("GET", `/archives/${id}`, w.tokens.consumer)).json();
  t.equal(a.status, "stored");
  t.equal(a.releasedAt, null, "held");
  const held = await api("GET", `/archives/${id}/package`, w.tokens.consumer);
  t.equal(held.statusCode, 409);
  t.equal(held.json().code, "ARCHIVE_NOT_RELEASED");
  const archivist = (await w.h.client("archivist", { departmentId: w.dept.id })).token;
  t.equal((await api("GET", `/archives/${id}/package`, archivist)).json().code, "ARCHIVE_NOT_RELEASED", "nor to the archive office");
  // a run at another stage does not release it
  const pres = await api("POST", `/archives/${id}/checks`, archivist, { stage: "preservation" });
  t.equal(pres.statusCode, 200, "checked at the preservation stage");
  t.equal(pres.json().report.items.find((i: { id: string }) => i.id === "security.virus-scan").result, "fail");

  // the scanner answers now: an archiving-stage run passes and releases the package
  const clamd = await startFakeClamd({ address: sock });
  t.teardown(() => clamd.close());
  const run = await api("POST", `/archives/${id}/checks`, archivist, { stage: "archiving" });
  t.equal(run.statusCode, 200, "checked at the archiving stage");
  t.equal(run.json().report.result, "pass", JSON.stringify(run.json().report.items.filter((i: { result: string }) => i.result === "fail")));
  const size = await w.h.ctx.tlog.size();
  const released = await w.h.ctx.tlog.getEntry(size - 1);
  t.equal(released.event.type, "archive.released");
  t.match(released.event.data, { archiveId: id, checkLogIndex: run.json().logIndex });
  t.not((await api("GET", `/archives/${id}`, w.tokens.consumer)).json().releasedAt, null);
  const pkg = await api("GET", `/archives/${id}/package`, w.tokens.consumer);
  t.equal(pkg.statusCode, 200);
  t.equal(pkg.headers["content-type"], "application/zip");
  // released once: a later passing archiving run logs no second release
  t.equal((await api("POST", `/archives/${id}/checks`, archivist, { stage: "archiving" })).statusCode, 200);
  t.equal((await w.h.ctx.tlog.getEntry((await w.h.ctx.tlog.size()) - 1)).event.type, "archive.checked");
});

t.test("POST /cases/:id/archive answers the archiving check and releases a package that passes", async (t) => {
  const { w, api, archiveId } = await builtPackage(t);
  const a = (await api("GET", `/archives/${archiveId}`, w.tokens.consumer)).json();
  t.not(a.releasedAt, null, "released");
  const entries = [];
  for (let i = a.logIndex; i < (await w.h.ctx.tlog.size()); i++) entries.push((await w.h.ctx.tlog.getEntry(i)).event);
  const checked = entries.find((e) => e.type === "archive.checked");
  t.match(checked?.data, { archiveId, stage: "archiving", result: "pass", failed: [] });
  t.ok(entries.some((e) => e.type === "archive.released"), "archive.released logged");
});
