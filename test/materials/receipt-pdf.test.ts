/**
 * The receipt PDF (issue 18 §2): the receipt's facts on a page sealed (PAdES) with the platform's seal — checked by
 * poppler's pdfsig and by POST /verify/pdf — and refused without a platform seal; and the check other modules (cases)
 * use to reference a material: `belongsTo`.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { tempDir } from "../helpers/app.js";
import { gate, needs } from "../helpers/tools.js";
import { HOLDER, OTHER_HOLDER, bearer, pdfBytes, registerRaw, setup } from "./helpers.js";

const test = gate(t, needs("pdfsig"));

test("the receipt PDF is sealed by the platform; without a platform seal it is refused", async (t) => {
  const s = await setup(t, { SIDIAN_SIGNING_SEAL: "PLATFORM-SEAL-9" });
  const { h } = s;
  const r = (await registerRaw(h, s.consumer.token, { typeCode: "LEASE", holder: { code: HOLDER, codeType: "111" }, matterCode: "M-A" }, pdfBytes("receipt"))).json();
  const url = `/materials/${r.material.identifier}/receipt?format=pdf`;
  t.equal(r.receiptPdf, url);
  t.equal((await h.app.inject({ url, headers: bearer(s.consumer.token) })).json().code, "MATERIAL_RECEIPT_SEAL_MISSING", "the platform seal does not exist yet");
  const platform = await h.department("测试市政务服务数据管理局");
  await h.ctx.seals.createSeal({ departmentId: platform.id, type: "01", id: "PLATFORM-SEAL-9" }, { kind: "system", name: "test" });
  const res = await h.app.inject({ url, headers: bearer(s.holder) });
  t.equal(res.statusCode, 200, res.body.slice(0, 200));
  t.equal(res.headers["content-type"], "application/pdf");
  const file = path.join(tempDir(t), "receipt.pdf");
  fs.writeFileSync(file, res.rawPayload);
  let out = "";
  try {
    out = execFileSync("pdfsig", [file], { encoding: "utf8" });
  } catch (e) {
    out = String((e as { stdout?: string }).stdout ?? "");
  }
  t.match(out, /Signature #1/, "pdfsig finds the seal");
  t.match(out, /Signature Validation: Signature is Valid/, "and the signature is valid");
  const v = (await h.app.inject({ method: "POST", url: "/verify/pdf", headers: { "content-type": "application/pdf" }, payload: res.rawPayload })).json();
  t.equal(v.signatures.length, 1);
  t.not(v.signatures[0].result, "INVALID", `POST /verify/pdf: ${v.signatures[0].result}`);
  t.equal((await h.app.inject({ url: `/materials/${r.material.identifier}/receipt`, headers: bearer(s.consumer.token) })).headers["content-type"], "application/jose");
});

t.test("belongsTo: the check cases use to reference a material", async (t) => {
  const s = await setup(t);
  const { h } = s;
  const r = (await registerRaw(h, s.consumer.token, { typeCode: "LEASE", holder: { code: HOLDER, codeType: "111" }, matterCode: "M-A" }, pdfBytes("case"))).json();
  const id = r.material.identifier as string;
  const mine = h.ctx.pii.lookupHash("111", HOLDER);
  const other = h.ctx.pii.lookupHash("111", OTHER_HOLDER);
  const consumerActor = await h.ctx.auth.authenticate(s.consumer.token);
  const counterActor = await h.ctx.auth.authenticate(s.counter.token);
  t.equal((await h.ctx.materials.belongsTo(id, { holderHash: mine }))?.identifier, id, "the holder's");
  t.equal(await h.ctx.materials.belongsTo(id, { holderHash: other }), null, "not another holder's");
  t.equal((await h.ctx.materials.belongsTo(id, { holderHash: mine, actor: consumerActor }))?.status, "valid", "visible to the client that registered it");
  t.equal(await h.ctx.materials.belongsTo(id, { holderHash: mine, actor: counterActor }), null, "not to another client");
  t.equal(await h.ctx.materials.belongsTo("MAT.LEASE.0000000000000000.001.0", { holderHash: mine }), null, "unknown");
  t.equal(await h.ctx.materials.belongsTo(id, {}), null, "nobody named: no answer");
});
