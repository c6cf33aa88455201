/**
 * With DEV key material every page, licence PDF and stamp appearance visibly says so (issue 14 §8): the pages get a
 * 开发测试 · 非正式 DEV banner, the licence PDF a band and diagonal marks, the seal picture (and so every stamp's
 * appearance) the mark across it. Production material shows none of it.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { drawSeal, sealSvg } from "../../src/modules/seals/picture.js";
import { keysInit } from "../../src/pki/index.js";
import { DEV_MARK } from "../../src/pki/profiles.js";
import { bearer, tempDir } from "../helpers/app.js";
import { needs } from "../helpers/tools.js";
import { issued, personLicence, world } from "../licences/helpers.js";

t.test("DEV keys: pages, the licence PDF and the seal picture carry the mark", async (t) => {
  const w = await world(t);
  const { h } = w;
  t.equal(h.ctx.material.dev, true);
  const lic = await issued(w, personLicence(w, 1));
  for (const url of ["/counter", `/v/l/${lic.identifier}`]) {
    const r = await h.app.inject({ url });
    t.equal(r.statusCode, 200, url);
    t.match(r.body, DEV_MARK, `${url} says ${DEV_MARK}`);
    t.equal(r.headers["x-sidian-dev-keys"], "1");
    t.ok(r.body.indexOf(DEV_MARK) < r.body.indexOf("</h1>") || !r.body.includes("</h1>"), "at the top of the page");
  }
  const api = await h.app.inject({ url: "/healthz" });
  t.notMatch(api.body, DEV_MARK, "JSON answers are left alone");

  const seal = await h.app.inject({ method: "POST", url: "/seals", headers: bearer(w.tokens.admin), payload: { departmentId: w.dept.id, type: "01" } });
  t.equal(seal.statusCode, 201, seal.body);
  const plain = drawSeal({ name: "测试局", typeText: "合同专用章", code: "1234", diameterMm: 42 });
  const dev = drawSeal({ name: "测试局", typeText: "合同专用章", code: "1234", diameterMm: 42, dev: DEV_MARK });
  t.equal(dev.shapes.length - plain.shapes.length, [...DEV_MARK.replace(/\s+/g, "")].length, "one glyph per character of the mark on the seal");
  const svg = await h.app.inject({ url: `/seals/${seal.json().id}/picture.svg`, headers: bearer(w.tokens.admin) });
  const s = seal.json() as { id: string; name: string; arcText: string; typeText: string; diameterMm: number };
  const spec = { name: s.arcText, typeText: s.typeText, code: s.id, diameterMm: s.diameterMm };
  t.equal(svg.body, sealSvg(drawSeal({ ...spec, dev: DEV_MARK }), s.name), "the seal picture (what every stamp's appearance draws) has the mark");
  t.not(svg.body, sealSvg(drawSeal(spec), s.name));

  const pdf = await h.app.inject({ url: `/licences/${lic.identifier}/document`, headers: bearer(w.tokens.issuer) });
  t.equal(pdf.statusCode, 200, pdf.body.slice(0, 200));
  if (!needs("pdftotext")) {
    const f = path.join(tempDir(t), "l.pdf");
    fs.writeFileSync(f, pdf.rawPayload);
    const text = execFileSync("pdftotext", ["-layout", f, "-"], { encoding: "utf8" });
    t.match(text, /开发测试/, "the licence PDF says 开发测试");
    t.match(text, /非正式/);
  }
});

t.test("production material: no mark", async (t) => {
  const dir = path.join(tempDir(t), "keys");
  await keysInit({ dir, dev: false, publicUrl: "http://127.0.0.1:8080" });
  const w = await world(t, { SIDIAN_KEYS_DIR: dir });
  t.equal(w.h.ctx.material.dev, false);
  const r = await w.h.app.inject({ url: "/counter" });
  t.notMatch(r.body, DEV_MARK);
  t.equal(r.headers["x-sidian-dev-keys"], undefined);
});
