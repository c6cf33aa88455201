/**
 * Issue 14 §6: a PDF signed by another tool chain (pdf-lib + @signpdf, whose signed revision ends exactly at
 * `%%EOF` with no end-of-line), then stamped by Sidian: both signatures are VALID in Sidian (library, HTTP, CLI)
 * and in pdfsig. The class: whatever whitespace separates the signed revision from the next update (none, LF, CR,
 * CRLF, spaces and blank lines), and wherever in it the signed range stops, the revision is recognised.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { makePdf } from "../../fixtures/pdf/make-pdf.js";
import { offlineVerifyDeps, onlineVerifyDeps } from "../../src/modules/seals/index.js";
import { verifyPdf, type PdfVerdict } from "../../src/pdf/verify.js";
import { parseCertificatesPem } from "../../src/pki/index.js";
import { ROOT, tempDir } from "../helpers/app.js";
import { pdfsig, stamp, verify, withSeal, type SealSetup } from "../seals/helpers.js";
import { opensslCa, sealCmsSigner, signWithSignpdf } from "./signpdf.js";

const have = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const notPassed = (v: PdfVerdict) => JSON.stringify(v.signatures.map((s) => s.checks.filter((c) => c.status !== "PASSED")));

/** The harness's online validation deps (what POST /verify/pdf uses), for the library-level checks. */
const deps = (s: SealSetup) => onlineVerifyDeps({ material: s.h.ctx.material, certificates: s.h.ctx.uow.read.certificates, seals: s.h.ctx.seals, clock: s.h.ctx.clock });

t.test("signed with pdf-lib + @signpdf, then stamped by Sidian: both VALID (HTTP, pdfsig)", async (t) => {
  const s = await withSeal(t);
  const sign = await sealCmsSigner(s.h.ctx, s.sealId);
  for (const objectStreams of [false, true]) {
    const label = objectStreams ? "object streams" : "classic xref";
    const signed = await signWithSignpdf(makePdf({ pages: 2 }), sign, { objectStreams });
    t.equal(signed.subarray(-5).toString("latin1"), "%%EOF", `${label}: @signpdf's output ends exactly at %%EOF`);
    const alone = await verify(s.h, signed);
    t.equal(alone.result, "VALID", `${label}: the @signpdf signature alone is VALID ${notPassed(alone)}`);
    const res = await stamp(s, signed);
    t.equal(res.statusCode, 200, `${label}: Sidian stamps it`);
    const out = res.rawPayload;
    t.equal(out[signed.length], 0x0a, `${label}: Sidian's update starts with an end-of-line`);
    const v = (await verify(s.h, out)) as PdfVerdict;
    t.equal(v.signatures.length, 2);
    t.equal(v.result, "VALID", `${label}: both signatures VALID over HTTP ${notPassed(v)}`);
    const first = v.signatures.find((x) => x.byteRange![2]! + x.byteRange![3]! === signed.length)!;
    t.ok(first, `${label}: the first signature ends where @signpdf's file ended`);
    t.equal(first.result, "VALID");
    t.equal(first.laterRevisions, 1, `${label}: one later revision`);
    t.match(first.checks.find((c) => c.id === "modifications")?.detail ?? "", /1 later revision\(s\), only allowed changes/);
    if (have("pdfsig") && have("certutil")) {
      const ps = pdfsig(t, out, s.h.ctx.pki.trustBundlePem());
      t.equal((ps.match(/Signature is Valid/g) ?? []).length, 2, `${label}: pdfsig finds two valid signatures\n${ps}`);
    } else t.comment("pdfsig check skipped: needs poppler-utils and libnss3-tools");
  }
});

t.test("a signature from an outside CA (openssl cms, @signpdf layout) stays VALID under a Sidian stamp", { skip: !have("openssl") && "needs openssl" }, async (t) => {
  const s = await withSeal(t);
  const ext = opensslCa(tempDir(t));
  s.h.clock.advance(120_000); // the harness clock was fixed before openssl made the certificates
  const signed = await signWithSignpdf(makePdf(), ext.sign, { subFilter: "adbe.pkcs7.detached", rect: [50, 50, 200, 100] });
  const res = await stamp(s, signed);
  t.equal(res.statusCode, 200);
  // Offline with both roots (the outside CA has no revocation source here): both VALID; the stamp carries its
  // seal's status evidence.
  const v = await verifyPdf(res.rawPayload, offlineVerifyDeps(parseCertificatesPem(ext.caPem + s.h.ctx.pki.trustBundlePem()), () => s.h.clock.now()));
  t.equal(v.result, "VALID", notPassed(v));
  const outside = v.signatures.find((x) => /Outside Signer/.test(x.signer ?? ""))!;
  t.equal(outside.result, "VALID", notPassed(v));
  t.equal(outside.laterRevisions, 1);
  if (have("pdfsig") && have("certutil")) {
    const ps = pdfsig(t, res.rawPayload, s.h.ctx.pki.trustBundlePem());
    t.equal((ps.match(/Signature is Valid/g) ?? []).length, 2, `pdfsig finds two valid signatures\n${ps}`);
  }
});

t.test("the class: any whitespace between a signed revision and the next update, the range ending anywhere in it", async (t) => {
  const s = await withSeal(t);
  const sign = await sealCmsSigner(s.h.ctx, s.sealId);
  const foreign = await signWithSignpdf(makePdf(), sign); // ends at %%EOF
  const ours = (await stamp(s, makePdf())).rawPayload; // ends at %%EOF\n
  const gaps = ["", "\n", "\r", "\r\n", "\n\n", " \r\n", "\t \n", "\r\r\n", "\x00\n", "\x0c"];
  for (const [name, signed] of [["@signpdf", foreign], ["Sidian", ours]] as const) {
    for (const gap of gaps) {
      const label = `${name} + ${JSON.stringify(gap)}`;
      const res = await stamp(s, Buffer.concat([signed, Buffer.from(gap, "latin1")]), "page=1&x=60&y=200");
      t.equal(res.statusCode, 200, `${label}: stamped`);
      const v = await verifyPdf(res.rawPayload, deps(s));
      t.equal(v.result, "VALID", `${label}: ${notPassed(v)}`);
      t.same(v.signatures.map((x) => x.laterRevisions).sort(), [0, 1], `${label}: one later revision after the first signature`);
    }
  }
});

t.test("what is not whitespace after %%EOF is still not part of the signed revision", async (t) => {
  const s = await withSeal(t);
  const sign = await sealCmsSigner(s.h.ctx, s.sealId);
  const signed = await signWithSignpdf(makePdf(), sign);
  // A comment or stray bytes between the signed revision and the next update: the signed range does not end a
  // revision any more (the bytes after %%EOF up to the next update are not whitespace), and the trailing bytes rule
  // still applies at the end of the file.
  for (const junk of ["% note\n", "x\n"]) {
    const res = await stamp(s, Buffer.concat([signed, Buffer.from("\n" + junk)]), "page=1&x=60&y=200");
    t.equal(res.statusCode, 200);
    const v = await verifyPdf(res.rawPayload, deps(s));
    const first = v.signatures.find((x) => x.byteRange![2]! + x.byteRange![3]! === signed.length)!;
    t.equal(first.result, "VALID", `${JSON.stringify(junk)}: bytes between revisions that are not the signed range's are outside it, which is allowed (${notPassed(v)})`);
  }
  const tail = await verifyPdf(Buffer.concat([signed, Buffer.from("\nGARBAGE")]), deps(s));
  t.equal(tail.result, "INVALID", "bytes after the last %%EOF are refused");
});

t.test("CLI: sidian verify says VALID for both (the seal key's own signature judged by --status evidence)", async (t) => {
  const s = await withSeal(t);
  const sign = await sealCmsSigner(s.h.ctx, s.sealId);
  const signed = await signWithSignpdf(makePdf(), sign);
  const out = (await stamp(s, signed)).rawPayload;
  const dir = tempDir(t);
  const f = path.join(dir, "both.pdf");
  fs.writeFileSync(f, out);
  const ev = path.join(dir, "seal.p7s");
  fs.writeFileSync(ev, (await s.h.app.inject({ url: `/seals/${s.sealId}/status-evidence` })).rawPayload);
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "src/main.ts"), "verify", f, "--status", ev, "--json"], {
    cwd: ROOT, encoding: "utf8", env: { ...process.env, SIDIAN_KEYS_DIR: path.join(ROOT, "keys-dev"), SIDIAN_DB: path.join(dir, "x.db"), SIDIAN_MODE: "test" },
  });
  const v = JSON.parse(r.stdout) as PdfVerdict;
  t.equal(r.status, 0, `exit 0 ${notPassed(v)}`);
  t.equal(v.result, "VALID");
  t.equal(v.signatures.length, 2);
  t.same(v.signatures.map((x) => x.result), ["VALID", "VALID"]);
});
