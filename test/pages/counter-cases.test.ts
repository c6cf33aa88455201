/**
 * A counter case (办件) belongs to the department that opened it (issue 14 §4.1): a counter of another department
 * can neither read it nor add to it, and gets the answer a case that does not exist gets (404 CASE_NOT_FOUND to read;
 * to attach, a case of its own under that number, as for a number nobody uses: case numbers are unique per owner).
 */
import t from "tap";
import { bearer, issued, personLicence, world } from "../licences/helpers.js";

t.test("counter cases are scoped by department", async (tt) => {
  const w = await world(tt);
  const lic = await issued(w, personLicence(w, 971));
  const lic2 = await issued(w, personLicence(w, 972));
  const a = bearer((await w.h.client("counter", { departmentId: w.dept.id })).token);
  const a2 = bearer((await w.h.client("counter", { departmentId: w.dept.id })).token);
  const b = bearer((await w.h.client("counter", { departmentId: w.other.id })).token);
  const unbound = bearer((await w.h.client("counter")).token);
  const attach = (who: Record<string, string>, caseNo: string, identifier = lic.identifier) =>
    w.h.app.inject({ method: "POST", url: `/counter/cases/${caseNo}/licences`, headers: who, payload: { identifier } });
  const read = (who: Record<string, string>, caseNo: string) => w.h.app.inject({ url: `/counter/cases/${caseNo}/licences`, headers: who });
  const notFound = (r: { statusCode: number; json(): { code: string } }, what: string) => {
    tt.equal(r.statusCode, 404, `${what}: 404`);
    tt.equal(r.json().code, "CASE_NOT_FOUND", `${what}: CASE_NOT_FOUND`);
  };

  const opened = await attach(a, "CASE-A-1");
  tt.equal(opened.statusCode, 201, opened.statusCode === 201 ? "department A opens CASE-A-1" : opened.body);
  tt.equal((await attach(a2, "CASE-A-1", lic2.identifier)).statusCode, 201, "another counter of department A adds to it");
  const own = await read(a, "CASE-A-1");
  tt.equal(own.statusCode, 200);
  tt.same(own.json().items.map((i: { identifier: string }) => i.identifier).sort(), [lic.identifier, lic2.identifier].sort());

  notFound(await read(b, "CASE-A-1"), "department B reads A's case");
  tt.equal((await attach(b, "CASE-A-1", lic2.identifier)).statusCode, 201, "department B attaching under A's number opens B's own case");
  notFound(await read(unbound, "CASE-A-1"), "a counter bound to no department reads A's case");
  tt.equal((await attach(unbound, "CASE-A-1")).statusCode, 201, "and attaching opens its own");
  notFound(await read(b, "CASE-NONE"), "a case that does not exist");
  notFound(await read(a, "CASE-NONE"), "for its own department too");
  tt.equal((await read(a, "CASE-A-1")).json().items.length, 2, "nothing was added to A's case");

  tt.same((await read(b, "CASE-A-1")).json().items.map((i: { identifier: string }) => i.identifier), [lic2.identifier], "B's case holds what B attached only");
  tt.equal((await attach(b, "CASE-B-1")).statusCode, 201, "B opens its own case");
  notFound(await read(a, "CASE-B-1"), "A cannot read B's case");
  tt.equal((await read(b, "CASE-B-1")).statusCode, 200);
});
