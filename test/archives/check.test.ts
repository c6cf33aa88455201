/**
 * DA/T 70 四性检测 against tampering (issue 19 "Bad input and tampering the checks must catch"): a package built
 * by the test fixture builder (real CMS with the dev keys, real log proofs), changed the way each attack changes
 * it; the check must fail the right items and name each failing file. `rebag` stands for a forger recomputing
 * everything that is not signed; `resign` for the department itself signing (to isolate one check).
 */
import fs from "node:fs";
import path from "node:path";
import t, { type Test } from "tap";
import { isaContent } from "../../fixtures/pdf/make-attacks.js";
import { tempDir } from "../helpers/app.js";
import { needs } from "../helpers/tools.js";
import { buildFixture, rebag, resign, type Fixture } from "./fixture.js";
import { checkDir, expectFailures, failedIds, item } from "./check-helpers.js";

const SIG = "signature/tagmanifest-sha256.txt.p7s";
let base: Fixture;
t.before(async () => {
  base = await buildFixture(tempDir(t, "sidian-arc-base-"));
});

/** A fresh copy of the base package. */
function copy(t: Test): string {
  const dir = path.join(tempDir(t, "sidian-arc-"), base.caseNo);
  fs.cpSync(base.dir, dir, { recursive: true });
  return dir;
}

const payload = (dir: string) => fs.readFileSync(path.join(dir, "manifest-sha256.txt"), "utf8").trim().split("\n").map((l) => l.split("  ")[1]!);

t.test("the untouched package passes every item", async (t) => {
  const r = await checkDir(copy(t));
  t.equal(r.result, "pass", failedIds(r).join(", "));
  t.same(r.items.filter((i) => i.result === "not_applicable").map((i) => i.id), ["security.virus-scan"], "only the virus scan is not applicable (no scanner)");
  t.equal(r.items.length, 22);
  t.ok(r.items.every((i) => /[\u4e00-\u9fff]/.test(i.title) && /^GD-[1-4]-\d+$/.test(i.dat70)), "Chinese titles and DA/T 70 numbers");
  t.equal(item(r, "authenticity.signed-pdfs").found, "3 signed PDF(s) valid");
  t.match(item(r, "authenticity.jws").found, /^1 JWS verified/);
  t.match(item(r, "authenticity.log-proofs").found, /^6 event\(s\) proven/);
  t.equal(r.package.payloadFiles, 8);
});

t.test("a changed byte in any payload file", async (t) => {
  for (const p of payload(base.dir)) {
    await t.test(p, async (t) => {
      const dir = copy(t);
      const f = path.join(dir, p);
      const b = fs.readFileSync(f);
      const at = Math.floor(b.length / 2);
      b[at] = b[at]! ^ 0x01;
      fs.writeFileSync(f, b);
      const r = await checkDir(dir);
      t.equal(r.result, "fail");
      for (const id of ["authenticity.payload-digests", "authenticity.file-attributes"]) {
        t.ok(item(r, id).failures.some((x) => x.subject === p), `${id} names ${p}`);
      }
      t.equal(item(r, "authenticity.payload-digests").failures.length, 2, "both manifests (SHA-256 and SM3) disagree");
      t.equal(item(r, "authenticity.signature").result, "pass", "the signature still covers the (unchanged) tag manifest");
    });
  }
});

t.test("a big file (its SM3 computed on the second thread) checks the same", async (t) => {
  const dir = copy(t);
  const { makePng } = await import("./fixture.js");
  const p = "data/materials/m6/大图.png";
  fs.mkdirSync(path.join(dir, path.dirname(p)));
  fs.writeFileSync(path.join(dir, p), makePng(1200, 1400, [10, 20, 30]));
  const big = Buffer.alloc(6 * 1024 * 1024, 0x20);
  fs.writeFileSync(path.join(dir, "data/materials/m6/页.txt"), big);
  const f = path.join(dir, "metadata/case.json");
  const cj = JSON.parse(fs.readFileSync(f, "utf8"));
  cj.files.push({ path: p, name: "大图.png", format: "image/png", size: 0, sha256: "", sm3: "", role: "material" });
  cj.files.push({ path: "data/materials/m6/页.txt", name: "页.txt", format: "text/plain", size: 0, sha256: "", sm3: "", role: "material" });
  fs.writeFileSync(f, JSON.stringify(cj));
  rebag(dir);
  await resign(dir, base.signer);
  const ok = await checkDir(dir);
  t.equal(ok.result, "pass", failedIds(ok).join(", "));
  big[3_000_000] = 0x21;
  fs.writeFileSync(path.join(dir, "data/materials/m6/页.txt"), big);
  const bad = await checkDir(dir);
  t.same(item(bad, "authenticity.payload-digests").failures.map((x) => x.detail.slice(0, 6)), ["sha256", "sm3 is"], "both digests of the big file disagree");
  const noThread = await checkDir(dir, { sm3Thread: false });
  t.same(item(noThread, "authenticity.payload-digests").failures, item(bad, "authenticity.payload-digests").failures, "same findings with SM3 on the main thread");
});

t.test("a removed file", async (t) => {
  const dir = copy(t);
  fs.rmSync(path.join(dir, "data/materials/m1/申请表.png"));
  const r = await checkDir(dir);
  expectFailures(t, r, { "integrity.files-present": "data/materials/m1/申请表.png", "integrity.payload-oxum": "bag-info.txt Payload-Oxum" });
  t.equal(item(r, "integrity.files-present").failures.length, 3, "named by case.json and both manifests");
});

t.test("an added file", async (t) => {
  const dir = copy(t);
  fs.mkdirSync(path.join(dir, "data/materials/m9"), { recursive: true });
  fs.writeFileSync(path.join(dir, "data/materials/m9/补充.txt"), "later addition\n");
  const r = await checkDir(dir);
  expectFailures(t, r, { "integrity.no-extra-files": "data/materials/m9/补充.txt", "integrity.payload-oxum": "bag-info.txt Payload-Oxum" });
});

t.test("a changed metadata value", async (t) => {
  await t.test("changed after signing: the tag manifest names the file", async (t) => {
    const dir = copy(t);
    const f = path.join(dir, "metadata/case.json");
    fs.writeFileSync(f, fs.readFileSync(f, "utf8").replace("企业设立登记", "企业注销登记"));
    const r = await checkDir(dir);
    expectFailures(t, r, { "authenticity.tag-manifest": "metadata/case.json" });
  });
  await t.test("a value out of range, even when signed: metadata-values names the field", async (t) => {
    const dir = copy(t);
    const f = path.join(dir, "metadata/case.json");
    const cj = JSON.parse(fs.readFileSync(f, "utf8"));
    cj.case.closedAt = "2020-01-01T00:00:00Z";
    cj.retention.period = "forever-ish";
    fs.writeFileSync(f, JSON.stringify(cj));
    rebag(dir);
    await resign(dir, base.signer);
    const r = await checkDir(dir);
    expectFailures(t, r, { "authenticity.metadata-values": "metadata/case.json case.closedAt" });
    t.ok(item(r, "authenticity.metadata-values").failures.some((x) => x.subject === "metadata/case.json retention"), "and the retention period");
  });
  await t.test("bag-info disagreeing with the metadata", async (t) => {
    const dir = copy(t);
    const f = path.join(dir, "bag-info.txt");
    fs.writeFileSync(f, fs.readFileSync(f, "utf8").replace(/External-Identifier: .*/, "External-Identifier: CASE-2026-9999"));
    rebag(dir);
    await resign(dir, base.signer);
    const r = await checkDir(dir);
    expectFailures(t, r, { "authenticity.metadata-values": "bag-info.txt External-Identifier" });
  });
});

t.test("a manifest line edited to match a changed file: only the signature catches it", async (t) => {
  const dir = copy(t);
  fs.appendFileSync(path.join(dir, "data/materials/m3/说明.txt"), "（补充）\n");
  rebag(dir); // the forger updates both manifests, case.json, Payload-Oxum and the tag manifest
  const r = await checkDir(dir);
  expectFailures(t, r, { "authenticity.signature": SIG });
  t.match(item(r, "authenticity.signature").found, /tag manifest was changed after signing/);
});

t.test("a truncated or foreign signature", async (t) => {
  await t.test("truncated", async (t) => {
    const dir = copy(t);
    const f = path.join(dir, SIG);
    const b = fs.readFileSync(f);
    fs.writeFileSync(f, b.subarray(0, b.length >> 1));
    const r = await checkDir(dir);
    expectFailures(t, r, { "authenticity.signature": SIG, "authenticity.timestamp": SIG });
    t.match(item(r, "authenticity.signature").found, /not a CMS SignedData/);
  });
  await t.test("signed by a certificate outside the configured trust", async (t) => {
    const dir = copy(t);
    const { createCertificate, keyObjectSigner, OID, parseCertificate, PROFILES } = await import("../../src/pki/index.js");
    const crypto = await import("node:crypto");
    const kp = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const der = await createCertificate({
      profile: PROFILES["root-ca"], subject: [{ type: OID.commonName, value: "Foreign Archive Office" }], publicKey: kp.publicKey,
      notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000 * 30), issuer: { self: keyObjectSigner(kp.privateKey) },
    });
    await resign(dir, { cert: parseCertificate(der), key: kp.privateKey, chain: [der] });
    const r = await checkDir(dir);
    expectFailures(t, r, { "authenticity.signature": SIG });
    t.match(item(r, "authenticity.signature").found, /does not chain to a configured trust anchor/);
  });
  await t.test("a valid signature of another package", async (t) => {
    const dir = copy(t);
    const other = await buildFixture(tempDir(t, "sidian-arc-other-"), { caseNo: "CASE-2026-0002" });
    fs.copyFileSync(path.join(other.dir, SIG), path.join(dir, SIG));
    const r = await checkDir(dir);
    expectFailures(t, r, { "authenticity.signature": SIG });
  });
  await t.test("no time-stamp", async (t) => {
    const dir = copy(t);
    await resign(dir, base.signer, { tsa: false });
    const r = await checkDir(dir);
    expectFailures(t, r, { "authenticity.timestamp": SIG });
  });
  await t.test("missing", async (t) => {
    const dir = copy(t);
    fs.rmSync(path.join(dir, SIG));
    const r = await checkDir(dir);
    expectFailures(t, r, { "authenticity.signature": SIG, "authenticity.timestamp": SIG, "integrity.required-metadata": SIG });
  });
});

t.test("renewal time-stamps (signature/renewal-<n>.tsr, evidence-record style)", async (t) => {
  const { timestampOver } = await import("./fixture.js");
  const dir = copy(t);
  const p7s = fs.readFileSync(path.join(dir, SIG));
  const r1 = await timestampOver(p7s);
  fs.writeFileSync(path.join(dir, "signature/renewal-1.tsr"), r1);
  fs.writeFileSync(path.join(dir, "signature/renewal-2.tsr"), await timestampOver(r1));
  const ok = await checkDir(dir);
  t.equal(ok.result, "pass", failedIds(ok).join(", "));
  t.match(item(ok, "authenticity.timestamp").found, /2 renewal\(s\)/);
  // a renewal over other bytes, and one out of sequence
  fs.writeFileSync(path.join(dir, "signature/renewal-2.tsr"), await timestampOver(Buffer.from("something else")));
  fs.writeFileSync(path.join(dir, "signature/renewal-4.tsr"), await timestampOver(r1));
  const bad = await checkDir(dir);
  expectFailures(t, bad, { "authenticity.timestamp": "signature/renewal-2.tsr" });
  t.ok(item(bad, "authenticity.timestamp").failures.some((x) => x.subject === "signature/renewal-4.tsr" && /out of sequence/.test(x.detail)));
});

t.test("a broken inclusion proof", async (t) => {
  await t.test("one proof hash changed (and signed, to isolate the proof check)", async (t) => {
    const dir = copy(t);
    const f = path.join(dir, "metadata/events.json");
    const ev = JSON.parse(fs.readFileSync(f, "utf8"));
    const h: string = ev.events[2].inclusionProof[1];
    ev.events[2].inclusionProof[1] = (h[0] === "0" ? "1" : "0") + h.slice(1);
    fs.writeFileSync(f, JSON.stringify(ev));
    rebag(dir);
    await resign(dir, base.signer);
    const r = await checkDir(dir);
    expectFailures(t, r, { "authenticity.log-proofs": /^metadata\/events\.json events\[2\]/ });
    t.equal(item(r, "authenticity.log-proofs").failures.length, 1, "only that event");
  });
  await t.test("a checkpoint not signed by the configured log key", async (t) => {
    const dir = copy(t);
    const crypto = await import("node:crypto");
    const { createNoteSigner, parseNote, signNote } = await import("../../src/modules/tlog/checkpoint.js");
    const f = path.join(dir, "metadata/checkpoint.txt");
    const { text } = parseNote(fs.readFileSync(f, "utf8"));
    fs.writeFileSync(f, signNote(text, [createNoteSigner("sidian.dev/log", crypto.generateKeyPairSync("ed25519").privateKey)]));
    rebag(dir);
    await resign(dir, base.signer);
    const r = await checkDir(dir);
    expectFailures(t, r, { "authenticity.log-proofs": "metadata/checkpoint.txt" });
  });
  await t.test("a gap in the event sequence", async (t) => {
    const dir = copy(t);
    const f = path.join(dir, "metadata/events.json");
    const ev = JSON.parse(fs.readFileSync(f, "utf8"));
    ev.events.splice(4, 1); // the closed event
    fs.writeFileSync(f, JSON.stringify(ev));
    rebag(dir);
    await resign(dir, base.signer);
    const r = await checkDir(dir);
    expectFailures(t, r, { "integrity.event-sequence": "metadata/events.json events[4]" });
    t.ok(item(r, "integrity.event-sequence").failures.some((x) => /no closed event/.test(x.detail)));
  });
});

t.test("a PDF inside modified after signing", async (t) => {
  const dir = copy(t);
  const p = "data/documents/doc1.pdf";
  fs.writeFileSync(path.join(dir, p), isaContent(fs.readFileSync(path.join(dir, p))));
  rebag(dir);
  await resign(dir, base.signer); // even a package signed over the changed PDF
  const r = await checkDir(dir);
  expectFailures(t, r, { "authenticity.signed-pdfs": p });
  t.match(item(r, "authenticity.signed-pdfs").failures[0]!.detail, /modifications/);
});

t.test("links and unsafe entries in a directory package", async (t) => {
  const dir = copy(t);
  fs.symlinkSync("/etc/passwd", path.join(dir, "data/materials/m1/passwd.txt"));
  const r = await checkDir(dir);
  t.ok(item(r, "security.entries").failures.some((x) => x.subject === "data/materials/m1/passwd.txt" && /symbolic link/.test(x.detail)), "the link is named");
  t.notOk(r.items.some((i) => i.failures.some((x) => /root:/.test(x.detail))), "never followed");
});

t.test("an executable and a foreign file", async (t) => {
  const dir = copy(t);
  fs.writeFileSync(path.join(dir, "data/materials/m3/readme.pdf"), Buffer.concat([Buffer.from("MZ\x90\x00"), Buffer.alloc(200)]));
  fs.writeFileSync(path.join(dir, "run.sh"), "#!/bin/sh\necho hi\n");
  const r = await checkDir(dir);
  const ft = item(r, "security.file-types");
  t.ok(ft.failures.some((x) => x.subject === "data/materials/m3/readme.pdf" && /Windows program/.test(x.detail)));
  t.ok(ft.failures.some((x) => x.subject === "run.sh"));
  t.ok(item(r, "usability.content-readable").failures.some((x) => x.subject === "data/materials/m3/readme.pdf"), "does not open as the PDF it claims to be");
});

t.test("unreadable content: a cut PNG, a cut JPEG, bad JSON, a tampered JWS", async (t) => {
  const dir = copy(t);
  const cut = (p: string, n: number) => fs.writeFileSync(path.join(dir, p), fs.readFileSync(path.join(dir, p)).subarray(0, n));
  cut("data/materials/m1/申请表.png", 40);
  cut("data/materials/m2/身份证明.jpg", 300);
  fs.writeFileSync(path.join(dir, "data/signatures/req1-evidence.json"), '{"requestId": "req1",');
  const jwsPath = payload(dir).find((p) => p.endsWith(".jws"))!;
  const [h, , s] = fs.readFileSync(path.join(dir, jwsPath), "utf8").split(".");
  fs.writeFileSync(path.join(dir, jwsPath), `${h}.${Buffer.from(JSON.stringify({ iat: 1, licence: { name: "伪造" } })).toString("base64url")}.${s}`);
  rebag(dir);
  await resign(dir, base.signer);
  const r = await checkDir(dir);
  expectFailures(t, r, { "usability.content-readable": "data/materials/m1/申请表.png", "authenticity.jws": jwsPath });
  const names = item(r, "usability.content-readable").failures.map((x) => x.subject).sort();
  t.same(names, ["data/materials/m1/申请表.png", "data/materials/m2/身份证明.jpg", "data/signatures/req1-evidence.json"].sort());
});

t.test("an encrypted PDF", { skip: needs("qpdf") }, async (t) => {
  const { execFileSync } = await import("node:child_process");
  const dir = copy(t);
  const p = path.join(dir, "data/materials/m4/scan.pdf");
  fs.mkdirSync(path.dirname(p));
  const { makePdf } = await import("../../fixtures/pdf/make-pdf.js");
  fs.writeFileSync(p + ".plain", makePdf());
  execFileSync("qpdf", ["--encrypt", "", "owner", "256", "--", p + ".plain", p]);
  fs.rmSync(p + ".plain");
  const f = path.join(dir, "metadata/case.json");
  const cj = JSON.parse(fs.readFileSync(f, "utf8"));
  cj.files.push({ path: "data/materials/m4/scan.pdf", name: "scan.pdf", format: "application/pdf", size: 0, sha256: "", sm3: "", role: "material" });
  fs.writeFileSync(f, JSON.stringify(cj));
  rebag(dir);
  await resign(dir, base.signer);
  const r = await checkDir(dir);
  expectFailures(t, r, { "usability.no-encryption": "data/materials/m4/scan.pdf" });
});

