/**
 * Licence documents (issue 6): the sealed licence PDF (text, signature, structure, QR) and the use-annotated copy
 * (加注件) as a watermarked, sealed PDF — checked with poppler (pdftotext, pdfsig, pdftoppm), qpdf and zbarimg.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import t, { type Test } from "tap";
import { gate, needs } from "../helpers/tools.js";
import { ADMIN_ACTOR, tempDir } from "../helpers/app.js";
import { pdfsig, qpdfCheck } from "../seals/helpers.js";
import { bearer, citizenId, issued, personLicence, world } from "./helpers.js";

/** Skips (with a visible line naming the Debian packages) where these tools are missing. */
const test = gate(t, needs("pdfsig", "pdftoppm", "pdftotext", "zbarimg", "qpdf", "certutil"));

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

test("the licence as a sealed PDF", async (t) => {
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
  t.equal(other.statusCode, 404);
  t.equal(other.json().code, "LICENCE_NOT_FOUND", "another department's issuer (as for a licence that does not exist)");
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

test("stored documents are encrypted at rest; ones stored in the clear are encrypted at the next start", async (t) => {
  const w = await world(t);
  await w.h.ctx.seals.createSeal({ departmentId: w.dept.id, type: "01" }, ADMIN_ACTOR);
  const lic = await issued(w, personLicence(w, 4));
  const url = `/licences/${lic.identifier}/document`;
  const r = await w.h.app.inject({ url, headers: bearer(w.tokens.issuer) });
  t.equal(r.statusCode, 200);
  const pdf = r.rawPayload;
  const blobs = async () => (await w.h.sql.all("SELECT sha256, bytes, encrypted FROM document_blobs")) as Array<{ sha256: string; bytes: Buffer; encrypted: number }>;
  const [row] = await blobs();
  t.equal(row!.encrypted, 1);
  t.equal(row!.sha256, r.headers["x-document-sha256"], "still addressed by the PDF's SHA-256");
  t.not(row!.bytes.subarray(0, 5).toString("latin1"), "%PDF-", "not a PDF on disk");
  // A PDF in the clear has its structure in plain text (its content streams, with the holder's code as glyph codes,
  // are only Flate-compressed): none of it is in the stored bytes.
  const code = citizenId(4);
  t.ok(pdf.includes("endstream") && pdf.includes("/FlateDecode"), "(the served PDF has them)");
  for (const needle of ["endstream", "/FlateDecode", "/Type", code]) t.notOk(row!.bytes.includes(needle), `${needle} not in the stored bytes`);
  t.ok(w.h.ctx.pii.openBytes(row!.bytes, `document:${row!.sha256}`).equals(pdf), "the stored bytes open to the served PDF");
  t.throws(() => w.h.ctx.pii.openBytes(row!.bytes, "document:0000"), "bound to its address");

  // As an earlier version stored it: in the clear. Still served; encrypted at the next start (run here directly).
  (await w.h.sql.run("UPDATE document_blobs SET bytes = ?, encrypted = 0", [pdf]));
  const before = await w.h.app.inject({ url, headers: bearer(w.tokens.admin) });
  t.ok(before.rawPayload.equals(pdf), "a document stored in the clear is served as it is");
  t.equal(await w.h.ctx.documents.encryptStoredDocuments(), 1);
  t.equal(await w.h.ctx.documents.encryptStoredDocuments(), 0, "idempotent");
  t.equal((await blobs())[0]!.encrypted, 1);
  t.notOk((await blobs())[0]!.bytes.includes(code));
  t.ok((await w.h.app.inject({ url, headers: bearer(w.tokens.admin) })).rawPayload.equals(pdf), "and served the same afterwards");
  t.equal((await blobs())[0]!.bytes.length, ((await w.h.sql.get("SELECT size FROM document_blobs")) as { size: number }).size, "size is of what is stored");

  // A long pass stops between transactions once the service is closing (the rest waits for the next start).
  const ins = "INSERT INTO document_blobs (sha256, bytes, size, created_at, encrypted) VALUES (?, ?, ?, ?, 0)";
  for (let i = 0; i < 120; i++) await w.h.sql.run(ins, [`clear-${i}`, Buffer.from(`%PDF-1.7 ${i}`), 10, Date.now()]);
  let transactions = 0;
  const n = await w.h.ctx.documents.encryptStoredDocuments({ stopped: () => transactions++ >= 1 });
  t.equal(n, 50, "one transaction of 50, then it stopped");
  t.equal(await w.h.ctx.documents.encryptStoredDocuments(), 70, "the rest at the next pass");
});

test("the use-annotated copy (加注件) as a watermarked, sealed PDF", async (t) => {
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

test("after a status change the document is rendered again with a status banner", async (t) => {
  const w = await world(t);
  await w.h.ctx.seals.createSeal({ departmentId: w.dept.id, type: "01" }, ADMIN_ACTOR);
  const trust = w.h.ctx.pki.trustBundlePem();
  const get = async (id: string) => {
    const r = await w.h.app.inject({ url: `/licences/${id}/document`, headers: bearer(w.tokens.issuer) });
    t.equal(r.statusCode, 200, r.statusCode === 200 ? `document of ${id}` : r.body);
    return { pdf: r.rawPayload, sha: r.headers["x-document-sha256"] as string, status: r.headers["x-licence-status"] as string };
  };
  const act = async (id: string, action: string) => {
    const r = await w.h.app.inject({ method: "POST", url: `/licences/${id}/status`, headers: bearer(w.tokens.issuer), payload: { action, reason: "测试" } });
    t.equal(r.statusCode, 200, r.statusCode === 200 ? "the document is served" : r.body.slice(0, 300));
  };
  const stampCount = async () => ((await w.h.sql.get("SELECT COUNT(*) AS n FROM stamps")) as { n: number }).n;

  const lic = await issued(w, personLicence(w, 21));
  const valid = await get(lic.identifier);
  t.equal(valid.status, "01");
  const validText = pdftotext(t, valid.pdf, "-raw");
  t.notMatch(validText, /REVOKED|SUSPENDED|本证照已/, "a valid licence has no status banner");

  t.test("suspended, then resumed: banner while suspended, the original document again once valid", async (t) => {
    await act(lic.identifier, "suspend");
    const s = await get(lic.identifier);
    t.equal(s.status, "02");
    t.not(s.sha, valid.sha, "a new document");
    const text = pdftotext(t, s.pdf, "-raw");
    for (const x of ["本证照已暂扣 / SUSPENDED", "证照状态：02 暂扣 (suspended)", "本文件不代表证照现行有效，证照的当前状态以扫描二维码核验的结果为准。", "张三丰", lic.identifier]) {
      t.ok(text.includes(x), `pdftotext shows ${x}`);
    }
    await act(lic.identifier, "resume");
    const again = await get(lic.identifier);
    t.equal(again.status, "01");
    t.equal(again.sha, valid.sha, "valid again: the stored valid document is served");
  });

  t.test("revoked: the document hash changes, the banner shows, the seal still validates", async (t) => {
    const before = await stampCount();
    await act(lic.identifier, "revoke");
    const r = await get(lic.identifier);
    t.equal(r.status, "07");
    t.not(r.sha, valid.sha, "the document hash changed");
    t.equal(await stampCount(), before + 1, "sealed once for the new status");
    if (process.env.SIDIAN_DUMP) fs.writeFileSync(path.join(process.env.SIDIAN_DUMP, "licence-revoked.pdf"), r.pdf);
    const text = pdftotext(t, r.pdf, "-raw");
    for (const x of ["本证照已吊销 / REVOKED", "已吊销", "REVOKED", "证照状态：07 吊销 (revoked)", "食品经营许可证（个人）", "张三丰", lic.identifier]) t.ok(text.includes(x), `pdftotext shows ${x}`);
    const ps = pdfsig(t, r.pdf, trust);
    t.match(ps, /Signature is Valid/, ps);
    t.match(ps, /Certificate is Trusted/, ps);
    t.equal(qpdfCheck(t, r.pdf).status, 0);
    t.same(qrOnPage(t, r.pdf), [`${w.h.ctx.config.publicUrl}/v/l/${lic.identifier}`], "the QR code (live verification) still decodes under the mark");

    const again = await get(lic.identifier);
    t.ok(again.pdf.equals(r.pdf), "the revoked document is stored and reused");
    t.equal(await stampCount(), before + 1, "no second stamp");
    const holder = await w.h.app.inject({ url: `/holders/me/licences/${lic.identifier}/document`, headers: bearer(await w.h.holderToken(citizenId(21))) });
    t.equal(holder.headers["x-document-sha256"], r.sha, "the holder gets the same document with the banner");

    const rows = (await w.h.sql.all("SELECT key, licence_status, expires_at FROM documents WHERE identifier = ? ORDER BY key", [lic.identifier]));
    t.same(rows, [
      { key: `licence:${lic.identifier}`, licence_status: "01", expires_at: null },
      { key: `licence:${lic.identifier}:02`, licence_status: "02", expires_at: null },
      { key: `licence:${lic.identifier}:07`, licence_status: "07", expires_at: null },
    ], "each stored document records the status it was rendered for; the valid snapshot is kept");
  });

  t.test("superseded by a new version: the old version's document names the new one", async (t) => {
    const l = await issued(w, personLicence(w, 22));
    const first = await get(l.identifier);
    const ch = await w.h.app.inject({ method: "POST", url: `/licences/${l.identifier}/versions`, headers: bearer(w.tokens.issuer), payload: { reason: "变更经营项目", fields: { scope: "散装食品销售" } } });
    t.equal(ch.statusCode, 201, ch.body);
    const old = await get(l.identifier);
    t.equal(old.status, "99");
    t.not(old.sha, first.sha);
    const text = pdftotext(t, old.pdf, "-raw");
    for (const x of ["本证照已变更 / SUPERSEDED", "已由新版本替代"]) t.ok(text.includes(x), `pdftotext shows ${x}`);
    t.ok(text.replace(/\s+/g, "").includes(ch.json().identifier), "and the new version's identifier");
    const v2 = await get(ch.json().identifier);
    t.equal(v2.status, "01", "the new version's document is valid");
    t.notMatch(pdftotext(t, v2.pdf, "-raw"), /SUPERSEDED/);
  });

  t.test("expired by date: rendered as expired without any stored status change", async (t) => {
    const l = await issued(w, personLicence(w, 23, { validFrom: "2020-01-01", issueDate: "2020-01-01", validUntil: "2021-12-31" }));
    const r = await get(l.identifier);
    t.equal(r.status, "05");
    const text = pdftotext(t, r.pdf, "-raw");
    for (const x of ["本证照已过期 / EXPIRED", "有效期已于2021年12月31日届满"]) t.ok(text.includes(x), `pdftotext shows ${x}`);
  });
});

test("expired use-annotated copies are swept: blob gone, fresh copy kept, link answers COPY_LINK_INVALID", async (t) => {
  const w = await world(t);
  await w.h.ctx.seals.createSeal({ departmentId: w.dept.id, type: "01" }, ADMIN_ACTOR);
  const lic = await issued(w, personLicence(w, 31));
  const licenceDoc = await w.h.app.inject({ url: `/licences/${lic.identifier}/document`, headers: bearer(w.tokens.issuer) });
  t.equal(licenceDoc.statusCode, 200);
  let token = w.tokens.consumer;
  const refresh = async () => void (token = await w.token(w.consumerId, w.consumerSecret));
  const copyLink = async () => {
    const q = await w.h.app.inject({
      method: "POST", url: "/holders/licences:query", headers: bearer(token),
      payload: { holderCode: citizenId(31), holderCodeType: "111", matterCode: w.exemptMatter, useCause: "核查经营场所" },
    });
    t.equal(q.statusCode, 200, q.body);
    return new URL(q.json().items[0].copy.url).pathname;
  };
  const pdf = (p: string) => w.h.app.inject({ url: `${p}?format=pdf`, headers: bearer(token) });
  const blob = async (sha: string) => (await w.h.sql.get("SELECT COUNT(*) AS n FROM document_blobs WHERE sha256 = ?", [sha])) as { n: number };
  const docRow = async (sha: string) => (await w.h.sql.get("SELECT kind, expires_at FROM documents WHERE sha256 = ?", [sha])) as { kind: string; expires_at: number } | undefined;

  const oldLink = await copyLink();
  const oldCopy = await pdf(oldLink);
  t.equal(oldCopy.statusCode, 200, oldCopy.statusCode === 200 ? "the copy PDF is served" : oldCopy.body.slice(0, 300));
  const oldSha = oldCopy.headers["x-document-sha256"] as string;
  t.equal((await blob(oldSha)).n, 1, "the copy is stored");
  t.equal((await docRow(oldSha))!.kind, "copy");
  t.equal((await docRow(oldSha))!.expires_at, w.h.clock.now().getTime() - (w.h.clock.now().getTime() % 1000) + 3600_000, "with its link's expiry");

  w.h.clock.advance(50 * 60_000);
  await refresh();
  t.same(await w.h.ctx.documents.sweepExpiredCopies(), { documents: 0, blobs: 0 }, "nothing has expired yet");
  const freshLink = await copyLink();
  const freshCopy = await pdf(freshLink);
  t.equal(freshCopy.statusCode, 200);
  const freshSha = freshCopy.headers["x-document-sha256"] as string;
  t.not(freshSha, oldSha);

  w.h.clock.advance(15 * 60_000); // the old link (1 h) has expired, the fresh one has 45 minutes left
  await refresh();
  t.same(await w.h.ctx.documents.sweepExpiredCopies(), { documents: 1, blobs: 1 }, "one expired copy deleted");
  t.equal((await blob(oldSha)).n, 0, "the expired copy's blob is gone");
  t.equal((await docRow(oldSha)), undefined, "and its document row");
  t.equal((await blob(freshSha)).n, 1, "the fresh copy stays");
  t.equal((await blob(licenceDoc.headers["x-document-sha256"] as string)).n, 1, "licence documents are never swept");
  t.equal(((await w.h.sql.get("SELECT COUNT(*) AS n FROM stamps")) as { n: number }).n, 3, "stamp records stay");

  for (const p of [`${oldLink}?format=pdf`, oldLink]) {
    const r = await w.h.app.inject({ url: p, headers: bearer(token) });
    t.equal(r.statusCode, 404, p);
    t.equal(r.json().code, "COPY_LINK_INVALID", "the expired link is invalid, not re-rendered");
  }
  const again = await pdf(freshLink);
  t.equal(again.headers["x-document-sha256"], freshSha, "the fresh copy is served from storage");
  t.same(await w.h.ctx.documents.sweepExpiredCopies(), { documents: 0, blobs: 0 }, "a second sweep finds nothing");

  // The licence is revoked while the fresh link is still valid: its copy is rendered again, with the status banner.
  t.equal((await w.h.ctx.licences.transition(lic.identifier, "revoke", "测试", ADMIN_ACTOR)).status, "07");
  const revokedCopy = await pdf(freshLink);
  t.equal(revokedCopy.headers["x-licence-status"], "07");
  const revokedSha = revokedCopy.headers["x-document-sha256"] as string;
  t.not(revokedSha, freshSha);
  const text = pdftotext(t, revokedCopy.rawPayload, "-raw");
  for (const x of ["本证照已吊销 / REVOKED", "加注件（仅供下列用途使用，他用无效）"]) t.ok(text.includes(x), `the copy shows ${x}`);
  t.match(pdfsig(t, revokedCopy.rawPayload, w.h.ctx.pki.trustBundlePem()), /Signature is Valid/);

  w.h.clock.advance(60 * 60_000);
  t.same(await w.h.ctx.documents.sweepExpiredCopies(), { documents: 2, blobs: 2 }, "both renderings of the fresh copy go once it has expired too");
  t.equal((await blob(freshSha)).n, 0);
  t.equal((await blob(revokedSha)).n, 0);
  t.equal(((await w.h.sql.get("SELECT COUNT(*) AS n FROM documents WHERE kind = 'copy'")) as { n: number }).n, 0, "no copy left");
});

test("the sheet shows what was signed, also after the type dropped or relabelled a field", async (t) => {
  const w = await world(t);
  await w.h.ctx.seals.createSeal({ departmentId: w.dept.id, type: "01" }, ADMIN_ACTOR);
  const lic = await issued(w, personLicence(w, 3));
  const type = (await w.h.app.inject({ url: `/licence-types/${w.personType}`, headers: bearer(w.tokens.admin) })).json();
  const fields = (type.fields as Array<{ name: string; label: string }>).filter((f) => f.name !== "area").map((f) => (f.name === "scope" ? { ...f, label: "许可范围" } : f));
  const patch = await w.h.app.inject({ method: "PATCH", url: `/licence-types/${w.personType}`, headers: bearer(w.tokens.admin), payload: { fields } });
  t.equal(patch.statusCode, 200, patch.body);
  const r = await w.h.app.inject({ url: `/licences/${lic.identifier}/document`, headers: bearer(w.tokens.issuer) });
  t.equal(r.statusCode, 200, r.statusCode === 200 ? "" : r.body);
  const text = pdftotext(t, r.rawPayload, "-raw");
  t.ok(text.includes("35.5"), "a signed field the type no longer defines is still shown");
  t.ok(text.includes("area"), "under its own name");
  t.ok(text.includes("许可范围") && text.includes("预包装食品销售"), "a field the type still defines, under its label now");
  t.ok(text.includes("2024年3月1日"), "a date field is still shown as a date");
});
