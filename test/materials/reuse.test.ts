/**
 * Reuse (issue 18 §3-5): consent across two consumers and two matters, the exempt matter, the holder's "who used my
 * data", links that re-check at every use, revocation (never handed over again, receipt verifies REVOKED),
 * withdrawal, expiry, and POST /verify/material on bytes, hashes and receipts.
 */
import crypto from "node:crypto";
import t from "tap";
import { HOLDER, OTHER_HOLDER, PNG, bearer, pdfBytes, registerRaw, setup } from "./helpers.js";

const sha = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");

t.test("two consumers, two matters: consent, exemption, links, revocation, withdrawal, expiry, verification", async (t) => {
  const s = await setup(t);
  const { h } = s;
  const c1 = s.consumer; // serves M-A, M-B, M-X
  const c2 = await h.client("consumer", { matters: ["M-A"] });
  const holder = { code: HOLDER, codeType: "111" };
  const leaseBytes = pdfBytes("lease", 5000);
  const lease = (await registerRaw(h, c1.token, { typeCode: "LEASE", holder, matterCode: "M-A" }, leaseBytes)).json();
  const photo = (await registerRaw(h, s.counter.token, { typeCode: "PHOTO", holder, counter: { operator: "A1", device: "D1", checkedAgainstOriginal: true } }, PNG, "image/png")).json();
  await registerRaw(h, c1.token, { typeCode: "LEASE", holder: { code: OTHER_HOLDER, codeType: "111" }, matterCode: "M-A" }, pdfBytes("other"));
  t.ok(lease.material && photo.material, "registered");

  const q = (token: string, body: Record<string, unknown>) => h.app.inject({ method: "POST", url: "/holders/materials:query", headers: bearer(token), payload: { holderCode: HOLDER, holderCodeType: "111", useCause: "办理许可", ...body } });
  const consent = (clientId: string, matterCode: string) => h.app.inject({ method: "POST", url: "/holders/me/consents", headers: bearer(s.holder), payload: { clientId, matterCode } });

  t.equal((await q(c2.token, { matterCode: "M-A" })).json().code, "CONSENT_REQUIRED", "no consent yet");
  const g2 = await consent(c2.id, "M-A");
  t.equal(g2.statusCode, 201);
  const a2 = await q(c2.token, { matterCode: "M-A" });
  t.equal(a2.statusCode, 200, a2.body);
  const ans2 = a2.json();
  t.equal(ans2.basis, "consent");
  t.same(ans2.items.map((i: { identifier: string }) => i.identifier).sort(), [lease.material.identifier, photo.material.identifier].sort(), "both materials of this holder, none of the other holder");
  const leaseItem = ans2.items.find((i: { identifier: string }) => i.identifier === lease.material.identifier);
  const photoItem = ans2.items.find((i: { identifier: string }) => i.identifier === photo.material.identifier);
  t.ok(leaseItem.receipt.split(".").length === 3, "receipt with each item");
  const linkPath = (u: string) => new URL(u).pathname;
  const got = await h.app.inject({ url: linkPath(leaseItem.link.url), headers: bearer(c2.token) });
  t.equal(got.statusCode, 200);
  t.same(got.rawPayload, leaseBytes, "the link hands over the registered bytes");
  t.equal((await h.app.inject({ url: linkPath(leaseItem.link.url), headers: bearer(c1.token) })).json().code, "MATERIAL_LINK_INVALID", "a link is for the client it was made for");
  const tampered = linkPath(leaseItem.link.url).replace(/.$/, (c) => (c === "A" ? "B" : "A"));
  t.equal((await h.app.inject({ url: tampered, headers: bearer(c2.token) })).json().code, "MATERIAL_LINK_INVALID");

  // c1: consent for M-A does not cover M-B; M-B accepts PHOTO only.
  t.equal((await q(c1.token, { matterCode: "M-B" })).json().code, "CONSENT_REQUIRED", "consent is per client and matter");
  await consent(c1.id, "M-B");
  const b1 = (await q(c1.token, { matterCode: "M-B" })).json();
  t.same(b1.items.map((i: { identifier: string }) => i.identifier), [photo.material.identifier], "M-B accepts photos only");
  t.equal((await q(c1.token, { matterCode: "M-B", typeCodes: ["LEASE"] })).json().code, "MATERIAL_TYPE_NOT_ACCEPTED");
  t.equal((await q(c2.token, { matterCode: "M-B" })).json().code, "FORBIDDEN_MATTER", "a matter the client does not serve");
  t.equal((await q(c1.token, { matterCode: "M-A" })).json().code, "CONSENT_REQUIRED", "c2's consent is not c1's");
  // The exempt matter: no consent needed, still recorded.
  const x = (await q(c1.token, { matterCode: "M-X" })).json();
  t.equal(x.basis, "exempt");
  t.same(x.items.map((i: { identifier: string }) => i.identifier), [lease.material.identifier]);

  // Who used my data: every reuse, with the materials.
  const acc = (await h.app.inject({ url: "/holders/me/accesses", headers: bearer(s.holder) })).json();
  const uses = acc.items.filter((i: { materials: string[] }) => i.materials.length > 0);
  t.equal(uses.length, 3, "three reuses recorded");
  t.ok(uses.some((u: { client: { id: string }; matter: { code: string }; basis: string }) => u.client.id === c1.id && u.matter.code === "M-X" && u.basis === "exempt"));
  t.same(uses.find((u: { client: { id: string } }) => u.client.id === c2.id).materials.sort(), [lease.material.identifier, photo.material.identifier].sort());
  const logged = await h.ctx.tlog.getEntry(ans2.logIndex);
  t.equal(logged.event.type, "material.accessed");

  // Revocation: never handed over again; links stop; the receipt verifies REVOKED.
  const rv = await h.app.inject({ method: "POST", url: `/materials/${lease.material.identifier}/revoke`, headers: bearer(c2.token), payload: { reason: "合同已解除" } });
  t.equal(rv.json().code, "MATERIAL_NOT_FOUND", "only the registrant (or its department, or an admin) revokes");
  const r1 = await h.app.inject({ method: "POST", url: `/materials/${lease.material.identifier}/revoke`, headers: bearer(c1.token), payload: { reason: "合同已解除" } });
  t.equal(r1.statusCode, 200, r1.body);
  t.equal(r1.json().status, "revoked");
  t.equal((await h.app.inject({ method: "POST", url: `/materials/${lease.material.identifier}/revoke`, headers: bearer(c1.token), payload: { reason: "again" } })).json().code, "MATERIAL_STATE_INVALID");
  t.equal((await h.app.inject({ url: linkPath(leaseItem.link.url), headers: bearer(c2.token) })).json().code, "MATERIAL_LINK_INVALID", "the link of a revoked material no longer answers");
  t.same((await q(c2.token, { matterCode: "M-A" })).json().items.map((i: { identifier: string }) => i.identifier), [photo.material.identifier], "a revoked material is not handed over");
  t.equal((await h.app.inject({ url: `/materials/${lease.material.identifier}/content`, headers: bearer(c1.token) })).json().code, "MATERIAL_STATE_INVALID", "not to the approval system that registered it either");
  t.equal((await h.app.inject({ url: `/materials/${lease.material.identifier}/content`, headers: bearer(s.holder) })).statusCode, 200, "the holder still sees it");
  const vr = (await h.app.inject({ method: "POST", url: "/verify/material", payload: { receipt: lease.receipt } })).json();
  t.equal(vr.result, "INVALID");
  t.equal(vr.status, "REVOKED");
  t.match(vr.checks, [{ id: "format", status: "PASSED" }, { id: "signature", status: "PASSED" }, { id: "record", status: "PASSED" }, { id: "status", status: "FAILED" }, { id: "log", status: "PASSED" }]);
  t.ok(vr.evidence?.hashes, "inclusion proof");
  t.equal(vr.material.holder, "350***********0016", "holder masked");

  // Verify by the bytes themselves, by hash, and a tampered receipt.
  const vb = await h.app.inject({ method: "POST", url: "/verify/material", headers: { "content-type": "application/octet-stream" }, payload: PNG });
  t.equal(vb.statusCode, 200, vb.body);
  t.equal(vb.json().result, "VALID");
  t.equal(vb.json().material.source, "counter");
  t.equal((await h.app.inject({ method: "POST", url: "/verify/material", payload: { sha256: sha(Buffer.from("never registered")) } })).json().checks[0].status, "FAILED");
  const [hd, pl, sg] = lease.receipt.split(".");
  const forged = `${hd}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(pl, "base64url").toString()), size: 1 })).toString("base64url")}.${sg}`;
  t.match((await h.app.inject({ method: "POST", url: "/verify/material", payload: { receipt: forged } })).json(), { result: "INVALID", checks: [{ id: "format", status: "PASSED" }, { id: "signature", status: "FAILED" }] });
  const mism = (await h.app.inject({ method: "POST", url: "/verify/material", headers: { "content-type": "application/octet-stream", "x-material-receipt": lease.receipt }, payload: PNG })).json();
  t.ok(mism.checks.some((c: { id: string; status: string }) => c.id === "bytes" && c.status === "FAILED"), "bytes that are not the receipt's");

  // The holder withdraws the photo: links stop, bytes gone, verifies WITHDRAWN.
  const w = await h.app.inject({ method: "POST", url: `/holders/me/materials/${photo.material.identifier}/withdraw`, headers: bearer(s.holder) });
  t.equal(w.statusCode, 200, w.body);
  t.equal(Number(await h.sql.value("SELECT count(*) AS n FROM material_chunks WHERE identifier = ?", [photo.material.identifier])), 0, "bytes deleted");
  t.equal((await h.app.inject({ url: linkPath(photoItem.link.url), headers: bearer(c2.token) })).json().code, "MATERIAL_LINK_INVALID");
  t.equal((await h.app.inject({ method: "POST", url: "/verify/material", payload: { receipt: photo.receipt } })).json().status, "WITHDRAWN");
  const other = await h.holderToken(OTHER_HOLDER);
  t.equal((await h.app.inject({ method: "POST", url: `/holders/me/materials/${lease.material.identifier}/withdraw`, headers: bearer(other) })).json().code, "MATERIAL_NOT_FOUND", "another holder's material");

  // Consent revoked: links made under it stop at once.
  const fresh = (await registerRaw(h, c1.token, { typeCode: "LEASE", holder, matterCode: "M-A" }, pdfBytes("fresh"))).json();
  const a3 = (await q(c2.token, { matterCode: "M-A" })).json();
  const freshLink = linkPath(a3.items.find((i: { identifier: string }) => i.identifier === fresh.material.identifier).link.url);
  t.equal((await h.app.inject({ url: freshLink, headers: bearer(c2.token) })).statusCode, 200);
  await h.app.inject({ method: "DELETE", url: `/holders/me/consents/${g2.json().id}`, headers: bearer(s.holder) });
  t.equal((await h.app.inject({ url: freshLink, headers: bearer(c2.token) })).json().code, "MATERIAL_LINK_INVALID", "consent revoked");

  // Expiry: a year on, the lease has expired (derived at read): not handed over, verifies EXPIRED.
  h.clock.advance(366 * 86_400_000);
  const tok = await h.app.inject({ method: "POST", url: "/oauth/token", payload: { grant_type: "client_credentials", client_id: c1.id, client_secret: c1.secret } });
  const c1Token = tok.json().access_token as string;
  t.same((await q(c1Token, { matterCode: "M-X" })).json().items, [], "expired materials are not handed over");
  t.equal((await h.app.inject({ method: "POST", url: "/verify/material", payload: { receipt: fresh.receipt } })).json().status, "EXPIRED");

  // The holder's own list and preview.
  const mine = (await h.app.inject({ url: "/holders/me/materials", headers: bearer(await h.holderToken(HOLDER)) })).json();
  t.equal(mine.items.length, 3);
  t.same(mine.items.map((i: { status: string }) => i.status).sort(), ["expired", "revoked", "withdrawn"]);
});

t.test("material types: admin defines, others read; invalid definitions refused", async (t) => {
  const s = await setup(t);
  const { h } = s;
  const post = (token: string, body: Record<string, unknown>) => h.app.inject({ method: "POST", url: "/material-types", headers: bearer(token), payload: body });
  const ok = await post(s.admin.token, { code: "BANK01", name: "银行流水", matters: ["M-B"], mediaTypes: ["pdf", "json"], maxBytes: 1_000_000 });
  t.equal(ok.statusCode, 201, ok.body);
  t.equal((await post(s.admin.token, { code: "BANK01", name: "x", matters: [], mediaTypes: ["pdf"], maxBytes: 10 })).json().code, "MATERIAL_TYPE_EXISTS");
  t.equal((await post(s.admin.token, { code: "NEW1", name: "x", matters: ["NO-SUCH"], mediaTypes: ["pdf"], maxBytes: 10 })).json().code, "MATERIAL_TYPE_INVALID");
  t.equal((await post(s.admin.token, { code: "NEW2", name: "x", matters: [], mediaTypes: ["pdf"], maxBytes: 10, expires: true })).json().code, "MATERIAL_TYPE_INVALID", "expires without validityDays");
  t.equal((await post(s.admin.token, { code: "NEW3", name: "x", matters: [], mediaTypes: ["exe"], maxBytes: 10 })).json().code, "VALIDATION_FAILED");
  t.equal((await post(s.admin.token, { code: "new", name: "x", matters: [], mediaTypes: ["pdf"], maxBytes: 10 })).json().code, "VALIDATION_FAILED");
  const list = (await h.app.inject({ url: "/material-types", headers: bearer(s.consumer.token) })).json();
  t.same(list.items.map((i: { code: string }) => i.code), ["BANK01", "LEASE", "PHOTO"]);
  const p = await h.app.inject({ method: "PATCH", url: "/material-types/BANK01", headers: bearer(s.admin.token), payload: { matters: ["M-A", "M-B"] } });
  t.same(p.json().matters, ["M-A", "M-B"]);
  // A JSON material: a bank statement exported by another system.
  const j = await registerRaw(h, s.issuer.token, { typeCode: "BANK01", holder: { code: HOLDER, codeType: "111" } }, Buffer.from(JSON.stringify({ account: "6222****", rows: [1, 2, 3] })), "application/octet-stream");
  t.equal(j.statusCode, 201, j.body);
  t.equal(j.json().material.mediaType, "application/json");
  const badJson = await registerRaw(h, s.issuer.token, { typeCode: "BANK01", holder: { code: HOLDER, codeType: "111" } }, Buffer.from('{"a":"\u0000"}'), "application/octet-stream");
  t.equal(badJson.json().code, "MATERIAL_CONTENT_REFUSED", "JSON with a control character");
  const badUtf8 = await registerRaw(h, s.issuer.token, { typeCode: "BANK01", holder: { code: HOLDER, codeType: "111" } }, Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]), "application/octet-stream");
  t.equal(badUtf8.json().code, "MATERIAL_CONTENT_REFUSED", "JSON that is not UTF-8");
});
