/**
 * Round trip (issue 19): a package made by the real builder (POST /cases/:id/archive, downloaded with GET
 * /archives/:id/package) passes 四性检测 with the service's published trust (root + issuing CA, the log key), and a
 * byte changed in it is caught and named. Runs on SQLite and PostgreSQL (SIDIAN_TEST_STORE=pg).
 */
import t from "tap";
import { makePdf } from "../../fixtures/pdf/make-pdf.js";
import { checkPackage, openZipSource, CHECK_LIMITS, formatReport, type Trust } from "../../src/modules/archives/check/index.js";
import { formatVkey, parseVkey } from "../../src/modules/tlog/checkpoint.js";
import { inThreadPdfWork } from "../../src/pdf/pool.js";
import { bearer, citizenId, issued, personLicence, world } from "../licences/helpers.js";

t.test("a package from the real builder passes; a changed byte is named", async (t) => {
  const w = await world(t);
  const n = 50_000 + Math.floor(Math.random() * 9000);
  const code = citizenId(n);
  const api = (method: "GET" | "POST" | "PATCH", url: string, token: string, payload?: object | Buffer, type?: string) =>
    w.h.app.inject({ method, url, headers: { ...bearer(token), ...(type ? { "content-type": type } : {}) }, ...(payload ? { payload } : {}) });
  const seal = await api("POST", "/seals", w.tokens.admin, { departmentId: w.dept.id, type: "01" });
  t.equal(seal.statusCode, 201, seal.body);
  const lic = await issued(w, personLicence(w, n));
  const caseNo = `RT${n}`;
  t.equal((await api("PATCH", `/matters/${w.exemptMatter}`, w.tokens.admin, { departments: [w.dept.id] })).statusCode, 200);
  const c = (await api("POST", "/cases", w.tokens.consumer, {
    caseNo, matterCode: w.exemptMatter, title: "食品经营许可（新办）", departmentId: w.dept.id,
    applicant: { name: "张三丰", codeType: "111", code }, staff: { name: "李四", id: "A0231" },
  })).json();
  // the licence and the 加注件 the 免证办 query handed over for the case's matter
  const q = await api("POST", "/holders/licences:query", w.tokens.consumer, { holderCode: code, holderCodeType: "111", matterCode: w.exemptMatter, useCause: "核验经营资格" });
  t.equal((await api("POST", `/cases/${c.id}/items`, w.tokens.consumer, { kind: "licence", identifier: lic.identifier })).statusCode, 201);
  t.equal((await api("POST", `/cases/${c.id}/items`, w.tokens.consumer, { kind: "licence-copy", copy: q.json().items[0].copy.url })).statusCode, 201);
  const st = await api("POST", `/seals/${seal.json().id}/stamp?page=1&x=150&y=200`, w.tokens.issuer, makePdf({ pages: 1 }), "application/pdf");
  t.equal((await api("POST", `/cases/${c.id}/documents`, w.tokens.consumer, st.rawPayload, "application/pdf")).statusCode, 201);
  t.equal((await api("POST", `/cases/${c.id}/close`, w.tokens.consumer, { result: "approved" })).statusCode, 200);
  const a = (await api("POST", `/cases/${c.id}/archive`, w.tokens.consumer, { retention: "permanent" })).json();
  const zip = (await api("GET", `/archives/${a.id}/package`, w.tokens.consumer)).rawPayload;

  const m = w.h.ctx.material;
  const trust: Trust = {
    anchors: [m.rootCert], intermediates: [m.issuingCa.cert], knownTsaCerts: [],
    logKey: parseVkey(formatVkey(w.h.ctx.config.logOrigin, m.log.publicKey)), logOrigin: w.h.ctx.config.logOrigin,
  };
  const check = async (bytes: Buffer) => {
    const src = await openZipSource(bytes, "package", CHECK_LIMITS);
    try {
      return await checkPackage(src, { trust, pdf: inThreadPdfWork() });
    } finally {
      await src.close();
    }
  };
  const r = await check(zip);
  t.equal(r.result, "pass", formatReport(r));
  t.equal(r.package.caseNo, caseNo);
  t.equal(r.package.payloadFiles, 4);
  t.equal(r.items.find((i) => i.id === "authenticity.signed-pdfs")!.result, "pass", "the stamped document and the 加注件 PDF validate");
  t.match(r.items.find((i) => i.id === "authenticity.jws")!.found, /^2 JWS verified/, "the licence and the 加注件 JWS");

  // a stored (not deflated) payload entry: change one byte of the stamped document inside the zip
  const at = zip.indexOf(Buffer.from("/Type /Page"));
  t.ok(at > 0);
  const bad = Buffer.from(zip);
  bad[at + 1] = "t".charCodeAt(0);
  const r2 = await check(bad);
  t.equal(r2.result, "fail");
  t.ok(r2.items.some((i) => i.failures.some((f) => f.subject.startsWith("data/"))), `a payload file is named: ${r2.items.filter((i) => i.result === "fail").map((i) => `${i.id}: ${i.found}`).join(" | ")}`);

  // POST /archives/:id/checks: the archivists of the case's department; the run is logged
  const archivist = (await w.h.client("archivist", { departmentId: w.dept.id })).token;
  const otherArchivist = (await w.h.client("archivist", { departmentId: w.other.id })).token;
  const run = await api("POST", `/archives/${a.id}/checks`, archivist, { stage: "transfer" });
  t.equal(run.statusCode, 200, run.body);
  const body = run.json();
  t.equal(body.report.result, "pass", JSON.stringify(body.report.items.filter((i: { result: string }) => i.result === "fail")));
  t.equal(body.report.stage, "transfer");
  t.ok(body.report.items.every((i: { dat70: string }) => i.dat70.startsWith("YJ-")), "transfer-stage item numbers");
  const entry = await w.h.ctx.tlog.getEntry(body.logIndex);
  t.equal(entry.event.type, "archive.checked");
  t.match(entry.event.data, { archiveId: a.id, stage: "transfer", result: "pass", failed: [], tagmanifestSha256: body.report.package.tagManifestSha256 });
  t.equal((await api("POST", `/archives/${a.id}/checks`, otherArchivist, {})).json().code, "ARCHIVE_NOT_FOUND", "another department's archivist: 404");
  t.equal((await api("POST", `/archives/${a.id}/checks`, w.tokens.otherConsumer, {})).json().code, "ARCHIVE_NOT_FOUND");
  t.equal((await api("POST", `/archives/${a.id}/checks`, archivist, { stage: "later" })).statusCode, 400);

  // the periodic re-check (and sidian archive recheck): every stored package, each run logged
  const size = await w.h.ctx.tlog.size();
  const runs: unknown[] = [];
  const sum = await w.h.ctx.archiveChecks.recheckAll({ onRun: (x) => runs.push(x) });
  t.same(sum, { checked: 1, passed: 1, failed: 0, errors: 0 });
  const logged = await w.h.ctx.tlog.getEntry(size);
  t.equal(logged.event.type, "archive.checked");
  t.match(logged.event.data, { archiveId: a.id, stage: "preservation", result: "pass" });
});
