/**
 * Signing: three participants (a group of two in parallel — one with a cloud key and a passkey, one with their
 * own key from an outside CA — then one with a cloud key). Every signature is its own PAdES B-T revision.
 */
import { execFileSync, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import t, { type Test } from "tap";
import { gate, needs } from "../helpers/tools.js";
import { bearer, build, ROOT, tempDir, type Harness } from "../helpers/app.js";
import { opensslCmsVerify, qpdfCheck } from "../seals/helpers.js";
import { SoftAuthenticator } from "./authenticator.js";
import { signExternalCommand } from "../../src/cli/sign-external.js";
import { citizenId, createRequest, pdfsigTrusting, setup, signer, type Person } from "./helpers.js";

/** The last page's text (pdftotext, poppler-utils). */
function pdftotextLastPage(t: Test, pdf: Buffer): string {
  const dir = tempDir(t, "sidian-pdftotext-");
  fs.writeFileSync(path.join(dir, "f.pdf"), pdf);
  const info = spawnSync("pdfinfo", [path.join(dir, "f.pdf")], { encoding: "utf8" });
  const pages = Number(/Pages:\s+(\d+)/.exec(info.stdout)?.[1] ?? "0");
  return spawnSync("pdftotext", ["-f", String(pages), "-l", String(pages), "-enc", "UTF-8", path.join(dir, "f.pdf"), "-"], { encoding: "utf8" }).stdout;
}

/** Skips (with a visible line naming the Debian packages) where these tools are missing. */
const test = gate(t, needs("openssl", "pdfsig", "pdfinfo", "certutil", "qpdf", "pdftotext"));

const ORIGIN = "http://localhost:8080";
const MARK = { width: 300, height: 120, strokes: [[20, 80, 60, 40, 100, 90, 140, 30], [160, 60, 260, 60], [200, 100]] };

/** An outside CA (as a UKey vendor's) and a signer certificate under it, made with openssl. */
function outsideCa(dir: string) {
  const o = (...a: string[]) => execFileSync("openssl", a, { cwd: dir, stdio: "pipe" });
  o("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key");
  o("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=Test UKey CA", "-days", "30", "-out", "ca.pem",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  for (const who of ["user", "stranger"]) {
    o("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${who}.key`);
    o("req", "-new", "-key", `${who}.key`, "-subj", `/CN=${who}`, "-out", `${who}.csr`);
    fs.writeFileSync(path.join(dir, "ext"), "keyUsage=critical,digitalSignature,nonRepudiation\n");
    if (who === "user") o("x509", "-req", "-in", "user.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "10", "-out", "user.pem", "-extfile", "ext");
    else o("x509", "-req", "-in", "stranger.csr", "-signkey", "stranger.key", "-days", "10", "-out", "stranger.pem", "-extfile", "ext");
  }
  const der = (f: string) => crypto.X509Certificate ? new crypto.X509Certificate(fs.readFileSync(path.join(dir, f))).raw : Buffer.alloc(0);
  return {
    caPem: fs.readFileSync(path.join(dir, "ca.pem"), "utf8"),
    chain: [der("user.pem").toString("base64"), der("ca.pem").toString("base64")],
    stranger: [der("stranger.pem").toString("base64")],
    key: crypto.createPrivateKey(fs.readFileSync(path.join(dir, "user.key"))),
  };
}

async function registerPasskey(h: Harness, p: Person): Promise<SoftAuthenticator> {
  const a = new SoftAuthenticator(ORIGIN, "localhost");
  const opts = await h.app.inject({ method: "POST", url: "/holders/me/passkeys/options", headers: bearer(p.token), payload: { displayName: p.name } });
  if (opts.statusCode !== 200) throw new Error(`options: ${opts.body}`);
  const reg = await h.app.inject({ method: "POST", url: "/holders/me/passkeys", headers: bearer(p.token), payload: { response: a.register(opts.json()) } });
  if (reg.statusCode !== 201) throw new Error(`register: ${reg.body}`);
  return a;
}

async function cloudSign(h: Harness, id: string, p: Person, a: SoftAuthenticator) {
  const o = await h.app.inject({ method: "POST", url: `/signatures/${id}/sign/options`, headers: bearer(p.token) });
  if (o.statusCode !== 200) return o;
  return h.app.inject({ method: "POST", url: `/signatures/${id}/sign`, headers: bearer(p.token), payload: { assertion: a.assert(o.json().options), mark: MARK } });
}

test("three signers, cloud and own key: every signature valid in pdfsig, openssl and qpdf; bad input refused", async (t) => {
  const dir = tempDir(t, "sidian-ukey-");
  const ca = outsideCa(dir);
  fs.writeFileSync(path.join(dir, "trust.pem"), ca.caPem);
  // The initiator is an approval system (no department): the completion report is sealed with the platform's seal.
  const h = await build(t, { SIDIAN_PUBLIC_URL: ORIGIN, SIDIAN_SIGNING_TRUST: path.join(dir, "trust.pem"), SIDIAN_SIGNING_SEAL: "PLATFORM-SEAL-1" });
  const platform = await h.department("测试市政务服务数据管理局");
  await h.ctx.seals.createSeal({ departmentId: platform.id, type: "01", id: "PLATFORM-SEAL-1" }, { kind: "system", name: "test" });
  const s = await setup(t, 3, h);
  const [a, b, c] = s.people as [Person, Person, Person];
  const id = await createRequest(s, [[signer(a, { placeholder: "[[SIGN1]]", widthMm: 40, heightMm: 15 }), signer(b, { placeholder: "[[SIGN2]]", widthMm: 40, heightMm: 15 })], [signer(c, undefined, "approver")]]);

  // No passkey: no cloud signature
  const none = await h.app.inject({ method: "POST", url: `/signatures/${id}/sign/options`, headers: bearer(a.token) });
  t.equal(none.statusCode, 409);
  t.equal(none.json().code, "PASSKEY_REQUIRED");
  const ka = await registerPasskey(h, a);
  t.equal((await h.app.inject({ url: "/holders/me/passkeys", headers: bearer(a.token) })).json().items.length, 1);

  // An old login: no cloud signature
  h.clock.advance(-6 * 60_000);
  const stale = await h.holderToken(a.code, { ttlSeconds: 900 });
  h.clock.advance(6 * 60_000);
  const old = await h.app.inject({ method: "POST", url: `/signatures/${id}/sign/options`, headers: bearer(stale) });
  t.equal(old.statusCode, 401, old.body);
  t.equal(old.json().code, "SIGNING_REAUTH_REQUIRED", "a login from 6 minutes ago is not fresh");

  // The second group may not sign yet
  const kc = await registerPasskey(h, c);
  const early = await cloudSign(h, id, c, kc);
  t.equal(early.json().code, "SIGNING_NOT_YOUR_TURN");

  // Own key, step 1 for B; then A signs first, so B's prepared revision is stale
  const prep = await h.app.inject({ method: "POST", url: `/signatures/${id}/external/prepare`, headers: bearer(b.token), payload: { certificates: ca.chain, mark: MARK } });
  t.equal(prep.statusCode, 200, prep.body);
  const optsA = await h.app.inject({ method: "POST", url: `/signatures/${id}/sign/options`, headers: bearer(a.token) });
  t.equal(optsA.statusCode, 200, optsA.body);
  const assertion = ka.assert(optsA.json().options);
  const signA = await h.app.inject({ method: "POST", url: `/signatures/${id}/sign`, headers: bearer(a.token), payload: { assertion, mark: MARK } });
  t.equal(signA.statusCode, 200, signA.body);
  t.equal(signA.json().status, "in_progress");
  // POST /verify/pdf on the revision after A's signature: who signed, and that the request is not complete yet
  const mid = (await h.app.inject({ url: `/signatures/${id}/document`, headers: bearer(a.token) })).rawPayload;
  const vMid = (await h.app.inject({ method: "POST", url: "/verify/pdf", headers: { "content-type": "application/pdf" }, payload: mid })).json();
  t.equal(vMid.signingRequest.requestId, id);
  t.equal(vMid.signingRequest.completed, false, "not completed yet");
  t.equal(vMid.signingRequest.isFinal, false);
  t.equal(vMid.signatures[0].signing.role, "signer");
  t.equal(vMid.signatures[0].signing.signer, "张*", "the signer's name, masked");
  t.match(vMid.signatures[0].signing.certificateKind, /personal-signing/);
  const replay = await h.app.inject({ method: "POST", url: `/signatures/${id}/sign`, headers: bearer(a.token), payload: { assertion, mark: MARK } });
  t.equal(replay.statusCode, 409, "A has signed");
  const sigB = crypto.sign("sha256", Buffer.from(prep.json().dataToSign, "base64"), { key: ca.key, dsaEncoding: "der" }).toString("base64");
  const changed = await h.app.inject({ method: "POST", url: `/signatures/${id}/external/signature`, headers: bearer(b.token), payload: { signatureValue: sigB } });
  t.equal(changed.statusCode, 409);
  t.equal(changed.json().code, "SIGNING_DOCUMENT_CHANGED", "the document changed between preparation and signature");

  // Untrusted certificate, wrong digest
  const untrusted = await h.app.inject({ method: "POST", url: `/signatures/${id}/external/prepare`, headers: bearer(b.token), payload: { certificates: ca.stranger, mark: MARK } });
  t.equal(untrusted.statusCode, 422);
  t.equal(untrusted.json().code, "EXTERNAL_CERTIFICATE_UNTRUSTED");
  const prep2 = await h.app.inject({ method: "POST", url: `/signatures/${id}/external/prepare`, headers: bearer(b.token), payload: { certificates: ca.chain, mark: MARK } });
  t.equal(prep2.statusCode, 200, prep2.body);
  const wrong = crypto.sign("sha256", Buffer.from("another digest"), { key: ca.key, dsaEncoding: "der" }).toString("base64");
  const bad = await h.app.inject({ method: "POST", url: `/signatures/${id}/external/signature`, headers: bearer(b.token), payload: { signatureValue: wrong } });
  t.equal(bad.statusCode, 400);
  t.equal(bad.json().code, "EXTERNAL_SIGNATURE_INVALID");
  const sigB2 = crypto.sign("sha256", Buffer.from(prep2.json().dataToSign, "base64"), { key: ca.key, dsaEncoding: "der" }).toString("base64");
  const signB = await h.app.inject({ method: "POST", url: `/signatures/${id}/external/signature`, headers: bearer(b.token), payload: { signatureValue: sigB2 } });
  t.equal(signB.statusCode, 200, signB.body);

  // Group 2: C's challenge is bound to the document hash; a challenge for another request is refused
  const optsC = await h.app.inject({ method: "POST", url: `/signatures/${id}/sign/options`, headers: bearer(c.token) });
  const other = await createRequest(s, [[signer(c)]]);
  const optsOther = await h.app.inject({ method: "POST", url: `/signatures/${other}/sign/options`, headers: bearer(c.token) });
  const crossed = await h.app.inject({ method: "POST", url: `/signatures/${id}/sign`, headers: bearer(c.token), payload: { assertion: kc.assert(optsOther.json().options), mark: MARK } });
  t.equal(crossed.statusCode, 403);
  t.equal(crossed.json().code, "WEBAUTHN_ASSERTION_INVALID", "an assertion made for another request is refused");
  const badOrigin = await h.app.inject({ method: "POST", url: `/signatures/${id}/sign`, headers: bearer(c.token), payload: { assertion: kc.assert(optsC.json().options, { origin: "http://evil.example" }), mark: MARK } });
  t.equal(badOrigin.json().code, "WEBAUTHN_ASSERTION_INVALID", "wrong origin");
  const used = await h.app.inject({ method: "POST", url: `/signatures/${id}/sign`, headers: bearer(c.token), payload: { assertion: kc.assert(optsC.json().options), mark: MARK } });
  t.equal(used.json().code, "WEBAUTHN_ASSERTION_INVALID", "a challenge is single use, even after a failed attempt");
  const badMark = await h.app.inject({ method: "POST", url: `/signatures/${id}/sign`, headers: bearer(c.token), payload: { assertion: kc.assert(optsC.json().options), mark: { ...MARK, strokes: [[5000, 5000]] } } });
  t.equal(badMark.json().code, "SIGNATURE_MARK_INVALID");
  const signC = await cloudSign(h, id, c, kc);
  t.equal(signC.statusCode, 200, signC.body);
  t.equal(signC.json().status, "completed");

  // Completed: the report page is drawn and sealed as one more revision; every signature and the seal stay valid.
  const doc = await h.app.inject({ url: `/signatures/${id}/document`, headers: bearer(s.consumer.token) });
  const pdf = doc.rawPayload;
  t.match(doc.headers["content-disposition"], /-signed\.pdf/, "the final document");
  fs.mkdirSync(path.join(ROOT, "test-artifacts"), { recursive: true });
  fs.writeFileSync(path.join(ROOT, "test-artifacts", "signed-three.pdf"), pdf);
  const trust = h.ctx.pki.trustBundlePem() + ca.caPem;
  const ps = pdfsigTrusting(t, pdf, trust);
  t.equal((ps.match(/Signature is Valid/g) ?? []).length, 4, ps);
  t.equal((ps.match(/Certificate is Trusted/g) ?? []).length, 4, ps);
  t.match(ps, /Signature #4:[\s\S]*测试市政务服务数据管理局/, "the fourth is the platform's seal");
  t.equal(qpdfCheck(t, pdf).status, 0, "qpdf --check");
  for (let i = 0; i < 4; i++) {
    const v = opensslCmsVerify(t, pdf, i, trust);
    t.ok(v.ok, `openssl cms -verify signature ${i + 1}: ${v.out}`);
  }
  const r0 = (await h.app.inject({ url: `/signatures/${id}`, headers: bearer(s.consumer.token) })).json();
  const report = pdftotextLastPage(t, pdf);
  {
    t.match(report, /签署报告/, "the completion page's text is extractable");
    for (const who of ["张三", "李四", "王五"]) t.match(report, who, `${who} is in the report`);
    t.match(report, /签署人 signer/);
    t.match(report, /审批人 approver/);
    t.match(report, /通行密钥/, "how the cloud signers were authenticated");
    t.match(report, /自有密钥证书/, "and the own-key signer");
    t.match(report, /UTC\+8/, "times in Beijing time");
    t.match(report, r0.documentSha256, "the uploaded document's SHA-256");
    for (const p of r0.participants) t.match(report, `Log index: ${p.logIndex}`, `participant ${p.idx + 1}'s log index`);
    t.notMatch(report, a.code, "no ID number");
  }
  // The QR code on the report: its URL is the public log entry of the completion.
  const ev = await h.app.inject({ url: `/signatures/${id}/evidence`, headers: bearer(b.token) });
  t.equal(ev.statusCode, 200, ev.body);
  const e = ev.json();
  t.equal(e.request.sealed, true);
  t.equal(e.request.finalSha256, crypto.createHash("sha256").update(pdf).digest("hex"), "the evidence names the final PDF");
  const types = e.events.map((x: { type: string }) => x.type);
  for (const ty of ["signing.created", "signing.sent", "signing.signed", "signing.completed", "signing.sealed"]) t.ok(types.includes(ty), `${ty} in the evidence`);
  t.equal(types.filter((x: string) => x === "signing.signed").length, 3);
  const { verifyLogEvidence } = await import("../../src/modules/tlog/index.js");
  for (const x of e.events) {
    const v = verifyLogEvidence(x, { logKey: e.log.vkey, origin: e.log.origin, leaf: x.leaf });
    t.equal(v.result, "VALID", `inclusion proof of ${x.type} #${x.logIndex}`);
  }
  const completedIdx = e.events.find((x: { type: string }) => x.type === "signing.completed").logIndex;
  t.match(report.replace(/\s+/g, ""), `${ORIGIN}/log/entries/${completedIdx}`, "the verification link");
  t.ok(e.participants.every((p: { holderCode: string }) => p.holderCode.includes("*")), "codes masked in the evidence");
  const outsider = await h.app.inject({ url: `/signatures/${id}/evidence`, headers: bearer(await h.holderToken(citizenId(999))) });
  t.equal(outsider.statusCode, 404, "someone else: no such request");
  // Every participant downloads the final PDF
  for (const p of [a, b, c]) {
    const d = await h.app.inject({ url: `/signatures/${id}/document`, headers: bearer(p.token) });
    t.equal(crypto.createHash("sha256").update(d.rawPayload).digest("hex"), e.request.finalSha256, `${p.name} downloads the final PDF`);
  }
  // The cloud certificates name the person and a pseudonym, never the ID number
  const certs = (await h.ctx.uow.read.certificates.listByKey((await h.ctx.uow.read.personalKeys.get(h.ctx.pii.lookupHash("111", a.code)))!.keyId));
  t.match(certs[0]!.subject, /张三/);
  t.notMatch(certs[0]!.subject, new RegExp(a.code));
  t.match(new crypto.X509Certificate(Buffer.from(certs[0]!.der)).subject, /SD-/);
  const v = await h.app.inject({ method: "POST", url: "/verify/pdf", headers: { "content-type": "application/pdf" }, payload: pdf });
  t.equal(v.json().signatures.length, 4);
  const vf = v.json();
  t.same({ completed: vf.signingRequest.completed, sealed: vf.signingRequest.sealed, isFinal: vf.signingRequest.isFinal, status: vf.signingRequest.status },
    { completed: true, sealed: true, isFinal: true, status: "completed" }, "the final PDF: request completed and sealed");
  t.same(vf.signatures.map((x: { signing: { role: string } }) => x.signing.role), ["signer", "signer", "approver", "seal"]);
  t.match(vf.signatures[1].signing.certificateKind, /external/, "the own-key signer's certificate kind");
  t.ok(vf.signatures.slice(0, 3).every((x: { signing: { signer: string; signedAt: string } }) => x.signing.signer.includes("*") && !Number.isNaN(Date.parse(x.signing.signedAt))), "names masked, times given");
  t.notOk(vf.signatures.some((x: { signing: { signer: string | null } }) => x.signing.signer === "张三"), "never the full name");
  const r = (await h.app.inject({ url: `/signatures/${id}`, headers: bearer(s.consumer.token) })).json();
  t.same(r.participants.map((p: { method: string }) => p.method), ["cloud", "external", "cloud"]);
  t.equal(r.status, "completed");
});

test("sidian sign-external: the own-key flow over HTTP with a key file", async (t) => {
  const dir = tempDir(t, "sidian-ukey-");
  const ca = outsideCa(dir);
  fs.writeFileSync(path.join(dir, "trust.pem"), ca.caPem);
  const h = await build(t, { SIDIAN_PUBLIC_URL: ORIGIN, SIDIAN_SIGNING_TRUST: path.join(dir, "trust.pem") });
  const s = await setup(t, 1, h);
  const id = await createRequest(s, [[signer(s.people[0]!)]]);
  await h.app.listen({ host: "127.0.0.1", port: 0 });
  const addr = h.app.server.address() as { port: number };
  fs.writeFileSync(path.join(dir, "token"), s.people[0]!.token);
  fs.writeFileSync(path.join(dir, "chain.pem"), fs.readFileSync(path.join(dir, "user.pem"), "utf8") + ca.caPem);
  const out = await signExternalCommand(["--url", `http://127.0.0.1:${addr.port}`, "--request", id, "--token-file", path.join(dir, "token"), "--key", path.join(dir, "user.key"), "--cert", path.join(dir, "chain.pem")]);
  t.match(out, /is completed/);
  const doc = await h.app.inject({ url: `/signatures/${id}/document`, headers: bearer(s.consumer.token) });
  const ps = pdfsigTrusting(t, doc.rawPayload, h.ctx.pki.trustBundlePem() + ca.caPem);
  t.match(ps, /Signature is Valid/);
  t.match(ps, /Signer Certificate Common Name: user/);
});
