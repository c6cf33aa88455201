/**
 * Verification (POST /verify): valid, tampered, expired, revoked, superseded, foreign-signed (own CA), signed by
 * another department's real certificate, malformed input; masking of personal data by caller; the log evidence
 * verifies offline; and interop: the licence JWS verifies with plain `jose` + node:crypto using only the
 * published trust bundle.
 */
import crypto from "node:crypto";
import { compactVerify, importX509 } from "jose";
import t from "tap";
import { createContext } from "../../src/context.js";
import { verifyLogEvidence } from "../../src/modules/tlog/index.js";
import { bearer, citizenId, issued, personLicence, world } from "./helpers.js";

const b64u = (s: string | Buffer) => Buffer.from(s).toString("base64url");
const checks = (v: { checks: Array<{ id: string; status: string }> }) => Object.fromEntries(v.checks.map((c) => [c.id, c.status]));

t.test("verify", async (t) => {
  const w = await world(t);
  const lic = await issued(w, personLicence(w, 300));
  const verify = (payload: object, headers: Record<string, string> = {}) => w.h.app.inject({ method: "POST", url: "/verify", headers, payload });

  t.test("a valid licence", async (t) => {
    const r = await verify({ jws: lic.jws });
    t.equal(r.statusCode, 200);
    const v = r.json();
    t.equal(v.result, "VALID", JSON.stringify(v.checks));
    t.same(checks(v), { format: "PASSED", signature: "PASSED", chain: "PASSED", issuer: "PASSED", record: "PASSED", validity: "PASSED", status: "PASSED", log: "PASSED" });
    t.equal(v.licence.holder.name, "张**", "public: the name is masked");
    t.equal(v.licence.holder.code, citizenId(300).slice(0, 3) + "*".repeat(11) + citizenId(300).slice(-4), "public: the code is masked");
    t.notMatch(r.body, citizenId(300));
    // the evidence verifies offline with the log's public key
    const ev = verifyLogEvidence(v.evidence, { logKey: w.h.ctx.tlog.publicKey().vkey });
    t.equal(ev.result, "VALID", JSON.stringify(ev.checks));
    const byId = (await verify({ identifier: lic.identifier })).json();
    t.equal(byId.result, "VALID", "by identifier");
    const counter = (await verify({ jws: lic.jws }, bearer(w.tokens.counter))).json();
    t.equal(counter.licence.holder.name, "张三丰", "a counter terminal sees the name");
    t.not(counter.licence.holder.code, citizenId(300), "but not the full code");
    const admin = (await verify({ jws: lic.jws }, bearer(w.tokens.admin))).json();
    t.equal(admin.licence.holder.code, citizenId(300), "an administrator sees everything");
  });

  t.test("a passport holder's number is masked to a quarter of it", async (t) => {
    const pass = await issued(w, personLicence(w, 309, { holder: { name: "JOHN SMITH", code: "E12345678", codeType: "411" } }));
    for (const payload of [{ jws: pass.jws }, { identifier: pass.identifier }]) {
      const r = await verify(payload);
      t.equal(r.json().licence.holder.code, "E*******8", "2 of 9 characters shown");
      t.notMatch(r.body, /E12|5678/);
    }
    t.equal((await verify({ jws: pass.jws }, bearer(w.tokens.counter))).json().licence.holder.code, "E*******8", "the counter sees the same");
  });

  t.test("tampered", async (t) => {
    const [h, p, s] = lic.jws.split(".") as [string, string, string];
    const data = JSON.parse(Buffer.from(p, "base64url").toString());
    data.validUntil = "2099-12-31";
    const v = (await verify({ jws: `${h}.${b64u(JSON.stringify(data))}.${s}` })).json();
    t.equal(v.result, "INVALID");
    t.equal(checks(v).signature, "FAILED");
    t.equal(checks(v).record, "FAILED");
    t.notOk(v.licence, "no facts shown from a tampered licence");
    const sig = Buffer.from(s, "base64url");
    sig[10] = sig[10]! ^ 1;
    t.equal((await verify({ jws: `${h}.${p}.${b64u(sig)}` })).json().result, "INVALID", "flipped signature bit");
  });

  t.test("expired, revoked, superseded", async (t) => {
    const old = await issued(w, personLicence(w, 301, { validFrom: "2019-01-01", validUntil: "2020-01-01" }));
    const e = (await verify({ jws: old.jws })).json();
    t.equal(e.result, "INVALID");
    t.equal(checks(e).validity, "FAILED");
    t.match(e.checks.find((c: { id: string }) => c.id === "status").detail, /^05/);

    const rv = await issued(w, personLicence(w, 302));
    await w.h.app.inject({ method: "POST", url: `/licences/${rv.identifier}/status`, headers: bearer(w.tokens.issuer), payload: { action: "revoke", reason: "吊销" } });
    const r = (await verify({ jws: rv.jws })).json();
    t.equal(r.result, "INVALID");
    t.equal(checks(r).status, "FAILED");
    t.equal(checks(r).signature, "PASSED", "the signature itself is still good");
    t.match(r.checks.find((c: { id: string }) => c.id === "status").detail, /^07/);

    const ch = await issued(w, personLicence(w, 303));
    const v2 = (await w.h.app.inject({ method: "POST", url: `/licences/${ch.identifier}/versions`, headers: bearer(w.tokens.issuer), payload: { reason: "变更", fields: { scope: "餐饮" } } })).json();
    const s = (await verify({ jws: ch.jws })).json();
    t.equal(s.result, "INVALID");
    t.match(s.checks.find((c: { id: string }) => c.id === "status").detail, new RegExp(`^99.*${v2.identifier.replace(/\./g, "\\.")}`));
    t.equal((await verify({ jws: v2.jws })).json().result, "VALID");
  });

  t.test("foreign-signed: a self-made CA", async (t) => {
    const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const x509 = await import("@peculiar/x509");
    x509.cryptoProvider.set(crypto.webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    const keys = { privateKey: await crypto.webcrypto.subtle.importKey("pkcs8", privateKey.export({ type: "pkcs8", format: "der" }), { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]), publicKey: await crypto.webcrypto.subtle.importKey("spki", publicKey.export({ type: "spki", format: "der" }), { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]) };
    const cert = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: "01", name: "CN=Fake Department", notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000), keys, signingAlgorithm: { name: "ECDSA", hash: "SHA-256" } });
    const [, p] = lic.jws.split(".") as [string, string, string];
    const header = b64u(JSON.stringify({ alg: "ES256", typ: "sidian-licence+jws", x5c: [Buffer.from(cert.rawData).toString("base64")] }));
    const sig = crypto.sign("sha256", Buffer.from(`${header}.${p}`), { key: privateKey, dsaEncoding: "ieee-p1363" });
    const v = (await verify({ jws: `${header}.${p}.${b64u(sig)}` })).json();
    t.equal(v.result, "INVALID");
    t.equal(checks(v).signature, "PASSED", "the signature matches its own (foreign) key");
    t.not(checks(v).chain, "PASSED", "but the chain does not reach the trust anchor");
    t.equal(checks(v).issuer, "FAILED");
    t.equal(checks(v).record, "FAILED");
    t.notOk(v.licence, "no facts from a JWS signed outside the trust anchor");

    // A real identifier with made-up facts: nothing of them is repeated, and the real licence's status is not lent.
    const data = JSON.parse(Buffer.from(p, "base64url").toString());
    const fake = b64u(JSON.stringify({ ...data, name: "伪造证", holder: { ...data.holder, name: "李四" }, validUntil: "2099-12-31" }));
    const fsig = crypto.sign("sha256", Buffer.from(`${header}.${fake}`), { key: privateKey, dsaEncoding: "ieee-p1363" });
    const r = await verify({ jws: `${header}.${fake}.${b64u(fsig)}` });
    const f = r.json();
    t.equal(f.result, "INVALID");
    t.notOk(f.licence, "no facts");
    t.notMatch(r.body, /伪造证|李/, "the forged text is not echoed");
    t.equal(checks(f).status, "INDETERMINATE", "no status for a JWS that is not the licence on record");
    t.match(f.checks.find((c: { id: string }) => c.id === "validity").detail, /2099-12-31/, "validity judged on the JWS's own dates, not the record's");
  });

  t.test("signed with another department's genuine certificate", async (t) => {
    const cert = (await w.h.ctx.uow.read.certificates.listByDepartment(w.other.id)).find((c) => c.profile === "licence-signing")!;
    const header = await w.h.ctx.licences.department(w.other.id).then(() => b64u(JSON.stringify({ alg: "ES256", typ: "sidian-licence+jws", kid: cert.serial, x5c: [Buffer.from(cert.der).toString("base64"), Buffer.from(w.h.ctx.material.issuingCa.cert.der).toString("base64")] })));
    const [, p] = lic.jws.split(".") as [string, string, string];
    const sig = await w.h.ctx.pki.keyStore.sign(cert.keyId!, Buffer.from(`${header}.${p}`), { encoding: "p1363" });
    const v = (await verify({ jws: `${header}.${p}.${b64u(Buffer.from(sig))}` })).json();
    t.equal(v.result, "INVALID");
    t.equal(checks(v).chain, "PASSED");
    t.equal(checks(v).issuer, "FAILED", "the certificate is not the named issuer's");
    t.equal(checks(v).record, "FAILED");
    t.notOk(v.licence, "no facts from a licence its named issuer did not sign");
  });

  t.test("malformed input never throws", async (t) => {
    const bad = [
      { jws: "not-a-jws" },
      { jws: "a.b.c" },
      { jws: `${b64u(JSON.stringify({ alg: "none", typ: "sidian-licence+jws" }))}.${lic.jws.split(".")[1]}.` },
      { jws: `${b64u(JSON.stringify({ alg: "HS256", typ: "sidian-licence+jws", x5c: ["AA=="] }))}.${lic.jws.split(".")[1]}.AAAA` },
      { identifier: "1.2.156.3005.2.nope" },
      { identifier: lic.identifier.replace(/\.(\d{10})\./, ".9999999999.").replace(/.$/, "0") },
    ];
    for (const b of bad) {
      const r = await verify(b);
      t.equal(r.statusCode, 200, JSON.stringify(b).slice(0, 60));
      t.equal(r.json().result, "INVALID");
    }
    t.equal((await verify({})).json().code, "VALIDATION_FAILED");
    // The route parses its body with JSON.parse alone: what is not JSON, and any key but jws / identifier, is refused.
    const raw = (payload: string) => w.h.app.inject({ method: "POST", url: "/verify", headers: { "content-type": "application/json" }, payload });
    for (const body of ["", "{", "not json", `{"jws":"a","__proto__":{"polluted":1}}`, `{"identifier":"x","constructor":{"prototype":{"polluted":1}}}`, `{"__proto__":{"jws":"a"}}`]) {
      const r = await raw(body);
      t.equal(r.statusCode, 400, body.slice(0, 40));
      t.equal(r.json().code, "VALIDATION_FAILED");
    }
    t.equal(({} as Record<string, unknown>).polluted, undefined, "nothing polluted");
    t.equal((await raw(JSON.stringify({ jws: lic.jws }))).json().result, "VALID");
    t.equal((await raw(`\ufeff${JSON.stringify({ jws: lic.jws })}`)).json().result, "VALID", "a leading byte order mark is allowed");
  });
});

t.test("interop: plain jose + the published trust bundle", async (t) => {
  const w = await world(t);
  const lic = await issued(w, personLicence(w, 400));
  const bundle = (await w.h.app.inject({ url: "/pki/trust-bundle.pem" })).body;
  const anchors = bundle.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)!.map((pem) => new crypto.X509Certificate(pem));
  const root = anchors.find((c) => c.subject === c.issuer)!;
  const header = JSON.parse(Buffer.from(lic.jws.split(".")[0]!, "base64url").toString());
  const [leaf, ca] = (header.x5c as string[]).map((c) => new crypto.X509Certificate(Buffer.from(c, "base64")));
  // chain: leaf ← issuing CA (from x5c) ← root (the only thing the verifier trusts)
  t.ok(ca!.verify(root.publicKey), "the issuing CA in x5c is signed by the root from the trust bundle");
  t.ok(leaf!.verify(ca!.publicKey), "the leaf is signed by the issuing CA");
  t.ok(ca!.ca && leaf!.checkIssued(ca!), "issuer/subject chain");
  const key = await importX509(leaf!.toString(), "ES256");
  const { payload, protectedHeader } = await compactVerify(lic.jws, key, { algorithms: ["ES256"] });
  t.equal(protectedHeader.alg, "ES256");
  t.equal(JSON.parse(new TextDecoder().decode(payload)).id, lic.identifier);
});

t.test("verdicts are reused only while the record, the catalogue and the day are unchanged", async (t) => {
  const w = await world(t);
  const lic = await issued(w, personLicence(w, 301));
  const v = w.h.ctx.verifier;
  const first = await v.verify({ jws: lic.jws });
  t.equal(first.result, "VALID");
  t.equal(await v.verify({ jws: lic.jws }), first, "the same verdict for the same JWS, viewer and state");
  t.not(await v.verify({ jws: lic.jws }, "counter"), first, "not across viewers");
  t.equal((await v.verifyJson({ jws: lic.jws })).toString("utf8"), JSON.stringify(first), "the JSON text is the verdict's");
  // the same signature with another payload is not mistaken for the reused one
  const [h, , s] = lic.jws.split(".");
  const forged = `${h}.${b64u(JSON.stringify({ id: lic.identifier }))}.${s}`;
  t.equal((await v.verify({ jws: forged })).result, "INVALID", "a forged payload under a known signature");
  t.equal((await v.verify({ jws: lic.jws })).result, "VALID");

  // a status change shows at once
  const act = async (action: string) => {
    const r = await w.h.app.inject({ method: "POST", url: `/licences/${lic.identifier}/status`, headers: bearer(w.tokens.issuer), payload: { action, reason: "测试" } });
    t.equal(r.statusCode, 200, r.body.slice(0, 200));
  };
  await act("suspend");
  const suspended = await v.verify({ jws: lic.jws });
  t.equal(suspended.result, "INVALID");
  t.equal(checks(suspended).status, "FAILED", "suspended: shown at once");
  await act("resume");
  const resumed = await v.verify({ jws: lic.jws });
  t.equal(resumed.result, "VALID", "resumed: shown at once");

  // a catalogue change (issuer grants) recomputes
  w.h.ctx.catalogue.invalidate();
  t.not(await v.verify({ jws: lic.jws }), resumed, "recomputed after the catalogue was reloaded");

  // and nothing is reused past VERDICT_REUSE_MS
  const again = await v.verify({ jws: lic.jws });
  t.equal(await v.verify({ jws: lic.jws }), again);
  w.h.clock.advance(5_001);
  t.not(await v.verify({ jws: lic.jws }), again, "recomputed after 5 s");
});

t.test("a status change made by another process on the same database shows on the next verification", async (t) => {
  const w = await world(t);
  const lic = await issued(w, personLicence(w, 302));
  t.equal((await w.h.ctx.verifier.verify({ identifier: lic.identifier })).result, "VALID");
  t.equal((await w.h.ctx.verifier.verify({ identifier: lic.identifier })).result, "VALID", "reused while nothing changed");
  // A second process: its own context (connections, caches) on the same file.
  const other = await createContext(w.h.ctx.config, { autoCheckpoint: false, autoExpire: false });
  t.teardown(() => other.close());
  await other.licences.transition(lic.identifier, "suspend", "暂扣（另一进程）", { kind: "system", name: "test" });
  // The change mark is read at most every CHANGE_MARK_MS (20 ms).
  await new Promise((r) => setTimeout(r, 30));
  const v = await w.h.ctx.verifier.verify({ identifier: lic.identifier });
  t.equal(checks(v).status, "FAILED", "this process sees the other's change within 20 ms, not after its record cache's second");
  t.match(v.checks.find((c) => c.id === "status")?.detail, /^02/);
});
