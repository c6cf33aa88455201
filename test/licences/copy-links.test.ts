/**
 * A 加注件 copy link answers only while what it was made under still holds (issue 14 §4.3): revoking the consent,
 * the consumer losing the matter, or the matter losing its consent exemption stops the link at once, as JSON and
 * as PDF.
 */
import t from "tap";
import { ADMIN_ACTOR } from "../helpers/app.js";
import { bearer, citizenId, issued, personLicence, world, type World } from "./helpers.js";

async function linkFor(w: World, code: string, matterCode: string): Promise<string> {
  const r = await w.h.app.inject({ method: "POST", url: "/holders/licences:query", headers: bearer(w.tokens.consumer), payload: { holderCode: code, holderCodeType: "111", matterCode, useCause: "核验经营资格" } });
  if (r.statusCode !== 200) throw new Error(`query: ${r.statusCode} ${r.body}`);
  return new URL(r.json().items[0].copy.url).pathname;
}

async function fetchCopy(w: World, path: string, token = w.tokens.consumer) {
  const json = await w.h.app.inject({ url: path, headers: bearer(token) });
  const pdf = await w.h.app.inject({ url: `${path}?format=pdf`, headers: bearer(token) });
  return { json, pdf };
}

t.test("copy links stop at once when their consent or matter goes", async (tt) => {
  const w = await world(tt);
  await w.h.ctx.seals.createSeal({ departmentId: w.dept.id, type: "01" }, ADMIN_ACTOR);
  const code = citizenId(961);
  await issued(w, personLicence(w, 961));
  const holder = bearer(await w.h.holderToken(code));
  const grant = async () => {
    const g = await w.h.app.inject({ method: "POST", url: "/holders/me/consents", headers: holder, payload: { clientId: w.consumerId, matterCode: w.matter, days: 30 } });
    if (g.statusCode !== 201) throw new Error(g.body);
    return g.json().id as string;
  };
  const refused = (r: { statusCode: number; json(): { code: string } }, what: string) => {
    tt.equal(r.statusCode, 404, `${what}: 404`);
    tt.equal(r.json().code, "COPY_LINK_INVALID", `${what}: COPY_LINK_INVALID`);
  };

  // Consent revoked.
  const consentId = await grant();
  const link = await linkFor(w, code, w.matter);
  const before = await fetchCopy(w, link);
  tt.equal(before.json.statusCode, 200, "the link answers while the consent holds (JSON)");
  tt.equal(before.pdf.statusCode, 200, "and as PDF");
  tt.equal(before.pdf.headers["content-type"], "application/pdf");
  const del = await w.h.app.inject({ method: "DELETE", url: `/holders/me/consents/${consentId}`, headers: holder });
  tt.ok(del.statusCode < 300, `consent revoked (${del.statusCode})`);
  const after = await fetchCopy(w, link);
  refused(after.json, "after the consent is revoked, JSON");
  refused(after.pdf, "after the consent is revoked, PDF (stored copy not served)");

  // The consumer loses the matter.
  await grant();
  const link2 = await linkFor(w, code, w.matter);
  tt.equal((await fetchCopy(w, link2)).json.statusCode, 200, "a new consent, a new link that answers");
  const patch = await w.h.app.inject({ method: "PATCH", url: `/clients/${w.consumerId}`, headers: bearer(w.tokens.admin), payload: { matters: [w.exemptMatter] } });
  tt.equal(patch.statusCode, 200, "the consumer no longer serves the matter");
  const lost = await fetchCopy(w, link2);
  refused(lost.json, "after the matter is taken away, JSON");
  refused(lost.pdf, "after the matter is taken away, PDF");

  // A consent-exempt matter that stops being exempt.
  const link3 = await linkFor(w, code, w.exemptMatter);
  tt.equal((await fetchCopy(w, link3)).json.statusCode, 200, "a link made under a consent exemption answers");
  const unexempt = await w.h.app.inject({ method: "PATCH", url: `/matters/${w.exemptMatter}`, headers: bearer(w.tokens.admin), payload: { consentExempt: false, exemptBasis: null } });
  tt.equal(unexempt.statusCode, 200, unexempt.statusCode === 200 ? "the matter is no longer exempt" : unexempt.body);
  refused((await fetchCopy(w, link3)).json, "after the exemption ends, JSON");
  refused((await fetchCopy(w, link3)).pdf, "after the exemption ends, PDF");
});
