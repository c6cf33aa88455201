/**
 * Issuer grants: verification checks that the signing department was allowed to issue the licence type at the
 * signing time, not that it is allowed now. A department removed from a type's issuers (机构改革) keeps its earlier
 * licences valid but cannot issue new ones; removal and re-adding leave a history of grants; a licence signed in a
 * gap between grants is INVALID even though the department is an issuer again.
 */
import t from "tap";
import { makeUscc } from "../helpers/app.js";
import { bearer, issue, issued, personLicence, world, type World } from "./helpers.js";

const checks = (v: { checks: Array<{ id: string; status: string }> }) => Object.fromEntries(v.checks.map((c) => [c.id, c.status]));
const issuerDetail = (v: { checks: Array<{ id: string; detail: string }> }) => v.checks.find((c) => c.id === "issuer")!.detail;
const STEP = 10_000;

async function setIssuers(w: World, code: string, issuers: string[]) {
  const r = await w.h.app.inject({ method: "PATCH", url: `/licence-types/${code}`, headers: bearer(w.tokens.admin), payload: { issuers } });
  if (r.statusCode !== 200) throw new Error(`PATCH: ${r.statusCode} ${r.body}`);
  return r.json();
}

const verify = async (w: World, payload: object) => (await w.h.app.inject({ method: "POST", url: "/verify", payload })).json();
const grantRows = (w: World, code: string) => w.h.ctx.uow.read.issuerGrants.ofType(code);

t.test("a licence issued while the department was allowed stays valid after it is removed", async (t) => {
  const w = await world(t);
  const t0 = w.h.clock.now();
  const lic = await issued(w, personLicence(w, 700));
  t.equal((await verify(w, { jws: lic.jws })).result, "VALID");

  w.h.clock.advance(STEP);
  await setIssuers(w, w.personType, [w.other.id]);
  t.same((await w.h.ctx.catalogue.getType(w.personType)).issuers, [w.other.id], "the type moved to the other department");

  const v = await verify(w, { jws: lic.jws });
  t.equal(v.result, "VALID", JSON.stringify(v.checks));
  t.equal(checks(v).issuer, "PASSED");
  t.match(issuerDetail(v), `was authorised to issue 食品经营许可证（个人） on ${t0.toISOString()}`);
  t.equal((await verify(w, { identifier: lic.identifier })).result, "VALID", "by identifier too");

  const again = await issue(w, personLicence(w, 701));
  t.equal(again.statusCode, 403);
  t.equal(again.json().code, "LICENCE_TYPE_NOT_ALLOWED", "but the department cannot issue the type any more");
  const moved = await issue(w, personLicence(w, 702), w.tokens.otherIssuer);
  t.equal(moved.statusCode, 201, "the department it moved to can");
  t.equal((await verify(w, { jws: moved.json().jws })).result, "VALID");
});

t.test("grant history across remove and re-add", async (t) => {
  const w = await world(t);
  const type = w.orgType; // issuers: dept, other
  const t0 = w.h.clock.now().getTime();
  const before = await grantRows(w, type);
  t.same(before.map((g) => [g.departmentId, g.validFrom.getTime(), g.validTo]).sort(), [[w.dept.id, t0, null], [w.other.id, t0, null]].sort(),
    "creating the type opened a grant for each issuer");

  w.h.clock.advance(STEP);
  const t1 = w.h.clock.now().getTime();
  await setIssuers(w, type, [w.other.id]);
  w.h.clock.advance(STEP);
  await w.h.app.inject({ method: "PATCH", url: `/licence-types/${type}`, headers: bearer(w.tokens.admin), payload: { name: "营业执照（新）" } });
  t.equal((await grantRows(w, type)).length, 2, "a change that keeps the issuers leaves the grants alone");
  const bad = await w.h.app.inject({ method: "PATCH", url: `/licence-types/${type}`, headers: bearer(w.tokens.admin), payload: { issuers: [w.dept.id, "nope"] } });
  t.equal(bad.json().code, "LICENCE_TYPE_INVALID");
  t.equal((await grantRows(w, type)).length, 2, "a rejected change opens no grant");
  w.h.clock.advance(STEP);
  const t2 = w.h.clock.now().getTime();
  await setIssuers(w, type, [w.other.id, w.dept.id]);

  const rows = (await grantRows(w, type)).map((g) => [g.departmentId, g.validFrom.getTime(), g.validTo?.getTime() ?? null]);
  t.same(rows.filter((r) => r[0] === w.dept.id), [[w.dept.id, t0, t1], [w.dept.id, t2, null]], "removed: closed at t1; re-added: a new grant from t2");
  t.same(rows.filter((r) => r[0] === w.other.id), [[w.other.id, t0, null]], "the unchanged issuer's grant is untouched");
  t.same((await w.h.ctx.catalogue.issuerGrants(type)).map((g) => [g.departmentId, g.validFrom.getTime(), g.validTo?.getTime() ?? null]), rows, "the catalogue serves the same history");

  const at = (ms: number) => w.h.ctx.catalogue.issuerAllowedAt(type, w.dept.id, new Date(ms));
  t.equal(await at(t0 - 1), false, "not before the first grant");
  t.equal(await at(t0), true, "from the grant's start");
  t.equal(await at(t1), true, "up to and including its end");
  t.equal(await at(t1 + 1), false, "not in the gap");
  t.equal(await at(t2 - 1), false);
  t.equal(await at(t2), true, "again from the re-add");
  t.equal(await at(t2 + 365 * 86_400_000), true, "open-ended");
  t.equal(await w.h.ctx.catalogue.issuerAllowedAt(type, w.other.id, new Date(t1 + 1)), true, "the other department throughout");
  t.equal(await w.h.ctx.catalogue.issuerAllowedAt(type, w.dept.id, new Date(NaN)), false, "no time, no grant");
  t.equal(await w.h.ctx.catalogue.issuerAllowedAt("00000000000000000000", w.dept.id, new Date(t2)), false, "unknown type");

  // a licence issued under the new grant verifies
  w.h.clock.advance(STEP);
  const org = await issue(w, { typeCode: type, number: "GS-0001", holder: { name: "福州某某有限公司", code: makeUscc(424_242), codeType: "001" }, fields: { legalRep: "李四" } });
  t.equal(org.statusCode, 201, "the re-added department issues again");
  const v = await verify(w, { jws: org.json().jws });
  t.equal(v.result, "VALID", JSON.stringify(v.checks));
});

t.test("a licence signed while the department was not allowed is INVALID, even once it is allowed again", async (t) => {
  const w = await world(t);
  const lic = await issued(w, personLicence(w, 710));
  const signedAt = w.h.clock.now().getTime();
  t.equal((await verify(w, { jws: lic.jws })).result, "VALID");

  // Simulate a gap around the signing time: the department held the type until a day before and again from a day
  // after (as if it had been removed and re-added). Issuance itself never lets this happen.
  const day = 86_400_000;
  const db = w.h.sql;
  await db.run("DELETE FROM issuer_grants WHERE type_code = ? AND department_id = ?", [w.personType, w.dept.id]);
  const ins = "INSERT INTO issuer_grants (type_code, department_id, valid_from, valid_to) VALUES (?, ?, ?, ?)";
  await db.run(ins, [w.personType, w.dept.id, signedAt - 30 * day, signedAt - day]);
  await db.run(ins, [w.personType, w.dept.id, signedAt + day, null]);
  w.h.ctx.catalogue.invalidate();
  t.ok((await w.h.ctx.catalogue.getType(w.personType)).issuers.includes(w.dept.id), "the department is an issuer of the type now");

  for (const input of [{ jws: lic.jws }, { identifier: lic.identifier }]) {
    const v = await verify(w, input);
    t.equal(v.result, "INVALID", JSON.stringify(v.checks));
    t.same(checks(v), { format: "PASSED", signature: "PASSED", chain: "PASSED", issuer: "FAILED", record: "PASSED", validity: "PASSED", status: "PASSED", log: "PASSED" }, "only the issuer check fails");
    t.equal(issuerDetail(v), `福州市市场监督管理局 (${w.dept.uscc}) was not authorised to issue 食品经营许可证（个人） on ${new Date(signedAt).toISOString()}, when the licence was signed`);
  }

  // the grant boundary is inclusive: a grant starting exactly at the signing time covers it
  await db.run("UPDATE issuer_grants SET valid_from = ? WHERE type_code = ? AND department_id = ? AND valid_to IS NULL", [signedAt, w.personType, w.dept.id]);
  w.h.ctx.catalogue.invalidate();
  t.equal((await verify(w, { jws: lic.jws })).result, "VALID");
});

t.test("the grant is checked again when the licence is stored, and before a new version is signed", async (t) => {
  const w = await world(t);
  const lic = await issued(w, personLicence(w, 760));
  // The grant is withdrawn after the catalogue check of `prepare` (simulated: the row is closed, the cached
  // catalogue still lists the department): the storing transaction refuses the licence, nothing is logged.
  const size = await w.h.ctx.tlog.size();
  await w.h.ctx.uow.write(async (repos) => {
    t.ok(await repos.issuerGrants.close(w.personType, w.dept.id, w.h.clock.now()));
  });
  const single = await issue(w, personLicence(w, 761));
  t.equal(single.statusCode, 403);
  t.equal(single.json().code, "LICENCE_TYPE_NOT_ALLOWED");
  const batch = await w.h.ctx.licences.issueBatch([personLicence(w, 762), personLicence(w, 763)], { actor: { kind: "system", name: "test" }, departmentId: w.dept.id, idempotencyScope: "t" });
  t.same(batch.map((r) => (r.ok ? "ok" : r.code)), ["LICENCE_TYPE_NOT_ALLOWED", "LICENCE_TYPE_NOT_ALLOWED"], "bulk lines refused on their lines");
  t.equal(await w.h.ctx.tlog.size(), size, "nothing logged");

  // A department that is no longer an issuer cannot sign a new version of its earlier licence.
  await setIssuers(w, w.personType, [w.other.id]);
  await t.rejects(w.h.ctx.licences.change(lic.identifier, { reason: "变更经营项目", fields: { scope: "预包装食品销售" } }, { kind: "system", name: "test" }), { code: "LICENCE_TYPE_NOT_ALLOWED" });
  t.equal((await verify(w, { jws: lic.jws })).result, "VALID", "the earlier licence stays valid");
});
