/**
 * Licence documents (issue 6): the sealed licence PDF (text, signature, structure, QR) and the use-annotated copy
 * (加注件) as a watermarked, sealed PDF — checked with poppler (pdftotext, pdfsig, pdftoppm), qpdf and zbarimg.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import t, { type Test } from "tap";
import { ADMIN_ACTOR, tempDir } from "../helpers/app.js";
import { pdfsig, qpdfCheck } from "../seals/helpers.js";
import { bearer, citizenId, issued, personLicence, world } from "./helpers.js";

function pdftotext(t: Test, pdf: Buffer, mode: "-layout" | "-raw" = "-layout"): string {
  const dir = tempDir(t, "sidian-pdftotext-");
  const f = path.join(dir, "doc.pdf");
  fs.writeFileSync(f, pdf);
  return execFileSync("pdftotext", [mode, f, "-"], { encoding: "utf8" });
}

/** Renders page 1 at 150 dpi and decodes the QR code(s) on it. */
function qrOnPage(t: Test, pdf: Buffer): string[] {
  const dir = tempDir(t, "sidian-zbar-");
  const f = path.join(dir, "doc.pdf");
  fs.writeFileSync(f, pdf);
  execFileSync("pdftoppm", ["-r", "150", "-png", "-f", "1", "-l", "1", f, path.join(dir, "page")]);
  const png = fs.readdirSync(dir).find((n) => n.endsWith(".png"))!;
  return execFileSync("zbarimg", ["--raw", "-q", path.join(dir, png)], { encoding: "utf8" }).trim().split("\n");
}

t.test("the licence as a sealed PDF", async (t) => {
  const w = await world(t);
  const lic = await issued(w, personLicence(w, 1, { validFrom: "2024-03-01", issueDate: "2024-03-01" }));
  const url = `/licences/${lic.identifier}/document`;

  const none = await w.h.app.inject({ url, headers: bearer(w.tokens.issuer) });
  t.equal(none.statusCode, 409);
  t.equal(none.json().code, "LICENCE_SEAL_MISSING", "no official seal: an error, not an unsealed document");
  // A contract seal is not the official seal.
  await w.h.ctx.seals.createSeal({ departmentId: w.dept.id, type: "04" }, ADMIN_ACTOR);
  t.equal((await w.h.app.inject({ url, headers: bearer(w.tokens.issuer) })).json().code, "LICENCE_SEAL_MISSING");
  const seal = await w.h.ctx.seals.createSeal({ departmentId: w.dept.id, type: "01" }, ADMIN_ACTOR);

  const r = await w.h.app.inject({ url, headers: bearer(w.tokens.issuer) });
  t.equal(r.statusCode, 200, r.statusCode === 200 ? "" : r.body);
  t.equal(r.headers["content-type"], "application/pdf");
  t.match(r.headers["cache-control"], /no-store/);
  const pdf = r.rawPayload;
  if (process.env.SIDIAN_DUMP) fs.writeFileSync(path.join(process.env.SIDIAN_DUMP, "licence.pdf"), pdf);

  const text = pdftotext(t, pdf);
  for (const s of ["食品经营许可证（个人）", "证照编号", "JY1350102000001", "持证主体", "张三丰", "公民身份号码", citizenId(1),
    "经营项目", "预包装食品销售", "经营面积（平方米）", "35.5", "主体业态", "食品销售经营者", "核准日期", "2024年3月1日",
    "有效期限", "2024年3月1日 至 2029年2月27日", "发证机关", "福州市市场监督管理局", "发证日期", lic.identifier]) {
    t.ok(text.includes(s), `pdftotext shows ${s}`);
  }

  const ps = pdfsig(t, pdf, w.h.ctx.pki.trustBundlePem());
  t.match(ps, /Signature is Valid/, ps);
  t.match(ps, /Certificate is Trusted/, ps);
  t.match(ps, /ETSI\.CAdES\.detached/);
  const q = qpdfCheck(t, pdf);
  t.equal(q.status, 0, q.out);
  t.same(qrOnPage(t, pdf), [`${w.h.ctx.config.publicUrl}/v/l/${lic.identifier}`], "the QR code decodes to the static verification URL");

  // The stamp is recorded with the official seal; a second request reuses the stored bytes (no new stamp).
  const stamps = await w.h.ctx.uow.read.stamps.list({ sealId: seal.id, limit: 10 });
  t.equal(stamps.length, 1);
  t.equal(stamps[0]!.resultSha256, r.headers["x-document-sha256"]);
  const again = await w.h.app.inject({ url, headers: bearer(w.tokens.admin) });
  t.equal(again.statusCode, 200, "administrators may fetch it");
  t.ok(again.rawPayload.equals(pdf), "the second request returns the same bytes");
  t.equal((await w.h.ctx.uow.read.stamps.list({ sealId: seal.id, limit: 10 })).length, 1, "and does not stamp again");

  // Authorisation
  const other = await w.h.app.inject({ url, headers: bearer(w.tokens.otherIssuer) });
  t.equal(other.statusCode, 403);
  t.equal(other.json().code, "FORBIDDEN_DEPARTMENT", "another department's issuer");
  t.equal((await w.h.app.inject({ url, headers: bearer(w.tokens.consumer) })).statusCode, 403, "a consumer");
  t.equal((await w.h.app.inject({ url })).statusCode, 401, "anonymous");

  // The holder, through their own API; another holder sees nothing.
  const mine = await w.h.app.inject({ url: `/holders/me/licences/${lic.identifier}/document`, headers: bearer(await w.h.holderToken(citizenId(1))) });
  t.equal(mine.statusCode, 200);
  t.ok(mine.rawPayload.equals(pdf), "the holder gets the same stored document");
  const notMine = await w.h.app.inject({ url: `/holders/me/licences/${lic.identifier}/document`, headers: bearer(await w.h.holderToken(citizenId(2))) });
  t.equal(notMine.statusCode, 404);
  t.equal(notMine.json().code, "LICENCE_NOT_FOUND");
});

t.test("the use-annotated copy (加注件) as a watermarked, sealed PDF", async (t) => {
  const w = await world(t);
  await w.h.ctx.seals.createSeal({ departmentId: w.dept.id, type: "01" }, ADMIN_ACTOR);
  const lic = await issued(w, personLicence(w, 3));
  const q = await w.h.app.inject({
    method: "POST", url: "/holders/licences:query", headers: bearer(w.tokens.consumer),
    payload: { holderCode: citizenId(3), holderCodeType: "111", matterCode: w.exemptMatter, useCause: "核查经营场所" },
  });
  t.equal(q.statusCode, 200, q.body);
  const item = q.json().items[0];
  t.equal(item.identifier, lic.identifier);
  const copyPath = new URL(item.copy.url).pathname;

  const json = await w.h.app.inject({ url: copyPath, headers: bearer(w.tokens.consumer) });
  t.match(json.headers["content-type"], /application\/json/, "JSON stays the default");
  t.ok(json.json().copy, "the signed JSON copy");
  t.match((await w.h.app.inject({ url: `${copyPath}?format=json`, headers: { ...bearer(w.tokens.consumer), accept: "application/pdf" } })).headers["content-type"], /application\/json/, "?format=json wins");

  const r = await w.h.app.inject({ url: `${copyPath}?format=pdf`, headers: bearer(w.tokens.consumer) });
  t.equal(r.statusCode, 200, r.statusCode === 200 ? "" : r.body);
  t.equal(r.headers["content-type"], "application/pdf");
  const pdf = r.rawPayload;
  if (process.env.SIDIAN_DUMP) fs.writeFileSync(path.join(process.env.SIDIAN_DUMP, "copy.pdf"), pdf);
  // -raw (content-stream order): the diagonal watermark would interleave with the banner in -layout mode.
  const text = pdftotext(t, pdf, "-raw");
  for (const s of ["加注件", "使用方：consumer test client", "仅供consumer test client办理行政处罚调查使用", "行政处罚调查", w.exemptMatter, "用证事由：核查经营场所", "有效期至", "他用无效", "张三丰", lic.identifier]) {
    t.ok(text.includes(s), `pdftotext shows ${s}`);
  }
  t.match(pdfsig(t, pdf, w.h.ctx.pki.trustBundlePem()), /Signature is Valid/);
  t.equal(qpdfCheck(t, pdf).status, 0);
  t.same(qrOnPage(t, pdf), [`${w.h.ctx.config.publicUrl}/v/l/${lic.identifier}`], "the QR code still decodes under the watermark");

  const viaAccept = await w.h.app.inject({ url: copyPath, headers: { ...bearer(w.tokens.consumer), accept: "application/pdf" } });
  t.equal(viaAccept.headers["content-type"], "application/pdf", "Accept: application/pdf selects the PDF");
  t.ok(viaAccept.rawPayload.equals(pdf), "stored and reused");
  const stranger = await w.h.app.inject({ url: `${copyPath}?format=pdf`, headers: bearer(w.tokens.otherConsumer) });
  t.equal(stranger.json().code, "COPY_LINK_INVALID", "another client cannot use the link");
});
