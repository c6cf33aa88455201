/**
 * Issue 14 §6: offline verification gets the seal-status evidence it needs (src/pki/seal-status.ts). A genuine,
 * current Sidian stamp is VALID offline (`sidian verify`, with and without --trust) because the stamp carries the
 * seal's status at signing time, signed by the issuing CA; evidence from GET /seals/:id/status-evidence (--status)
 * judges signatures made with the seal's key elsewhere: revoked or suspended → INVALID, stale → INDETERMINATE with
 * a reason, forged or about another seal → not used. Every file argument of `sidian verify` that cannot be used is a
 * one-line error with a stable code and exit code 2.
 */
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { makePdf } from "../../fixtures/pdf/make-pdf.js";
import { verifyCommand } from "../../src/cli/seals.js";
import { AppError } from "../../src/errors.js";
import { offlineVerifyDeps } from "../../src/modules/seals/index.js";
import { verifyPdf, type PdfVerdict } from "../../src/pdf/verify.js";
import { parseCertificatesPem, toPem } from "../../src/pki/index.js";
import { readSealStatus, signSealStatus, statementOf } from "../../src/pki/seal-status.js";
import { keyObjectSigner } from "../../src/pki/x509.js";
import { ADMIN_ACTOR, bearer, ROOT, tempDir } from "../helpers/app.js";
import { sealCmsSigner, signWithSignpdf } from "../pdf/signpdf.js";
import { stamp, withSeal, type SealSetup } from "./helpers.js";

const have = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;

function cli(args: string[], dir: string) {
  return spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "src/main.ts"), "verify", ...args], {
    cwd: ROOT, encoding: "utf8", env: { ...process.env, SIDIAN_KEYS_DIR: path.join(ROOT, "keys-dev"), SIDIAN_DB: path.join(dir, "x.db"), SIDIAN_MODE: "test" },
  });
}

const sealCheck = (v: PdfVerdict, i = 0) => v.signatures[i]!.checks.find((c) => c.id === "seal");
/** Offline deps as `sidian verify` builds them, the clock of the harness as "now". */
const offline = (s: SealSetup, evidence: Buffer[] = []) => ({
  ...offlineVerifyDeps(parseCertificatesPem(s.h.ctx.pki.trustBundlePem()), () => s.h.clock.now()), sealStatusEvidence: evidence,
});
async function evidenceOf(s: SealSetup, format = ""): Promise<Buffer> {
  const r = await s.h.app.inject({ url: `/seals/${s.sealId}/status-evidence${format}` });
  if (r.statusCode !== 200) throw new Error(`status-evidence: ${r.statusCode} ${r.body}`);
  return r.rawPayload;
}

t.test("a genuine current stamp is VALID offline, with and without --trust (CLI, exit 0)", async (t) => {
  const s = await withSeal(t);
  const out = (await stamp(s, makePdf())).rawPayload;
  const dir = tempDir(t);
  const f = path.join(dir, "stamped.pdf");
  fs.writeFileSync(f, out);
  const bundle = path.join(dir, "bundle.pem");
  fs.writeFileSync(bundle, s.h.ctx.pki.trustBundlePem());
  for (const args of [[f], [f, "--trust", bundle]]) {
    const r = cli([...args, "--json"], dir);
    t.equal(r.status, 0, `sidian verify ${args.slice(1).join(" ")}: exit 0 (${r.stderr.slice(0, 300)})`);
    const v = JSON.parse(r.stdout) as PdfVerdict;
    t.equal(v.result, "VALID");
    t.equal(sealCheck(v)?.status, "PASSED");
    t.match(sealCheck(v)?.detail, /was active at .*status evidence produced/);
  }
});

t.test("GET /seals/:id/status-evidence: public, DER or PEM, signed by the issuing CA (openssl agrees)", async (t) => {
  const s = await withSeal(t);
  const der = await evidenceOf(s);
  const pem = (await evidenceOf(s, "?format=pem")).toString("latin1");
  t.match(pem, /^-----BEGIN CMS-----\n/);
  const r = readSealStatus(der, s.h.ctx.material.issuingCa.cert);
  t.ok("statement" in r, JSON.stringify(r));
  if ("statement" in r) {
    t.equal(r.statement.sealId, s.sealId);
    t.same(r.statement.events.map((e) => e.status), ["active"]);
  }
  t.equal((await s.h.app.inject({ url: "/seals/NO-SUCH-SEAL/status-evidence" })).json().code, "SEAL_NOT_FOUND");
  t.equal((await s.h.app.inject({ url: `/seals/${s.sealId}/status-evidence?format=xml` })).json().code, "VALIDATION_FAILED");
  if (have("openssl")) {
    const dir = tempDir(t);
    fs.writeFileSync(path.join(dir, "e.p7s"), der);
    fs.writeFileSync(path.join(dir, "bundle.pem"), s.h.ctx.pki.trustBundlePem());
    const o = spawnSync("openssl", ["cms", "-verify", "-inform", "DER", "-in", "e.p7s", "-CAfile", "bundle.pem", "-purpose", "any"], { cwd: dir, encoding: "utf8" });
    t.equal(o.status, 0, o.stderr);
    t.match(o.stdout, new RegExp(`"sealId":"${s.sealId}"`));
  } else t.comment("openssl check skipped: needs the openssl package");
});

t.test("signatures made with the seal's key elsewhere (no time-stamp): judged by --status evidence", async (t) => {
  const s = await withSeal(t);
  const sign = await sealCmsSigner(s.h.ctx, s.sealId);
  const stolen = await sealCmsSigner(s.h.ctx, s.sealId, { stolen: true });
  // Straight through the service: the clock jumps past the admin token's lifetime.
  const setStatus = (status: "suspended" | "revoked") => s.h.ctx.seals.setStatus(s.sealId, status, "key lost", ADMIN_ACTOR);

  const early = await signWithSignpdf(makePdf(), sign);
  const none = await verifyPdf(early, offline(s));
  t.equal(none.result, "INDETERMINATE", "without evidence: INDETERMINATE");
  t.match(sealCheck(none)?.detail, /no status evidence.*--status FILE from GET \/seals\/.*\/status-evidence/);

  s.h.clock.advance(60_000);
  const fresh = await evidenceOf(s);
  s.h.clock.advance(1000);
  const ok = await verifyPdf(early, offline(s, [fresh]));
  t.equal(ok.result, "VALID", JSON.stringify(sealCheck(ok)));
  t.match(sealCheck(ok)?.detail, /current until/);

  // Stale: a day and more later, the signature has no time-stamp, so its time is now, which the evidence cannot tell.
  s.h.clock.advance(25 * 3600_000);
  const stale = await verifyPdf(early, offline(s, [fresh]));
  t.equal(stale.result, "INDETERMINATE");
  t.match(sealCheck(stale)?.detail, /stale .*fetch current evidence/);

  // Suspended, then revoked: fresh evidence makes the same signature INVALID (its time is now).
  t.equal((await setStatus("suspended")).status, "suspended");
  s.h.clock.advance(1000);
  const sus = await verifyPdf(early, offline(s, [await evidenceOf(s)]));
  t.equal(sus.result, "INVALID");
  t.match(sealCheck(sus)?.detail, /was suspended at .*key lost/);
  t.equal((await setStatus("revoked")).status, "revoked");
  s.h.clock.advance(1000);
  const revokedEvidence = await evidenceOf(s);
  const late = await signWithSignpdf(makePdf(), stolen); // a stolen key signs after the revocation
  for (const [name, pdf] of [["before", early], ["after", late]] as const) {
    const v = await verifyPdf(pdf, offline(s, [fresh, revokedEvidence]));
    t.equal(v.result, "INVALID", `signed ${name} the revocation, no time-stamp: INVALID`);
    t.match(sealCheck(v)?.detail, /revoked/);
  }
  // Revocation is final: even stale evidence of it stands.
  s.h.clock.advance(30 * 86_400_000);
  t.equal((await verifyPdf(late, offline(s, [revokedEvidence]))).result, "INVALID", "stale evidence of a revocation still says revoked");
});

t.test("a stamp made before the seal's revocation stays VALID offline, as online", async (t) => {
  const s = await withSeal(t);
  const out = (await stamp(s, makePdf())).rawPayload;
  s.h.clock.advance(60_000);
  t.equal((await s.h.app.inject({ method: "POST", url: `/seals/${s.sealId}/status`, headers: bearer(s.admin), payload: { status: "revoked" } })).statusCode, 200);
  s.h.clock.advance(60_000);
  const v = await verifyPdf(out, offline(s, [await evidenceOf(s)]));
  t.equal(v.result, "VALID", "the time-stamp proves the stamp was made while the seal was active");
  t.match(sealCheck(v)?.detail, /was active at/);
  const online = await s.h.app.inject({ method: "POST", url: "/verify/pdf", headers: { "content-type": "application/pdf" }, payload: out });
  t.equal(online.json().result, "VALID", "online says the same");
});

t.test("evidence that is forged, or about another seal, is not used", async (t) => {
  const s = await withSeal(t);
  const other = await withSeal(t, { h: s.h, name: "另一个局" });
  const signed = await signWithSignpdf(makePdf(), await sealCmsSigner(s.h.ctx, s.sealId));
  // Another seal's genuine evidence.
  const v1 = await verifyPdf(signed, offline(s, [await evidenceOf(other)]));
  t.equal(sealCheck(v1)?.status, "INDETERMINATE", "another seal's evidence says nothing about this one");
  // A statement about this seal signed by a key that is not the issuing CA's (with the CA's certificate attached).
  const cert = (await s.h.ctx.uow.read.certificates.get((await s.h.ctx.seals.get(s.sealId)).certSerial))!;
  const now = s.h.clock.now();
  const stmt = statementOf({
    sealId: s.sealId, cert: { serial: cert.serial, sha256: cert.sha256 }, validFrom: now, validTo: new Date(now.getTime() + 86_400_000),
    events: [{ status: "active", at: new Date(0), reason: null }], certificateRevokedAt: null, producedAt: now, nextUpdate: new Date(now.getTime() + 86_400_000),
  });
  const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const forged = await signSealStatus(stmt, { cert: s.h.ctx.material.issuingCa.cert, signer: keyObjectSigner(privateKey) });
  const v2 = await verifyPdf(signed, offline(s, [forged]));
  t.equal(sealCheck(v2)?.status, "INDETERMINATE");
  t.match(sealCheck(v2)?.detail, /rejected: the CA signature does not verify/);
});

t.test("every file argument of sidian verify: a one-line error with a stable code, exit 2", async (t) => {
  const s = await withSeal(t);
  const dir = tempDir(t);
  const pdf = path.join(dir, "ok.pdf");
  fs.writeFileSync(pdf, (await stamp(s, makePdf())).rawPayload);
  const bundle = path.join(dir, "bundle.pem");
  fs.writeFileSync(bundle, s.h.ctx.pki.trustBundlePem());
  const files: Record<string, string | Buffer> = {
    "garbage.pem": "hello\n", "leafonly.pem": toPem(s.h.ctx.material.issuingCa.cert.der, "CERTIFICATE"),
    "badcert.pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "notcms.p7s": Buffer.from("not a cms"),
    "badpem.p7s": "-----BEGIN CMS-----\n!!!\n-----END CMS-----\n", "cert-as-status.pem": s.h.ctx.pki.trustBundlePem(),
  };
  for (const [name, body] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), body);
  const p = (n: string) => path.join(dir, n);
  const cases: Array<[string, string[], string]> = [
    ["PDF missing", [p("nope.pdf")], "INPUT_FILE_UNREADABLE"],
    ["PDF is a directory", [dir], "INPUT_FILE_UNREADABLE"],
    ["--trust missing", [pdf, "--trust", p("nope.pem")], "INPUT_FILE_UNREADABLE"],
    ["--trust a directory", [pdf, "--trust", dir], "INPUT_FILE_UNREADABLE"],
    ["--trust not PEM", [pdf, "--trust", p("garbage.pem")], "TRUST_BUNDLE_INVALID"],
    ["--trust without a root", [pdf, "--trust", p("leafonly.pem")], "TRUST_BUNDLE_INVALID"],
    ["--trust with a broken certificate", [pdf, "--trust", p("badcert.pem")], "TRUST_BUNDLE_INVALID"],
    ["--status missing", [pdf, "--status", p("nope.p7s")], "INPUT_FILE_UNREADABLE"],
    ["--status not CMS", [pdf, "--status", p("notcms.p7s")], "STATUS_EVIDENCE_INVALID"],
    ["--status bad PEM", [pdf, "--status", p("badpem.p7s")], "STATUS_EVIDENCE_INVALID"],
    ["--status a certificate", [pdf, "--status", p("cert-as-status.pem")], "STATUS_EVIDENCE_INVALID"],
  ];
  if (process.getuid?.() !== 0) {
    fs.writeFileSync(p("locked.pem"), s.h.ctx.pki.trustBundlePem(), { mode: 0o000 });
    cases.push(["--trust unreadable", [pdf, "--trust", p("locked.pem")], "INPUT_FILE_UNREADABLE"]);
  }
  for (const [name, args, code] of cases) {
    const e = await verifyCommand(args, async () => s.h.ctx.pki.trustBundlePem()).then(() => null, (x: unknown) => x);
    t.ok(e instanceof AppError && e.code === code, `${name}: ${code} (${e instanceof AppError ? `${e.code}: ${e.message}` : String(e)})`);
  }
  // The real command: one line on stderr, no stack trace, exit 2.
  for (const args of [[pdf, "--trust", p("nope.pem")], [pdf, "--status", p("notcms.p7s")], [p("nope.pdf")]]) {
    const r = cli(args, dir);
    t.equal(r.status, 2, `exit 2 for ${args.join(" ")}`);
    t.match(r.stderr, /^sidian: [A-Z_]+: .+\n$/, `one line: ${r.stderr.slice(0, 200)}`);
    t.notMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
});
