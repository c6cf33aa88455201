import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { gate, needs } from "../helpers/tools.js";
import { TimeStampResp, TSTInfo } from "@peculiar/asn1-tsp";
import { ContentInfo, SignedData } from "@peculiar/asn1-cms";
import { AsnConvert } from "@peculiar/asn1-schema";
import { makePdf } from "../../fixtures/pdf/make-pdf.js";
import { build, ROOT, tempDir } from "../helpers/app.js";
import { stamp, withSeal } from "./helpers.js";

/** Skips (with a visible line naming the Debian packages) where these tools are missing. */
const test = gate(t, needs("openssl"));

test("POST /tsa: RFC 3161 over HTTP, verified by openssl ts and parsed by @peculiar/asn1-tsp", async (t) => {
  const h = await build(t);
  const dir = tempDir(t);
  const data = path.join(dir, "data.txt");
  fs.writeFileSync(data, "hello time-stamp");
  const q = path.join(dir, "q.tsq");
  execFileSync("openssl", ["ts", "-query", "-data", data, "-sha256", "-cert", "-out", q], { stdio: "pipe" });
  const res = await h.app.inject({ method: "POST", url: "/tsa", headers: { "content-type": "application/timestamp-query" }, payload: fs.readFileSync(q) });
  t.equal(res.statusCode, 200);
  t.equal(res.headers["content-type"], "application/timestamp-reply");
  const r = path.join(dir, "r.tsr");
  fs.writeFileSync(r, res.rawPayload);
  const text = execFileSync("openssl", ["ts", "-reply", "-in", r, "-text"], { stdio: "pipe" }).toString();
  t.match(text, /Status: Granted/);
  t.match(text, /Hash Algorithm: sha256/);
  fs.writeFileSync(path.join(dir, "ca.pem"), h.ctx.pki.trustBundlePem());
  const v = spawnSync("openssl", ["ts", "-verify", "-in", r, "-queryfile", q, "-CAfile", path.join(dir, "ca.pem")], { encoding: "utf8" });
  t.match(v.stdout + v.stderr, /Verification: OK/, v.stdout + v.stderr);

  // An independent parser agrees on the structure.
  const resp = AsnConvert.parse(res.rawPayload, TimeStampResp);
  t.equal(resp.status.status, 0);
  const sd = AsnConvert.parse(resp.timeStampToken!.content, SignedData);
  const tst = AsnConvert.parse(sd.encapContentInfo.eContent!.single!.buffer, TSTInfo);
  t.equal(tst.genTime.getTime(), h.clock.now().getTime(), "genTime is the service clock");
  void ContentInfo;

  // SHA-1 and garbage are rejected with a TimeStampResp, not a crash.
  execFileSync("openssl", ["ts", "-query", "-data", data, "-sha1", "-out", q], { stdio: "pipe" });
  const bad = await h.app.inject({ method: "POST", url: "/tsa", headers: { "content-type": "application/timestamp-query" }, payload: fs.readFileSync(q) });
  t.equal(AsnConvert.parse(bad.rawPayload, TimeStampResp).status.status, 2, "sha1 → rejection");
  const junk = await h.app.inject({ method: "POST", url: "/tsa", headers: { "content-type": "application/timestamp-query" }, payload: Buffer.from("junk") });
  t.equal(AsnConvert.parse(junk.rawPayload, TimeStampResp).status.status, 2, "junk → rejection");
  for (const r of [bad, junk]) {
    t.equal(r.statusCode, 400, "a refused query is an HTTP 400 in RFC 3161's form (docs/errors.md)");
    t.equal(r.headers["x-error-code"], "TSA_REQUEST_INVALID");
  }
});

test("sidian verify (offline CLI) and the seal picture", async (t) => {
  const s = await withSeal(t);
  const signed = (await stamp(s, makePdf())).rawPayload;
  const dir = tempDir(t);
  const f = path.join(dir, "signed.pdf");
  fs.writeFileSync(f, signed);
  const env = { ...process.env, SIDIAN_KEYS_DIR: path.join(ROOT, "keys-dev"), SIDIAN_MODE: "test", SIDIAN_DB: path.join(dir, "x.db") };
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "src/main.ts"), "verify", f], { encoding: "utf8", env, cwd: ROOT });
  // Issue 14 §6: the stamp carries the seal-status evidence signed by the issuing CA, so a genuine current stamp is
  // VALID offline (test/seals/status-evidence.test.ts covers revoked, stale and forged evidence).
  t.equal(r.status, 0, `offline: VALID from the status evidence the stamp carries\n${r.stdout}${r.stderr}`);
  t.match(r.stdout, /\[PASSED\] signature:/);
  t.match(r.stdout, /\[PASSED\] seal: seal \S+ was active at .*status evidence produced/);
  const svg = await s.h.app.inject({ url: `/seals/${s.sealId}/picture.svg`, headers: { authorization: `Bearer ${s.admin}` } });
  t.equal(svg.headers["content-type"], "image/svg+xml");
  t.match(svg.body, /^<svg [^>]*width="40mm" height="40mm"/);
  t.ok((svg.body.match(/<path /g) ?? []).length > 10, "ring, star and glyph outlines as paths");
  const ses = await s.h.app.inject({ url: `/seals/${s.sealId}/ses?format=json`, headers: { authorization: `Bearer ${s.admin}` } });
  t.equal(ses.json().esealInfo.esID, s.sealId);
  t.equal(ses.json().esealInfo.property.type, 4);
  const bad = await s.h.app.inject({ method: "POST", url: "/seals", headers: { authorization: `Bearer ${s.admin}` }, payload: { departmentId: s.dept.id, type: "99", arcText: "𠀀𠀁测试" } });
  t.equal(bad.json().code, "SEAL_TEXT_UNSUPPORTED");
});
