/**
 * Who may supersede or withdraw a material, by source class (src/modules/materials/authority.ts): a holder's own
 * upload never replaces a counter-attested, department-issued or approval-system material (403
 * MATERIAL_SOURCE_PROTECTED, nothing stored or logged); a newer version comes from the same authority; a holder
 * never withdraws (deletes the bytes of) a department's record; derivations (a holder's redacted copy) stay allowed.
 */
import t from "tap";
import { bearer, HOLDER, pdfBytes, registerRaw, setup } from "./helpers.js";

t.test("supersede and withdraw follow the source class", async (t) => {
  const s = await setup(t);
  const { h } = s;
  const holder = { code: HOLDER, codeType: "111" };
  const reg = async (token: string, meta: Record<string, unknown>, text: string) => {
    const r = await registerRaw(h, token, { typeCode: "LEASE", ...meta }, pdfBytes(text));
    t.equal(r.statusCode, 201, r.json().code);
    return r.json().material as { identifier: string; source: string };
  };
  const counterMat = await reg(s.counter.token, { holder, counter: { operator: "A1", device: "D1", checkedAgainstOriginal: true } }, "counter");
  const deptMat = await reg(s.issuer.token, { holder }, "department");
  const apprMat = await reg(s.consumer.token, { holder, matterCode: "M-A" }, "approval");
  const ownMat = await reg(s.holder, {}, "own");
  t.same([counterMat.source, deptMat.source, apprMat.source, ownMat.source], ["counter", "department", "approval", "holder"]);

  const entries = async () => Number(await h.sql.value("SELECT count(*) AS n FROM tlog_leaves"));
  const rows = async () => Number(await h.sql.value("SELECT count(*) AS n FROM materials"));
  const status = async (id: string) => (await h.app.inject({ url: `/materials/${id}`, headers: bearer(s.holder) })).json().status as string;

  // A holder's own upload may not become the next version of anyone else's material.
  for (const [what, prev] of [["counter-attested", counterMat], ["department-issued", deptMat], ["approval-system", apprMat]] as const) {
    const [n0, r0] = [await entries(), await rows()];
    const r = await registerRaw(h, s.holder, { typeCode: "LEASE", supersedes: prev.identifier }, pdfBytes(`forged over ${what}`));
    t.equal(r.statusCode, 403, `holder over ${what}: ${r.body}`);
    t.equal(r.json().code, "MATERIAL_SOURCE_PROTECTED");
    t.match(r.json().details, { action: "supersede", source: prev.source, by: "holder" });
    t.equal(await status(prev.identifier), "valid", `the ${what} material stays valid`);
    t.equal(await entries(), n0, "nothing logged");
    t.equal(await rows(), r0, "nothing stored");
  }
  // Nor may another class of client replace a counter scan it can see (an issuer of the same department).
  const iss = await registerRaw(h, s.issuer.token, { typeCode: "LEASE", holder, supersedes: counterMat.identifier }, pdfBytes("issuer over counter"));
  t.equal(iss.json().code, "MATERIAL_SOURCE_PROTECTED", "an issuer does not version a counter scan");
  t.match(iss.json().details, { source: "counter", by: "department" });

  // The same authority may.
  const own2 = await registerRaw(h, s.holder, { typeCode: "LEASE", supersedes: ownMat.identifier }, pdfBytes("own v2"));
  t.equal(own2.statusCode, 201, own2.json().code);
  t.equal(await status(ownMat.identifier), "superseded");
  const dept2 = await registerRaw(h, s.issuer.token, { typeCode: "LEASE", holder, supersedes: deptMat.identifier }, pdfBytes("department v2"));
  t.equal(dept2.statusCode, 201, dept2.json().code);
  const ctr2 = await registerRaw(h, s.counter.token, { typeCode: "LEASE", holder, counter: { operator: "A2", device: "D1", checkedAgainstOriginal: true }, supersedes: counterMat.identifier }, pdfBytes("counter v2"));
  t.equal(ctr2.statusCode, 201, ctr2.json().code);
  // A derivation does not replace anything: a holder's redacted copy of a department document is allowed.
  const red = await registerRaw(h, s.holder, { typeCode: "LEASE", derivedFrom: dept2.json().material.identifier, derivation: "redacted" }, pdfBytes("redacted"));
  t.equal(red.statusCode, 201, red.json().code);

  // Withdrawal: never a department's record; the holder's own, an approval system's and a counter scan, yes.
  const deptId = dept2.json().material.identifier as string;
  const chunks = async (id: string) => Number(await h.sql.value("SELECT count(*) AS n FROM material_chunks WHERE identifier = ?", [id]));
  const wd = (id: string) => h.app.inject({ method: "POST", url: `/holders/me/materials/${id}/withdraw`, headers: bearer(s.holder) });
  const n0 = await entries();
  const w1 = await wd(deptId);
  t.equal(w1.statusCode, 403, w1.body);
  t.equal(w1.json().code, "MATERIAL_SOURCE_PROTECTED");
  t.match(w1.json().details, { action: "withdraw", source: "department", by: "holder" });
  t.equal(await status(deptId), "valid");
  t.ok((await chunks(deptId)) > 0, "the department's bytes are kept");
  t.equal(await entries(), n0, "nothing logged");
  // Preview stays the holder's (reading is not a change).
  t.equal((await h.app.inject({ url: `/materials/${deptId}/content`, headers: bearer(s.holder) })).statusCode, 200, "the holder previews the department's document");
  for (const id of [apprMat.identifier, ctr2.json().material.identifier, own2.json().material.identifier]) {
    const w = await wd(id);
    t.equal(w.statusCode, 200, w.json().code);
    t.equal(await chunks(id), 0);
    t.equal((await h.app.inject({ url: `/materials/${id}/content`, headers: bearer(s.holder) })).json().code, "MATERIAL_STATE_INVALID", "no preview of withdrawn bytes");
  }
});
