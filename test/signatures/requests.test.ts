import t from "tap";
import { makePdf } from "../../fixtures/pdf/make-pdf.js";
import { bearer } from "../helpers/app.js";
import { body, citizenId, createRequest, setup, signer } from "./helpers.js";

const events = async (h: { ctx: { tlog: { size(): Promise<number>; getEntry(i: number): Promise<{ event: { type: string; subject: string; data: Record<string, unknown> } }> } } }, subject: string) => {
  const out: string[] = [];
  const n = await h.ctx.tlog.size();
  for (let i = 0; i < n; i++) {
    const e = await h.ctx.tlog.getEntry(i);
    if (e.event.subject === subject) out.push(e.event.type);
  }
  return out;
};

t.test("create, upload, send, view, list: states, authorisation and trust events", async (t) => {
  const s = await setup(t, 3);
  const { h, people: [a, b, c] } = s;
  const res = await h.app.inject({ method: "POST", url: "/signatures", headers: bearer(s.consumer.token), payload: body(s, [[signer(a!), signer(b!, { placeholder: "[[SIGN2]]", widthMm: 40, heightMm: 15 })], [signer(c!)]]) });
  t.equal(res.statusCode, 201, res.body);
  const r = res.json();
  t.equal(r.status, "draft");
  t.equal(r.groupCount, 2);
  t.equal(r.participants.length, 3);
  t.equal(r.participants[0].name, "张三", "the initiator sees names");
  t.match(r.participants[0].holderCode, /^110\*+/, "codes are masked");
  t.equal(r.participants[2].group, 2);

  // Sending without a document
  const early = await h.app.inject({ method: "POST", url: `/signatures/${r.id}/send`, headers: bearer(s.consumer.token) });
  t.equal(early.statusCode, 409);
  t.equal(early.json().code, "SIGNING_DOCUMENT_MISSING");
  // Holders of a draft may see it (they are participants) but not act
  const put = await h.app.inject({ method: "PUT", url: `/signatures/${r.id}/document`, headers: { ...bearer(s.consumer.token), "content-type": "application/pdf" }, payload: makePdf({ pages: 2, lines: () => ["x [[SIGN2]]"] }) });
  t.equal(put.statusCode, 200, put.body);
  t.equal(put.json().pageCount, 2);
  const notSent = await h.app.inject({ method: "POST", url: `/signatures/${r.id}/decline`, headers: bearer(a!.token), payload: { reason: "no" } });
  t.equal(notSent.statusCode, 409);
  t.equal(notSent.json().code, "SIGNING_STATE_INVALID");
  const sent = await h.app.inject({ method: "POST", url: `/signatures/${r.id}/send`, headers: bearer(s.consumer.token) });
  t.equal(sent.statusCode, 200, sent.body);
  t.equal(sent.json().status, "in_progress");
  t.same(sent.json().participants.map((p: { status: string }) => p.status), ["pending", "pending", "waiting"]);
  const again = await h.app.inject({ method: "POST", url: `/signatures/${r.id}/send`, headers: bearer(s.consumer.token) });
  t.equal(again.json().code, "SIGNING_STATE_INVALID");
  const reupload = await h.app.inject({ method: "PUT", url: `/signatures/${r.id}/document`, headers: { ...bearer(s.consumer.token), "content-type": "application/pdf" }, payload: makePdf() });
  t.equal(reupload.json().code, "SIGNING_STATE_INVALID", "the document is fixed once sent");

  // A participant sees the request (names of others masked); their first view is logged once
  const seen = await h.app.inject({ url: `/signatures/${r.id}`, headers: bearer(c!.token) });
  t.equal(seen.statusCode, 200);
  const me = seen.json().participants.find((p: { me?: boolean }) => p.me);
  t.equal(me.name, "王五");
  t.equal(seen.json().participants[0].name, "张*", "other participants' names are masked");
  t.ok(me.viewedAt);
  await h.app.inject({ url: `/signatures/${r.id}`, headers: bearer(c!.token) });

  // Another holder, another consumer: the request does not exist for them
  const stranger = await h.holderToken(citizenId(999));
  for (const token of [stranger, (await h.client("consumer")).token]) {
    const x = await h.app.inject({ url: `/signatures/${r.id}`, headers: bearer(token) });
    t.equal(x.statusCode, 404);
    t.equal(x.json().code, "SIGNING_REQUEST_NOT_FOUND");
    const d = await h.app.inject({ url: `/signatures/${r.id}/document`, headers: bearer(token) });
    t.equal(d.json().code, "SIGNING_REQUEST_NOT_FOUND");
  }
  const strangerDecline = await h.app.inject({ method: "POST", url: `/signatures/${r.id}/decline`, headers: bearer(stranger), payload: { reason: "x" } });
  t.equal(strangerDecline.statusCode, 404);
  const doc = await h.app.inject({ url: `/signatures/${r.id}/document`, headers: bearer(a!.token) });
  t.equal(doc.statusCode, 200);
  t.equal(doc.headers["content-type"], "application/pdf");

  // Out of order: group 2 declines before group 1 has finished
  const outOfOrder = await h.app.inject({ method: "POST", url: `/signatures/${r.id}/decline`, headers: bearer(c!.token), payload: { reason: "x" } });
  t.equal(outOfOrder.statusCode, 409);
  t.equal(outOfOrder.json().code, "SIGNING_NOT_YOUR_TURN");

  // Lists
  const mine = await h.app.inject({ url: "/holders/me/signatures", headers: bearer(a!.token) });
  t.same(mine.json().items.map((i: { id: string }) => i.id), [r.id], "waiting for the first signer");
  const cWaiting = await h.app.inject({ url: "/holders/me/signatures", headers: bearer(c!.token) });
  t.same(cWaiting.json().items, [], "not yet the third person's turn");
  const cAll = await h.app.inject({ url: "/holders/me/signatures?which=all", headers: bearer(c!.token) });
  t.equal(cAll.json().items[0].myStatus, "waiting");
  const list = await h.app.inject({ url: "/signatures", headers: bearer(s.consumer.token) });
  t.same(list.json().items.map((i: { id: string }) => i.id), [r.id]);
  const other = await h.app.inject({ url: "/signatures", headers: bearer((await h.client("consumer")).token) });
  t.same(other.json().items, []);

  // Decline: final
  const dec = await h.app.inject({ method: "POST", url: `/signatures/${r.id}/decline`, headers: bearer(b!.token), payload: { reason: "内容与约定不符" } });
  t.equal(dec.statusCode, 200, dec.body);
  t.equal(dec.json().status, "declined");
  for (const [who, url, payload] of [[a!.token, `/signatures/${r.id}/decline`, { reason: "x" }], [s.consumer.token, `/signatures/${r.id}/cancel`, {}]] as const) {
    const x = await h.app.inject({ method: "POST", url, headers: bearer(who), payload });
    t.equal(x.statusCode, 409);
    t.equal(x.json().code, "SIGNING_DECLINED");
  }
  t.same(await events(h, `signing:${r.id}`), ["signing.created", "signing.sent", "signing.viewed", "signing.declined"]);
});

t.test("cancel and expiry are final; the sweep records expiry", async (t) => {
  const s = await setup(t, 2);
  const { h, people: [a, b] } = s;
  const one = await createRequest(s, [[signer(a!)], [signer(b!)]]);
  const cancel = await h.app.inject({ method: "POST", url: `/signatures/${one}/cancel`, headers: bearer(s.consumer.token), payload: { reason: "申请人撤回" } });
  t.equal(cancel.statusCode, 200);
  t.equal(cancel.json().status, "cancelled");
  const after = await h.app.inject({ method: "POST", url: `/signatures/${one}/decline`, headers: bearer(a!.token), payload: { reason: "x" } });
  t.equal(after.json().code, "SIGNING_CANCELLED");
  const twice = await h.app.inject({ method: "POST", url: `/signatures/${one}/cancel`, headers: bearer(s.consumer.token), payload: {} });
  t.equal(twice.json().code, "SIGNING_CANCELLED");

  const two = await createRequest(s, [[signer(a!)]]);
  const three = await createRequest(s, [[signer(b!)]]);
  h.clock.advance(8 * 86_400_000);
  a!.token = await h.holderToken(a!.code);
  b!.token = await h.holderToken(b!.code);
  const tok = await h.app.inject({ method: "POST", url: "/oauth/token", payload: { grant_type: "client_credentials", client_id: s.consumer.id, client_secret: s.consumer.secret } });
  s.consumer.token = tok.json().access_token;
  const late = await h.app.inject({ method: "POST", url: `/signatures/${two}/decline`, headers: bearer(a!.token), payload: { reason: "x" } });
  t.equal(late.statusCode, 409);
  t.equal(late.json().code, "SIGNING_EXPIRED");
  t.equal((await h.app.inject({ url: `/signatures/${two}`, headers: bearer(a!.token) })).json().status, "expired", "recorded when first noticed");
  t.same((await h.app.inject({ url: "/holders/me/signatures", headers: bearer(b!.token) })).json().items, [], "an overdue request waits for nobody");
  t.equal(await h.ctx.signatures.expireDue(), 1, "the sweep expires the other one");
  t.equal((await h.app.inject({ url: `/signatures/${three}`, headers: bearer(s.consumer.token) })).json().status, "expired");
  t.same(await events(h, `signing:${three}`), ["signing.created", "signing.sent", "signing.expired"]);
  t.same(await events(h, `signing:${one}`), ["signing.created", "signing.sent", "signing.cancelled"]);
});

t.test("the waiting list filters before its limit: newer requests that wait for nobody do not hide an older one", async (t) => {
  const s = await setup(t, 2);
  const { h, people: [a, b] } = s;
  const old = await createRequest(s, [[signer(a!)]]);
  const newer: string[] = [];
  for (let i = 0; i < 3; i++) {
    h.clock.advance(1000);
    const id = await createRequest(s, [[signer(a!)]]);
    const c = await h.app.inject({ method: "POST", url: `/signatures/${id}/cancel`, headers: bearer(s.consumer.token), payload: {} });
    t.equal(c.statusCode, 200, c.body);
    newer.push(id);
  }
  // One more, a's turn only after b: a's part in it is not pending.
  h.clock.advance(1000);
  const later = await createRequest(s, [[signer(b!)], [signer(a!)]]);
  const list = async (q: string) => (await h.app.inject({ url: `/holders/me/signatures?${q}`, headers: bearer(a!.token) })).json().items.map((i: { id: string }) => i.id);
  t.same(await list("which=waiting&limit=2"), [old], "the only request waiting for a, though three newer cancelled ones were pending for a");
  t.same(await list("which=waiting&limit=1"), [old]);
  t.same(await list("which=all&limit=2"), [later, newer[2]], "all: newest first, whatever their state");
  const all = (await h.app.inject({ url: "/holders/me/signatures?which=all", headers: bearer(a!.token) })).json().items;
  t.same(all.map((i: { id: string; status: string; myStatus: string; group: number }) => [i.id, i.status, i.myStatus, i.group]),
    [[later, "in_progress", "waiting", 2], ...[...newer].reverse().map((id) => [id, "cancelled", "pending", 1]), [old, "in_progress", "pending", 1]]);
});

t.test("bad input: codes, placements, participants, roles", async (t) => {
  const s = await setup(t, 2);
  const { h, people: [a, b] } = s;
  const post = (payload: unknown, token = s.consumer.token) => h.app.inject({ method: "POST", url: "/signatures", headers: bearer(token), payload: payload as object });
  const cases: Array<[string, unknown, number, string]> = [
    ["bad citizen ID", body(s, [[{ ...signer(a!), holderCode: a!.code.slice(0, 17) + (a!.code.endsWith("1") ? "2" : "1") }]]), 400, "HOLDER_CODE_INVALID"],
    ["organisation code type", body(s, [[{ ...signer(a!), holderCodeType: "001" }]]), 400, "HOLDER_CODE_TYPE_INVALID"],
    ["actingFor not a USCC", body(s, [[{ ...signer(a!), actingFor: "91350100000000000X" }]]), 400, "USCC_INVALID"],
    ["signer without placement", body(s, [[{ name: "张三", holderCode: a!.code, holderCodeType: "111", role: "signer" }]]), 400, "VALIDATION_FAILED"],
    ["same person twice", body(s, [[signer(a!)], [signer(a!)]]), 400, "VALIDATION_FAILED"],
    ["group of copies only", body(s, [[signer(a!)], [signer(b!, undefined, "copy")]]), 400, "VALIDATION_FAILED"],
    ["expired already", body(s, [[signer(a!)]], { expiresAt: new Date(h.clock.now().getTime() - 1000).toISOString() }), 400, "VALIDATION_FAILED"],
    ["too far", body(s, [[signer(a!)]], { expiresAt: new Date(h.clock.now().getTime() + 400 * 86_400_000).toISOString() }), 400, "VALIDATION_FAILED"],
    ["matter not served", body(s, [[signer(a!)]], { matterCode: "M-9999" }), 403, "FORBIDDEN_MATTER"],
    ["control character in title", body(s, [[signer(a!)]], { title: "a\u202eb" }), 400, "VALIDATION_FAILED"],
    ["no groups", body(s, []), 400, "VALIDATION_FAILED"],
  ];
  for (const [what, payload, status, code] of cases) {
    const res = await post(payload);
    t.equal(res.statusCode, status, `${what}: ${res.body}`);
    t.equal(res.json().code, code, what);
  }
  // Issuers may initiate for their department; an issuer of another department does not see it
  const dept = await h.department();
  const issuer = await h.client("issuer", { departmentId: dept.id });
  const colleague = await h.client("issuer", { departmentId: dept.id });
  const foreign = await h.client("issuer", { departmentId: (await h.department("乙局")).id });
  const res = await post(body(s, [[signer(a!)]], { matterCode: undefined }), issuer.token);
  t.equal(res.statusCode, 201, res.body);
  t.equal(res.json().departmentId, dept.id);
  t.equal((await h.app.inject({ url: `/signatures/${res.json().id}`, headers: bearer(colleague.token) })).statusCode, 200, "the department's issuers see it");
  t.equal((await h.app.inject({ url: `/signatures/${res.json().id}`, headers: bearer(foreign.token) })).statusCode, 404);
  // Placement checks at send
  const missing = await h.app.inject({ method: "POST", url: "/signatures", headers: bearer(s.consumer.token), payload: body(s, [[signer(a!, { placeholder: "[[NOWHERE]]", widthMm: 40, heightMm: 15 })]]) });
  const id = missing.json().id;
  await h.app.inject({ method: "PUT", url: `/signatures/${id}/document`, headers: { ...bearer(s.consumer.token), "content-type": "application/pdf" }, payload: makePdf() });
  const send = await h.app.inject({ method: "POST", url: `/signatures/${id}/send`, headers: bearer(s.consumer.token) });
  t.equal(send.statusCode, 422);
  t.equal(send.json().code, "PDF_ANCHOR_NOT_FOUND");
  const far = await h.app.inject({ method: "POST", url: "/signatures", headers: bearer(s.consumer.token), payload: body(s, [[signer(a!, { page: 9, xMm: 1, yMm: 1, widthMm: 40, heightMm: 15 })]]) });
  await h.app.inject({ method: "PUT", url: `/signatures/${far.json().id}/document`, headers: { ...bearer(s.consumer.token), "content-type": "application/pdf" }, payload: makePdf() });
  t.equal((await h.app.inject({ method: "POST", url: `/signatures/${far.json().id}/send`, headers: bearer(s.consumer.token) })).json().code, "PDF_PAGE_NOT_FOUND");
  const junk = await h.app.inject({ method: "PUT", url: `/signatures/${far.json().id}/document`, headers: { ...bearer(s.consumer.token), "content-type": "application/pdf" }, payload: Buffer.from("not a pdf") });
  t.equal(junk.statusCode, 422);
  t.equal(junk.json().code, "PDF_INVALID");
});
