/**
 * A PDF signed by another tool: poppler's `pdfsig -add-signature` with an NSS database holding a dev ECDSA key
 * (made at test time with openssl, pk12util, certutil). NSS writes BER (indefinite-length) CMS. Poppler 22.12's
 * -add-signature writes a signature whose digest does not match (pdfsig itself reports "Digest Mismatch"), so the
 * expectation is that our validator reads the foreign CMS and agrees with pdfsig, naming the digest check.
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { makePdf } from "../../fixtures/pdf/make-pdf.js";
import { tempDir } from "../helpers/app.js";
import { offlineVerifyDeps } from "../../src/modules/seals/index.js";
import { verifyPdf } from "../../src/pdf/verify.js";
import { parseCertificatesPem } from "../../src/pki/index.js";

const have = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;

t.test("signature made by pdfsig -add-signature (NSS)", { skip: !(have("certutil") && have("pk12util") && have("pdfsig")) && "needs libnss3-tools and poppler-utils" }, async (t) => {
  const dir = tempDir(t);
  const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { cwd: dir, encoding: "utf8" });
  run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "k.pem", "-out", "c.pem", "-days", "30", "-subj", "/CN=External Signer Dev"]);
  run("openssl", ["pkcs12", "-export", "-inkey", "k.pem", "-in", "c.pem", "-out", "k.p12", "-passout", "pass:", "-name", "ext"]);
  fs.mkdirSync(path.join(dir, "db"));
  execFileSync("certutil", ["-N", "-d", "sql:db", "--empty-password"], { cwd: dir });
  execFileSync("pk12util", ["-i", "k.p12", "-d", "sql:db", "-W", ""], { cwd: dir, stdio: "pipe" });
  fs.writeFileSync(path.join(dir, "in.pdf"), makePdf());
  run("pdfsig", ["-add-signature", "-nssdir", "sql:db", "-nick", "ext", "-reason", "test", "in.pdf", "out.pdf"]);
  const out = path.join(dir, "out.pdf");
  if (!fs.existsSync(out)) {
    t.pass("pdfsig -add-signature produced no file on this poppler; nothing to compare");
    return;
  }
  const pdf = fs.readFileSync(out);
  const theirs = run("pdfsig", ["-nssdir", "sql:db", "out.pdf"]).stdout;
  const ext = parseCertificatesPem(fs.readFileSync(path.join(dir, "c.pem"), "utf8"));
  const v = await verifyPdf(pdf, offlineVerifyDeps(ext));
  const sig = v.signatures[0]!;
  t.equal(sig.subFilter, "adbe.pkcs7.detached");
  t.equal(sig.checks.find((c) => c.id === "contents")?.status, "PASSED", "the BER CMS from NSS is read");
  if (/Digest Mismatch/.test(theirs)) {
    t.equal(sig.checks.find((c) => c.id === "digest")?.status, "FAILED", "pdfsig says digest mismatch; so do we");
    t.equal(v.result, "INVALID");
  } else {
    t.match(theirs, /Signature is Valid/);
    t.equal(sig.checks.find((c) => c.id === "signature")?.status, "PASSED", "pdfsig says valid; so do we");
    t.equal(sig.checks.find((c) => c.id === "certificate")?.status, "PASSED", "trusted with the external cert as anchor");
    const ours = await verifyPdf(pdf, offlineVerifyDeps(parseCertificatesPem(fs.readFileSync("keys-dev/root-ca.crt.pem", "utf8"))));
    t.equal(ours.signatures[0]!.checks.find((c) => c.id === "certificate")?.status, "INDETERMINATE", "not trusted under Sidian's root");
  }
});
