/**
 * Archive builds and 四性检测 runs under concurrency (runs on SQLite and PostgreSQL: SIDIAN_TEST_STORE=pg):
 * - one build per archive: two concurrent (re)builds of a case whose first build stopped half-way give one 201 and
 *   one 409 ARCHIVE_BUILD_IN_PROGRESS, and the stored package downloads whole and passes 四性检测; a crashed builder's
 *   lease keeps others out until it runs out, then the next request takes over;
 * - POST /archives/:id/checks: concurrent callers share one run (one `archive.checked` entry, one logIndex), and each
 *   caller is rate limited (SIDIAN_ARCHIVE_CHECK_RATE_LIMIT per minute, 429 RATE_LIMITED).
 */
import { createHash } from "node:crypto";
import t, { type Test } from "tap";
import { BUILD_LEASE_MS } from "../../src/modules/archives/service.js";
import { ADMIN_ACTOR, bearer } from "../helpers/app.js";
import { makePdf } from "../../fixtures/pdf/make-pdf.js";
import { HOLDER, registerRaw, setup, type MatSetup } from "../materials/helpers.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** A closed case of the consumer with one material attached. */
async function closedCase(t: Test, s: MatSetup, tag: string) {
  const { h } = s;
  const api = (method: "GET" | "POST", url: string, payload?: object) => h.app.inject({ method, url, headers: bearer(s.consumer.token), ...(payload ? { payload } : {}) });
  // The matter names the department that handles it (a case's department is never the caller's word alone).
  await h.ctx.catalogue.updateMatter("M-A", { departments: [s.issuer.departmentId] }, ADMIN_ACTOR);
  const c = await api("POST", "/cases", {
    caseNo: `SAFE${tag}${Date.now() % 1e7}`, matterCode: "M-A", title: "食品经营许可（新办）", departmentId: s.issuer.departmentId,
    applicant: { name: "王五", codeType: "111", code: HOLDER }, staff: { name: "李四" },
  });
  t.equal(c.statusCode, 201, c.json().code);
  const m = await registerRaw(h, s.consumer.token, { typeCode: "LEASE", holder: { code: HOLDER, codeType: "111" }, matterCode: "M-A", name: `lease-${tag}.pdf` }, makePdf({ lines: () => [`lease ${tag}`] }));
  t.equal(m.statusCode, 201, m.json().code);
  t.equal((await api("POST", `/cases/${c.json().id}/items`, { kind: "material", materialId: m.json().material.identifier })).statusCode, 201);
  t.equal((await api("POST", `/cases/${c.json().id}/close`, { result: "approved" })).statusCode, 200);
  return { id: c.json().id as string, materialId: m.json().material.identifier as string, api };
}

/** Makes the next build stop half-way (the time-stamp of the tag-manifest signature fails once). */
function failNextStamp(s: MatSetup) {
  const tsa = s.h.ctx.tsa as unknown as { stamp: (...a: unknown[]) => Promise<unknown> };
  const orig = tsa.stamp;
  tsa.stamp = async () => {
    tsa.stamp = orig;
    throw new Error("TSA unavailable (test)");
  };
}

t.test("one build per archive; a crashed builder's lease runs out", async (t) => {
  const s = await setup(t);
  const { h } = s;
  const archivist = await h.client("archivist", { departmentId: s.issuer.departmentId });
  const check = async (archiveId: string) => {
    const r = await h.app.inject({ method: "POST", url: `/archives/${archiveId}/checks`, headers: bearer(archivist.token), payload: {} });
    t.equal(r.statusCode, 200, r.json().code);
    const fails = (r.json().report?.items ?? []).filter((i: { result: string }) => i.result === "fail").map((i: { id: string; found: string }) => `${i.id}: ${i.found}`);
    t.same(fails, [], "no failing item");
    return r.json();
  };

  // A first build that stops half-way leaves the archive `building`.
  const k = await closedCase(t, s, "A");
  failNextStamp(s);
  const first = await k.api("POST", `/cases/${k.id}/archive`, {});
  t.equal(first.statusCode, 500, "the build stopped");
  const row = await h.sql.get("SELECT id, status FROM archives WHERE case_id = ?", [k.id]);
  t.equal(row?.status, "building");
  const archiveId = String(row!.id);

  // Two requests to finish it at once: one builds, the other is told so.
  const [r1, r2] = await Promise.all([k.api("POST", `/cases/${k.id}/archive`, {}), k.api("POST", `/cases/${k.id}/archive`, {})]);
  const codes = [r1, r2].map((r) => r.statusCode).sort();
  t.same(codes, [201, 409], `one 201 and one 409: ${r1.body.slice(0, 200)} | ${r2.body.slice(0, 200)}`);
  const lost = [r1, r2].find((r) => r.statusCode === 409);
  t.match(lost?.json().code, /^(ARCHIVE_BUILD_IN_PROGRESS|CASE_ALREADY_ARCHIVED)$/);
  const won = [r1, r2].find((r) => r.statusCode === 201)!.json();
  t.equal(won.id, archiveId, "the same archive, under its one log entry");
  const pkg = await k.api("GET", `/archives/${archiveId}/package`);
  t.equal(pkg.statusCode, 200);
  t.equal(sha(pkg.rawPayload), pkg.headers["x-package-sha256"], "the package reads back whole");
  t.equal(Number(await h.sql.value("SELECT count(*) AS n FROM archive_chunks WHERE archive_id = ?", [archiveId])), Number(await h.sql.value("SELECT chunks FROM archives WHERE id = ?", [archiveId])));
  t.equal((await check(archiveId)).report.result, "pass", "四性检测 passes");

  // A builder that crashed holding the lease: others wait until it runs out, then take over.
  const k2 = await closedCase(t, s, "B");
  failNextStamp(s);
  t.equal((await k2.api("POST", `/cases/${k2.id}/archive`, {})).statusCode, 500);
  const id2 = String(await h.sql.value("SELECT id FROM archives WHERE case_id = ?", [k2.id]));
  await h.sql.run("UPDATE archives SET build_token = ?, build_lease_until = ? WHERE id = ?", ["crashed-builder", h.clock.now().getTime() + BUILD_LEASE_MS, id2]);
  const busy = await k2.api("POST", `/cases/${k2.id}/archive`, {});
  t.equal(busy.statusCode, 409);
  t.equal(busy.json().code, "ARCHIVE_BUILD_IN_PROGRESS");
  t.equal(busy.json().details.archiveId, id2);
  h.clock.advance(BUILD_LEASE_MS + 1000);
  const taken = await k2.api("POST", `/cases/${k2.id}/archive`, {});
  t.equal(taken.statusCode, 201, taken.json().code);
  t.same(await h.sql.get("SELECT status, build_token FROM archives WHERE id = ?", [id2]), { status: "stored", build_token: null }, "stored, lease ended");
  t.equal((await check(id2)).report.result, "pass");
});

t.test("四性检测: concurrent callers share one run; each caller is rate limited", async (t) => {
  const s = await setup(t, { SIDIAN_ARCHIVE_CHECK_RATE_LIMIT: "3" });
  const { h } = s;
  const archivist = await h.client("archivist", { departmentId: s.issuer.departmentId });
  const k = await closedCase(t, s, "C");
  const ar = await k.api("POST", `/cases/${k.id}/archive`, {});
  t.equal(ar.statusCode, 201, ar.json().code);
  const run = (token: string, stage = "preservation") => h.app.inject({ method: "POST", url: `/archives/${ar.json().id}/checks`, headers: bearer(token), payload: { stage } });

  const size0 = await h.ctx.tlog.size();
  const [a, b, c] = await Promise.all([run(archivist.token), run(s.consumer.token), run(archivist.token)]);
  for (const r of [a, b, c]) t.equal(r.statusCode, 200, r.json().code);
  t.equal(new Set([a, b, c].map((r) => r.json().logIndex)).size, 1, "one run, one logIndex");
  t.equal((await h.ctx.tlog.size()) - size0, 1, "one archive.checked entry");
  t.equal(h.ctx.archiveChecks.inProgress(), 0);

  // The archivist has used 2 of 3 this minute: one more, then 429; the consumer still has its own.
  t.equal((await run(archivist.token, "transfer")).statusCode, 200);
  const limited = await run(archivist.token, "archiving");
  t.equal(limited.statusCode, 429);
  t.equal(limited.json().code, "RATE_LIMITED");
  t.ok(Number(limited.headers["retry-after"]) > 0, "retry-after");
  t.equal((await run(s.consumer.token, "transfer")).statusCode, 200, "another caller is not limited by the first");
  // Refused callers are not counted against the archive's callers (404 first: visibility is checked before running).
  const stranger = await h.client("archivist", { departmentId: (await h.department()).id });
  t.equal((await run(stranger.token)).json().code, "ARCHIVE_NOT_FOUND");
});

t.test("a material withdrawn after a case used it: the case's package still holds it; future reuse stops", async (t) => {
  const s = await setup(t);
  const { h } = s;
  const chunks = async (id: string) => Number(await h.sql.value("SELECT count(*) AS n FROM material_chunks WHERE identifier = ?", [id]));
  const k = await closedCase(t, s, "W");
  const before = await chunks(k.materialId);
  t.ok(before > 0);
  const w = await h.app.inject({ method: "POST", url: `/holders/me/materials/${k.materialId}/withdraw`, headers: bearer(s.holder) });
  t.equal(w.statusCode, 200, w.json().code);
  t.equal(w.json().status, "withdrawn", "withdrawn at once");
  t.equal(await chunks(k.materialId), before, "its bytes are kept for the case that used it");
  // Nobody gets the kept bytes: not the holder's preview, not the approval system that registered it.
  t.equal((await h.app.inject({ url: `/materials/${k.materialId}/content`, headers: bearer(s.holder) })).json().code, "MATERIAL_STATE_INVALID");
  t.equal((await h.app.inject({ url: `/materials/${k.materialId}/content`, headers: bearer(s.consumer.token) })).json().code, "MATERIAL_STATE_INVALID");
  t.equal((await h.app.inject({ method: "POST", url: "/verify/material", payload: { sha256: String(await h.sql.value("SELECT sha256 FROM materials WHERE identifier = ?", [k.materialId])) } })).json().status, "WITHDRAWN");

  // The archive builds and proves itself with the material's bytes in it.
  const ar = await k.api("POST", `/cases/${k.id}/archive`, {});
  t.equal(ar.statusCode, 201, ar.json().code);
  const archivist = await h.client("archivist", { departmentId: s.issuer.departmentId });
  const run = await h.app.inject({ method: "POST", url: `/archives/${ar.json().id}/checks`, headers: bearer(archivist.token), payload: { stage: "archiving" } });
  t.equal(run.statusCode, 200, run.json().code);
  t.equal(run.json().report.result, "pass", JSON.stringify(run.json().report.items.filter((i: { result: string }) => i.result === "fail")));
  const pkg = await k.api("GET", `/archives/${ar.json().id}/package`);
  const mat = makePdf({ lines: () => ["lease W"] });
  t.ok(pkg.rawPayload.includes(mat.subarray(0, 200)), "the package holds the material's bytes");
  // Once the package is stored, no case waits for them: the withdrawal's deletion happens.
  t.equal(await chunks(k.materialId), 0, "deleted once the package is stored");

  // A material no case used loses its bytes at withdrawal, as before.
  const m2 = await registerRaw(h, s.consumer.token, { typeCode: "LEASE", holder: { code: HOLDER, codeType: "111" }, matterCode: "M-A" }, makePdf({ lines: () => ["unused"] }));
  const id2 = m2.json().material.identifier as string;
  t.equal((await h.app.inject({ method: "POST", url: `/holders/me/materials/${id2}/withdraw`, headers: bearer(s.holder) })).statusCode, 200);
  t.equal(await chunks(id2), 0);
});
