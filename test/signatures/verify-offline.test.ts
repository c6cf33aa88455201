/**
 * `sidian verify` (offline) on a signing request's PDF (issue 17 §9): each signature's signer (masked), role, time
 * and certificate kind, and whether the request completed — from the PDF itself, and with `--evidence` from the
 * request's evidence bundle, used only when this PDF is one of its documents and every trust event's inclusion
 * proof verifies under the keys folder's log key.
 */
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { AppError } from "../../src/errors.js";
import { verifyCommand } from "../../src/cli/seals.js";
import { bearer, build, tempDir } from "../helpers/app.js";
import { SoftAuthenticator } from "./authenticator.js";
import { createRequest, setup, signer, type Person } from "./helpers.js";

const ORIGIN = "http://localhost:8080";
const SYS = { kind: "system" as const, name: "test" };
const MARK = { width: 300, height: 120, strokes: [[20, 80, 60, 40, 100, 90, 140, 30], [160, 60, 260, 60]] };

t.test("sidian verify shows the signing request's facts offline, from the PDF and its checked evidence", async (t) => {
  const h = await build(t, { SIDIAN_PUBLIC_URL: ORIGIN, SIDIAN_SIGNING_SEAL: "PLATFORM-SEAL-V1" });
  const platform = await h.department("测试市政务服务数据管理局");
  await h.ctx.seals.createSeal({ departmentId: platform.id, type: "01", id: "PLATFORM-SEAL-V1" }, SYS);
  const s = await setup(t, 2, h);
  const [a, b] = s.people as [Person, Person];
  const id = await createRequest(s, [[signer(a)], [signer(b, { page: 2, xMm: 120, yMm: 200, widthMm: 40, heightMm: 20 }, "approver")]]);
  const sign = async (p: Person) => {
    const k = new SoftAuthenticator(ORIGIN, "localhost");
    const ro = await h.app.inject({ method: "POST", url: "/holders/me/passkeys/options", headers: bearer(p.token), payload: { displayName: p.name } });
    await h.app.inject({ method: "POST", url: "/holders/me/passkeys", headers: bearer(p.token), payload: { response: k.register(ro.json()) } });
    const o = await h.app.inject({ method: "POST", url: `/signatures/${id}/sign/options`, headers: bearer(p.token) });
    const r = await h.app.inject({ method: "POST", url: `/signatures/${id}/sign`, headers: bearer(p.token), payload: { assertion: k.assert(o.json().options), mark: MARK } });
    t.equal(r.statusCode, 200, r.body.slice(0, 200));
  };
  const dir = tempDir(t, "sidian-verify-signing-");
  const save = (name: string, data: Buffer | string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, data);
    return f;
  };
  const bundle = async () => h.ctx.material.trustBundlePem;
  const logKeys = async () => [h.ctx.material.log.publicKeyPem];
  const verify = (...args: string[]) => verifyCommand(args, bundle, logKeys);

  // After the first signature: signed by 张三 as signer, not sealed; the PDF alone cannot say whether it completed.
  await sign(a);
  const mid = save("mid.pdf", (await h.app.inject({ url: `/signatures/${id}/document`, headers: bearer(a.token) })).rawPayload);
  const m1 = JSON.parse((await verify(mid, "--json")).text);
  t.same(m1.signatures[0].signing, { participant: 1, role: "signer", signer: "张*", signedAt: m1.signatures[0].timestampTime, certificateKind: "personal-signing (Sidian CA, cloud key confirmed with a passkey)" });
  t.match(m1.signingRequest, { completed: null, sealed: false, source: "pdf" }, "the PDF alone: not sealed, completion unknown");
  const midEvidence = save("mid-evidence.json", (await h.app.inject({ url: `/signatures/${id}/evidence`, headers: bearer(s.consumer.token) })).body);
  const m2 = JSON.parse((await verify(mid, "--json", "--evidence", midEvidence)).text);
  t.match(m2.signingRequest, { requestId: id, title: "告知承诺书", status: "in_progress", completed: false, sealed: false, isFinal: false, source: "pdf+evidence", evidence: { proofs: "VALID" } });
  t.equal(m2.signatures[0].signing.group, 1);
  t.type(m2.signatures[0].signing.logIndex, "number");

  // Completed and sealed.
  await sign(b);
  const final = save("final.pdf", (await h.app.inject({ url: `/signatures/${id}/document`, headers: bearer(s.consumer.token) })).rawPayload);
  const f1 = await verify(final);
  t.match(f1.text, /signing request .*status completed, completed yes, sealed yes/);
  t.match(f1.text, /#1 Signature-1: signer \(participant 1\)\s+张\*\s+\S+\s+personal-signing/);
  t.match(f1.text, /#2 Signature-2: approver \(participant 2\)\s+李\*/, "the approver's role from the signature's /Reason");
  t.match(f1.text, /#3 Seal-PLATFORM-SEAL-V1: seal .*department seal/);
  t.notMatch(f1.text.slice(f1.text.indexOf("signing request ")), /张三|李四/, "names masked in the signing facts");
  const evidence = (await h.app.inject({ url: `/signatures/${id}/evidence`, headers: bearer(s.consumer.token) })).body;
  const e = save("evidence.json", evidence);
  const f2 = JSON.parse((await verify(final, "--json", "--evidence", e)).text);
  t.match(f2.signingRequest, { requestId: id, status: "completed", completed: true, sealed: true, isFinal: true, source: "pdf+evidence" });
  t.same(f2.signatures.map((x: { signing: { role: string } }) => x.signing.role), ["signer", "approver", "seal"], "the same roles POST /verify/pdf gives");
  const online = (await h.app.inject({ method: "POST", url: "/verify/pdf", headers: { "content-type": "application/pdf" }, payload: fs.readFileSync(final) })).json();
  for (const i of [0, 1]) {
    for (const k of ["participant", "role", "signer", "certificateKind", "logIndex"]) t.same(f2.signatures[i].signing[k], online.signatures[i].signing[k], `signature ${i + 1}: ${k} as online`);
  }
  t.same({ completed: f2.signingRequest.completed, sealed: f2.signingRequest.sealed, isFinal: f2.signingRequest.isFinal }, { completed: online.signingRequest.completed, sealed: online.signingRequest.sealed, isFinal: online.signingRequest.isFinal });

  // Evidence that does not check out is refused (exit 2 on the command line).
  const ev = JSON.parse(evidence);
  const forged = structuredClone(ev);
  forged.events[0].leaf = forged.events[0].leaf.replace(/"actor":"[^"]*"/, '"actor":"client:forged"');
  await t.rejects(verify(final, "--evidence", save("forged.json", JSON.stringify(forged))), { code: "SIGNING_EVIDENCE_INVALID" }, "a changed event");
  const otherKey = structuredClone(ev);
  otherKey.log.publicKeyPem = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
  await t.rejects(verify(final, "--evidence", save("key.json", JSON.stringify(otherKey))), { code: "SIGNING_EVIDENCE_INVALID" }, "a log key not of this keys folder");
  const notMine = structuredClone(ev);
  notMine.documents = notMine.documents.filter((d: { kind: string }) => d.kind !== "completed");
  await t.rejects(verify(final, "--evidence", save("docs.json", JSON.stringify(notMine))), { code: "SIGNING_EVIDENCE_INVALID" }, "evidence that does not list this PDF");
  await t.rejects(verify(final, "--evidence", save("junk.json", "{")), AppError);
});
