/**
 * 免证办: the consumer query's authorisation (matter binding, matter ↔ type, consent: none, granted, expired,
 * revoked, another client's; consent-exempt matters), input validation, the access log in the database, the
 * transparency log and the holder's "who used my licences", and the use-annotated copy link.
 */
import { compactVerify, importX509 } from "jose";
import t from "tap";
import { createContext } from "../../src/context.js";
import { HOLDER_ANSWER_MAX } from "../../src/modules/licences/index.js";
import { bearer, citizenId, issued, personLicence, world } from "./helpers.js";

t.test("免证办 query", async (t) => {
  const w = await world(t);
  const code = citizenId(901);
  const lic = await issued(w, personLicence(w, 901));
  await issued(w, personLicence(w, 902)); // another holder
  const q = (body: object, token = w.tokens.consumer) => w.h.app.inject({ method: "POST", url: "/holders/licences:query", headers: bearer(token), payload: body });
  const base = { holderCode: code, holderCodeType: "111", matterCode: w.matter, useCause: "办理食品经营许可变更" };
  const holder = await w.h.holderToken(code);

  t.equal((await q(base)).json().code, "CONSENT_REQUIRED", "no consent → refused");
  const size0 = await w.h.ctx.tlog.size();

  // the holder grants consent
  const g = await w.h.app.inject({ method: "POST", url: "/holders/me/consents", headers: bearer(holder), payload: { clientId: w.consumerId, matterCode: w.matter, days: 30 } });
  t.equal(g.statusCode, 201, g.body);
  const consentId = g.json().id;
  t.equal(await w.h.ctx.tlog.size(), size0 + 1, "the consent is logged");

  const ok = await q(base);
  t.equal(ok.statusCode, 200, ok.body);
  const body = ok.json();
  t.equal(body.basis, "consent");
  t.equal(body.items.length, 1, "only this holder's licences");
  t.equal(body.items[0].identifier, lic.identifier);
  t.equal(body.items[0].data.holder.code, code, "the entitled consumer gets the licence data");
  t.equal(body.items[0].jws, lic.jws);
  t.match(body.items[0].copy.url, /\/copies\//);
  // The answer is joined from kept bytes: it is exactly what the response schema lists, the licence as issued.
  t.match(ok.headers["content-type"], /^application\/json; charset=utf-8/);
  t.same(Object.keys(body), ["accessId", "basis", "truncated", "items"]);
  t.same(Object.keys(body.items[0]), ["identifier", "typeCode", "name", "version", "status", "statusText", "validFrom", "validUntil", "data", "jws", "copy"]);
  t.same(body.items[0].data, JSON.parse(Buffer.from(lic.jws.split(".")[1]!, "base64url").toString()), "data is the signed payload");
  t.match(body.items[0], { typeCode: w.personType, name: lic.data.name, version: "001", status: "01", statusText: "有效 (valid)", validFrom: lic.data.validFrom, validUntil: lic.data.validUntil });
  t.same(Object.keys(body.items[0].copy), ["url", "expiresAt"]);
  t.ok(!Number.isNaN(Date.parse(body.items[0].copy.expiresAt)));
  const again = (await q(base)).json();
  t.not(again.accessId, body.accessId, "each query is its own access");
  t.not(again.items[0].copy.url, body.items[0].copy.url, "with its own copy link");
  t.same({ ...again.items[0], copy: null }, { ...body.items[0], copy: null }, "the licence part is the same");

  // recorded: access log row + transparency log entry naming the holder by hash only
  const row = (await w.h.sql.get("SELECT * FROM access_log WHERE id = ?", [body.accessId])) as Record<string, unknown>;
  t.ok(row, "access log row");
  t.equal(row.client_id, w.consumerId);
  t.equal(row.matter_code, w.matter);
  t.notMatch(JSON.stringify(row), "办理食品经营许可变更", "the use cause is encrypted at rest");
  const entry = await w.h.ctx.tlog.getEntry(row.log_index as number);
  t.equal(entry.event.type, "licence.accessed");
  t.equal(entry.event.holder, w.h.ctx.pii.lookupHash("111", code));
  t.same(entry.event.data.licences, [lic.identifier]);
  t.notMatch(entry.leaf, code);

  t.test("refusals", async (t) => {
    const cases: Array<[string, object, string, string?]> = [
      ["a matter the consumer does not serve", { ...base, matterCode: w.foreignMatter }, "FORBIDDEN_MATTER"],
      ["a type the matter may not use", { ...base, matterCode: w.exemptMatter, typeCodes: [w.orgType] }, "FORBIDDEN_MATTER"],
      ["an unknown matter the client is bound to", { ...base, matterCode: "NOPE" }, "FORBIDDEN_MATTER"],
      ["bad check digit", { ...base, holderCode: code.slice(0, 17) + (code[17] === "1" ? "2" : "1") }, "HOLDER_CODE_INVALID"],
      ["unknown code type", { ...base, holderCodeType: "777" }, "HOLDER_CODE_TYPE_INVALID"],
      ["no use cause", { holderCode: code, holderCodeType: "111", matterCode: w.matter }, "VALIDATION_FAILED"],
      ["use cause over 200 characters", { ...base, useCause: "因".repeat(201) }, "VALIDATION_FAILED"],
      // Drawn on the 加注件 and shown to the holder: one line, read as written.
      ["a use cause over two lines", { ...base, useCause: "核查\n本件可他用" }, "VALIDATION_FAILED"],
      ["a right-to-left override in the use cause", { ...base, useCause: "核查\u202e用他可件本" }, "VALIDATION_FAILED"],
      ["a line separator in the use cause", { ...base, useCause: "核查\u2028本件可他用" }, "VALIDATION_FAILED"],
    ];
    for (const [name, b, c] of cases) t.equal((await q(b)).json().code, c, `${name} → ${c}`);
    t.equal((await q(base, w.tokens.otherConsumer)).json().code, "CONSENT_REQUIRED", "consent to one client does not cover another");
    t.equal((await q(base, w.tokens.issuer)).json().code, "FORBIDDEN_ROLE");
  });

  t.test("consent-exempt matter", async (t) => {
    const r = await q({ holderCode: citizenId(902), holderCodeType: "111", matterCode: w.exemptMatter, useCause: "行政处罚案件调查" });
    t.equal(r.statusCode, 200);
    t.equal(r.json().basis, "exempt");
    t.equal(r.json().items.length, 1);
  });

  t.test("the copy link (加注件)", async (t) => {
    const url = new URL(body.items[0].copy.url);
    const r = await w.h.app.inject({ url: url.pathname, headers: bearer(w.tokens.consumer) });
    t.equal(r.statusCode, 200, r.body);
    const c = r.json();
    t.match(c.annotation, { consumer: { clientId: w.consumerId }, matter: { code: w.matter }, useCause: "办理食品经营许可变更" });
    const header = JSON.parse(Buffer.from(c.copy.split(".")[0], "base64url").toString());
    const key = await importX509(`-----BEGIN CERTIFICATE-----\n${header.x5c[0]}\n-----END CERTIFICATE-----`, "ES256");
    const p = JSON.parse(Buffer.from((await compactVerify(c.copy, key)).payload).toString());
    t.equal(p.licence, lic.jws, "the copy carries the original licence JWS");
    t.equal(p.annotation.validUntil, body.items[0].copy.expiresAt);
    t.equal((await w.h.app.inject({ url: url.pathname, headers: bearer(w.tokens.otherConsumer) })).json().code, "COPY_LINK_INVALID", "another client cannot use the link");
    const forged = url.pathname.replace(/.$/, (ch) => (ch === "A" ? "B" : "A"));
    t.equal((await w.h.app.inject({ url: forged, headers: bearer(w.tokens.consumer) })).json().code, "COPY_LINK_INVALID", "a forged link");
  });

  t.test("the holder sees who used their licences", async (t) => {
    const r = await w.h.app.inject({ url: "/holders/me/accesses", headers: bearer(holder) });
    t.equal(r.statusCode, 200);
    const items = r.json().items;
    t.ok(items.length >= 1);
    t.match(items[items.length - 1], { client: { id: w.consumerId }, matter: { code: w.matter }, useCause: "办理食品经营许可变更", licences: [lic.identifier], basis: "consent" });
    const stranger = await w.h.holderToken(citizenId(903));
    t.same((await w.h.app.inject({ url: "/holders/me/accesses", headers: bearer(stranger) })).json().items, [], "another holder sees nothing");
    const mine = await w.h.app.inject({ url: "/holders/me/licences", headers: bearer(holder) });
    t.same(mine.json().items.map((l: { identifier: string }) => l.identifier), [lic.identifier]);
    const consents = await w.h.app.inject({ url: "/holders/me/consents", headers: bearer(holder) });
    t.match(consents.json().items, [{ id: consentId, status: "active", clientId: w.consumerId }]);
    t.equal((await w.h.app.inject({ method: "DELETE", url: `/holders/me/consents/${consentId}`, headers: bearer(stranger) })).json().code, "CONSENT_NOT_FOUND", "only the holder can revoke");
    const badGrant = await w.h.app.inject({ method: "POST", url: "/holders/me/consents", headers: bearer(holder), payload: { clientId: w.consumerId, matterCode: w.foreignMatter } });
    t.equal(badGrant.json().code, "FORBIDDEN_MATTER", "consent only for a matter the client serves");
    const noClient = await w.h.app.inject({ method: "POST", url: "/holders/me/consents", headers: bearer(holder), payload: { clientId: "nobody-here", matterCode: w.matter } });
    t.equal(noClient.json().code, "CLIENT_NOT_FOUND");
  });

  t.test("revoked consent", async (t) => {
    const r = await w.h.app.inject({ method: "DELETE", url: `/holders/me/consents/${consentId}`, headers: bearer(holder) });
    t.equal(r.json().status, "revoked");
    t.equal((await q(base)).json().code, "CONSENT_REQUIRED");
  });

  t.test("expired consent", async (t) => {
    const h2 = await w.h.holderToken(code);
    const g2 = await w.h.app.inject({ method: "POST", url: "/holders/me/consents", headers: bearer(h2), payload: { clientId: w.consumerId, matterCode: w.matter, days: 1 } });
    t.equal(g2.statusCode, 201);
    t.equal((await q(base)).statusCode, 200, "valid while unexpired");
    const copyUrl = new URL((await q(base)).json().items[0].copy.url).pathname;
    w.h.clock.advance(2 * 86_400_000);
    const token = await w.token(w.consumerId, w.consumerSecret);
    t.equal((await q(base, token)).json().code, "CONSENT_REQUIRED", "expired consent → refused");
    t.equal((await w.h.app.inject({ url: copyUrl, headers: bearer(token) })).json().code, "COPY_LINK_INVALID", "the copy link expired too");
    const list = await w.h.app.inject({ url: "/holders/me/consents", headers: bearer(await w.h.holderToken(code)) });
    t.same(list.json().items.map((c: { status: string }) => c.status).sort(), ["expired", "revoked"]);
  });
});

t.test("group commit: concurrent queries are all recorded", async (t) => {
  const w = await world(t);
  const code = citizenId(950);
  await issued(w, personLicence(w, 950));
  const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => w.h.app.inject({
    method: "POST", url: "/holders/licences:query", headers: bearer(w.tokens.consumer),
    payload: { holderCode: code, holderCodeType: "111", matterCode: w.exemptMatter, useCause: `调查 ${i}` },
  })));
  t.ok(rs.every((r) => r.statusCode === 200));
  const n = (await w.h.sql.get("SELECT COUNT(*) AS n, COUNT(DISTINCT log_index) AS d FROM access_log")) as { n: number; d: number };
  t.same(n, { n: 50, d: 50 }, "50 rows, 50 distinct log entries");
});

t.test("the query's kept holder records never hide a change", async (t) => {
  const w = await world(t);
  const code = citizenId(931);
  const first = await issued(w, personLicence(w, 931));
  const q = async () => {
    const r = await w.h.app.inject({ method: "POST", url: "/holders/licences:query", headers: bearer(w.tokens.consumer), payload: { holderCode: code, holderCodeType: "111", matterCode: w.exemptMatter, useCause: "行政检查" } });
    t.equal(r.statusCode, 200, r.body);
    return (r.json() as { items: Array<{ identifier: string; status: string; version: string }> }).items;
  };
  const act = (id: string, url: string, payload: object) => w.h.app.inject({ method: "POST", url: `/licences/${id}/${url}`, headers: bearer(w.tokens.issuer), payload });
  t.same((await q()).map((i) => i.status), ["01"]);
  t.same((await q()).map((i) => i.status), ["01"], "kept while nothing changed");

  // This process's writes show at once: a status change, a new version, a new licence for the same holder.
  t.equal((await act(first.identifier, "status", { action: "suspend", reason: "暂扣" })).statusCode, 200);
  t.same((await q()).map((i) => i.status), ["02"], "suspended");
  t.equal((await act(first.identifier, "status", { action: "resume", reason: "恢复" })).statusCode, 200);
  const changed = await act(first.identifier, "versions", { reason: "变更经营项目", fields: { scope: "散装食品销售" } });
  t.equal(changed.statusCode, 201, changed.body);
  const v2 = changed.json().identifier as string;
  t.same((await q()).map((i) => i.identifier), [v2], "the new version replaces the superseded one");
  const second = await issued(w, personLicence(w, 931, { number: "JY-SECOND" }));
  t.same((await q()).map((i) => i.identifier).sort(), [v2, second.identifier].sort(), "a new licence of the holder shows");

  // Another process's write shows within the change mark's lag (20 ms).
  const other = await createContext(w.h.ctx.config, { autoCheckpoint: false, autoExpire: false });
  t.teardown(() => other.close());
  await other.licences.transition(second.identifier, "revoke", "吊销（另一进程）", { kind: "system", name: "test" });
  await new Promise((r) => setTimeout(r, 30));
  const after = await q();
  t.equal(after.find((i) => i.identifier === second.identifier)?.status, "07", "revoked by another process: shown");

  // The holder's own list reads the same kept records.
  const holder = await w.h.holderToken(code);
  const mine = await w.h.app.inject({ method: "GET", url: "/holders/me/licences", headers: bearer(holder) });
  t.equal(mine.statusCode, 200, mine.body);
  const items = (mine.json() as { items: Array<{ identifier: string; status: string }> }).items;
  t.same(items.map((i) => `${i.identifier} ${i.status}`).sort(), [`${v2} 01`, `${second.identifier} 07`].sort(), "the holder's own list: current versions, as they are now");
});

t.test("a kept answer follows the date: a licence whose validity ends shows as expired the day after, with no write", async (t) => {
  const w = await world(t);
  const code = citizenId(940);
  const today = new Date(w.h.clock.now().getTime() + 8 * 3600_000).toISOString().slice(0, 10);
  const lic = await issued(w, personLicence(w, 940, { validFrom: "2024-01-01", validUntil: today }));
  let token = w.tokens.consumer;
  const q = async () => {
    const r = await w.h.app.inject({ method: "POST", url: "/holders/licences:query", headers: bearer(token), payload: { holderCode: code, holderCodeType: "111", matterCode: w.exemptMatter, useCause: "行政检查" } });
    t.equal(r.statusCode, 200, r.body);
    return (r.json() as { items: Array<{ identifier: string; status: string; statusText: string }> }).items;
  };
  t.same((await q()).map((i) => [i.identifier, i.status]), [[lic.identifier, "01"]]);
  t.same((await q()).map((i) => i.status), ["01"], "answered from what is kept");
  w.h.clock.advance(2 * 86_400_000);
  token = await w.token(w.consumerId, w.consumerSecret);
  const later = await q();
  t.same(later.map((i) => i.status), ["05"], "expired once its last day has passed");
  t.match(later[0]!.statusText, /失效|expired/i);
});

t.test("a holder with more current licences than one answer lists: the first 500 by identifier, and it says so", async (t) => {
  const w = await world(t);
  const code = citizenId(950);
  const n = HOLDER_ANSWER_MAX + 3;
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify(personLicence(w, 950, { number: `N${i}` }))).join("\n");
  const res = await w.h.app.inject({ method: "POST", url: "/licences:batch", headers: { ...bearer(w.tokens.issuer), "content-type": "application/x-ndjson" }, payload: lines });
  t.equal(res.json().summary.issued, n);
  const all = (res.json().results as Array<{ identifier: string }>).map((r) => r.identifier).sort();
  const holder = await w.h.holderToken(code);
  const mine = (await w.h.app.inject({ url: "/holders/me/licences", headers: bearer(holder) })).json();
  t.equal(mine.truncated, true, "the holder is told the list is cut");
  t.same(mine.items.map((i: { identifier: string }) => i.identifier), all.slice(0, HOLDER_ANSWER_MAX), "the first 500 by identifier");
  t.equal(mine.next, all[HOLDER_ANSWER_MAX - 1], "and where the next page starts");
  const page = async (q: string) => (await w.h.app.inject({ url: `/holders/me/licences?${q}`, headers: bearer(holder) })).json();
  const rest = await page(`after=${encodeURIComponent(mine.next)}`);
  t.same(rest.items.map((i: { identifier: string }) => i.identifier), all.slice(HOLDER_ANSWER_MAX), "the rest, after it");
  t.equal(rest.truncated, false);
  t.notOk("next" in rest, "no next page");
  const two = await page("limit=2");
  t.same(two.items.map((i: { identifier: string }) => i.identifier), all.slice(0, 2));
  t.equal(two.truncated, true);
  const more = await page(`limit=2&after=${encodeURIComponent(two.next)}`);
  t.same(more.items.map((i: { identifier: string }) => i.identifier), all.slice(2, 4), "pages of two follow on");
  t.equal((await w.h.app.inject({ url: "/holders/me/licences?limit=501", headers: bearer(holder) })).json().code, "VALIDATION_FAILED");

  const q = await w.h.app.inject({ method: "POST", url: "/holders/licences:query", headers: bearer(w.tokens.consumer), payload: { holderCode: code, holderCodeType: "111", matterCode: w.exemptMatter, useCause: "行政处罚调查" } });
  t.equal(q.statusCode, 200, q.body.slice(0, 200));
  t.equal(q.json().truncated, true, "so is the consumer");
  t.equal(q.json().items.length, HOLDER_ANSWER_MAX);
  const row = (await w.h.sql.get("SELECT identifiers FROM access_log WHERE id = ?", [q.json().accessId])) as { identifiers: string };
  t.equal(JSON.parse(row.identifiers).length, HOLDER_ANSWER_MAX, "the access record names what was handed over");

  // Superseded versions do not count: a change leaves the holder with the same number of current licences.
  const other = citizenId(951);
  const a = await issued(w, personLicence(w, 951));
  await issued(w, personLicence(w, 951, { number: "second" }));
  const ch = await w.h.app.inject({ method: "POST", url: `/licences/${a.identifier}/versions`, headers: bearer(w.tokens.issuer), payload: { reason: "变更经营项目", fields: { scope: "热食类食品制售" } } });
  t.equal(ch.statusCode, 201, ch.body.slice(0, 200));
  const theirs = (await w.h.app.inject({ url: "/holders/me/licences", headers: bearer(await w.h.holderToken(other)) })).json();
  t.equal(theirs.truncated, false);
  t.equal(theirs.items.length, 2, "two current licences, the superseded version left out");
  t.notOk(theirs.items.some((i: { identifier: string }) => i.identifier === a.identifier));
});
