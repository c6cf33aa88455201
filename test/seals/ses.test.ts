/**
 * GB/T 38540 SES_Seal (src/modules/seals/ses.ts): our DER equals what OpenSSL's own encoder (`asn1parse -genconf`)
 * makes from the standard's field list; seals built and signed by OpenSSL alone (GB/T 38540 v4 and GM/T 0031-2014
 * v1 layouts) parse and verify here; ours parse in `openssl asn1parse` in the standard's field order and their maker
 * signature verifies with `openssl pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:1234567812345678`;
 * GET /seals/:id/ses returns such a seal signed by the SM2 seal maker, whose certificate chains to the SM2 root.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import t, { type Test } from "tap";
import { sm2GenerateKey, sm2Pkcs8Der, sm2Sign } from "../../src/crypto/sm2.js";
import { parseSesSeal, encodeSealInfo, encodeSesSeal, sesSealSignatureValid, SesError, SM3_WITH_SM2, type SesSealInfo } from "../../src/modules/seals/ses.js";
import { parseCertificate, toPem, verifyChain } from "../../src/pki/index.js";
import { bearer, tempDir } from "../helpers/app.js";
import { withSeal } from "./helpers.js";

const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
const SKIP = hasOpenssl ? false : "openssl not installed (Debian package: openssl)";
const DISTID = "distid:1234567812345678";

function openssl(args: string[], input?: string) {
  const r = spawnSync("openssl", args, { encoding: "utf8", ...(input !== undefined ? { input } : {}) });
  return { status: r.status, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

const pem = (label: string, der: Uint8Array) => `-----BEGIN ${label}-----\n${Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n").replace(/\n$/, "")}\n-----END ${label}-----\n`;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex").toUpperCase();

/** A throwaway SM2 "maker" with a self-signed certificate made by OpenSSL. */
function opensslMaker(dir: string) {
  const key = path.join(dir, "maker.key");
  const crt = path.join(dir, "maker.crt");
  let r = openssl(["genpkey", "-algorithm", "SM2", "-out", key]);
  if (r.status !== 0) throw new Error(r.out);
  r = openssl(["req", "-x509", "-new", "-key", key, "-sm3", "-subj", "/CN=Test Seal Maker", "-days", "30", "-outform", "DER", "-out", crt]);
  if (r.status !== 0) throw new Error(r.out);
  return { key, certDer: fs.readFileSync(crt) };
}

function genconf(dir: string, name: string, conf: string): Buffer {
  const c = path.join(dir, `${name}.cnf`);
  const out = path.join(dir, `${name}.der`);
  fs.writeFileSync(c, conf);
  const r = openssl(["asn1parse", "-genconf", c, "-out", out, "-noout"]);
  if (r.status !== 0) throw new Error(`genconf ${name}: ${r.out}`);
  return fs.readFileSync(out);
}

function opensslSign(dir: string, key: string, data: Uint8Array): Buffer {
  const inFile = path.join(dir, "tbs.der");
  const sig = path.join(dir, "tbs.sig");
  fs.writeFileSync(inFile, data);
  const r = openssl(["pkeyutl", "-sign", "-inkey", key, "-rawin", "-digest", "sm3", "-pkeyopt", DISTID, "-in", inFile, "-out", sig]);
  if (r.status !== 0) throw new Error(r.out);
  return fs.readFileSync(sig);
}

const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="40mm" height="40mm"/>');

/** The same seal as genconf sections (v4: GeneralizedTime + certListType; v1: UTCTime, no certListType). */
function sealInfoConf(layout: 4 | 1, certHex: string): string {
  const t = (g: string) => (layout === 4 ? `GENERALIZEDTIME:${g}` : `UTCTIME:${g.slice(2)}`);
  return [
    "asn1=SEQUENCE:sealinfo",
    "[sealinfo]", "header=SEQUENCE:header", "esid=IA5STRING:35010004ABCD1234", "property=SEQUENCE:property", "picture=SEQUENCE:picture",
    "[header]", "id=IA5STRING:ES", `version=INTEGER:${layout}`, "vid=IA5STRING:Sidian",
    "[property]", "type=INTEGER:1", "name=FORMAT:UTF8,UTF8String:福州市市场监督管理局合同专用章",
    ...(layout === 4 ? ["certlisttype=INTEGER:1"] : []),
    "certs=SEQUENCE:certs", `create=${t("20261207010203Z")}`, `start=${t("20261207000000Z")}`, `end=${t("20291206235959Z")}`,
    "[certs]", `c1=FORMAT:HEX,OCTETSTRING:${certHex}`,
    "[picture]", "type=IA5STRING:SVG", `data=FORMAT:HEX,OCTETSTRING:${hex(SVG)}`, "width=INTEGER:40", "height=INTEGER:40",
    "",
  ].join("\n");
}

function sealInfo(layout: 4 | 1, cert: Uint8Array): SesSealInfo {
  return {
    header: { id: "ES", version: layout, vid: "Sidian" },
    esID: "35010004ABCD1234",
    property: {
      type: 1, name: "福州市市场监督管理局合同专用章", certListType: 1, certs: [cert], certDigests: [],
      createDate: new Date("2026-12-07T01:02:03Z"), validStart: new Date("2026-12-07T00:00:00Z"), validEnd: new Date("2029-12-06T23:59:59Z"),
    },
    picture: { type: "SVG", data: SVG, width: 40, height: 40 },
    extDatas: [],
  };
}

t.test("our SES_SealInfo DER is byte for byte what OpenSSL's encoder makes from the standard's fields (v4 and v1)", { skip: SKIP }, async (t) => {
  const dir = tempDir(t);
  const cert = opensslMaker(dir).certDer;
  for (const layout of [4, 1] as const) {
    const theirs = genconf(dir, `info${layout}`, sealInfoConf(layout, hex(cert)));
    t.equal(hex(encodeSealInfo(sealInfo(layout, cert), layout)), hex(theirs), `layout ${layout}`);
  }
});

t.test("seals built and signed by OpenSSL alone parse and verify here (GB/T 38540 v4 and GM/T 0031-2014 v1)", { skip: SKIP }, async (t: Test) => {
  const dir = tempDir(t);
  const maker = opensslMaker(dir);
  const seal = maker.certDer; // the seal's own certificate slot: any certificate serves the layout test
  for (const layout of [4, 1] as const) {
    const infoDer = genconf(dir, `sinfo${layout}`, sealInfoConf(layout, hex(seal)));
    const sig = opensslSign(dir, maker.key, infoDer);
    const rest = layout === 4
      ? [`cert=FORMAT:HEX,OCTETSTRING:${hex(maker.certDer)}`, `alg=OID:${SM3_WITH_SM2}`, `sig=FORMAT:HEX,BITSTRING:${hex(sig)}`]
      : ["signinfo=SEQUENCE:signinfo", "[signinfo]", `cert=FORMAT:HEX,OCTETSTRING:${hex(maker.certDer)}`, `alg=OID:${SM3_WITH_SM2}`, `sig=FORMAT:HEX,BITSTRING:${hex(sig)}`];
    const conf = sealInfoConf(layout, hex(seal)).replace("asn1=SEQUENCE:sealinfo", "asn1=SEQUENCE:seal\n[seal]\ninfo=SEQUENCE:sealinfo\n" + (layout === 4 ? rest.join("\n") : rest.slice(0, 1).join("\n")))
      + (layout === 1 ? rest.slice(1).join("\n") + "\n" : "");
    const der = genconf(dir, `seal${layout}`, conf);
    const p = parseSesSeal(der);
    t.equal(p.layout, layout, `layout ${layout} recognised`);
    t.equal(p.info.header.version, layout);
    t.equal(p.info.esID, "35010004ABCD1234");
    t.equal(p.info.property.name, "福州市市场监督管理局合同专用章");
    t.equal(p.info.property.validEnd.toISOString(), "2029-12-06T23:59:59.000Z");
    t.same(Buffer.from(p.info.property.certs[0]!), seal);
    t.same(Buffer.from(p.info.picture.data), SVG);
    t.equal(p.signAlgID, SM3_WITH_SM2);
    t.ok(sesSealSignatureValid(p), `layout ${layout}: OpenSSL's maker signature verifies here`);
    const tampered = Buffer.from(der);
    const at = tampered.indexOf(Buffer.from("Sidian"));
    tampered[at] = "X".charCodeAt(0);
    t.notOk(sesSealSignatureValid(parseSesSeal(tampered)), `layout ${layout}: a changed Vid breaks the signature`);
  }
});

t.test("our signed SES_Seal: asn1parse shows the standard's field order; OpenSSL verifies the maker signature", { skip: SKIP }, async (t) => {
  const dir = tempDir(t);
  const makerKey = sm2GenerateKey();
  const keyFile = path.join(dir, "mk.key");
  fs.writeFileSync(keyFile, pem("PRIVATE KEY", sm2Pkcs8Der(makerKey)));
  const r0 = openssl(["req", "-x509", "-new", "-key", keyFile, "-sm3", "-subj", "/CN=Maker", "-days", "3", "-outform", "DER", "-out", path.join(dir, "mk.crt")]);
  t.equal(r0.status, 0, r0.out);
  const makerCert = fs.readFileSync(path.join(dir, "mk.crt"));
  const der = await encodeSesSeal(sealInfo(4, makerCert), { certDer: makerCert, sign: async (d) => sm2Sign(makerKey, d) });
  fs.writeFileSync(path.join(dir, "seal.der"), der);
  const a = openssl(["asn1parse", "-inform", "DER", "-in", path.join(dir, "seal.der")]);
  t.equal(a.status, 0, a.out);
  // Top level: SES_SealInfo, cert, signAlgID, signedValue; inside: header (ES, 4, Sidian), esID, property, picture.
  const lines = a.stdout.split("\n").filter((l) => /d=[0-3] /.test(l)).map((l) => l.replace(/^\s*\d+:d=(\d).*?:\s*/, "$1 ").replace(/\s+$/, ""));
  const want = [
    /^0 SEQUENCE/, /^1 SEQUENCE/, /^2 SEQUENCE/, /^3 IA5STRING\s+:ES/, /^3 INTEGER\s+:04/, /^3 IA5STRING\s+:Sidian/,
    /^2 IA5STRING\s+:35010004ABCD1234/, /^2 SEQUENCE/, /^3 INTEGER\s+:01/, /^3 UTF8STRING/, /^3 INTEGER\s+:01/, /^3 SEQUENCE/,
    /^3 GENERALIZEDTIME\s+:20261207010203Z/, /^3 GENERALIZEDTIME\s+:20261207000000Z/, /^3 GENERALIZEDTIME\s+:20291206235959Z/,
    /^2 SEQUENCE/, /^3 IA5STRING\s+:SVG/, /^3 OCTET STRING/, /^3 INTEGER\s+:28/, /^3 INTEGER\s+:28/,
    /^1 OCTET STRING/, /^1 OBJECT\s+:SM2-with-SM3/, /^1 BIT STRING/,
  ];
  const got = lines.filter((l) => !/^4 /.test(l));
  t.equal(got.length, want.length, "field count");
  want.forEach((re, i) => t.match(got[i] ?? "", re, `field ${i}: ${got[i]}`));
  // The maker signature over the DER of SES_SealInfo, checked by OpenSSL.
  const p = parseSesSeal(der);
  fs.writeFileSync(path.join(dir, "info.der"), p.sealInfoDer);
  fs.writeFileSync(path.join(dir, "sig"), p.signature);
  const pub = openssl(["x509", "-inform", "DER", "-in", path.join(dir, "mk.crt"), "-pubkey", "-noout"]);
  fs.writeFileSync(path.join(dir, "pub.pem"), pub.stdout);
  const v = openssl(["pkeyutl", "-verify", "-pubin", "-inkey", path.join(dir, "pub.pem"), "-rawin", "-digest", "sm3", "-pkeyopt", DISTID, "-in", path.join(dir, "info.der"), "-sigfile", path.join(dir, "sig")]);
  t.equal(v.status, 0, `openssl verifies the maker signature: ${v.out}`);
});

t.test("malformed SES data is refused with a reason, never a crash", async (t) => {
  const cert = Buffer.from([0x30, 0x00]);
  const good = await encodeSesSeal(sealInfo(4, cert), { certDer: cert, sign: async () => Buffer.from([0x30, 0x00]) });
  const cases: Array<[string, Buffer]> = [
    ["empty", Buffer.alloc(0)],
    ["truncated", good.subarray(0, good.length - 5)],
    ["trailing bytes", Buffer.concat([good, Buffer.from([0])])],
    ["not a sequence", Buffer.from([0x04, 0x01, 0x00])],
    ["three fields", Buffer.from([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01].slice(0, 8))],
    ["header ID not ES", Buffer.from(good.toString("latin1").replace("\x16\x02ES", "\x16\x02EZ"), "latin1")],
    ["too large", Buffer.alloc((1 << 20) + 1)],
  ];
  for (const [what, der] of cases) t.throws(() => parseSesSeal(der), SesError, what);
  // Version 4 header on a GM/T 0031 (2-field) layout is accepted as read; a 4-field layout claiming version 1 is not.
  const v1Header = await encodeSesSeal({ ...sealInfo(4, cert), header: { id: "ES", version: 1, vid: "Sidian" } }, { certDer: cert, sign: async () => Buffer.from([0x30, 0x00]) });
  t.throws(() => parseSesSeal(v1Header), /version 1/, "a GB/T 38540 layout must say version 4");
  t.notOk(sesSealSignatureValid(parseSesSeal(good)), "an unparseable maker certificate gives false, not an exception");
});

t.test("GET /seals/:id/ses: DER signed by the SM2 seal maker, chaining to the SM2 root; ?format=json keeps the field view", { skip: SKIP }, async (t) => {
  const s = await withSeal(t);
  const res = await s.h.app.inject({ url: `/seals/${s.sealId}/ses`, headers: bearer(s.admin) });
  t.equal(res.statusCode, 200, res.body.slice(0, 200));
  t.equal(res.headers["content-type"], "application/octet-stream");
  const p = parseSesSeal(res.rawPayload);
  t.equal(p.layout, 4);
  t.same(p.info.header, { id: "ES", version: 4, vid: "Sidian" });
  t.equal(p.info.esID, s.sealId);
  t.equal(p.info.property.type, 1, "organisation seal");
  t.equal(p.info.property.certListType, 1);
  t.match(p.info.picture.data.toString(), /^<svg /);
  const m = s.h.ctx.material.sm2!;
  t.same(Buffer.from(p.makerCert), Buffer.from(m.sealMaker.cert.der), "the maker certificate is the SM2 seal maker's");
  t.ok(sesSealSignatureValid(p), "the maker signature verifies");
  const chain = await verifyChain({ leaf: p.makerCert, intermediates: [m.issuingCa.cert], anchors: [m.rootCert], at: new Date() });
  t.equal(chain.result, "VALID", "the maker certificate chains to the SM2 root");
  const sealCert = parseCertificate(p.info.property.certs[0]!);
  t.match(sealCert.subject, new RegExp(`serialNumber=${s.sealId}`), "certList holds the seal's own certificate");
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, "s.der"), res.rawPayload);
  t.equal(openssl(["asn1parse", "-inform", "DER", "-in", path.join(dir, "s.der")]).status, 0, "openssl asn1parse reads it");
  fs.writeFileSync(path.join(dir, "info.der"), p.sealInfoDer);
  fs.writeFileSync(path.join(dir, "sig"), p.signature);
  fs.writeFileSync(path.join(dir, "pub.pem"), openssl(["x509", "-pubkey", "-noout"], toPem(m.sealMaker.cert.der, "CERTIFICATE")).stdout);
  const v = openssl(["pkeyutl", "-verify", "-pubin", "-inkey", path.join(dir, "pub.pem"), "-rawin", "-digest", "sm3", "-pkeyopt", DISTID, "-in", path.join(dir, "info.der"), "-sigfile", path.join(dir, "sig")]);
  t.equal(v.status, 0, `openssl verifies the served seal's maker signature: ${v.out}`);
  const json = await s.h.app.inject({ url: `/seals/${s.sealId}/ses?format=json`, headers: bearer(s.admin) });
  t.equal(json.json().esealInfo.esID, s.sealId);
  const other = await s.h.app.inject({ url: `/seals/${s.sealId}/ses?format=xml`, headers: bearer(s.admin) });
  t.equal(other.statusCode, 400, "an unknown format is a 400");
});
