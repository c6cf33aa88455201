/**
 * Licence numbers (证照编号, issue 14 §5): unique per licence type and issuing department among current licences —
 * a second one is 409 LICENCE_NUMBER_TAKEN naming the licence that has it, an Idempotency-Key replay stays a replay,
 * a batch line repeating a number is refused on its own; issuers find their department's licences by number and by
 * holder code; licences stored before numbers were get theirs at start, duplicates reported, not merged.
 */
import t from "tap";
import { makeUscc } from "../helpers/app.js";
import { bearer, citizenId, issue, issued, personLicence, world } from "./helpers.js";

t.test("a second licence with a number taken in its type and department is 409, naming the first", async (t) => {
  const w = await world(t);
  const body = personLicence(w, 301);
  const first = await issued(w, body);
  const again = await issue(w, body);
  t.equal(again.statusCode, 409, again.body);
  t.equal(again.json().code, "LICENCE_NUMBER_TAKEN");
  t.same(again.json().details, { identifier: first.identifier }, "names the existing identifier");
  t.match(again.json().message, first.identifier);

  const otherHolder = await issue(w, { ...personLicence(w, 302), number: body.number });
  t.equal(otherHolder.json().code, "LICENCE_NUMBER_TAKEN", "another holder, the same number: refused too");
  const keyed = await issue(w, body, w.tokens.issuer, { "idempotency-key": "num-1" });
  t.equal(keyed.json().code, "LICENCE_NUMBER_TAKEN", "a first attempt with a key is not a replay of a licence issued without one");

  // Other types and other departments have numbers of their own.
  const org = { typeCode: w.orgType, number: body.number, holder: { name: "福州某某有限公司", code: makeUscc(30_301), codeType: "001" }, fields: { legalRep: "李四" } };
  t.equal((await issue(w, org)).statusCode, 201, "the same number in another type");
  t.equal((await issue(w, org, w.tokens.otherIssuer)).statusCode, 201, "the same number and type in another department");
  t.equal((await issue(w, org, w.tokens.otherIssuer)).json().code, "LICENCE_NUMBER_TAKEN", "… once");

  // A revoked licence keeps its number.
  const rev = await w.h.app.inject({ method: "POST", url: `/licences/${first.identifier}/status`, headers: bearer(w.tokens.issuer), payload: { action: "revoke", reason: "违法经营" } });
  t.equal(rev.statusCode, 200, rev.body);
  t.equal((await issue(w, body)).json().code, "LICENCE_NUMBER_TAKEN", "a revoked licence keeps its number");
  const rows = (await w.h.sql.get("SELECT COUNT(*) AS n FROM licences WHERE type_code = ? AND department_id = ?", [w.personType, w.dept.id])) as { n: number };
  t.equal(rows.n, 1, "one licence stored");
});

t.test("an Idempotency-Key replay stays a replay; concurrent requests issue one", async (t) => {
  const w = await world(t);
  const body = personLicence(w, 311);
  const first = await issue(w, body, w.tokens.issuer, { "idempotency-key": "num-2" });
  t.equal(first.statusCode, 201);
  const replay = await issue(w, body, w.tokens.issuer, { "idempotency-key": "num-2" });
  t.equal(replay.statusCode, 201, replay.body);
  t.equal(replay.headers["idempotent-replayed"], "true");
  t.equal(replay.json().identifier, first.json().identifier);

  const racing = await Promise.all(Array.from({ length: 6 }, () => issue(w, personLicence(w, 312))));
  t.same(racing.map((r) => r.statusCode).sort(), [201, 409, 409, 409, 409, 409], "six at once without a key: one licence");
  const winner = racing.find((r) => r.statusCode === 201)!.json().identifier;
  for (const r of racing.filter((r) => r.statusCode === 409)) t.same(r.json().details, { identifier: winner });
});

t.test("a batch line repeating a number is refused on its own", async (t) => {
  const w = await world(t);
  const existing = await issued(w, personLicence(w, 321));
  const lines = [
    JSON.stringify(personLicence(w, 322)),
    JSON.stringify(personLicence(w, 323)),
    JSON.stringify({ ...personLicence(w, 324), number: personLicence(w, 322).number }),
    JSON.stringify(personLicence(w, 321)),
    JSON.stringify({ ...personLicence(w, 325), idempotencyKey: "b-325" }),
    JSON.stringify({ ...personLicence(w, 325), idempotencyKey: "b-325" }),
  ];
  const post = (body: string) => w.h.app.inject({ method: "POST", url: "/licences:batch", headers: { ...bearer(w.tokens.issuer), "content-type": "application/x-ndjson" }, payload: body });
  const b = (await post(lines.join("\n"))).json();
  t.same(b.results.map((x: { ok: boolean; code?: string; replay?: boolean }) => [x.ok, x.code ?? null, x.replay ?? null]), [
    [true, null, false], [true, null, false], [false, "LICENCE_NUMBER_TAKEN", null], [false, "LICENCE_NUMBER_TAKEN", null], [true, null, false], [true, null, true],
  ]);
  t.same(b.results[2].details, { identifier: b.results[0].identifier }, "the repeated line names the line before");
  t.same(b.results[3].details, { identifier: existing.identifier }, "a line repeating a stored licence names it");
  t.equal(b.results[5].identifier, b.results[4].identifier, "a repeated key is still a replay");

  // Across chunks (500 lines each): line 1 and line 700 share a number.
  const many = Array.from({ length: 700 }, (_, i) => JSON.stringify({ ...personLicence(w, 400 + (i % 500)), number: `CH-${i === 699 ? 0 : i}` }));
  const m = (await post(many.join("\n"))).json();
  t.equal(m.summary.issued, 699);
  t.equal(m.results[699].code, "LICENCE_NUMBER_TAKEN");
  t.same(m.results[699].details, { identifier: m.results[0].identifier });
});

t.test("a new version keeps its number; changing to a number taken is 409", async (t) => {
  const w = await world(t);
  const a = await issued(w, personLicence(w, 331));
  const b = await issued(w, personLicence(w, 332));
  const change = (id: string, patch: object) => w.h.app.inject({ method: "POST", url: `/licences/${id}/versions`, headers: bearer(w.tokens.issuer), payload: { reason: "变更经营范围", ...patch } });
  const kept = await change(a.identifier, { fields: { scope: "餐饮服务" } });
  t.equal(kept.statusCode, 201, kept.body);
  const taken = await change(b.identifier, { number: personLicence(w, 331).number });
  t.equal(taken.statusCode, 409, taken.body);
  t.equal(taken.json().code, "LICENCE_NUMBER_TAKEN");
  t.same(taken.json().details, { identifier: kept.json().identifier }, "names the current version");
  t.equal((await w.h.app.inject({ url: `/licences/${b.identifier}`, headers: bearer(w.tokens.issuer) })).json().status, "01", "the refused change left the licence as it was");
  const renumbered = await change(b.identifier, { number: "NEW-332" });
  t.equal(renumbered.statusCode, 201, renumbered.body);
  t.equal((await issue(w, personLicence(w, 332))).statusCode, 201, "the number a version gave up is free again");
});

t.test("issuers find their department's licences by number and by holder code", async (t) => {
  const w = await world(t);
  const a = await issued(w, personLicence(w, 341));
  const b = await issued(w, { ...personLicence(w, 341), number: "SECOND-341" });
  const org = await issued(w, { typeCode: w.orgType, number: "SHARED-1", holder: { name: "某公司", code: makeUscc(30_341), codeType: "001" }, fields: { legalRep: "李四" } });
  const elsewhere = await issue(w, { typeCode: w.orgType, number: "SHARED-1", holder: { name: "某公司", code: makeUscc(30_341), codeType: "001" }, fields: { legalRep: "李四" } }, w.tokens.otherIssuer);
  t.equal(elsewhere.statusCode, 201);
  const search = (payload: object, token = w.tokens.issuer) => w.h.app.inject({ method: "POST", url: "/licences:search", headers: bearer(token), payload });
  const ids = async (payload: object, token?: string) => {
    const r = await search(payload, token);
    t.equal(r.statusCode, 200, r.body);
    return r.json().items.map((i: { identifier: string }) => i.identifier);
  };
  t.same(await ids({ number: personLicence(w, 341).number }), [a.identifier], "by number");
  t.same(await ids({ holder: { code: citizenId(341), codeType: "111" } }), [a.identifier, b.identifier].sort(), "by holder code");
  t.same(await ids({ holder: { code: citizenId(341), codeType: "111" }, number: "SECOND-341" }), [b.identifier], "both");
  t.same(await ids({ number: "SHARED-1" }), [org.identifier], "only the caller's department");
  t.same(await ids({ number: "SHARED-1" }, w.tokens.otherIssuer), [elsewhere.json().identifier]);
  t.same(await ids({ number: "SHARED-1", typeCode: w.personType }), [], "of one type");
  t.same(await ids({ number: personLicence(w, 341).number }, w.tokens.otherIssuer), [], "another department's issuer finds nothing");
  t.same(await ids({ number: "SHARED-1", departmentId: w.other.id }, w.tokens.admin), [elsewhere.json().identifier], "an admin names the department");
  const item = (await search({ number: "SECOND-341" })).json().items[0];
  t.same(Object.keys(item).sort(), ["createdAt", "identifier", "status", "typeCode", "validFrom", "validUntil", "version"], "no personal data in the answer");

  for (const [why, payload, token, status, code] of [
    ["neither number nor holder", {}, w.tokens.issuer, 400, "VALIDATION_FAILED"],
    ["admin without department", { number: "X" }, w.tokens.admin, 400, "VALIDATION_FAILED"],
    ["issuer naming another department", { number: "X", departmentId: w.other.id }, w.tokens.issuer, 403, "FORBIDDEN_DEPARTMENT"],
    ["a bad holder code", { holder: { code: "123", codeType: "111" } }, w.tokens.issuer, 400, "HOLDER_CODE_INVALID"],
    ["a control character in the number", { number: "A\u0000B" }, w.tokens.issuer, 400, "VALIDATION_FAILED"],
    ["a consumer", { number: "X" }, w.tokens.consumer, 403, "FORBIDDEN_ROLE"],
  ] as const) {
    const r = await search(payload, token);
    t.equal(r.statusCode, status, `${why}: ${r.body}`);
    t.equal(r.json().code, code, why);
  }
});

t.test("licences stored before numbers were get theirs at start; a duplicate is reported, not merged", async (t) => {
  const w = await world(t);
  const a = await issued(w, personLicence(w, 351));
  const b = await issued(w, personLicence(w, 352));
  const c = await issued(w, personLicence(w, 353));
  // As an earlier version stored them: no number hash, and b carrying a's number (possible then).
  const db = w.h.sql;
  const payload = JSON.stringify({ ...b.data, number: personLicence(w, 351).number });
  await db.run("UPDATE licences SET payload_enc = ? WHERE identifier = ?", [w.h.ctx.pii.encrypt(payload, `licence:${b.identifier}`), b.identifier]);
  await db.run("UPDATE licences SET number_hash = NULL WHERE identifier IN (?, ?, ?)", [a.identifier, b.identifier, c.identifier]);

  const search = async (number: string) => (await w.h.app.inject({ method: "POST", url: "/licences:search", headers: bearer(w.tokens.issuer), payload: { number } })).json().items.map((i: { identifier: string }) => i.identifier);
  t.same(await search(personLicence(w, 353).number), [], "not findable by number before the pass");
  const r = await w.h.ctx.licences.numberStoredLicences();
  t.equal(r.numbered, 2);
  t.same(r.duplicates, [{ identifier: b.identifier, sameNumberAs: a.identifier }], "the later of two sharing a number is reported");
  t.same(await search(personLicence(w, 353).number), [c.identifier], "findable after");
  t.same(await search(personLicence(w, 351).number), [a.identifier]);
  t.equal((await issue(w, personLicence(w, 351))).json().code, "LICENCE_NUMBER_TAKEN", "the number is guarded again");
  const again = await w.h.ctx.licences.numberStoredLicences();
  t.same(again, { numbered: 0, duplicates: [{ identifier: b.identifier, sameNumberAs: a.identifier }] }, "reported at each start until resolved");
  const fixed = await w.h.app.inject({ method: "POST", url: `/licences/${b.identifier}/versions`, headers: bearer(w.tokens.issuer), payload: { reason: "更正证照编号", number: "FIXED-352" } });
  t.equal(fixed.statusCode, 201, fixed.body);
  t.same(await w.h.ctx.licences.numberStoredLicences(), { numbered: 1, duplicates: [] }, "the superseded row gets its number; nothing left to report");
});
