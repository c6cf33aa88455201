/**
 * Archiving a case (issue 19 §2): a case of an approval system with a licence, a fetched 加注件 and a stamped
 * document is closed and archived; the package downloaded is a zip that `unzip` opens, a BagIt 1.0 bag whose
 * manifests (SHA-256 and SM3) match the bytes, whose tag manifest `openssl cms -verify` accepts against the
 * service's trust bundle, and whose every event's inclusion proof leads to the included checkpoint signed by the
 * log key. Who may see it: the case's owner and the archivists of its department.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { makePdf } from "../../fixtures/pdf/make-pdf.js";
import { parseVkey, verifyCheckpoint } from "../../src/modules/tlog/index.js";
import { verifyInclusion } from "../../src/modules/tlog/merkle.js";
import { tempDir } from "../helpers/app.js";
import { gate, needs } from "../helpers/tools.js";
import { bearer, citizenId, issued, personLicence, world } from "../licences/helpers.js";

// unzip (Debian package `unzip`) opens the package as an archivist would; openssl checks the signature.
const hasUnzip = spawnSync("unzip", ["-v"]).status === 0;
const test = hasUnzip ? gate(t, needs("openssl")) : (name: string) => t.test(name, { skip: "needs unzip (apt-get install unzip)" }, () => undefined);

const hex = (alg: string, b: Uint8Array) => createHash(alg).update(b).digest("hex");

test("a closed case becomes a package that proves itself", async (t) => {
  const w = await world(t);
  const n = 40_000 + Math.floor(Math.random() * 9000);
  const code = citizenId(n);
  // the department's official seal: it seals the 加注件 PDFs and stamps the decision
  const seal = await w.h.app.inject({ method: "POST", url: "/seals", headers: bearer(w.tokens.admin), payload: { departmentId: w.dept.id, type: "01" } });
  t.equal(seal.statusCode, 201, seal.body);
  const lic = await issued(w, personLicence(w, n));
  const otherLic = await issued(w, personLicence(w, n + 1));
  const api = (method: "GET" | "POST" | "PATCH", url: string, token: string, payload?: object | Buffer, type?: string) =>
    w.h.app.inject({ method, url, headers: { ...bearer(token), ...(type ? { "content-type": type } : {}) }, ...(payload ? { payload } : {}) });

  const caseNo = `SL${n}`;
  // the matter is handled by the department (实施主体): the case is opened, and archived, in its name
  t.equal((await api("PATCH", `/matters/${w.exemptMatter}`, w.tokens.admin, { departments: [w.dept.id] })).statusCode, 200);
  const opened = await api("POST", "/cases", w.tokens.consumer, {
    caseNo, matterCode: w.exemptMatter, title: "食品经营许可（新办）", departmentId: w.dept.id,
    applicant: { name: "张三丰", codeType: "111", code }, staff: { name: "李四", id: "A0231" },
  });
  t.equal(opened.statusCode, 201, opened.body);
  const c = opened.json();
  t.equal(c.applicant.code, code.slice(0, 3) + "*".repeat(11) + code.slice(-4), "the applicant's code is answered masked");
  const again = await api("POST", "/cases", w.tokens.consumer, { caseNo, matterCode: w.exemptMatter, title: "另一件", applicant: { name: "王五", codeType: "111", code }, staff: { name: "赵六" } });
  t.equal(again.json().code, "CASE_NUMBER_TAKEN", "case numbers are unique per owner");

  // what the case used: the licence and the 加注件 its 免证办 query handed over, a stamped decision
  const q = await api("POST", "/holders/licences:query", w.tokens.consumer, { holderCode: code, holderCodeType: "111", matterCode: w.exemptMatter, useCause: "核验经营资格" });
  t.equal(q.statusCode, 200, q.body);
  t.equal((await api("POST", `/cases/${c.id}/items`, w.tokens.consumer, { kind: "licence", identifier: lic.identifier })).statusCode, 201);
  const refused = await api("POST", `/cases/${c.id}/items`, w.tokens.consumer, { kind: "licence", identifier: otherLic.identifier });
  t.equal(refused.json().code, "CASE_ITEM_UNAVAILABLE", "another holder's licence does not belong in the case");
  const copyUrl = q.json().items[0].copy.url as string;
  const copied = await api("POST", `/cases/${c.id}/items`, w.tokens.consumer, { kind: "licence-copy", copy: copyUrl });
  t.equal(copied.statusCode, 201, copied.body);
  t.ok(Number.isInteger(copied.json().detail.accessed), "the 加注件's access record is the item's accessed event");
  const st = await api("POST", `/seals/${seal.json().id}/stamp?page=1&x=150&y=200`, w.tokens.issuer, makePdf({ pages: 1 }), "application/pdf");
  t.equal(st.statusCode, 200, st.body);
  const doc = await api("POST", `/cases/${c.id}/documents`, w.tokens.consumer, st.rawPayload, "application/pdf");
  t.equal(doc.statusCode, 201, doc.body);
  t.ok(Number.isInteger(doc.json().detail.stamped), "the stamp's log entry is the item's stamped event");
  const notStamped = await api("POST", `/cases/${c.id}/documents`, w.tokens.consumer, makePdf({ pages: 1 }), "application/pdf");
  t.equal(notStamped.json().code, "CASE_ITEM_UNAVAILABLE", "a PDF no stamp produced is refused");

  // only its owner sees it
  t.equal((await api("GET", `/cases/${c.id}`, w.tokens.otherConsumer)).json().code, "CASE_NOT_FOUND", "another approval system: 404");
  t.equal((await api("GET", `/cases/${c.id}`, w.tokens.issuer)).json().code, "CASE_NOT_FOUND", "the department's own issuer does not own an approval system's case");

  t.equal((await api("POST", `/cases/${c.id}/archive`, w.tokens.consumer, {})).json().code, "CASE_NOT_ARCHIVABLE", "an open case is not archived");
  const closed = await api("POST", `/cases/${c.id}/close`, w.tokens.consumer, { result: "approved" });
  t.equal(closed.statusCode, 200, closed.body);
  t.equal((await api("POST", `/cases/${c.id}/items`, w.tokens.consumer, { kind: "licence", identifier: lic.identifier })).json().code, "CASE_CLOSED");
  t.equal((await api("POST", `/cases/${c.id}/archive`, w.tokens.otherConsumer, {})).json().code, "CASE_NOT_FOUND");

  const ar = await api("POST", `/cases/${c.id}/archive`, w.tokens.consumer, { retention: "permanent" });
  t.equal(ar.statusCode, 201, ar.body);
  const a = ar.json();
  t.equal(a.status, "stored");
  t.equal(a.files, 4, "licence JWS, 加注件 JWS and PDF, stamped document");
  t.equal((await api("POST", `/cases/${c.id}/archive`, w.tokens.consumer, {})).json().code, "CASE_ALREADY_ARCHIVED");
  const entry = await w.h.ctx.tlog.getEntry(a.logIndex);
  t.equal(entry.event.type, "case.archived");
  t.equal((entry.event.data as { manifestSha256: string }).manifestSha256, a.manifestSha256, "the log entry fixes the payload manifest");

  const archivist = (await w.h.client("archivist", { departmentId: w.dept.id })).token;
  const otherArchivist = (await w.h.client("archivist", { departmentId: w.other.id })).token;
  t.equal((await api("GET", `/archives/${a.id}/package`, otherArchivist)).json().code, "ARCHIVE_NOT_FOUND", "another department's archivist: 404");
  t.equal((await api("GET", `/archives/${a.id}`, w.tokens.otherConsumer)).json().code, "ARCHIVE_NOT_FOUND");
  t.equal((await api("GET", `/archives/${a.id}`, archivist)).statusCode, 200);
  const pkg = await api("GET", `/archives/${a.id}/package`, archivist);
  t.equal(pkg.statusCode, 200);
  t.equal(pkg.headers["content-type"], "application/zip");
  const zip = pkg.rawPayload;
  t.equal(zip.length, a.packageSize);
  t.equal(hex("sha256", zip), a.packageSha256, "the package is the bytes recorded");
  t.same((await api("GET", `/archives/${a.id}/package`, w.tokens.consumer)).rawPayload, zip, "the owner downloads the same bytes");

  // unpack with unzip and check by hand
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, "p.zip"), zip);
  execFileSync("unzip", ["-q", "p.zip", "-d", "out"], { cwd: dir });
  const bag = path.join(dir, "out", caseNo);
  const read = (p: string) => fs.readFileSync(path.join(bag, p));
  t.equal(read("bagit.txt").toString(), "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n");
  const info = Object.fromEntries(read("bag-info.txt").toString().trim().split("\n").map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 2)]));
  t.equal(info["External-Identifier"], caseNo);
  t.equal(info["Sidian-Department-Code"], w.dept.uscc);
  t.match(info["Bagging-Date"], /^\d{4}-\d\d-\d\d$/);
  for (const [file, alg] of [["manifest-sha256.txt", "sha256"], ["manifest-sm3.txt", "sm3"]] as const) {
    const lines = read(file).toString().trim().split("\n");
    t.equal(lines.length, 4, `${file} names every payload file`);
    for (const l of lines) {
      const [digest, p] = [l.slice(0, l.indexOf("  ")), l.slice(l.indexOf("  ") + 2)];
      t.equal(hex(alg, read(p)), digest, `${file}: ${p}`);
    }
  }
  const octets = read("manifest-sha256.txt").toString().trim().split("\n").reduce((s, l) => s + read(l.slice(l.indexOf("  ") + 2)).length, 0);
  t.equal(info["Payload-Oxum"], `${octets}.4`);
  t.equal(read(`data/licences/${lic.identifier}.jws`).toString(), lic.jws, "the licence as issued");
  t.equal(read(`data/licences/${lic.identifier}.pdf`).subarray(0, 5).toString(), "%PDF-", "the 加注件 PDF");
  t.ok(read(`data/documents/${doc.json().ref}.pdf`).equals(st.rawPayload), "the stamped document, byte for byte");
  for (const l of read("tagmanifest-sha256.txt").toString().trim().split("\n")) {
    const p = l.slice(l.indexOf("  ") + 2);
    t.equal(hex("sha256", read(p)), l.slice(0, 64), `tag manifest: ${p}`);
  }
  t.same(read("tagmanifest-sha256.txt").toString().trim().split("\n").map((l) => l.slice(66)).sort(),
    ["bag-info.txt", "bagit.txt", "manifest-sha256.txt", "manifest-sm3.txt", "metadata/case.json", "metadata/case.xml", "metadata/checkpoint.txt", "metadata/events.json", "metadata/log-keys.json"]);
  const meta = JSON.parse(read("metadata/case.json").toString());
  t.equal(meta.case.caseNo, caseNo);
  t.equal(meta.case.applicant.codeMasked, c.applicant.code);
  t.notMatch(read("metadata/case.json").toString() + read("metadata/case.xml").toString(), new RegExp(code), "the applicant's full code is nowhere in the metadata");
  t.equal(meta.retention.code, "Y");
  t.equal(meta.files.length, 4);
  t.match(read("metadata/case.xml").toString(), /<保管期限 代码="Y" 项="M29">永久<\/保管期限>/);

  // the signature over the tag manifest: openssl against the service's trust bundle
  fs.writeFileSync(path.join(dir, "bundle.pem"), w.h.ctx.pki.trustBundlePem());
  const out = execFileSync("openssl", ["cms", "-verify", "-binary", "-inform", "DER", "-in", path.join(bag, "signature/tagmanifest-sha256.txt.p7s"),
    "-content", path.join(bag, "tagmanifest-sha256.txt"), "-CAfile", path.join(dir, "bundle.pem"), "-purpose", "any", "-out", "/dev/null"], { stdio: ["ignore", "pipe", "pipe"] });
  t.ok(out !== undefined, "openssl cms -verify accepts the tag-manifest signature");
  const asn = execFileSync("openssl", ["cms", "-cmsout", "-print", "-inform", "DER", "-in", path.join(bag, "signature/tagmanifest-sha256.txt.p7s")]).toString();
  t.match(asn, /id-smime-aa-timeStampToken/, "with an RFC 3161 signature time-stamp");

  // events: every proof leads to the included checkpoint, signed by the log key
  const ev = JSON.parse(read("metadata/events.json").toString());
  const keys = JSON.parse(read("metadata/log-keys.json").toString());
  const cp = verifyCheckpoint(read("metadata/checkpoint.txt").toString(), parseVkey(keys.keys[0].vkey));
  t.equal(cp.size, ev.treeSize);
  const types = ev.events.map((e: { type: string }) => e.type);
  for (const ty of ["created", "received", "accessed", "stamped", "closed", "archived"]) t.ok(types.includes(ty), `a ${ty} event`);
  t.same(ev.events.map((e: { seq: number }) => e.seq), ev.events.map((_: unknown, i: number) => i + 1), "seq 1..n without gaps");
  for (const e of ev.events) {
    const ok = verifyInclusion(e.logIndex, e.treeSize, Buffer.from(e.leafHash, "hex"), e.inclusionProof.map((h: string) => Buffer.from(h, "hex")), cp.root);
    t.ok(ok, `event ${e.seq} (${e.type}, log ${e.logIndex}) is in the checkpoint`);
  }
  const arch = ev.events.find((e: { type: string }) => e.type === "archived");
  t.equal(arch.logIndex, a.logIndex);
});
