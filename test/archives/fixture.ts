/**
 * TEST-ONLY package builder following /work/coord/archive-layout.md and docs/archives.md, used until (and beside)
 * the real builder: real CMS signatures with the committed dev keys (keys-dev/: the dev issuing CA issues an
 * "archiving department" certificate; the dev TSA time-stamps), real signed PDFs (Sidian's CMS in a placeholder laid
 * out by @signpdf, as test/pdf/signpdf.ts), a real ES256 JWS with its x5c chain, and real RFC 6962 inclusion proofs
 * to a C2SP checkpoint signed with the dev log key. `rebag()` recomputes manifests and metadata after a change (what
 * a forger can do), `resign()` signs again (what only the department can do).
 */
import crypto, { type KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { makePdf } from "../../fixtures/pdf/make-pdf.js";
import { canonicalJson } from "../../src/crypto/canonical.js";
import { buildSignedData, CMS_OID, attribute } from "../../src/pki/cms.js";
import { createCertificate, keyIdentifier, loadKeyMaterial, OID, parseCertificate, PROFILES, type CertInfo, type KeyMaterial } from "../../src/pki/index.js";
import { createTsa } from "../../src/pki/tsa.js";
import { createNoteSigner, formatVkey, signCheckpoint } from "../../src/modules/tlog/checkpoint.js";
import { leafHash, nodeHash } from "../../src/modules/tlog/merkle.js";
import { keyObjectSigner } from "../../src/pki/x509.js";
import { signWithSignpdf } from "../pdf/signpdf.js";
import type { Trust } from "../../src/modules/archives/check/index.js";
import { parseVkey } from "../../src/modules/tlog/checkpoint.js";

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
export const LOG_ORIGIN = "sidian.dev/log";
const DAY = 86_400_000;

/** 47×34 JPEG made by poppler (`pdftoppm -jpeg -r 4` of fixtures/pdf/make-pdf.ts's one-page PDF). */
export const TINY_JPEG = Buffer.from(
  "/9j/4AAQSkZJRgABAQEABAAEAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/2wBDAQkJCQwLDBgNDRgyIRwhMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjL/wAARCAAvACIDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwD3mdrhSvkIrA5yW7dMf1pQ0+OY4yfZz/hUtFACLuK/MAD6A5paKKACiiigAooooAKKKKACiiigAooooAKKKKACiiigD//Z",
  "base64",
);

/** A real PNG (RGB, 8-bit, w×h, one colour), every chunk with its CRC. */
export function makePng(w = 4, h = 4, rgb: [number, number, number] = [200, 0, 0]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const raw = Buffer.alloc(h * (1 + w * 3));
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(rgb, y * (1 + w * 3) + 1 + x * 3);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", zlib.deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

export interface Signer {
  cert: CertInfo;
  key: KeyObject;
  chain: Uint8Array[];
}

let material: KeyMaterial | null = null;
export async function devMaterial(): Promise<KeyMaterial> {
  material ??= await loadKeyMaterial(path.join(ROOT, "keys-dev"));
  return material;
}

/** A P-256 certificate from the dev issuing CA (no serialNumber: not a seal, so the PDF validator needs no seal status). */
export async function departmentSigner(cn = "某市行政审批局 档案室 (test)", days = 365): Promise<Signer> {
  const m = await devMaterial();
  const kp = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const der = await createCertificate({
    profile: PROFILES["licence-signing"],
    subject: [{ type: OID.country, value: "CN", printable: true }, { type: OID.commonName, value: cn }],
    publicKey: kp.publicKey,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + days * DAY),
    issuer: { nameDer: m.issuingCa.cert.subjectDer, keyId: keyIdentifier(m.issuingCa.cert.spki), notAfter: m.issuingCa.cert.notAfter, signer: m.issuingCa.signer },
    crlUrl: "http://127.0.0.1:8080/pki/crl",
  });
  return { cert: parseCertificate(der), key: kp.privateKey, chain: [der, m.issuingCa.cert.der, m.rootCert.der] };
}

/** Trust as a checker configures it: the dev root (+ issuing CA) and the dev log key. Nothing from the package. */
export async function devTrust(): Promise<Trust> {
  const m = await devMaterial();
  return { anchors: [m.rootCert], intermediates: [m.issuingCa.cert], knownTsaCerts: [], logKey: parseVkey(formatVkey(LOG_ORIGIN, m.log.publicKey)), logOrigin: LOG_ORIGIN };
}

/** Detached CMS over `content` by `s`, with an RFC 3161 signature time-stamp from the dev TSA (`tsa: false`: none). */
export async function cades(content: Buffer, s: Signer, o: { tsa?: boolean } = {}): Promise<Buffer> {
  const m = await devMaterial();
  const tsa = createTsa({ material: m, clock: { now: () => new Date() } });
  return buildSignedData({
    eContentType: CMS_OID.data,
    contentDigest: crypto.createHash("sha256").update(content).digest(),
    signer: { der: s.cert.der, issuerDer: s.cert.issuerDer, serial: s.cert.serial },
    certificates: s.chain,
    sign: (x) => crypto.sign("sha256", x, { key: s.key, dsaEncoding: "der" }),
    ...(o.tsa === false ? {} : {
      unsignedAttrs: async (sig: Buffer) => [attribute(CMS_OID.signatureTimeStampToken, (await tsa.stamp(CMS_OID.sha256, crypto.createHash("sha256").update(sig).digest())).token)],
    }),
  });
}

/** An RFC 3161 time-stamp token from the dev TSA over `data` (SHA-256 imprint). */
export async function timestampOver(data: Buffer): Promise<Buffer> {
  const m = await devMaterial();
  const tsa = createTsa({ material: m, clock: { now: () => new Date() } });
  return (await tsa.stamp(CMS_OID.sha256, crypto.createHash("sha256").update(data).digest())).token;
}

export async function signedPdf(s: Signer, lines: string[]): Promise<Buffer> {
  return signWithSignpdf(makePdf({ lines: () => lines }), async (data) => cades(data, s, { tsa: false }));
}

export function jws(s: Signer, payload: object): string {
  const h = Buffer.from(JSON.stringify({ alg: "ES256", typ: "licence+jwt", x5c: s.chain.slice(0, 2).map((c) => Buffer.from(c).toString("base64")) })).toString("base64url");
  const p = Buffer.from(JSON.stringify(payload)).toString("base64url");
  const sig = crypto.sign("sha256", Buffer.from(`${h}.${p}`), { key: s.key, dsaEncoding: "ieee-p1363" });
  return `${h}.${p}.${sig.toString("base64url")}`;
}

// ---- RFC 6962 Merkle tree (small, recursive) --------------------------------------------------------------------
function largestPow2Below(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
export function mth(leaves: Buffer[]): Buffer {
  if (leaves.length === 1) return leaves[0]!;
  const k = largestPow2Below(leaves.length);
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}
export function auditPath(m: number, leaves: Buffer[]): Buffer[] {
  if (leaves.length <= 1) return [];
  const k = largestPow2Below(leaves.length);
  return m < k ? [...auditPath(m, leaves.slice(0, k)), mth(leaves.slice(k))] : [...auditPath(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}

export interface FixtureFile {
  path: string;
  bytes: Buffer;
  format: string;
  role: string;
  name?: string;
}

export interface Fixture {
  dir: string;
  signer: Signer;
  caseNo: string;
  trust: Trust;
}

const enc = (p: string) => p.replace(/%/g, "%25").replace(/\n/g, "%0A").replace(/\r/g, "%0D");
const sha256 = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");
const sm3 = (b: Buffer) => crypto.createHash("sm3").update(b).digest("hex");

/** The payload of a typical finished case (licence copy, materials, signing record, stamped decision). */
export async function typicalFiles(s: Signer, extra = 0): Promise<FixtureFile[]> {
  const id = "1.2.156.3005.2.11100000MB03271699001.11350100MB0000000X.00000001.001.K";
  const files: FixtureFile[] = [
    { path: `data/licences/${id}.jws`, bytes: Buffer.from(jws(s, { iat: Math.floor(Date.now() / 1000) - 60, licence: { id, name: "营业执照" } })), format: "application/jose", role: "licence" },
    { path: `data/licences/${id}.pdf`, bytes: await signedPdf(s, ["Licence copy for case CASE-2026-0001", "Use: business registration"]), format: "application/pdf", role: "licence-copy" },
    { path: "data/materials/m1/申请表.png", bytes: makePng(), format: "image/png", role: "material", name: "申请表.png" },
    { path: "data/materials/m2/身份证明.jpg", bytes: TINY_JPEG, format: "image/jpeg", role: "material", name: "身份证明.jpg" },
    { path: "data/materials/m3/说明.txt", bytes: Buffer.from("申请人说明：材料齐全。\n"), format: "text/plain", role: "material", name: "说明.txt" },
    { path: "data/signatures/req1.pdf", bytes: await signedPdf(s, ["Application form signed by the applicant"]), format: "application/pdf", role: "signature" },
    { path: "data/signatures/req1-evidence.json", bytes: Buffer.from(JSON.stringify({ requestId: "req1", signedAt: new Date().toISOString() })), format: "application/json", role: "signature-evidence" },
    { path: "data/documents/doc1.pdf", bytes: await signedPdf(s, ["Decision: approved", "Case CASE-2026-0001"]), format: "application/pdf", role: "document" },
  ];
  for (let i = 0; i < extra; i++) {
    files.push({ path: `data/materials/x${i}/page-${i}.txt`, bytes: Buffer.from(`extra material ${i}\n`), format: "text/plain", role: "material" });
  }
  return files;
}

/** Builds a bag directory `dir/<caseNo>` and returns it with the trust a checker should use. */
export async function buildFixture(root: string, o: { files?: FixtureFile[]; signer?: Signer; caseNo?: string } = {}): Promise<Fixture> {
  const s = o.signer ?? (await departmentSigner());
  const caseNo = o.caseNo ?? "CASE-2026-0001";
  const dir = path.join(root, caseNo);
  const files = o.files ?? (await typicalFiles(s));
  for (const f of files) {
    fs.mkdirSync(path.join(dir, path.dirname(f.path)), { recursive: true });
    fs.writeFileSync(path.join(dir, f.path), f.bytes);
  }
  fs.mkdirSync(path.join(dir, "metadata"), { recursive: true });
  fs.mkdirSync(path.join(dir, "signature"), { recursive: true });
  fs.writeFileSync(path.join(dir, "bagit.txt"), "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n");
  const opened = new Date(Date.now() - 3 * DAY);
  const closed = new Date(Date.now() - DAY);
  const caseJson = {
    case: {
      caseNo, title: "企业设立登记", matterCode: "M-0001",
      department: { name: "某市行政审批局", uscc: "" },
      openedAt: opened.toISOString(), closedAt: closed.toISOString(), result: "approved",
      applicant: { name: "张*", codeType: "111", codeMasked: "350***********1234" },
    },
    retention: { period: "30y", code: "D30", zh: "30年" },
    files: files.map((f) => ({ path: f.path, name: f.name ?? path.basename(f.path), format: f.format, size: f.bytes.length, sha256: sha256(f.bytes), sm3: sm3(f.bytes), role: f.role })),
  };
  // A valid USCC for the department (check character computed).
  const { usccCheckChar } = await import("../../src/codes/index.js");
  caseJson.case.department.uscc = "91350100MA2XXXXX0" + usccCheckChar("91350100MA2XXXXX0")!;
  fs.writeFileSync(path.join(dir, "metadata/case.json"), JSON.stringify(caseJson, null, 2));
  fs.writeFileSync(path.join(dir, "metadata/case.xml"),
    `<?xml version="1.0" encoding="UTF-8"?>\n<casePackage xmlns="urn:sidian:archive:1">\n  <caseNo>${caseNo}</caseNo>\n  <title>企业设立登记</title>\n  <matterCode>M-0001</matterCode>\n  <files count="${files.length}"/>\n</casePackage>\n`);
  // Events: leaves in a small log (a few unrelated entries first), a checkpoint over all of it, a proof each.
  const m = await devMaterial();
  const types = ["created", "received", "signed", "stamped", "closed", "archived"];
  const leaves: string[] = [];
  for (let i = 0; i < 5; i++) leaves.push(canonicalJson({ v: 1, type: "other.event", at: opened.toISOString(), subject: `x:${i}`, actor: "system:test", data: {} }));
  const first = leaves.length;
  types.forEach((t, i) => leaves.push(canonicalJson({ v: 1, type: `case.${t}`, at: new Date(opened.getTime() + i * 3600_000).toISOString(), subject: `case:${caseNo}`, actor: "client:test", data: {} })));
  leaves.push(canonicalJson({ v: 1, type: "other.event", at: new Date().toISOString(), subject: "x:after", actor: "system:test", data: {} }));
  const hashes = leaves.map((l) => leafHash(Buffer.from(l, "utf8")));
  const note = signCheckpoint({ origin: LOG_ORIGIN, size: leaves.length, root: mth(hashes) }, createNoteSigner(LOG_ORIGIN, m.log.privateKey!));
  fs.writeFileSync(path.join(dir, "metadata/checkpoint.txt"), note);
  const events = types.map((t, i) => ({
    seq: i + 1, type: t, at: JSON.parse(leaves[first + i]!).at, agent: "client:test", object: `case:${caseNo}`,
    logIndex: first + i, leafHash: hashes[first + i]!.toString("hex"), inclusionProof: auditPath(first + i, hashes).map((h) => h.toString("hex")),
    treeSize: leaves.length, leaf: leaves[first + i],
  }));
  fs.writeFileSync(path.join(dir, "metadata/events.json"), JSON.stringify({ checkpoint: "metadata/checkpoint.txt", events }, null, 2));
  fs.writeFileSync(path.join(dir, "metadata/log-keys.json"), JSON.stringify({ vkeys: [formatVkey(LOG_ORIGIN, m.log.publicKey)] }));
  rebag(dir, { bagInfo: { caseNo, org: caseJson.case.department.name, uscc: caseJson.case.department.uscc } });
  await resign(dir, s);
  return { dir, signer: s, caseNo, trust: await devTrust() };
}

function walk(dir: string, rel = ""): string[] {
  return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((d) => {
    const p = rel ? `${rel}/${d.name}` : d.name;
    return d.isDirectory() ? walk(dir, p) : [p];
  }).sort();
}

/**
 * Recomputes what anyone can recompute: case.json's file attributes, both manifests, bag-info's Payload-Oxum and
 * the tag manifest (not the signature).
 */
export function rebag(dir: string, o: { bagInfo?: { caseNo: string; org: string; uscc: string }; metadata?: boolean } = {}): void {
  const all = walk(dir);
  const payload = all.filter((p) => p.startsWith("data/"));
  const read = (p: string) => fs.readFileSync(path.join(dir, p));
  if (o.metadata !== false && fs.existsSync(path.join(dir, "metadata/case.json"))) {
    const cj = JSON.parse(read("metadata/case.json").toString("utf8"));
    for (const f of cj.files) {
      if (!fs.existsSync(path.join(dir, f.path))) continue;
      const b = read(f.path);
      Object.assign(f, { size: b.length, sha256: sha256(b), sm3: sm3(b) });
    }
    fs.writeFileSync(path.join(dir, "metadata/case.json"), JSON.stringify(cj, null, 2));
  }
  fs.writeFileSync(path.join(dir, "manifest-sha256.txt"), payload.map((p) => `${sha256(read(p))}  ${enc(p)}\n`).join(""));
  fs.writeFileSync(path.join(dir, "manifest-sm3.txt"), payload.map((p) => `${sm3(read(p))}  ${enc(p)}\n`).join(""));
  const bytes = payload.reduce((s, p) => s + fs.statSync(path.join(dir, p)).size, 0);
  if (o.bagInfo) {
    fs.writeFileSync(path.join(dir, "bag-info.txt"), [
      `Source-Organization: ${o.bagInfo.org}`, `Sidian-Department-Code: ${o.bagInfo.uscc}`, `External-Identifier: ${o.bagInfo.caseNo}`,
      `Sidian-Case-Id: 0b8f6a1e-test`, `Sidian-Matter-Code: M-0001`, `Bagging-Date: ${new Date().toISOString().slice(0, 10)}`,
      `Payload-Oxum: ${bytes}.${payload.length}`, `Bag-Software-Agent: sidian/test-fixture`, "",
    ].join("\n"));
  } else {
    const info = read("bag-info.txt").toString("utf8").replace(/^Payload-Oxum: .*$/m, `Payload-Oxum: ${bytes}.${payload.length}`);
    fs.writeFileSync(path.join(dir, "bag-info.txt"), info);
  }
  const tags = walk(dir).filter((p) => !p.startsWith("data/") && !p.startsWith("signature/") && p !== "tagmanifest-sha256.txt");
  fs.writeFileSync(path.join(dir, "tagmanifest-sha256.txt"), tags.map((p) => `${sha256(read(p))}  ${enc(p)}\n`).join(""));
}

/** Signs the tag manifest again (the department's act). */
export async function resign(dir: string, s: Signer, o: { tsa?: boolean } = {}): Promise<void> {
  const tm = fs.readFileSync(path.join(dir, "tagmanifest-sha256.txt"));
  fs.writeFileSync(path.join(dir, "signature/tagmanifest-sha256.txt.p7s"), await cades(tm, s, o));
}
