/**
 * The 免证办 answer's bytes are assembled by the licence module (answerBody, from the JSON the read model keeps per
 * licence), not serialised by the route: they must still be exactly what the route's response schema describes —
 * for a fresh holder, for one answered from what is kept, and after a status change (issue 15 §3).
 */
import Ajv from "ajv";
import addFormats from "ajv-formats";
import t from "tap";
import { bearer, citizenId, issued, personLicence, world } from "./helpers.js";

t.test("the 免证办 answer's bytes match the route's response schema", async (t) => {
  const w = await world(t);
  const a = await issued(w, personLicence(w, 601));
  await issued(w, { ...personLicence(w, 601), number: "SECOND-601", fields: { scope: "含\"引号\"与\\反斜杠\n换行" } });
  const spec = (await w.h.app.inject({ url: "/docs/json" })).json();
  const schema = spec.paths["/holders/licences:query"].post.responses["200"].content["application/json"].schema;
  const ajv = new Ajv.default({ strict: false, allErrors: true });
  addFormats.default(ajv);
  const check = ajv.compile({ ...schema, components: spec.components });
  const ask = () => w.h.app.inject({
    method: "POST", url: "/holders/licences:query", headers: bearer(w.tokens.consumer),
    payload: { holderCode: citizenId(601), holderCodeType: "111", matterCode: w.exemptMatter, useCause: "行政检查" },
  });
  const suspend = () => w.h.app.inject({ method: "POST", url: `/licences/${a.identifier}/status`, headers: bearer(w.tokens.issuer), payload: { action: "suspend", reason: "检查" } });
  for (const when of ["first asked", "asked again (kept JSON)", "after a status change"]) {
    if (when === "after a status change") t.equal((await suspend()).statusCode, 200);
    const r = await ask();
    t.equal(r.statusCode, 200, r.body);
    t.match(r.headers["content-type"], /^application\/json; charset=utf-8/);
    const body = JSON.parse(r.body);
    t.ok(check(body), `${when}: valid against the response schema ${JSON.stringify(check.errors)}`);
    t.equal(body.items.length, 2, when);
    t.equal(body.items.find((i: { identifier: string }) => i.identifier === a.identifier).status, when === "after a status change" ? "02" : "01", `${when}: the status as it stands`);
    t.same(Object.keys(body.items[0]), ["identifier", "typeCode", "name", "version", "status", "statusText", "validFrom", "validUntil", "data", "jws", "copy"], `${when}: every property, in order`);
    t.equal(Buffer.byteLength(r.body), r.rawPayload.length, "sent as UTF-8");
    const second = body.items.find((i: { data: { number: string } }) => i.data.number === "SECOND-601");
    t.equal(second.data.fields.scope, "含\"引号\"与\\反斜杠\n换行", `${when}: signed text survives the join`);
  }
});
