/** Catalogue: licence type and matter definitions are validated; changes are logged; readers per role. */
import t from "tap";
import { validateFields } from "../../src/modules/catalogue/fields.js";
import { ADMIN_ACTOR, makeUscc } from "../helpers/app.js";
import { bearer, citizenId, world } from "./helpers.js";

t.test("licence types and matters", async (t) => {
  const w = await world(t);
  const post = (url: string, payload: object, token = w.tokens.admin) => w.h.app.inject({ method: "POST", url, headers: bearer(token), payload });
  const code = makeUscc(31337) + "010";
  const good = { code, name: "道路运输经营许可证", holderKind: "organisation", holderCodeTypes: ["001"], fields: [{ name: "scope", label: "经营范围", type: "string" }], validityDays: 1460, issuers: [w.dept.id] };
  const cases: Array<[string, object, string]> = [
    ["type code with a bad USCC check character", { ...good, code: code.slice(0, 17) + (code[17] === "0" ? "1" : "0") + "010" }, "LICENCE_TYPE_INVALID"],
    ["person code type for an organisation type", { ...good, holderCodeTypes: ["001", "111"] }, "LICENCE_TYPE_INVALID"],
    ["unknown code type", { ...good, holderCodeTypes: ["555"] }, "LICENCE_TYPE_INVALID"],
    ["enum without values", { ...good, fields: [{ name: "k", label: "类", type: "enum" }] }, "LICENCE_TYPE_INVALID"],
    ["maxLength on a number", { ...good, fields: [{ name: "k", label: "数", type: "number", maxLength: 3 }] }, "LICENCE_TYPE_INVALID"],
    ["duplicate field", { ...good, fields: [{ name: "k", label: "a", type: "string" }, { name: "k", label: "b", type: "string" }] }, "LICENCE_TYPE_INVALID"],
    ["unknown issuing department", { ...good, issuers: ["nope"] }, "LICENCE_TYPE_INVALID"],
    ["unsupported field type", { ...good, fields: [{ name: "k", label: "a", type: "object" }] }, "VALIDATION_FAILED"],
  ];
  for (const [name, body, c] of cases) t.equal((await post("/licence-types", body)).json().code, c, `${name} → ${c}`);
  const ok = await post("/licence-types", good);
  t.equal(ok.statusCode, 201, ok.body);
  t.equal((await post("/licence-types", good)).json().code, "LICENCE_TYPE_EXISTS");
  t.equal((await post("/licence-types", { ...good, code: makeUscc(31338) + "010" }, w.tokens.issuer)).json().code, "FORBIDDEN_ROLE");
  const patched = await w.h.app.inject({ method: "PATCH", url: `/licence-types/${code}`, headers: bearer(w.tokens.admin), payload: { issuers: [w.dept.id, w.other.id] } });
  t.same(patched.json().issuers, [w.dept.id, w.other.id]);
  const read = await w.h.app.inject({ url: `/licence-types/${code}`, headers: bearer(w.tokens.consumer) });
  t.equal(read.json().name, "道路运输经营许可证", "consumers read the catalogue");

  t.equal((await post("/matters", { code: "X-1", name: "m", licenceTypes: [makeUscc(5) + "001"] })).json().code, "LICENCE_TYPE_NOT_FOUND");
  t.equal((await post("/matters", { code: "X-2", name: "m", licenceTypes: [code], consentExempt: true })).json().code, "VALIDATION_FAILED", "an exemption needs its legal basis");
  t.equal((await post("/matters", { code: "X-3", name: "m", licenceTypes: [code] })).statusCode, 201);
  t.equal((await post("/matters", { code: "X-3", name: "m", licenceTypes: [code] })).json().code, "MATTER_EXISTS");
  const m = await w.h.app.inject({ method: "PATCH", url: "/matters/X-3", headers: bearer(w.tokens.admin), payload: { consentExempt: true, exemptBasis: "某条例第十条" } });
  t.equal(m.json().consentExempt, true);
  t.equal((await w.h.app.inject({ url: "/matters/NOPE", headers: bearer(w.tokens.admin) })).json().code, "MATTER_NOT_FOUND");
  // every change is in the log
  const size = await w.h.ctx.tlog.size();
  const types: string[] = [];
  for (let i = 0; i < size; i++) types.push((await w.h.ctx.tlog.getEntry(i)).event.type);
  t.ok(types.includes("licence-type.created") && types.includes("licence-type.updated") && types.includes("matter.created") && types.includes("matter.updated"));
});

t.test("blank names, and holder-kind changes under issued licences", async (t) => {
  const w = await world(t);
  const post = (url: string, payload: object) => w.h.app.inject({ method: "POST", url, headers: bearer(w.tokens.admin), payload });
  const patch = (url: string, payload: object) => w.h.app.inject({ method: "PATCH", url, headers: bearer(w.tokens.admin), payload });
  const code = makeUscc(880_000 + Math.floor(Math.random() * 1e5)) + "001";
  const type = { code, name: "   ", holderKind: "person", holderCodeTypes: ["111"], fields: [{ name: "scope", label: "经营项目", type: "string" }], validityDays: null, issuers: [w.dept.id] };
  t.equal((await post("/licence-types", type)).json().code, "LICENCE_TYPE_INVALID", "a blank type name (signed into every licence as 证照名称)");
  t.equal((await post("/licence-types", { ...type, name: "某证", fields: [{ name: "scope", label: "  ", type: "string" }] })).json().code, "LICENCE_TYPE_INVALID", "a blank field label");
  t.equal((await post("/matters", { code: `BLANK-${code.slice(-6)}`, name: " ", licenceTypes: [w.personType] })).json().code, "VALIDATION_FAILED", "a blank matter name");
  for (const reserved of ["toString", "constructor", "valueOf", "hasOwnProperty"]) {
    const r = await post("/licence-types", { ...type, name: "某证", fields: [{ name: reserved, label: "字段", type: "string" }] });
    t.equal(r.json().code, "LICENCE_TYPE_INVALID", `field name ${reserved} is reserved`);
    t.match(r.json().message, /reserved/);
  }
  // A type stored before the names were reserved: its optional fields of such names read as absent when left out.
  t.same(validateFields([{ name: "toString", label: "甲", type: "string" }, { name: "constructor", label: "乙", type: "string" }], {}), [], "own properties only");
  t.same(validateFields([{ name: "toString", label: "甲", type: "string", required: true }], {}).map((p) => p.problem), ["required"]);
  t.equal((await post("/licence-types", { ...type, name: "某证" })).statusCode, 201);
  t.equal((await patch(`/licence-types/${code}`, { name: " " })).json().code, "LICENCE_TYPE_INVALID", "nor blank by a change");

  const org = { holderKind: "organisation", holderCodeTypes: ["001"] };
  t.equal((await patch(`/licence-types/${code}`, org)).statusCode, 200, "no licences yet: the holder kind may change");
  t.equal((await patch(`/licence-types/${code}`, { holderKind: "person", holderCodeTypes: ["111"] })).statusCode, 200);
  const lic = await w.h.app.inject({ method: "POST", url: "/licences", headers: bearer(w.tokens.issuer), payload: { typeCode: code, number: "N1", holder: { name: "张三丰", code: citizenId(5), codeType: "111" }, fields: { scope: "x" } } });
  t.equal(lic.statusCode, 201, lic.body);
  const flip = await patch(`/licence-types/${code}`, org);
  t.equal(flip.statusCode, 409);
  t.equal(flip.json().code, "CONFLICT", "licences were issued to persons: the kind stays");

  // The person type now allows another code type only: no new version can be signed for a citizen-ID holder.
  t.equal((await patch(`/licence-types/${code}`, { holderCodeTypes: ["411"] })).statusCode, 200);
  const change = await w.h.app.inject({ method: "POST", url: `/licences/${lic.json().identifier}/versions`, headers: bearer(w.tokens.issuer), payload: { reason: "变更", fields: { scope: "y" } } });
  t.equal(change.json().code, "HOLDER_CODE_TYPE_INVALID");
});

t.test("a holder-kind change racing a type's first issuance: one of them is refused, never both done", async (t) => {
  const w = await world(t);
  const code = makeUscc(770_000 + Math.floor(Math.random() * 1e5)) + "001";
  const r = await w.h.app.inject({ method: "POST", url: "/licence-types", headers: bearer(w.tokens.admin), payload: { code, name: "某证", holderKind: "person", holderCodeTypes: ["111"], fields: [{ name: "scope", label: "经营项目", type: "string" }], validityDays: null, issuers: [w.dept.id] } });
  t.equal(r.statusCode, 201, r.body);
  const ic = { actor: ADMIN_ACTOR, departmentId: w.dept.id, idempotencyScope: "race" };
  // Started together: the issuance is validated against the person type, the change commits while it is signed.
  const [issued, flipped] = await Promise.allSettled([
    w.h.ctx.licences.issue({ typeCode: code, number: "N1", holder: { name: "张三", code: citizenId(5), codeType: "111" }, fields: { scope: "x" } }, ic),
    w.h.ctx.catalogue.updateType(code, { holderKind: "organisation", holderCodeTypes: ["001"] }, ADMIN_ACTOR),
  ]);
  t.not(issued.status === "fulfilled" && flipped.status === "fulfilled", true, "not both");
  const type = await w.h.ctx.catalogue.getType(code);
  const persons = ((await w.h.sql.get("SELECT COUNT(*) AS n FROM licences WHERE type_code = ? AND holder_code_type = '111'", [code])) as { n: number }).n;
  t.ok(type.holderKind === "person" || persons === 0, `the type's kind and its licences agree (${type.holderKind}, ${persons} citizen-ID licences)`);
  if (issued.status === "rejected") t.equal((issued.reason as { code: string }).code, "HOLDER_CODE_TYPE_INVALID", "the issuance is refused when stored");
  else t.equal((flipped as PromiseRejectedResult).reason.code, "CONFLICT", "the change is refused");
});
