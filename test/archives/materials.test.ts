/**
 * Materials in a case and in its package (issues 18 + 19 §5): a material is referenced by its identifier, checked
 * to belong to the case's applicant and to be visible to the caller; its bytes go into the package from the
 * materials store. File names are NFC-normalised, collisions (after NFC and case folding) get a suffix, and
 * non-ASCII names survive the zip round trip (read back with the bounded zip reader and with `unzip -Z1`).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import t from "tap";
import { openZip } from "../../src/containers/zip/index.js";
import { bagNameOf, PathSet, safeSegment } from "../../src/modules/archives/index.js";
import { ADMIN_ACTOR, bearer } from "../helpers/app.js";
import { makePdf } from "../../fixtures/pdf/make-pdf.js";
import { needs } from "../helpers/tools.js";
import { HOLDER, OTHER_HOLDER, pdfBytes, registerRaw, setup } from "../materials/helpers.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

t.test("names: NFC, safe, collision-free", async (t) => {
  const nfd = "租赁合同 e\u0301.pdf";
  t.equal(safeSegment(nfd), "租赁合同 é.pdf", "NFD becomes NFC");
  for (const bad of ["..", ".", "a/b", "a\\b", "x\u0000y", "\u202eevil.pdf", ".hidden"]) {
    const s = safeSegment(bad);
    t.notOk(/[/\\\u0000\u202e]/.test(s) || s === ".." || s === "." || s.startsWith("."), `${JSON.stringify(bad)} → ${JSON.stringify(s)}`);
  }
  t.ok(Buffer.byteLength(safeSegment("合".repeat(300) + ".pdf")) <= 200, "bounded, extension kept");
  t.match(safeSegment("合".repeat(300) + ".pdf"), /\.pdf$/);
  const p = new PathSet();
  t.same(p.claim("data/m", "租赁合同 é.pdf"), { path: "data/m/租赁合同 é.pdf", collided: false });
  t.same(p.claim("data/m", nfd), { path: "data/m/租赁合同 é (2).pdf", collided: true }, "the NFD spelling collides with the NFC one");
  t.same(p.claim("data/m", "租赁合同 É.PDF"), { path: "data/m/租赁合同 É (3).PDF", collided: true }, "case folding collides too");
  t.equal(bagNameOf("SL/../2026 01"), "SL_.._2026_01");
});

t.test("a case's materials go into its package under their names", async (t) => {
  const s = await setup(t);
  const h = s.h;
  const api = (method: "GET" | "POST", url: string, token: string, payload?: object) => h.app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });
  await h.ctx.catalogue.updateMatter("M-A", { departments: [s.issuer.departmentId] }, ADMIN_ACTOR);
  const c = await api("POST", "/cases", s.consumer.token, {
    caseNo: `MAT${Date.now() % 1e9}`, matterCode: "M-A", title: "食品经营许可（新办）", departmentId: s.issuer.departmentId,
    applicant: { name: "王五", codeType: "111", code: HOLDER }, staff: { name: "李四" },
  });
  t.equal(c.statusCode, 201, c.body);
  const id = c.json().id as string;
  // Real PDFs: the package is checked before it is released, and a PDF the checker cannot open holds it back.
  const files = ["one", "two", "three"].map((w, i) => makePdf({ pages: i + 1, lines: () => [`material ${w}`] }));
  const names = ["租赁合同 e\u0301.pdf", "租赁合同 é.pdf", "Lease.PDF"];
  const ids: string[] = [];
  for (let i = 0; i < files.length; i++) {
    const r = await registerRaw(h, s.consumer.token, { typeCode: "LEASE", holder: { code: HOLDER, codeType: "111" }, matterCode: "M-A", name: names[i] }, files[i]!);
    t.equal(r.statusCode, 201, r.body);
    ids.push(r.json().material.identifier);
    const a = await api("POST", `/cases/${id}/items`, s.consumer.token, { kind: "material", materialId: ids[i] });
    t.equal(a.statusCode, 201, a.body);
    t.equal(a.json().detail.sha256, sha(files[i]!));
  }
  const foreign = await registerRaw(h, s.consumer.token, { typeCode: "LEASE", holder: { code: OTHER_HOLDER, codeType: "111" }, matterCode: "M-A" }, pdfBytes("other"));
  t.equal((await api("POST", `/cases/${id}/items`, s.consumer.token, { kind: "material", materialId: foreign.json().material.identifier })).json().code, "CASE_ITEM_UNAVAILABLE", "another holder's material");
  const stranger = await h.client("consumer", { matters: ["M-A"] });
  const theirs = await registerRaw(h, stranger.token, { typeCode: "LEASE", holder: { code: HOLDER, codeType: "111" }, matterCode: "M-A" }, pdfBytes("theirs"));
  t.equal((await api("POST", `/cases/${id}/items`, s.consumer.token, { kind: "material", materialId: theirs.json().material.identifier })).json().code, "CASE_ITEM_UNAVAILABLE", "a material the caller may not see (never handed over): the same answer");

  t.equal((await api("POST", `/cases/${id}/close`, s.consumer.token, { result: "approved" })).statusCode, 200);
  const ar = await api("POST", `/cases/${id}/archive`, s.consumer.token, {});
  t.equal(ar.statusCode, 201, ar.body);
  const pkg = await api("GET", `/archives/${ar.json().id}/package`, s.consumer.token);
  t.equal(pkg.statusCode, 200);
  const zip = await openZip(pkg.rawPayload);
  t.same(zip.issues, [], "the bounded reader finds nothing wrong");
  const bag = ar.json().bagName as string;
  const meta = JSON.parse((await zip.readEntry(zip.get(`${bag}/metadata/case.json`)!, 1 << 20)).toString());
  const mats = meta.files.filter((f: { role: string }) => f.role === "material");
  t.equal(mats.length, 3);
  for (let i = 0; i < 3; i++) {
    const f = mats.find((m: { item: { ref: string } }) => m.item.ref === ids[i]);
    t.equal(f.name, names[i], "the name as given is kept");
    t.equal(f.path, f.path.normalize("NFC"), "paths are NFC");
    const e = zip.get(`${bag}/${f.path}`);
    t.ok(e, `${f.path} is in the zip under its UTF-8 name`);
    t.same(await zip.readEntry(e!, 1 << 20), files[i], "byte for byte");
    t.equal(f.sha256, sha(files[i]!));
  }
  const paths = mats.map((m: { path: string }) => m.path);
  t.equal(new Set(paths).size, 3, "each material has its own path");
  for (const [i, m] of ids.entries()) t.ok(paths.includes(`data/materials/${m}/${names[i]!.normalize("NFC")}`), `material ${i + 1} in its own folder, NFC name`);
  await zip.close();

  const noUnzip = needs("unzip");
  if (noUnzip) t.comment(`skipped the unzip listing: ${noUnzip}`);
  else {
    const fs = await import("node:fs");
    const os = await import("node:os");
    const path = await import("node:path");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-"));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.writeFileSync(path.join(dir, "p.zip"), pkg.rawPayload);
    const listed = spawnSync("unzip", ["-Z1", "p.zip"], { cwd: dir, encoding: "utf8" }).stdout.split("\n");
    t.ok(listed.includes(`${bag}/${mats[0].path}`), "unzip lists the non-ASCII name as written");
  }
});
