/**
 * Lifecycle: the whole transition table (allowed → new status, signed statement, log entry, history; not allowed
 * → 409 LICENCE_TRANSITION_INVALID), change (new version superseding the old), automatic expiry, online status and
 * the signed status list (ETag, decoding the bitstring).
 */
import { gunzipSync } from "node:zlib";
import { compactVerify, importX509 } from "jose";
import t from "tap";
import { createContext } from "../../src/context.js";
import { TRANSITIONS, type LicenceStatus, type ManualAction } from "../../src/modules/licences/index.js";
import { ADMIN_ACTOR, makeUscc } from "../helpers/app.js";
import { bearer, issue, issued, personLicence, revokeSigningCerts, world, type World } from "./helpers.js";

let n = 500;
async function licenceIn(w: World, status: LicenceStatus): Promise<string> {
  const l = await issued(w, personLicence(w, n++));
  const act = async (action: ManualAction) => {
    const r = await w.h.app.inject({ method: "POST", url: `/licences/${l.identifier}/status`, headers: bearer(w.tokens.issuer), payload: { action, reason: "测试" } });
    if (r.statusCode !== 200) throw new Error(`${action}: ${r.body}`);
  };
  if (status === "02") await act("suspend");
  if (status === "03") await act("cancel");
  if (status === "04") await act("deregister");
  if (status === "07") await act("revoke");
  if (status === "99") {
    const r = await w.h.app.inject({ method: "POST", url: `/licences/${l.identifier}/versions`, headers: bearer(w.tokens.issuer), payload: { reason: "变更经营项目", fields: { scope: "散装食品销售" } } });
    if (r.statusCode !== 201) throw new Error(r.body);
  }
  return l.identifier;
}

t.test("transition table", async (t) => {
  const w = await world(t);
  const statuses: LicenceStatus[] = ["01", "02", "03", "04", "07", "99"];
  const actions = Object.keys(TRANSITIONS) as ManualAction[];
  const expected: Record<string, Record<ManualAction, LicenceStatus | 409>> = {
    "01": { suspend: "02", resume: 409, cancel: "03", deregister: "04", revoke: "07" },
    "02": { suspend: 409, resume: "01", cancel: "03", deregister: "04", revoke: "07" },
    "03": { suspend: 409, resume: 409, cancel: 409, deregister: 409, revoke: 409 },
    "04": { suspend: 409, resume: 409, cancel: 409, deregister: 409, revoke: 409 },
    "07": { suspend: 409, resume: 409, cancel: 409, deregister: 409, revoke: 409 },
    "99": { suspend: 409, resume: 409, cancel: 409, deregister: 409, revoke: 409 },
  };
  for (const from of statuses) {
    for (const action of actions) {
      const id = await licenceIn(w, from);
      const size = await w.h.ctx.tlog.size();
      const r = await w.h.app.inject({ method: "POST", url: `/licences/${id}/status`, headers: bearer(w.tokens.issuer), payload: { action, reason: "依法处理" } });
      const want = expected[from]![action];
      if (want === 409) {
        t.equal(r.statusCode, 409, `${from} --${action}--> 409`);
        t.equal(r.json().code, "LICENCE_TRANSITION_INVALID");
        t.same(r.json().details, { from, action });
        t.equal(await w.h.ctx.tlog.size(), size, "nothing logged");
      } else {
        t.equal(r.statusCode, 200, `${from} --${action}--> ${want}`);
        t.equal(r.json().status, want);
        t.equal(await w.h.ctx.tlog.size(), size + 1, "one log entry");
        const e = await w.h.ctx.tlog.getEntry(size);
        t.match(e.event, { type: "licence.status-changed", data: { id, action, from, to: want } });
      }
    }
  }
  // change is allowed from valid only
  for (const from of ["02", "03", "07", "99"] as LicenceStatus[]) {
    const id = await licenceIn(w, from);
    const r = await w.h.app.inject({ method: "POST", url: `/licences/${id}/versions`, headers: bearer(w.tokens.issuer), payload: { reason: "x" } });
    t.equal(r.json().code, "LICENCE_TRANSITION_INVALID", `change from ${from} → 409`);
  }
  const id = await licenceIn(w, "01");
  const noReason = await w.h.app.inject({ method: "POST", url: `/licences/${id}/status`, headers: bearer(w.tokens.issuer), payload: { action: "revoke" } });
  t.equal(noReason.json().code, "VALIDATION_FAILED", "revocation needs a reason");
  const foreign = await w.h.app.inject({ method: "POST", url: `/licences/${id}/status`, headers: bearer(w.tokens.otherIssuer), payload: { action: "revoke", reason: "x" } });
  t.equal(foreign.json().code, "LICENCE_NOT_FOUND", "another department cannot revoke it (nor learn that it exists)");
  // A wrong check character (never the right one: "0" was, for 1 licence in 36, and the test then revoked it).
  const wrong = id.endsWith(".0") ? "1" : "0";
  const unknown = await w.h.app.inject({ method: "POST", url: `/licences/${id.replace(/\.[0-9A-Z]$/, `.${wrong}`)}/status`, headers: bearer(w.tokens.issuer), payload: { action: "revoke", reason: "x" } });
  t.ok(["LICENCE_ID_INVALID", "LICENCE_NOT_FOUND"].includes(unknown.json().code), "a bad identifier is refused");
});

t.test("change, history and signed statements", async (t) => {
  const w = await world(t);
  const l = await issued(w, personLicence(w, 700));
  const r = await w.h.app.inject({ method: "POST", url: `/licences/${l.identifier}/versions`, headers: bearer(w.tokens.issuer), payload: { reason: "变更经营项目", fields: { scope: "散装食品销售", category: "餐饮服务经营者" } } });
  t.equal(r.statusCode, 201, r.body);
  const v2 = r.json();
  t.equal(v2.version, "002");
  t.equal(v2.supersedes, l.identifier);
  t.equal(v2.data.fields.scope, "散装食品销售");
  t.equal(v2.identifier.split(".").slice(0, -2).join("."), l.identifier.split(".").slice(0, -2).join("."), "same serial, new version");
  const bad = await w.h.app.inject({ method: "POST", url: `/licences/${v2.identifier}/versions`, headers: bearer(w.tokens.issuer), payload: { reason: "x", fields: { scope: 1 } } });
  t.equal(bad.json().code, "FIELDS_INVALID", "a change is validated against the type");
  for (const [payload, code] of [
    [{ reason: "x", fields: { scope: [["nested"]] } }, "FIELDS_INVALID"],
    [{ reason: "x", holderName: "张\u202e三" }, "VALIDATION_FAILED"],
    [{ reason: "x\u0000" }, "VALIDATION_FAILED"],
    [{ reason: "x", number: "N\ud800" }, "VALIDATION_FAILED"],
  ] as const) {
    const r = await w.h.app.inject({ method: "POST", url: `/licences/${v2.identifier}/versions`, headers: bearer(w.tokens.issuer), payload });
    t.equal(r.json().code, code, JSON.stringify(payload));
  }

  const old = await w.h.app.inject({ url: `/licences/${l.identifier}`, headers: bearer(w.tokens.issuer) });
  t.equal(old.json().status, "99", "the old version is kept, superseded");
  t.equal(old.json().supersededBy, v2.identifier);

  await w.h.app.inject({ method: "POST", url: `/licences/${v2.identifier}/status`, headers: bearer(w.tokens.issuer), payload: { action: "suspend", reason: "暂扣" } });
  await w.h.app.inject({ method: "POST", url: `/licences/${v2.identifier}/status`, headers: bearer(w.tokens.issuer), payload: { action: "resume" } });
  const hist = await w.h.app.inject({ url: `/licences/${v2.identifier}/history`, headers: bearer(w.tokens.admin) });
  t.equal(hist.statusCode, 200);
  const versions = hist.json().versions;
  t.same(versions.map((v: { version: string; status: string }) => [v.version, v.status]), [["001", "99"], ["002", "01"]]);
  t.same(versions[0].events.map((e: { action: string }) => e.action), ["supersede"]);
  t.same(versions[1].events.map((e: { action: string; from: string; to: string }) => [e.action, e.from, e.to]), [["suspend", "01", "02"], ["resume", "02", "01"]]);
  // each statement is a JWS signed by the department's certificate
  const st = versions[1].events[0].statement as string;
  const header = JSON.parse(Buffer.from(st.split(".")[0]!, "base64url").toString());
  const key = await importX509(`-----BEGIN CERTIFICATE-----\n${header.x5c[0]}\n-----END CERTIFICATE-----`, "ES256");
  const { payload } = await compactVerify(st, key);
  t.match(JSON.parse(Buffer.from(payload).toString()), { id: v2.identifier, action: "suspend", from: "01", to: "02", reason: "暂扣" });
  const entry = await w.h.ctx.tlog.getEntry(versions[1].events[0].logIndex);
  t.equal(entry.event.type, "licence.status-changed");
});

t.test("a transition signed while two others came and went is refused, not stored under a taken seq", async (t) => {
  const w = await world(t);
  const actor = { kind: "system" as const, name: "test" };
  for (const late of ["revoke", "change"] as const) {
    const lic = await issued(w, personLicence(w, late === "revoke" ? 760 : 761));
    // Hold the late request after it read the licence's last seq, until a suspend and a resume have committed:
    // the status is then what it read (01), but seq + 1 is taken.
    const repo = w.h.ctx.uow.read.licences;
    const orig = repo.lastEventSeq;
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let held = false;
    repo.lastEventSeq = async (id: string) => {
      const seq = await orig.call(repo, id);
      if (!held && id === lic.identifier) {
        held = true;
        await gate;
      }
      return seq;
    };
    const p = late === "revoke"
      ? w.h.ctx.licences.transition(lic.identifier, "revoke", "吊销", actor)
      : w.h.ctx.licences.change(lic.identifier, { reason: "变更", fields: { scope: "散装食品销售" } } as never, actor);
    const outcome = p.then(() => "stored", (e: { code?: string }) => e.code ?? String(e));
    for (let i = 0; !held && i < 10_000; i++) await new Promise((r) => setImmediate(r));
    if (!held) {
      repo.lastEventSeq = orig;
      open();
      t.fail(`${late}: the request never read the licence's last seq`);
      continue;
    }
    repo.lastEventSeq = orig;
    await w.h.ctx.licences.transition(lic.identifier, "suspend", "暂扣", actor);
    await w.h.ctx.licences.transition(lic.identifier, "resume", null, actor);
    open();
    t.equal(await outcome, "LICENCE_TRANSITION_INVALID", `${late}: 409 'changed meanwhile' (it was an INTERNAL primary-key error)`);
    const hist = await w.h.app.inject({ url: `/licences/${lic.identifier}/history`, headers: bearer(w.tokens.admin) });
    t.same(hist.json().versions.at(-1).events.map((e: { action: string; seq?: number }) => e.action), ["suspend", "resume"], "history holds the two that committed");
    t.equal((await w.h.app.inject({ url: `/licences/${lic.identifier}`, headers: bearer(w.tokens.issuer) })).json().status, "01");
  }
});

t.test("a change is refused when another instance withdrew the department's grant after this one read the catalogue", async (t) => {
  const w = await world(t);
  const l = await issued(w, personLicence(w, 762));
  await w.h.ctx.catalogue.getType(w.personType);
  // A second instance on the same database: its catalogue change does not reach this one's cache at once.
  const other = await createContext(w.h.ctx.config, { clock: w.h.clock, autoCheckpoint: false, autoExpire: false });
  t.teardown(() => other.close());
  w.h.clock.advance(1000);
  await other.catalogue.updateType(w.personType, { issuers: [w.other.id] }, ADMIN_ACTOR);
  w.h.clock.advance(1000);
  const ch = await w.h.app.inject({ method: "POST", url: `/licences/${l.identifier}/versions`, headers: bearer(w.tokens.issuer), payload: { reason: "变更", fields: { scope: "散装食品销售" } } });
  t.equal(ch.statusCode, 403, ch.body);
  t.equal(ch.json().code, "LICENCE_TYPE_NOT_ALLOWED");
  const v = await w.h.app.inject({ method: "POST", url: "/verify", payload: { identifier: l.identifier } });
  t.equal(v.json().result, "VALID", "the old version stays valid (it was superseded by a version that verified INVALID)");
});

t.test("automatic expiry, online status and the status list", async (t) => {
  const w = await world(t);
  const a = await issued(w, personLicence(w, 800, { validFrom: "2020-01-01", validUntil: "2020-12-31" }));
  const b = await issued(w, personLicence(w, 801));
  const c = await issued(w, personLicence(w, 802));
  await w.h.app.inject({ method: "POST", url: `/licences/${c.identifier}/status`, headers: bearer(w.tokens.issuer), payload: { action: "revoke", reason: "吊销" } });

  const st = await w.h.app.inject({ url: `/licences/${a.identifier}/status` });
  t.equal(st.statusCode, 200);
  t.equal(st.json().status, "05", "past its validity end, a licence reads as expired at once");
  t.equal(st.json().since, "2020-12-31");
  t.notMatch(st.body, "张三丰");
  const susp = await w.h.app.inject({ method: "POST", url: `/licences/${a.identifier}/status`, headers: bearer(w.tokens.issuer), payload: { action: "suspend", reason: "x" } });
  t.equal(susp.json().code, "LICENCE_TRANSITION_INVALID", "an expired licence cannot be suspended");

  const size = await w.h.ctx.tlog.size();
  t.equal(await w.h.ctx.licences.expireDue(), 1, "the sweep expires one licence");
  t.equal(await w.h.ctx.licences.expireDue(), 0, "and only once");
  t.equal(await w.h.ctx.tlog.size(), size + 1, "the expiry is logged");
  const hist = await w.h.app.inject({ url: `/licences/${a.identifier}/history`, headers: bearer(w.tokens.issuer) });
  t.same(hist.json().versions[0].events.map((e: { action: string; to: string }) => [e.action, e.to]), [["expire", "05"]]);

  // status list
  const url = new URL(b.data.status.list as string);
  const res = await w.h.app.inject({ url: url.pathname });
  t.equal(res.statusCode, 200, res.body);
  t.equal(res.headers["content-type"], "application/vc+jwt");
  const etag = res.headers.etag as string;
  t.ok(etag);
  const again = await w.h.app.inject({ url: url.pathname, headers: { "if-none-match": etag } });
  t.equal(again.statusCode, 304, "ETag revalidation");
  const header = JSON.parse(Buffer.from(res.body.split(".")[0]!, "base64url").toString());
  const key = await importX509(`-----BEGIN CERTIFICATE-----\n${header.x5c[0]}\n-----END CERTIFICATE-----`, "ES256");
  const vc = JSON.parse(Buffer.from((await compactVerify(res.body, key)).payload).toString());
  t.equal(vc.credentialSubject.statusPurpose, "message");
  t.equal(vc.credentialSubject.statusSize, 4);
  const bits = gunzipSync(Buffer.from(vc.credentialSubject.encodedList.slice(1), "base64url"));
  const at = (i: number) => (i % 2 === 0 ? bits[i >> 1]! >> 4 : bits[i >> 1]! & 15);
  t.equal(at(a.data.status.index as number), 5, "expired");
  t.equal(at(b.data.status.index as number), 1, "valid");
  t.equal(at(c.data.status.index as number), 7, "revoked");
  t.equal(at(1000), 0, "unassigned");

  // a status change invalidates the cached list
  await w.h.app.inject({ method: "POST", url: `/licences/${b.identifier}/status`, headers: bearer(w.tokens.issuer), payload: { action: "suspend", reason: "暂扣" } });
  const after = await w.h.app.inject({ url: url.pathname, headers: { "if-none-match": etag } });
  t.equal(after.statusCode, 200, "a new list after a change");
  t.not(after.headers.etag, etag);
  t.equal((await w.h.app.inject({ url: `/status-lists/${w.dept.id}/9` })).json().code, "STATUS_LIST_NOT_FOUND");
  t.equal((await w.h.app.inject({ url: "/status-lists/no-such-department/0" })).json().code, "STATUS_LIST_NOT_FOUND", "an unknown department has no lists");
  t.equal((await w.h.app.inject({ url: `/status-lists/${w.other.id}/0` })).json().code, "STATUS_LIST_NOT_FOUND", "nor has a department without licences");

  // Conditional requests: the tag is weak, compared as RFC 9110 says, and stays the same when the list is signed
  // again with the same statuses (after its time to live).
  const tag = after.headers.etag as string;
  t.match(tag, /^W\/"[0-9a-f]{32}"$/);
  for (const h of [tag, tag.slice(2), `"nope", ${tag}`, "*"]) {
    t.equal((await w.h.app.inject({ url: url.pathname, headers: { "if-none-match": h } })).statusCode, 304, `If-None-Match: ${h}`);
  }
  t.equal((await w.h.app.inject({ url: url.pathname, headers: { "if-none-match": '"nope"' } })).statusCode, 200);
  w.h.clock.advance(61_000);
  const resigned = await w.h.app.inject({ url: url.pathname });
  t.not(resigned.body, after.body, "signed again");
  t.equal(resigned.headers.etag, tag, "the same statuses keep their tag");
  w.h.clock.advance(24 * 3600_000);
  const nextDay = await w.h.app.inject({ url: url.pathname, headers: { "if-none-match": tag } });
  t.equal(nextDay.statusCode, 200, "a day later the copy is past its validUntil: a new list, not 304");
  t.not(nextDay.headers.etag, tag);
  w.tokens.admin = (await w.h.client("admin")).token; // the day's tokens have expired

  // A department that can no longer sign: a documented 503, while the online status still answers.
  await revokeSigningCerts(t, w, w.dept.id);
  w.h.clock.advance(61_000);
  const gone = await w.h.app.inject({ url: url.pathname });
  t.equal(gone.statusCode, 503);
  t.equal(gone.json().code, "STATUS_LIST_UNAVAILABLE");
  t.equal((await w.h.app.inject({ url: `/licences/${b.identifier}/status` })).statusCode, 200);
});

t.test("a new licence shows in a kept status list within seconds, not the list's time to live", async (t) => {
  const w = await world(t);
  const a = await issued(w, personLicence(w, 850));
  const url = new URL(a.data.status.list as string).pathname;
  const nibble = async (index: number) => {
    const res = await w.h.app.inject({ url });
    t.equal(res.statusCode, 200, res.body.slice(0, 200));
    const vc = JSON.parse(Buffer.from(res.body.split(".")[1]!, "base64url").toString());
    const bits = gunzipSync(Buffer.from(vc.credentialSubject.encodedList.slice(1), "base64url"));
    return index % 2 === 0 ? bits[index >> 1]! >> 4 : bits[index >> 1]! & 15;
  };
  t.equal(await nibble(a.data.status.index as number), 1, "the first licence is listed");
  const b = await issued(w, personLicence(w, 851));
  t.equal(await nibble(b.data.status.index as number), 0, "a licence issued a moment ago: the kept list, for a few seconds");
  w.h.clock.advance(5_000);
  t.equal(await nibble(b.data.status.index as number), 1, "then the list is signed again with it (the ttl is 60 s)");
});

t.test("the expiry sweep passes over a department that cannot sign, and expires the others' licences", async (t) => {
  const w = await world(t);
  const org = (n: number, until: string) => ({ typeCode: w.orgType, number: `ORG${n}`, holder: { name: "某某公司", code: makeUscc(700 + n), codeType: "001" }, fields: { legalRep: "李四" }, issueDate: "2020-01-01", validFrom: "2020-01-01", validUntil: until });
  // The other department's licences ended first, so a sweep that reads the due licences in any order meets them.
  const stuck = [];
  for (let i = 0; i < 3; i++) {
    const r = await issue(w, org(i, "2021-01-01"), w.tokens.otherIssuer);
    t.equal(r.statusCode, 201, r.body);
    stuck.push(r.json().identifier as string);
  }
  const ours = await issue(w, org(9, "2022-01-01"));
  t.equal(ours.statusCode, 201, ours.body);
  await revokeSigningCerts(t, w, w.other.id);

  t.equal(await w.h.ctx.licences.expireDue(1), 1, "a sweep of one expires this department's licence");
  const hist = await w.h.ctx.licences.history(ours.json().identifier, ADMIN_ACTOR);
  t.same(hist.versions[0]!.events.map((e: { action: string }) => e.action), ["expire"], "signed, logged and in the history");
  t.equal(await w.h.ctx.licences.expireDue(), 0, "the other department's wait (they cannot be signed)");
  for (const id of stuck) {
    const h = await w.h.ctx.licences.history(id, ADMIN_ACTOR);
    t.same(h.versions[0]!.events, [], "nothing half-written for a licence that could not be signed");
    t.equal((await w.h.app.inject({ url: `/licences/${id}/status` })).json().status, "05", "it still reads as expired");
  }
});

t.test("change with an Idempotency-Key: retries return the same new version", async (t) => {
  const w = await world(t);
  const change = (id: string, payload: object, key?: string, token = w.tokens.issuer) => w.h.app.inject({
    method: "POST", url: `/licences/${id}/versions`, headers: { ...bearer(token), ...(key ? { "idempotency-key": key } : {}) }, payload,
  });
  const body = { reason: "变更经营项目", fields: { scope: "散装食品销售" } };

  t.test("sequential retry, conflicts, and keys apart from issuance keys", async (t) => {
    const l = await issued(w, personLicence(w, 710));
    const size = await w.h.ctx.tlog.size();
    const first = await change(l.identifier, body, "chg-0710");
    t.equal(first.statusCode, 201, first.body);
    t.not(first.headers["idempotent-replayed"], "true");
    t.equal(first.json().version, "002");
    t.equal(await w.h.ctx.tlog.size(), size + 2, "new version + supersede, logged once");

    const again = await change(l.identifier, body, "chg-0710");
    t.equal(again.statusCode, 201, "a replay has the status of the original (as POST /licences)");
    t.equal(again.headers["idempotent-replayed"], "true");
    t.equal(again.json().identifier, first.json().identifier, "the same new version, although 001 is now superseded");
    t.same(again.json().data, first.json().data);
    t.equal(await w.h.ctx.tlog.size(), size + 2, "nothing new logged");

    const other = await change(l.identifier, { ...body, fields: { scope: "热食类食品制售" } }, "chg-0710");
    t.equal(other.statusCode, 409);
    t.equal(other.json().code, "IDEMPOTENCY_CONFLICT", "the key with another body");
    const otherLicence = await issued(w, personLicence(w, 711));
    const elsewhere = await change(otherLicence.identifier, body, "chg-0710");
    t.equal(elsewhere.json().code, "IDEMPOTENCY_CONFLICT", "the key for another licence");
    t.equal((await w.h.app.inject({ url: `/licences/${otherLicence.identifier}`, headers: bearer(w.tokens.issuer) })).json().version, "001", "which is left unchanged");

    const noKey = await change(l.identifier, body);
    t.equal(noKey.json().code, "LICENCE_TRANSITION_INVALID", "without the key a second change of 001 is refused as before");

    // The same key string on POST /licences is another namespace: it issues, and the change key still replays.
    const issuedWithKey = await issue(w, personLicence(w, 712), w.tokens.issuer, { "idempotency-key": "chg-0710" });
    t.equal(issuedWithKey.statusCode, 201);
    t.not(issuedWithKey.headers["idempotent-replayed"], "true", "an issuance with the change's key is not a replay");
    t.equal(issuedWithKey.json().version, "001");
    t.equal((await change(l.identifier, body, "chg-0710")).json().identifier, first.json().identifier);

    const mate = await w.h.client("issuer", { departmentId: w.dept.id });
    const v2 = first.json().identifier as string;
    const byMate = await change(v2, body, "chg-0710", mate.token);
    t.equal(byMate.statusCode, 201, "keys are per client: another client's key does not replay");
    t.not(byMate.headers["idempotent-replayed"], "true");
    t.equal(byMate.json().version, "003");

    const rows = (await w.h.sql.all("SELECT client_id, identifier FROM idempotency_keys WHERE key = 'chg-0710' ORDER BY client_id")) as Array<{ client_id: string; identifier: string }>;
    t.equal(rows.length, 3, "issuance key, and one change key per client");
    t.ok(rows.some((r) => r.client_id.startsWith("versions/") && r.identifier === v2), "the change key is stored under its own scope");
  });

  t.test("8 concurrent retries create exactly one new version", async (t) => {
    const l = await issued(w, personLicence(w, 720));
    const size = await w.h.ctx.tlog.size();
    const rs = await Promise.all(Array.from({ length: 8 }, () => change(l.identifier, body, "chg-0720")));
    t.same(rs.map((r) => r.statusCode), Array(8).fill(201), rs.map((r) => r.statusCode === 201 ? "" : r.body).join(" "));
    t.equal(new Set(rs.map((r) => r.json().identifier)).size, 1, "all get the same new version");
    t.equal(rs.filter((r) => r.headers["idempotent-replayed"] !== "true").length, 1, "exactly one is the original");
    const lineage = l.identifier.split(".").slice(5, 8).join(".");
    const n = (await w.h.sql.get("SELECT COUNT(*) AS n FROM licences WHERE lineage = ?", [lineage])) as { n: number };
    t.equal(n.n, 2, "001 and one 002 stored");
    t.equal(await w.h.ctx.tlog.size(), size + 2, "one issue + one supersede entry");
    const hist = await w.h.app.inject({ url: `/licences/${l.identifier}/history`, headers: bearer(w.tokens.issuer) });
    t.same(hist.json().versions.map((v: { version: string; status: string }) => [v.version, v.status]), [["001", "99"], ["002", "01"]]);
    t.equal(hist.json().versions[0].events.length, 1, "one supersede event");
  });

  t.test("retries that all pass the pre-check before the first commits: the write transaction decides", async (t) => {
    // Simulates the race deterministically: the read-side lookup sees no key, so every attempt signs a new version
    // and only the check inside the write transaction can keep the 2nd..8th from being stored.
    // (Reads outside a write transaction may run on the writer connection's repositories, the very ones the write
    // transaction uses: the stub answers "no key" only outside a transaction.)
    const reads = w.h.ctx.uow.read.licences;
    const original = reads.idempotency;
    reads.idempotency = async (...a) => (w.h.ctx.store.inTransaction() ? original(...a) : undefined);
    t.teardown(() => void (reads.idempotency = original));
    const l = await issued(w, personLicence(w, 725));
    const size = await w.h.ctx.tlog.size();
    const rs = await Promise.all(Array.from({ length: 8 }, () => w.h.ctx.licences.change(l.identifier, body, ADMIN_ACTOR, { key: "chg-0725", scope: "svc" })));
    reads.idempotency = original;
    t.equal(new Set(rs.map((r) => r.licence.identifier)).size, 1, "all get the same new version");
    t.equal(rs.filter((r) => !r.replay).length, 1, "exactly one is the original");
    t.equal(await w.h.ctx.tlog.size(), size + 2, "one issue + one supersede entry");
    const lineage = l.identifier.split(".").slice(5, 8).join(".");
    t.equal(((await w.h.sql.get("SELECT COUNT(*) AS n FROM licences WHERE lineage = ?", [lineage])) as { n: number }).n, 2);
    await t.rejects(w.h.ctx.licences.change(l.identifier, { ...body, reason: "另一个理由" }, ADMIN_ACTOR, { key: "chg-0725", scope: "svc" }), { code: "IDEMPOTENCY_CONFLICT" });
  });

  t.test("concurrent retries with different bodies: one wins, the others conflict", async (t) => {
    const l = await issued(w, personLicence(w, 730));
    const rs = await Promise.all(Array.from({ length: 4 }, (_, i) => change(l.identifier, { ...body, number: `JY-730-${i}` }, "chg-0730")));
    t.equal(rs.filter((r) => r.statusCode === 201).length, 1, "one new version");
    t.same(rs.filter((r) => r.statusCode !== 201).map((r) => r.json().code), Array(3).fill("IDEMPOTENCY_CONFLICT"));
  });
});
