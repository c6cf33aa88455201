/**
 * SM2 licences (issue 20 §5, DESIGN rule 11): a department, a licence type and a seal each name their crypto
 * profile; a licence type of the sm2 profile is signed as a JWS with alg GmSM2 (SM2 over SM3(Z‖header.payload),
 * signer ID 1234567812345678, r‖s) by the department's SM2 licence-signing certificate, x5c ending with the SM2
 * issuing CA. OpenSSL verifies the signature; POST /verify, the live QR (token ≤ 300 characters) and `sidian verify`
 * (offline, trust bundle) say VALID; the verifier takes the algorithm from the header against the allow-list and
 * the key: an alg swapped, unknown or "none" is refused, whatever the caller sends.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { SM2_OID } from "../../src/crypto/sm2.js";
import { integer, seq } from "../../src/pki/der.js";
import { parseCertificate, toPem } from "../../src/pki/index.js";
import { makeUscc, ROOT, tempDir } from "../helpers/app.js";
import { bearer, citizenId, issue, world, type World } from "./helpers.js";

const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
const SKIP = hasOpenssl ? false : "openssl not installed (Debian package: openssl)";

function header(jws: string) {
  return JSON.parse(Buffer.from(jws.split(".")[0]!, "base64url").toString()) as { alg: string; x5c: string[]; typ: string };
}
function withHeader(jws: string, patch: Record<string, unknown>): string {
  const [, p, s] = jws.split(".");
  return `${Buffer.from(JSON.stringify({ ...header(jws), ...patch })).toString("base64url")}.${p}.${s}`;
}

const freshUscc = () => makeUscc(700_000_000 + Math.floor(Math.random() * 1e8));

/** The licence world plus a department of the sm2 profile (made through POST /departments) and an sm2 licence type. */
async function sm2World(t: Parameters<typeof world>[0]): Promise<World & { sm2Dept: { id: string; uscc: string }; sm2Type: string; sm2Issuer: string }> {
  const w = await world(t);
  const admin = w.tokens.admin;
  const d = await w.h.app.inject({ method: "POST", url: "/departments", headers: bearer(admin), payload: { name: "福州市行政审批局", uscc: freshUscc(), regionCode: "350100", profile: "sm2" } });
  t.equal(d.statusCode, 201, d.body);
  t.equal(d.json().profile, "sm2", "the department names its profile");
  const sm2Dept = { id: d.json().id as string, uscc: d.json().uscc as string };
  const code = w.personType.slice(0, 18) + "777";
  const ty = await w.h.app.inject({ method: "POST", url: "/licence-types", headers: bearer(admin), payload: {
    code, name: "食品经营许可证（国密）", holderKind: "person", holderCodeTypes: ["111"],
    fields: [{ name: "scope", label: "经营项目", type: "string", required: true, maxLength: 100 }],
    validityDays: 365, issuers: [sm2Dept.id], profile: "sm2",
  } });
  t.equal(ty.statusCode, 201, ty.body);
  t.equal(ty.json().profile, "sm2", "the licence type names its profile");
  const sm2Issuer = (await w.h.client("issuer", { departmentId: sm2Dept.id })).token;
  return { ...w, sm2Dept, sm2Type: code, sm2Issuer };
}

const sm2Licence = (w: { sm2Type: string }, n: number) => ({
  typeCode: w.sm2Type, number: `SM2-${String(n).padStart(6, "0")}`,
  holder: { name: "张三丰", code: citizenId(n), codeType: "111" }, fields: { scope: "预包装食品销售" },
});

t.test("a department created with profile sm2 gets an SM2 licence-signing certificate; the profile shows", async (t) => {
  const w = await world(t);
  const got = await w.h.app.inject({ url: `/departments/${w.dept.id}`, headers: bearer(w.tokens.admin) });
  t.equal(got.json().profile, "p256", "departments are p256 by default");
  const body = { name: "厦门市数据管理局", uscc: freshUscc(), regionCode: "350200", profile: "sm2" };
  const r = await w.h.app.inject({ method: "POST", url: "/departments", headers: bearer(w.tokens.admin), payload: body });
  t.equal(r.statusCode, 201, r.body);
  t.equal(r.json().profile, "sm2");
  const certs = await w.h.app.inject({ url: `/departments/${r.json().id}/certificates`, headers: bearer(w.tokens.admin) });
  const ls = certs.json().items.find((c: { profile: string }) => c.profile === "licence-signing");
  const info = parseCertificate((await w.h.ctx.uow.read.certificates.get(ls.serial))!.der);
  t.equal(info.signatureAlgorithm, SM2_OID.sm3WithSm2, "issued by the SM2 issuing CA (SM3withSM2)");
  t.equal(info.issuer, w.h.ctx.material.sm2!.issuingCa.cert.subject);
  const bad = await w.h.app.inject({ method: "POST", url: "/departments", headers: bearer(w.tokens.admin), payload: { ...body, uscc: freshUscc(), profile: "rsa" } });
  t.equal(bad.statusCode, 400, "an unknown profile is refused");
  // A seal of the sm2 department is of the sm2 profile unless asked otherwise.
  const seal = await w.h.app.inject({ method: "POST", url: "/seals", headers: bearer(w.tokens.admin), payload: { departmentId: r.json().id, type: "04" } });
  t.equal(seal.json().profile, "sm2", "a seal takes its department's profile by default");
  const p256Seal = await w.h.app.inject({ method: "POST", url: "/seals", headers: bearer(w.tokens.admin), payload: { departmentId: r.json().id, type: "02", profile: "p256" } });
  t.equal(p256Seal.json().profile, "p256");
});

t.test("an sm2 licence type signs GmSM2 JWS; OpenSSL, POST /verify, the live QR and sidian verify agree", { skip: SKIP }, async (t) => {
  const w = await sm2World(t);
  const r = await issue(w, sm2Licence(w, 1), w.sm2Issuer);
  t.equal(r.statusCode, 201, r.body);
  const lic = r.json() as { identifier: string; jws: string };
  const h = header(lic.jws);
  t.equal(h.alg, "GmSM2");
  const m = w.h.ctx.material.sm2!;
  t.same(Buffer.from(h.x5c[1]!, "base64"), Buffer.from(m.issuingCa.cert.der), "x5c ends with the SM2 issuing CA");
  const leaf = parseCertificate(Buffer.from(h.x5c[0]!, "base64"));
  t.equal(leaf.signatureAlgorithm, SM2_OID.sm3WithSm2);

  // OpenSSL checks the signature over the JWS signing input (r‖s re-encoded as DER SM2-Signature).
  const dir = tempDir(t);
  const [hb, pb, sb] = lic.jws.split(".") as [string, string, string];
  const raw = Buffer.from(sb, "base64url");
  t.equal(raw.length, 64, "r‖s, 64 bytes");
  fs.writeFileSync(path.join(dir, "in"), `${hb}.${pb}`);
  fs.writeFileSync(path.join(dir, "sig"), seq(integer(raw.subarray(0, 32)), integer(raw.subarray(32))));
  fs.writeFileSync(path.join(dir, "pub"), spawnSync("openssl", ["x509", "-pubkey", "-noout"], { input: toPem(leaf.der, "CERTIFICATE"), encoding: "utf8" }).stdout);
  const o = spawnSync("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", path.join(dir, "pub"), "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678",
    "-in", path.join(dir, "in"), "-sigfile", path.join(dir, "sig")], { encoding: "utf8" });
  t.equal(o.status, 0, `openssl pkeyutl verifies the GmSM2 JWS: ${o.stdout}${o.stderr}`);

  // POST /verify by JWS and by identifier.
  const verify = (payload: object) => w.h.app.inject({ method: "POST", url: "/verify", payload });
  const v = (await verify({ jws: lic.jws })).json();
  t.equal(v.result, "VALID", JSON.stringify(v.checks));
  t.match(v.checks.find((c: { id: string }) => c.id === "signature").detail, /GmSM2 signature verifies/);
  t.match(v.checks.find((c: { id: string }) => c.id === "chain").detail, /SM2 Root CA/);
  t.equal((await verify({ identifier: lic.identifier })).json().result, "VALID");

  // The algorithm is the header's, allow-listed and bound to the key: a swapped, unknown or absent alg fails.
  for (const alg of ["ES256", "SM2SM3", "none", "HS256"]) {
    const bad = (await verify({ jws: withHeader(lic.jws, { alg }) })).json();
    t.equal(bad.result, "INVALID", `alg ${alg} on an SM2 licence: INVALID`);
  }
  const p256 = await issue(w, { typeCode: w.personType, number: "JY-P256-1", holder: { name: "李四", code: citizenId(2), codeType: "111" }, fields: { scope: "预包装食品销售" } });
  t.equal(p256.statusCode, 201, p256.body);
  t.equal(header(p256.json().jws).alg, "ES256", "a p256 type still signs ES256");
  const swapped = (await verify({ jws: withHeader(p256.json().jws, { alg: "GmSM2" }) })).json();
  t.equal(swapped.result, "INVALID", "GmSM2 named over a P-256 key: INVALID");
  t.equal(swapped.checks.find((c: { id: string }) => c.id === "signature").status, "FAILED");

  // Live QR: the holder mints a token (≤ 300 characters); scanning it verifies the SM2 licence.
  const holder = await w.h.holderToken(citizenId(1));
  const q = await w.h.app.inject({ method: "POST", url: `/holders/me/licences/${lic.identifier}/qr`, headers: bearer(holder) });
  t.equal(q.statusCode, 200, q.body.slice(0, 300));
  const token = q.json().token as string;
  t.ok(token.length <= 300, `live QR token of an SM2 licence: ${token.length} characters (≤ 300); URL ${q.json().url.length}`);
  const page = await w.h.app.inject({ url: `/v/${token}` });
  t.equal(page.statusCode, 200);
  t.match(page.body, /VALID|有效/, "the verification page says valid");

  // sidian verify, offline with the keys folder's trust bundle (both profiles).
  const f = path.join(dir, "licence.jws");
  fs.writeFileSync(f, lic.jws);
  const cli = (file: string) => spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "src/main.ts"), "verify", file, "--json"], {
    cwd: ROOT, encoding: "utf8", env: { ...process.env, SIDIAN_KEYS_DIR: path.join(ROOT, "keys-dev"), SIDIAN_DB: path.join(dir, "x.db"), SIDIAN_MODE: "test" },
  });
  const off = cli(f);
  t.equal(off.status, 0, `sidian verify licence.jws: exit 0 (${off.stderr.slice(0, 300)})`);
  t.equal(JSON.parse(off.stdout).alg, "GmSM2");
  fs.writeFileSync(path.join(dir, "bad.jws"), withHeader(lic.jws, { alg: "ES256" }));
  t.equal(cli(path.join(dir, "bad.jws")).status, 1, "an alg swapped offline: exit 1 (INVALID)");
});

t.test("an sm2 type needs an SM2 licence-signing certificate of the issuer: refused cleanly, then issued once it has one", async (t) => {
  const w = await world(t);
  const code = w.personType.slice(0, 18) + "778";
  const ty = await w.h.app.inject({ method: "POST", url: "/licence-types", headers: bearer(w.tokens.admin), payload: {
    code, name: "国密测试证", holderKind: "person", holderCodeTypes: ["111"], fields: [], validityDays: 30, issuers: [w.dept.id], profile: "sm2",
  } });
  t.equal(ty.statusCode, 201, ty.body);
  const body = { typeCode: code, number: "GM-1", holder: { name: "王五", code: citizenId(3), codeType: "111" }, fields: {} };
  const no = await issue(w, body);
  t.equal(no.json().code, "SIGNING_KEY_UNAVAILABLE");
  t.match(no.json().message ?? no.json().detail ?? "", /SM2|licence-signing/i);
  const c = await w.h.app.inject({ method: "POST", url: `/departments/${w.dept.id}/certificates`, headers: bearer(w.tokens.admin), payload: { profile: "licence-signing", crypto: "sm2" } });
  t.equal(c.statusCode, 201, c.body);
  const yes = await issue(w, body);
  t.equal(yes.statusCode, 201, yes.body);
  t.equal(header(yes.json().jws).alg, "GmSM2");
  const p256 = await issue(w, { typeCode: w.personType, number: "JY-2", holder: { name: "王五", code: citizenId(3), codeType: "111" }, fields: { scope: "x" } });
  t.equal(header(p256.json().jws).alg, "ES256", "the department's p256 types still sign with its P-256 certificate");
  // PATCH a type's profile: later licences follow it, earlier ones keep verifying.
  const patched = await w.h.app.inject({ method: "PATCH", url: `/licence-types/${code}`, headers: bearer(w.tokens.admin), payload: { profile: "p256" } });
  t.equal(patched.json().profile, "p256");
  const later = await issue(w, { ...body, number: "GM-2" });
  t.equal(header(later.json().jws).alg, "ES256");
  t.equal((await w.h.app.inject({ method: "POST", url: "/verify", payload: { jws: yes.json().jws } })).json().result, "VALID", "the earlier SM2 licence still verifies");
});
