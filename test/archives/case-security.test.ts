/**
 * Cases: who may put what into a case, in whose department's name (security review of issue 19).
 *  H1 an approval system attaches only what it was handed for this applicant and matter with the holder's consent
 *     (its 免证办 query / reuse query), a department only its own, and every "not found / not yours / not consented /
 *     another department's" refusal is one answer (CASE_ITEM_UNAVAILABLE, same message): no oracle.
 *  H2 a case's department is never the caller's word: the matter's handling departments (catalogue) or the caller's
 *     own; archiving re-checks it before the department's certificate signs anything.
 *  L1 counters bound to no department each own their cases; L2 case numbers are unique per owner.
 * Runs on SQLite and PostgreSQL (SIDIAN_TEST_STORE=pg).
 */
import t from "tap";
import { makePdf } from "../../fixtures/pdf/make-pdf.js";
import { bearer, citizenId, issued, personLicence, world } from "../licences/helpers.js";
import { HOLDER, OTHER_HOLDER, pdfBytes, registerRaw, setup } from "../materials/helpers.js";

type Res = { statusCode: number; body: string; rawPayload: Buffer; json(): any }; // eslint-disable-line @typescript-eslint/no-explicit-any

t.test("licences, documents, departments: only what the caller may attach, in a department it may act for", async (t) => {
  const w = await world(t);
  const api = (method: "GET" | "POST" | "PATCH", url: string, token: string, payload?: object | Buffer, type?: string): Promise<Res> =>
    w.h.app.inject({ method, url, headers: { ...bearer(token), ...(type ? { "content-type": type } : {}) }, ...(payload ? { payload } : {}) });
  const n = 60_000 + Math.floor(Math.random() * 9000);
  const code = citizenId(n);
  // the department's official seal: it seals the 加注件 PDFs and stamps documents
  const seal = await api("POST", "/seals", w.tokens.admin, { departmentId: w.dept.id, type: "01" });
  const lic = await issued(w, personLicence(w, n));
  const otherLic = await issued(w, personLicence(w, n + 1));
  // The matter is handled by w.dept (实施主体): set by the administrator.
  const patched = await api("PATCH", `/matters/${w.matter}`, w.tokens.admin, { departments: [w.dept.id] });
  t.equal(patched.statusCode, 200, patched.body);
  t.same(patched.json().departments, [w.dept.id]);
  t.equal((await api("PATCH", `/matters/${w.exemptMatter}`, w.tokens.admin, { departments: ["no-such-department"] })).json().code, "DEPARTMENT_NOT_FOUND");
  const open = (token: string, caseNo: string, extra: Record<string, unknown> = {}) => api("POST", "/cases", token, {
    caseNo, matterCode: w.matter, title: "食品经营许可变更", applicant: { name: "张三丰", codeType: "111", code }, staff: { name: "李四" }, ...extra,
  });

  // H2: the department comes from the matter, not from the body.
  const forged = await open(w.tokens.consumer, `F${n}`, { departmentId: w.other.id });
  t.equal(forged.statusCode, 403, "naming a department that does not handle the matter");
  t.equal(forged.json().code, "FORBIDDEN_DEPARTMENT");
  const opened = await open(w.tokens.consumer, `C${n}`);
  t.equal(opened.statusCode, 201, opened.body);
  t.equal(opened.json().departmentId, w.dept.id, "the matter's department, without naming it");
  const c = opened.json();
  const unhandled = await api("POST", "/cases", w.tokens.consumer, {
    caseNo: `U${n}`, matterCode: w.exemptMatter, title: "行政处罚调查", departmentId: w.dept.id, applicant: { name: "张三丰", codeType: "111", code }, staff: { name: "李四" },
  });
  t.equal(unhandled.json().code, "FORBIDDEN_DEPARTMENT", "a matter that names no department, a client registered for none: no department to claim");
  const issuerOther = await open(w.tokens.otherIssuer, `O${n}`);
  t.equal(issuerOther.json().code, "FORBIDDEN_DEPARTMENT", "another department's system, for a matter it does not handle");

  // H1: licences by identifier — one answer for nonexistent, another holder's, and not handed over with consent.
  const attach = (payload: object, caseId = c.id, token = w.tokens.consumer) => api("POST", `/cases/${caseId}/items`, token, payload);
  const none = await attach({ kind: "licence", identifier: `${lic.identifier.slice(0, -3)}999.K` });
  const foreign = await attach({ kind: "licence", identifier: otherLic.identifier });
  const unconsented = await attach({ kind: "licence", identifier: lic.identifier });
  for (const [r, what] of [[none, "no such licence"], [foreign, "another holder's licence"], [unconsented, "the applicant's licence, never fetched with consent"]] as const) {
    t.equal(r.statusCode, 404, what);
    t.equal(r.json().code, "CASE_ITEM_UNAVAILABLE", what);
    t.equal(r.json().detail ?? r.json().message, none.json().detail ?? none.json().message, `${what}: the same words`);
    t.notOk(r.json().details, `${what}: no details`);
  }
  // The holder consents; the 免证办 query records the access; now the licence it handed over may be attached.
  const holder = await w.h.holderToken(code);
  const consent = await api("POST", "/holders/me/consents", holder, { clientId: w.consumerId, matterCode: w.matter });
  t.equal(consent.statusCode, 201, consent.body);
  const q = await api("POST", "/holders/licences:query", w.tokens.consumer, { holderCode: code, holderCodeType: "111", matterCode: w.matter, useCause: "核验经营资格" });
  t.equal(q.statusCode, 200, q.body);
  const ok = await attach({ kind: "licence", identifier: lic.identifier });
  t.equal(ok.statusCode, 201, ok.body);
  t.equal(ok.json().detail.accessId, q.json().accessId, "tied to the access record it was handed over by");
  t.ok(Number.isInteger(ok.json().detail.accessed));
  t.equal((await attach({ kind: "licence", identifier: lic.identifier }, c.id, w.tokens.otherConsumer)).json().code, "CASE_NOT_FOUND", "another approval system: not its case");
  // A department's system attaches a licence its department issued, not another's.
  const deptCase = await open(w.tokens.issuer, `D${n}`);
  t.equal(deptCase.statusCode, 201, deptCase.body);
  t.equal((await attach({ kind: "licence", identifier: lic.identifier }, deptCase.json().id, w.tokens.issuer)).statusCode, 201, "its own department's licence");
  // A copy fetched for another matter does not go into this matter's case.
  const exemptQ = await api("POST", "/holders/licences:query", w.tokens.consumer, { holderCode: code, holderCodeType: "111", matterCode: w.exemptMatter, useCause: "调查" });
  t.equal(exemptQ.statusCode, 200, exemptQ.body);
  const wrongMatter = await attach({ kind: "licence-copy", copy: exemptQ.json().items[0].copy.url });
  t.equal(wrongMatter.json().code, "CASE_ITEM_UNAVAILABLE", "a 加注件 fetched for another matter");
  t.equal((await attach({ kind: "licence-copy", copy: q.json().items[0].copy.url })).statusCode, 201, "the 加注件 fetched for this matter");
  // Consent revoked: nothing more of the holder's by that access.
  t.equal((await api("POST", "/cases", w.tokens.consumer, { caseNo: `R${n}`, matterCode: w.matter, title: "变更", applicant: { name: "张三丰", codeType: "111", code }, staff: { name: "李四" } })).statusCode, 201);
  const c2 = (await api("GET", "/cases", w.tokens.consumer)).json().items.find((x: { caseNo: string }) => x.caseNo === `R${n}`);
  t.ok(c2, "the second case is listed");
  const revoke = await w.h.app.inject({ method: "DELETE", url: `/holders/me/consents/${consent.json().id}`, headers: bearer(holder) });
  t.equal(revoke.statusCode < 300, true, revoke.body);
  t.equal((await attach({ kind: "licence", identifier: lic.identifier }, c2.id)).json().code, "CASE_ITEM_UNAVAILABLE", "consent revoked");

  // Documents: stamped by the case's department only.
  const otherSeal = await api("POST", "/seals", w.tokens.admin, { departmentId: w.other.id, type: "01" });
  t.equal(otherSeal.statusCode, 201, otherSeal.body);
  const stamp = (sealId: string, token: string) => api("POST", `/seals/${sealId}/stamp?page=1&x=150&y=200`, token, makePdf({ pages: 1 }), "application/pdf");
  const own = await stamp(seal.json().id, w.tokens.issuer);
  const theirs = await stamp(otherSeal.json().id, w.tokens.otherIssuer);
  t.equal(theirs.statusCode, 200, theirs.body);
  const doc = (pdf: Buffer) => api("POST", `/cases/${c.id}/documents`, w.tokens.consumer, pdf, "application/pdf");
  const otherDept = await doc(theirs.rawPayload);
  t.equal(otherDept.json().code, "CASE_ITEM_UNAVAILABLE", "a document another department stamped");
  const unstamped = await doc(makePdf({ pages: 1 }));
  t.equal(unstamped.json().code, "CASE_ITEM_UNAVAILABLE", "a document nobody stamped: the same answer");
  t.equal(unstamped.json().detail ?? unstamped.json().message, otherDept.json().detail ?? otherDept.json().message);
  t.equal((await doc(own.rawPayload)).statusCode, 201, "the case's department's stamped document");

  // H2 at archiving: a case whose stored department the caller may not act for is not signed in its name.
  t.equal((await api("POST", `/cases/${c.id}/close`, w.tokens.consumer, { result: "approved" })).statusCode, 200);
  await w.h.sql.run("UPDATE cases SET department_id = ? WHERE id = ?", [w.other.id, c.id]); // as a case opened before the check
  const certsBefore = (await w.h.ctx.uow.read.certificates.listByDepartment(w.other.id)).length;
  const ar = await api("POST", `/cases/${c.id}/archive`, w.tokens.consumer, {});
  t.equal(ar.statusCode, 403, ar.body);
  t.equal(ar.json().code, "FORBIDDEN_DEPARTMENT");
  t.equal((await w.h.ctx.uow.read.certificates.listByDepartment(w.other.id)).length, certsBefore, "no certificate issued for that department");
  await w.h.sql.run("UPDATE cases SET department_id = ? WHERE id = ?", [w.dept.id, c.id]);
  const stored = await api("POST", `/cases/${c.id}/archive`, w.tokens.consumer, {});
  t.equal(stored.statusCode, 201, stored.body);
  t.equal(stored.json().departmentId, w.dept.id);
});

t.test("materials: the applicant's, the caller's own or handed over with consent; one answer otherwise", async (t) => {
  const s = await setup(t);
  const h = s.h;
  const api = (method: "GET" | "POST" | "PATCH", url: string, token: string, payload?: object): Promise<Res> => h.app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });
  t.equal((await api("PATCH", "/matters/M-A", s.admin.token, { departments: [s.issuer.departmentId] })).statusCode, 200);
  const c = await api("POST", "/cases", s.consumer.token, { caseNo: `MS${Date.now() % 1e9}`, matterCode: "M-A", title: "食品经营许可", applicant: { name: "王五", codeType: "111", code: HOLDER }, staff: { name: "李四" } });
  t.equal(c.statusCode, 201, c.body);
  const attach = (materialId: string) => api("POST", `/cases/${c.json().id}/items`, s.consumer.token, { kind: "material", materialId });
  const mine = await registerRaw(h, s.consumer.token, { typeCode: "LEASE", holder: { code: HOLDER, codeType: "111" }, matterCode: "M-A" }, pdfBytes("mine"));
  t.equal((await attach(mine.json().material.identifier)).statusCode, 201, "registered by the caller for the applicant");
  const otherHolder = await registerRaw(h, s.consumer.token, { typeCode: "LEASE", holder: { code: OTHER_HOLDER, codeType: "111" }, matterCode: "M-A" }, pdfBytes("other"));
  const stranger = await h.client("consumer", { matters: ["M-A"] });
  const theirs = await registerRaw(h, stranger.token, { typeCode: "LEASE", holder: { code: HOLDER, codeType: "111" }, matterCode: "M-A" }, pdfBytes("theirs"));
  const byHolder = await h.app.inject({ method: "POST", url: "/materials", headers: { ...bearer(s.holder), "content-type": "application/pdf", "x-material-meta": Buffer.from(JSON.stringify({ typeCode: "LEASE" })).toString("base64url") }, payload: pdfBytes("self") });
  t.equal(byHolder.statusCode, 201, byHolder.body);
  const refusals = [
    [await attach(otherHolder.json().material.identifier), "another holder's material"],
    [await attach(theirs.json().material.identifier), "another client's material, never handed over"],
    [await attach(byHolder.json().material.identifier), "the holder's own upload, never handed over"],
    [await attach("1.2.156.3005.3.LEASE.0000000000000000.X"), "no such material"],
  ] as const;
  for (const [r, what] of refusals) {
    t.equal(r.json().code, "CASE_ITEM_UNAVAILABLE", what);
    t.equal(r.json().detail ?? r.json().message, refusals[0][0].json().detail ?? refusals[0][0].json().message, `${what}: the same words`);
  }
  // With consent, the reuse query hands the holder's materials over: those may go into the case.
  t.equal((await api("POST", "/holders/me/consents", s.holder, { clientId: s.consumer.id, matterCode: "M-A" })).statusCode, 201);
  const q = await api("POST", "/holders/materials:query", s.consumer.token, { holderCode: HOLDER, holderCodeType: "111", matterCode: "M-A", useCause: "办理许可" });
  t.equal(q.statusCode, 200, q.body);
  t.ok(q.json().items.some((i: { identifier: string }) => i.identifier === theirs.json().material.identifier), "the reuse query hands it over");
  const reused = await attach(theirs.json().material.identifier);
  t.equal(reused.statusCode, 201, reused.body);
  t.equal(reused.json().detail.accessId, q.json().accessId, "tied to the reuse record");
});

t.test("counters bound to no department and case numbers: each owner its own", async (t) => {
  const w = await world(t);
  const lic = await issued(w, personLicence(w, 981));
  const lic2 = await issued(w, personLicence(w, 982));
  const u1 = bearer((await w.h.client("counter")).token);
  const u2 = bearer((await w.h.client("counter")).token);
  const a = bearer((await w.h.client("counter", { departmentId: w.dept.id })).token);
  const b = bearer((await w.h.client("counter", { departmentId: w.other.id })).token);
  const attach = (who: Record<string, string>, caseNo: string, identifier = lic.identifier) =>
    w.h.app.inject({ method: "POST", url: `/counter/cases/${caseNo}/licences`, headers: who, payload: { identifier } });
  const read = (who: Record<string, string>, caseNo: string) => w.h.app.inject({ url: `/counter/cases/${caseNo}/licences`, headers: who });

  // L1: two unbound counters do not share a case space.
  t.equal((await attach(u1, "WIN-1")).statusCode, 201);
  t.equal((await read(u2, "WIN-1")).json().code, "CASE_NOT_FOUND", "another unbound counter does not see it");
  t.equal((await attach(u2, "WIN-1", lic2.identifier)).statusCode, 201, "and opens a case of its own under that number");
  t.same((await read(u1, "WIN-1")).json().items.map((i: { identifier: string }) => i.identifier), [lic.identifier], "nothing was added to the first counter's case");

  // L2: attaching to a number another department uses answers as for a number nobody uses.
  t.equal((await attach(a, "DEPT-1")).statusCode, 201);
  const fresh = await attach(b, "DEPT-NONE");
  const taken = await attach(b, "DEPT-1");
  t.equal(taken.statusCode, fresh.statusCode, "a number in use elsewhere and an unused one: the same answer");
  t.equal(taken.statusCode, 201);
  t.equal((await read(a, "DEPT-1")).json().items.length, 1, "the other department's case is untouched");

  // Approval systems: one's case numbers are no concern (and no oracle) of another's.
  await w.h.app.inject({ method: "PATCH", url: `/matters/${w.matter}`, headers: bearer(w.tokens.admin), payload: { departments: [w.dept.id] } });
  const open = (token: string) => w.h.app.inject({ method: "POST", url: "/cases", headers: bearer(token), payload: {
    caseNo: "SAME-1", matterCode: w.matter, title: "变更", applicant: { name: "张三丰", codeType: "111", code: citizenId(981) }, staff: { name: "李四" },
  } });
  t.equal((await open(w.tokens.consumer)).statusCode, 201);
  const second = await open(w.tokens.otherConsumer);
  t.equal(second.statusCode, 201, `another approval system may use the same number: ${second.body}`);
  t.equal((await open(w.tokens.consumer)).json().code, "CASE_NUMBER_TAKEN", "its own number twice: taken");
});
