/**
 * ASiC-E containers: built with the dev keys (platform token key, internal TSA), verified by `verifyAsice`, by
 * Info-ZIP unzip + `openssl cms -verify` (the README's block, run as written), and refused when tampered with.
 */
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import t from "tap";
import { buildAsice, signAsice, verifyAsice, writeAsice, type AsicVerdict } from "../../src/containers/asic/index.js";
import { createZipWriter, openZip } from "../../src/containers/zip/index.js";
import { createCertificate, keyObjectSigner, loadKeyMaterial, OID, parseCertificate, parseCertificatesPem, PROFILES } from "../../src/pki/index.js";
import { createTsa } from "../../src/pki/tsa.js";
import { ROOT } from "../helpers/app.js";
import { gate, needs } from "../helpers/tools.js";
import { parseSignedData } from "../../src/pki/cms.js";
import { rawZip, unix } from "./raw-zip.js";

const m = await loadKeyMaterial(path.join(ROOT, "keys-dev"));
const clock = { now: () => new Date() };
const tsa = createTsa({ material: m, clock });
const signer = { certificates: [m.token.cert.der, m.issuingCa.cert.der, m.rootCert.der], sign: (d: Buffer) => m.token.signingKey.sign(d, "der") };
const anchors = parseCertificatesPem(m.trustBundlePem).filter((c) => c.subject === c.issuer);
const intermediates = parseCertificatesPem(m.trustBundlePem).filter((c) => c.subject !== c.issuer);
const deps = { anchors, intermediates, now: () => new Date() };
const PDF = Buffer.concat([Buffer.from("%PDF-1.7\n"), crypto.randomBytes(200_000), Buffer.from("\n%%EOF\n")]);
const NAME = "租赁合同 lease#1.pdf";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sidian-asic-"));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

const statusOf = (v: AsicVerdict, id: string) => v.checks.find((c) => c.id === id)?.status ?? v.signatures[0]?.checks.find((c) => c.id === id)?.status;

async function rezip(entries: Array<{ name: string; data: Buffer; method?: "store" | "deflate" }>): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  const z = createZipWriter(out);
  for (const e of entries) await z.addFile(e.name, e.data, { method: e.method ?? "store" });
  await z.finish();
  return Buffer.concat(chunks);
}

async function partsOf(bytes: Buffer): Promise<Array<{ name: string; data: Buffer; method: "store" | "deflate" }>> {
  const a = await openZip(bytes);
  const out = [];
  for (const e of a.entries) out.push({ name: e.name, data: await a.readEntry(e), method: e.method });
  return out;
}

const { bytes: good, signed } = await buildAsice([{ name: NAME, mediaType: "application/pdf", data: PDF }], { signer, tsa });

t.test("a container built with the platform key and the TSA verifies", async (t) => {
  const v = await verifyAsice(good, deps);
  t.equal(v.result, "VALID", JSON.stringify(v, null, 1));
  t.same(v.checks.map((c) => [c.id, c.status]), [["container", "PASSED"], ["mimetype", "PASSED"], ["manifest", "PASSED"], ["data-objects", "PASSED"], ["coverage", "PASSED"]]);
  t.same(v.signatures[0]!.checks.map((c) => [c.id, c.status]), [["contents", "PASSED"], ["digest", "PASSED"], ["signature", "PASSED"], ["timestamp", "PASSED"], ["certificate", "PASSED"]]);
  t.equal(v.signatures[0]!.signer!.subject, m.token.cert.subject);
  t.ok(v.signatures[0]!.timestampTime);
  t.same(v.files, [{ name: NAME, mediaType: "application/pdf", size: PDF.length, sha256: crypto.createHash("sha256").update(PDF).digest("hex"), status: "MATCH" }]);
  t.equal(good.subarray(30, 38).toString(), "mimetype");
  t.equal(good.subarray(38, 38 + 31).toString(), "application/vnd.etsi.asic-e+zip", "the mimetype magic at offset 38");
  const manifest = signed.manifest.toString();
  t.match(manifest, /xmlns:asic="http:\/\/uri\.etsi\.org\/02918\/v1\.2\.1#"/);
  t.match(manifest, `URI="${encodeURIComponent("租赁合同 lease#1.pdf")}"`);
  t.match(manifest, crypto.createHash("sha256").update(PDF).digest("base64"));
  // From a file path too.
  const f = path.join(tmp, "good.asice");
  fs.writeFileSync(f, good);
  t.equal((await verifyAsice(f, deps)).result, "VALID");
});

const withTools = gate(t, needs("unzip", "openssl", "bash"));
withTools("the README's by-hand recipe (unzip + openssl cms -verify + digests) runs as written", async (t) => {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("### Verifying an ASiC-E container by hand"));
  const block = /```bash\n([\s\S]*?)```/.exec(section)![1]!;
  const dir = fs.mkdtempSync(path.join(tmp, "hand-"));
  fs.writeFileSync(path.join(dir, "x.asice"), good);
  fs.writeFileSync(path.join(dir, "trust-bundle.pem"), m.trustBundlePem);
  const r = spawnSync("bash", ["-e", "-c", block], { cwd: dir, encoding: "utf8" });
  t.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  t.match(r.stdout, "application/vnd.etsi.asic-e+zip");
  t.match(r.stderr, "CMS Verification successful");
  t.match(r.stdout, `OK ${encodeURIComponent(NAME)}`);
  t.ok(fs.readFileSync(path.join(dir, "c", NAME)).equals(PDF), "unzip restored the file under its UTF-8 name");
  // The same recipe on a container whose file was changed fails.
  const parts = await partsOf(good);
  parts[1]!.data = Buffer.concat([PDF.subarray(0, 1000), Buffer.from("X"), PDF.subarray(1001)]);
  const dir2 = fs.mkdtempSync(path.join(tmp, "hand-"));
  fs.writeFileSync(path.join(dir2, "x.asice"), await rezip(parts));
  fs.writeFileSync(path.join(dir2, "trust-bundle.pem"), m.trustBundlePem);
  const r2 = spawnSync("bash", ["-e", "-c", block], { cwd: dir2, encoding: "utf8" });
  t.not(r2.status, 0);
  t.match(r2.stdout, "MISMATCH");
  // And a changed manifest fails openssl itself.
  const parts3 = await partsOf(good);
  parts3[2]!.data = Buffer.from(parts3[2]!.data.toString().replace("application/pdf", "application/PDF"));
  const dir3 = fs.mkdtempSync(path.join(tmp, "hand-"));
  fs.writeFileSync(path.join(dir3, "x.asice"), await rezip(parts3));
  fs.writeFileSync(path.join(dir3, "trust-bundle.pem"), m.trustBundlePem);
  const r3 = spawnSync("bash", ["-e", "-c", block], { cwd: dir3, encoding: "utf8" });
  t.not(r3.status, 0);
  t.match(r3.stderr, /Verification failure|digest failure/i);
});

t.test("tampered and malformed containers are INVALID, with the check that says why", async (t) => {
  const parts = await partsOf(good);
  const [mt, file, manifest, sig] = parts as [typeof parts[0], typeof parts[0], typeof parts[0], typeof parts[0]];
  const cases: Array<[string, Buffer, string]> = [
    ["file changed", await rezip([mt, { ...file, data: Buffer.concat([file.data, Buffer.from(" ")]) }, manifest, sig]), "data-objects"],
    ["file missing", await rezip([mt, manifest, sig]), "data-objects"],
    ["an unsigned file added", await rezip([mt, file, { name: "extra.exe", data: Buffer.from("MZ") }, manifest, sig]), "coverage"],
    ["manifest changed", await rezip([mt, file, { ...manifest, data: Buffer.from(manifest.data.toString().replace("<asic:SigReference", "<!-- x --><asic:SigReference")) }, sig]), "digest"],
    ["signature value flipped", await rezip([mt, file, manifest, { ...sig, data: flipSignature(sig.data) }]), "signature"],
    ["signature not CMS", await rezip([mt, file, manifest, { ...sig, data: Buffer.from("not a CMS") }]), "contents"],
    ["no signature", await rezip([mt, file, manifest]), "contents"],
    ["no manifest", await rezip([mt, file, sig]), "manifest"],
    ["mimetype compressed", await rezip([{ ...mt, method: "deflate" }, file, manifest, sig]), "mimetype"],
    ["mimetype not first", await rezip([file, mt, manifest, sig]), "mimetype"],
    ["mimetype wrong", await rezip([{ ...mt, data: Buffer.from("application/vnd.etsi.asic-s+zip") }, file, manifest, sig]), "mimetype"],
    ["manifest with a DOCTYPE", await rezip([mt, file, { ...manifest, data: Buffer.from(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>${manifest.data.toString().replace(/^<\?xml[^>]*>/, "")}`) }, sig]), "manifest"],
    ["manifest referencing outside the container", await rezip([mt, file, { ...manifest, data: Buffer.from(manifest.data.toString().replace(/URI="[^"]*" MimeType="application\/pdf"/, 'URI="../../etc/passwd" MimeType="application/pdf"')) }, sig]), "data-objects"],
    // A digest method URI named after a property of Object.prototype is an unknown method, not Object's.
    ...["constructor", "toString", "__proto__", "hasOwnProperty"].map((k): [string, Buffer, string] => ["digest method " + k, Buffer.alloc(0), k]),
    ["case collision", await rezip([mt, file, { name: NAME.toUpperCase(), data: Buffer.from("x") }, manifest, sig]), "container"],
    ["a symlink inside", rawZip([{ name: "mimetype", content: mt.data, method: 0 }, { name: "link", content: Buffer.from("/etc/passwd"), method: 0, ...unix(0o120777) }]), "container"],
    ["truncated", good.subarray(0, good.length - 30), "container"],
    ["not a zip", PDF, "container"],
  ];
  for (const c of cases) {
    if (c[0].startsWith("digest method ")) {
      const data = Buffer.from(manifest.data.toString().replace(/(<ds:DigestMethod Algorithm=")[^"]*(")/, `$1${c[2]}$2`));
      t.not(data.toString(), manifest.data.toString(), `${c[0]}: the manifest names it`);
      c[1] = await rezip([mt, file, { ...manifest, data }, sig]);
      c[2] = "data-objects";
    }
  }
  for (const [what, bytes, check] of cases) {
    const v = await verifyAsice(bytes, deps);
    t.equal(v.result, "INVALID", `${what}: INVALID`);
    t.equal(statusOf(v, check), "FAILED", `${what}: ${check} FAILED — ${JSON.stringify([...v.checks, ...(v.signatures[0]?.checks ?? [])].filter((c) => c.status !== "PASSED"))}`);
  }
});

function flipSignature(der: Buffer): Buffer {
  // Flip one bit in the middle of the signer's signature value (found by parsing the CMS).
  const b = Buffer.from(der);
  const sv = parseSignedData(b).signerInfos[0]!.signature;
  const i = b.indexOf(sv);
  b[i + 20] = b[i + 20]! ^ 0x01;
  return b;
}

t.test("trust: other anchors, a foreign signer, no time-stamp, verification after expiry", async (t) => {
  const kp = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const foreignDer = await createCertificate({
    profile: PROFILES["root-ca"], subject: [{ type: OID.commonName, value: "Foreign Root" }], publicKey: kp.publicKey,
    notBefore: new Date(Date.now() - 86400000), notAfter: new Date(Date.now() + 86400000), issuer: { self: keyObjectSigner(kp.privateKey) },
  });
  const foreign = parseCertificate(foreignDer);
  // Sidian's container judged against anchors that do not include Sidian's root: no path.
  const v = await verifyAsice(good, { anchors: [foreign], now: () => new Date() });
  t.equal(v.result, "INDETERMINATE", "no path to the configured anchors");
  t.equal(statusOf(v, "certificate"), "INDETERMINATE");
  // A container signed by a key Sidian does not trust.
  const foreignSigner = { certificates: [foreignDer], sign: (d: Buffer) => crypto.sign("sha256", d, { key: kp.privateKey, dsaEncoding: "der" }) };
  const f = await buildAsice([{ name: "a.json", mediaType: "application/json", data: Buffer.from("{}") }], { signer: foreignSigner, tsa });
  const vf = await verifyAsice(f.bytes, deps);
  t.not(vf.result, "VALID");
  t.not(statusOf(vf, "certificate"), "PASSED");
  // Without a time-stamp (CAdES-B-B) the container is refused: ASiC-E here means B-T.
  const noTs = await buildAsice([{ name: "a.json", mediaType: "application/json", data: Buffer.from("{}") }], { signer, tsa: undefined as never });
  const v2 = await verifyAsice(noTs.bytes, deps);
  t.equal(v2.result, "INVALID");
  t.equal(statusOf(v2, "timestamp"), "FAILED");
  // Verified years later: the chain is judged at the time-stamp time.
  const later = await verifyAsice(good, { ...deps, now: () => new Date(Date.now() + 20 * 365 * 86400000) });
  t.equal(later.result, "VALID", "valid at the time-stamp time, not at the verification time");
});

t.test("streamed files: the signed digest is checked as the bytes pass", async (t) => {
  const sha256 = crypto.createHash("sha256").update(PDF).digest();
  const s = await signAsice([{ name: "m.pdf", mediaType: "application/pdf", data: () => Readable.from([PDF.subarray(0, 5000), PDF.subarray(5000)]), sha256 }], { signer, tsa });
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  await writeAsice(out, s);
  t.equal((await verifyAsice(Buffer.concat(chunks), deps)).result, "VALID");
  // Stored bytes that are not the registered ones: writing fails, the container is never completed.
  const bad = await signAsice([{ name: "m.pdf", mediaType: "application/pdf", data: () => Readable.from([Buffer.from("other bytes")]), sha256 }], { signer, tsa });
  const out2 = new PassThrough();
  const chunks2: Buffer[] = [];
  out2.on("data", (c: Buffer) => chunks2.push(c));
  await t.rejects(writeAsice(out2, bad), { code: "INTERNAL" });
  t.equal((await verifyAsice(Buffer.concat(chunks2), deps)).result, "INVALID", "the partial output is not a container");
});
