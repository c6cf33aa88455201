/**
 * Issuance: the happy path (identifier, JWS, log entry, personal data at rest), every bad input class,
 * Idempotency-Key (sequential and concurrent retries), and the NDJSON bulk import.
 */
import { createHash } from "node:crypto";
import t from "tap";
import { parseLicenceId } from "../../src/codes/index.js";
import { parseCompact } from "../../src/modules/licences/index.js";
import { makeUscc } from "../helpers/app.js";
import { bearer, citizenId, issue, issued, personLicence, revokeSigningCerts, world } from "./helpers.js";

t.test("issue a licence", async (t) => {
  const w = await world(t);
  const before = await w.h.ctx.tlog.size();
  const res = await issue(w, personLicence(w, 1));
  t.equal(res.statusCode, 201, res.body);
  const l = res.json();
  const parsed = parseLicenceId(l.identifier);
  t.ok(parsed.ok, "the identifier passes the GB/T 36904 check");
  if (parsed.ok) {
    t.equal(parsed.parts.typeCode, w.personType);
    t.equal(parsed.parts.issuerCode, w.dept.uscc);
    t.equal(parsed.parts.version, "001");
  }
  t.equal(l.status, "01");
  t.equal(l.data.holder.code, citizenId(1));
  t.equal(l.data.validUntil !== null, true, "default validity from the type");
  const jws = parseCompact(l.jws);
  if (typeof jws === "string") throw new Error(jws);
  t.equal(jws.header.alg, "ES256");
  t.equal((jws.header.x5c as string[]).length, 2, "x5c = [leaf, issuing CA] (not the root)");
  t.same(jws.payload, l.data, "the JWS payload is the licence data");

  t.equal(await w.h.ctx.tlog.size(), before + 1, "one log entry");
  const entry = await w.h.ctx.tlog.getEntry(l.logIndex);
  t.equal(entry.event.type, "licence.issued");
  t.equal(entry.event.holder, w.h.ctx.pii.lookupHash("111", citizenId(1)), "the entry names the holder by keyed hash");
  t.notMatch(entry.leaf, citizenId(1), "no holder code in the log");
  t.notMatch(entry.leaf, "张三丰", "no holder name in the log");

  // personal data at rest: neither the code nor the name is stored in clear
  const row = (await w.h.sql.get("SELECT * FROM licences WHERE identifier = ?", [l.identifier])) as Record<string, unknown>;
  const text = JSON.stringify(row);
  t.notMatch(text, citizenId(1));
  t.notMatch(text, "张三丰");
  t.notMatch(text, l.number ?? "JY1350102000001");
  t.equal(row.holder_hash, w.h.ctx.pii.lookupHash("111", citizenId(1)));

  const second = await issued(w, personLicence(w, 2));
  t.not(second.identifier, l.identifier, "serials are unique per issuer + type");

  const got = await w.h.app.inject({ url: `/licences/${encodeURIComponent(l.identifier)}`, headers: bearer(w.tokens.issuer) });
  t.equal(got.statusCode, 200);
  t.equal(got.json().jws, l.jws, "the stored JWS is rebuilt byte for byte");
  const foreign = await w.h.app.inject({ url: `/licences/${l.identifier}`, headers: bearer(w.tokens.otherIssuer) });
  t.equal(foreign.json().code, "LICENCE_NOT_FOUND", "another department's issuer cannot read it (nor learn that it exists)");
  const list = await w.h.app.inject({ url: "/licences?limit=1", headers: bearer(w.tokens.issuer) });
  t.equal(list.json().items.length, 1);
  t.type(list.json().next, "string");
});

t.test("bad input classes", async (t) => {
  const w = await world(t);
  const good = personLicence(w, 3);
  const id = citizenId(3);
  const badCheck = id.slice(0, 17) + (id[17] === "1" ? "2" : "1");
  const cases: Array<[string, object, string, string?]> = [
    ["bad citizen ID check digit", { ...good, holder: { ...good.holder, code: badCheck } }, "HOLDER_CODE_INVALID"],
    ["wrong code type for the holder kind (USCC for a person licence)", { ...good, holder: { ...good.holder, code: w.dept.uscc, codeType: "001" } }, "HOLDER_CODE_TYPE_INVALID"],
    ["citizen ID for an organisation licence", { typeCode: w.orgType, number: "N1", holder: { name: "某公司", code: id, codeType: "111" }, fields: { legalRep: "李四" } }, "HOLDER_CODE_TYPE_INVALID"],
    ["bad USCC check character", { typeCode: w.orgType, number: "N1", holder: { name: "某公司", code: w.other.uscc.slice(0, 17) + (w.other.uscc.endsWith("0") ? "1" : "0"), codeType: "001" }, fields: { legalRep: "李四" } }, "HOLDER_CODE_INVALID"],
    ["unknown code type", { ...good, holder: { ...good.holder, codeType: "123" } }, "HOLDER_CODE_TYPE_INVALID"],
    ["missing required field", { ...good, fields: { area: 1 } }, "FIELDS_INVALID"],
    ["unknown field", { ...good, fields: { ...good.fields, secret: "x" } }, "FIELDS_INVALID"],
    ["string too long", { ...good, fields: { ...good.fields, scope: "很".repeat(101) } }, "FIELDS_INVALID"],
    ["number out of range", { ...good, fields: { ...good.fields, area: -1 } }, "FIELDS_INVALID"],
    ["not in the enum", { ...good, fields: { ...good.fields, category: "其他" } }, "FIELDS_INVALID"],
    ["bad date in a field", { ...good, fields: { ...good.fields, approvedOn: "2024-02-30" } }, "FIELDS_INVALID"],
    ["wrong type in a field", { ...good, fields: { ...good.fields, scope: 5 } }, "FIELDS_INVALID"],
    ["unknown type", { ...good, typeCode: w.personType.slice(0, 18) + "999" }, "LICENCE_TYPE_NOT_FOUND"],
    ["validity end before start", { ...good, validFrom: "2024-01-10", validUntil: "2024-01-01" }, "VALIDITY_INVALID"],
    ["impossible validity date", { ...good, validFrom: "2024-13-01" }, "VALIDITY_INVALID"],
    ["unknown top-level property", { ...good, extra: 1 }, "VALIDATION_FAILED"],
    ["missing holder", { typeCode: w.personType, number: "x", fields: {} }, "VALIDATION_FAILED"],
    // Text signed into the licence must read as what it is, with or without an Idempotency-Key.
    ["a lone surrogate in the holder name", { ...good, holder: { ...good.holder, name: "张\ud800三" } }, "VALIDATION_FAILED"],
    ["NUL in the holder name", { ...good, holder: { ...good.holder, name: "张\u0000三" } }, "VALIDATION_FAILED"],
    ["a right-to-left override in the holder name", { ...good, holder: { ...good.holder, name: "张三\u202e丰" } }, "VALIDATION_FAILED"],
    ["a control character in the number", { ...good, number: "A\u0000B" }, "VALIDATION_FAILED"],
    ["a newline in the number", { ...good, number: "A\nB" }, "VALIDATION_FAILED"],
    ["a bidi isolate in a field", { ...good, fields: { ...good.fields, scope: "预包装\u2066食品" } }, "VALIDATION_FAILED"],
    ["a lone surrogate in a field", { ...good, fields: { ...good.fields, scope: "\udc00" } }, "VALIDATION_FAILED"],
    ["a nested field value", { ...good, fields: { ...good.fields, scope: [[["x"]]] } }, "FIELDS_INVALID"],
    ["an object as a field value", { ...good, fields: { ...good.fields, scope: { a: 1 } } }, "FIELDS_INVALID"],
    // Never coerced into a value the client did not send (ajv's coerceTypes would unwrap [1] into "1").
    ["a one-element array for a string field", { ...good, fields: { ...good.fields, scope: [1] } }, "FIELDS_INVALID"],
    ["a one-element array for a number field", { ...good, fields: { ...good.fields, area: ["35.5"] } }, "FIELDS_INVALID"],
    ["a numeric string for a number field", { ...good, fields: { ...good.fields, area: "35.5" } }, "FIELDS_INVALID"],
  ];
  const before = await w.h.ctx.tlog.size();
  for (const [name, body, code] of cases) {
    const r = await issue(w, body);
    t.equal(r.json().code, code, `${name} → ${code}`);
  }
  // An optional field given as null or "" (an empty cell of an import) is absent: not signed as a value its type
  // does not allow. A required one so given is missing.
  for (const [n, v] of [[4, null], [5, ""]] as const) {
    const r = await issue(w, personLicence(w, n, { fields: { scope: "预包装食品销售", area: v, category: v, approvedOn: v } }));
    t.equal(r.statusCode, 201, r.body);
    t.same(r.json().data.fields, { scope: "预包装食品销售" }, `optional fields given as ${JSON.stringify(v)} are left out of the signed data`);
    const payload = JSON.parse(Buffer.from(r.json().jws.split(".")[1], "base64url").toString());
    t.same(payload.fields, { scope: "预包装食品销售" }, "and out of the JWS");
    t.equal((await issue(w, personLicence(w, n, { fields: { scope: v } }))).json().code, "FIELDS_INVALID", `a required field given as ${JSON.stringify(v)} is missing`);
  }
  // A deeply nested body: refused (400) whether new or a retry of a used Idempotency-Key, whose request is hashed
  // before it is validated (that overflowed the stack: 500).
  const deepBody = JSON.stringify({ ...good, fields: { ...good.fields, scope: "DEEP" } }).replace('"DEEP"', `${"[".repeat(50_000)}"x"${"]".repeat(50_000)}`);
  const deep = (key: string) => w.h.app.inject({ method: "POST", url: "/licences", headers: { ...bearer(w.tokens.issuer), "idempotency-key": key, "content-type": "application/json" }, payload: deepBody });
  const fresh = await deep("deep-1");
  t.equal(fresh.statusCode, 400, fresh.body.slice(0, 200));
  t.equal(fresh.json().code, "VALIDATION_FAILED", "refused at the edge: JSON nested deeper than 32 levels");
  t.equal((await issue(w, personLicence(w, 7), w.tokens.issuer, { "idempotency-key": "deep-2" })).statusCode, 201);
  const retry = await deep("deep-2");
  t.equal(retry.statusCode, 400, retry.body.slice(0, 200));
  t.equal(retry.json().code, "VALIDATION_FAILED", "a used key with a too-deep request");
  // A field value may span lines (tab and line feed), nothing else.
  const multi = await issue(w, personLicence(w, 6, { fields: { scope: "预包装食品销售\n散装食品销售\t（含冷藏）" } }));
  t.equal(multi.statusCode, 201, multi.body);
  const fieldErr = await issue(w, { ...good, fields: { area: "x", bogus: 1 } });
  t.same(fieldErr.json().details.errors.map((e: { field: string }) => e.field).sort(), ["area", "bogus", "scope"], "every field problem is listed");
  const other = await issue(w, good, w.tokens.otherIssuer);
  t.equal(other.json().code, "LICENCE_TYPE_NOT_ALLOWED", "a department not allowed for the type cannot issue it");
  t.equal(await w.h.ctx.tlog.size(), before + 4, "nothing was logged for refused requests (four were issued)");
  const count = (await w.h.sql.get("SELECT COUNT(*) AS n FROM licences")) as { n: number };
  t.equal(count.n, 4, "nothing was stored for them");
});

t.test("Idempotency-Key", async (t) => {
  const w = await world(t);
  const body = personLicence(w, 4);
  const first = await issue(w, body, w.tokens.issuer, { "idempotency-key": "req-0004" });
  t.equal(first.statusCode, 201);
  const again = await issue(w, body, w.tokens.issuer, { "idempotency-key": "req-0004" });
  t.equal(again.statusCode, 201);
  t.equal(again.headers["idempotent-replayed"], "true");
  t.equal(again.json().identifier, first.json().identifier, "a retry returns the same licence");
  const changed = await issue(w, { ...body, number: "OTHER" }, w.tokens.issuer, { "idempotency-key": "req-0004" });
  t.equal(changed.statusCode, 409);
  t.equal(changed.json().code, "IDEMPOTENCY_CONFLICT");

  t.test("concurrent retries issue exactly once", async (t) => {
    const size = await w.h.ctx.tlog.size();
    const body5 = personLicence(w, 5);
    const rs = await Promise.all(Array.from({ length: 12 }, () => issue(w, body5, w.tokens.issuer, { "idempotency-key": "req-0005" })));
    t.ok(rs.every((r) => r.statusCode === 201), "every retry succeeds");
    t.equal(new Set(rs.map((r) => r.json().identifier)).size, 1, "all get the same identifier");
    t.equal(rs.filter((r) => r.headers["idempotent-replayed"] !== "true").length, 1, "exactly one is the original");
    const n = (await w.h.sql.get("SELECT COUNT(*) AS n FROM licences WHERE holder_hash = ?", [w.h.ctx.pii.lookupHash("111", citizenId(5))])) as { n: number };
    t.equal(n.n, 1, "one licence stored");
    t.equal(await w.h.ctx.tlog.size(), size + 1, "one log entry");
  });

  t.test("more concurrent requests than one group: every one answered, retries across groups issue once", async (t) => {
    const size = await w.h.ctx.tlog.size();
    // 90 requests at once: three groups of at most 32, signed and stored in a pipeline. Every tenth is a retry
    // of the same key, so its copies land in different groups.
    const body7 = personLicence(w, 7);
    const rs = await Promise.all(Array.from({ length: 90 }, (_, i) => i % 10 === 0
      ? issue(w, body7, w.tokens.issuer, { "idempotency-key": "req-0007" })
      : issue(w, personLicence(w, 1000 + i), w.tokens.issuer)));
    t.ok(rs.every((r) => r.statusCode === 201), "all issued");
    const retries = rs.filter((_, i) => i % 10 === 0);
    t.equal(new Set(retries.map((r) => r.json().identifier)).size, 1, "the retried key names one licence");
    t.equal(retries.filter((r) => r.headers["idempotent-replayed"] !== "true").length, 1, "exactly one original");
    t.equal(new Set(rs.map((r) => r.json().identifier)).size, 82, "81 distinct licences + the retried one");
    t.equal(await w.h.ctx.tlog.size(), size + 82, "one log entry each");
    const serials = rs.filter((r) => r.headers["idempotent-replayed"] !== "true").map((r) => r.json().identifier.split(".")[7]);
    t.equal(new Set(serials).size, 82, "no serial handed out twice");
  });

  t.test("keys are per client", async (t) => {
    const mate = await w.h.client("issuer", { departmentId: w.dept.id });
    // Another number (a number is unique per type and department): were keys shared, this would be a conflict.
    const r = await issue(w, { ...body, number: "MATE-0004" }, mate.token, { "idempotency-key": "req-0004" });
    t.equal(r.statusCode, 201);
    t.not(r.headers["idempotent-replayed"], "true");
    t.not(r.json().identifier, first.json().identifier);
  });
});

t.test("a department that cannot sign fails its own requests only, also when they share a group with others", async (t) => {
  const w = await world(t);
  const org = (n: number) => ({ typeCode: w.orgType, number: `ORG${n}`, holder: { name: "某某公司", code: makeUscc(500 + n), codeType: "001" }, fields: { legalRep: "李四" } });
  await revokeSigningCerts(t, w, w.other.id);
  const before = await w.h.ctx.tlog.size();
  // Sent together, so they are signed and stored as one group of single issuances.
  const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => issue(w, org(i), i % 2 === 0 ? w.tokens.issuer : w.tokens.otherIssuer)));
  rs.forEach((r, i) => {
    if (i % 2 === 0) t.equal(r.statusCode, 201, `the department that can sign: ${r.body.slice(0, 120)}`);
    else t.equal(r.json().code, "SIGNING_KEY_UNAVAILABLE", "the department that cannot sign");
  });
  t.equal(await w.h.ctx.tlog.size(), before + 5, "five issued and logged, nothing of the others");
});

t.test("a retry with the same Idempotency-Key is answered as before, even after the catalogue changed", async (t) => {
  const w = await world(t);
  const body = personLicence(w, 21);
  const first = await issue(w, body, w.tokens.issuer, { "idempotency-key": "retry-1" });
  t.equal(first.statusCode, 201);
  const batchLine = JSON.stringify({ ...personLicence(w, 22), idempotencyKey: "imp-22" });
  const post = (payload: string) => w.h.app.inject({ method: "POST", url: "/licences:batch", headers: { ...bearer(w.tokens.issuer), "content-type": "application/x-ndjson" }, payload });
  const firstBatch = await post(batchLine);
  t.equal(firstBatch.json().summary.issued, 1);
  // A new national template: a required field the earlier requests did not have.
  const type = (await w.h.app.inject({ url: `/licence-types/${w.personType}`, headers: bearer(w.tokens.admin) })).json();
  const patch = await w.h.app.inject({ method: "PATCH", url: `/licence-types/${w.personType}`, headers: bearer(w.tokens.admin), payload: {
    fields: [...type.fields, { name: "site", label: "经营场所", type: "string", required: true }] } });
  t.equal(patch.statusCode, 200, patch.body);
  t.equal((await issue(w, personLicence(w, 23))).json().code, "FIELDS_INVALID", "a new request must have the new field");

  const retry = await issue(w, body, w.tokens.issuer, { "idempotency-key": "retry-1" });
  t.equal(retry.statusCode, 201, retry.body);
  t.equal(retry.headers["idempotent-replayed"], "true");
  t.equal(retry.json().identifier, first.json().identifier, "the licence the key issued");
  const rerun = await post(batchLine);
  t.same(rerun.json().summary, { lines: 1, issued: 0, replayed: 1, failed: 0 }, "re-running an import replays its keyed lines");
  t.equal(rerun.json().results[0].identifier, firstBatch.json().results[0].identifier);
  const other = await issue(w, { ...body, number: "OTHER" }, w.tokens.issuer, { "idempotency-key": "retry-1" });
  t.equal(other.json().code, "IDEMPOTENCY_CONFLICT", "the same key with another request is still a conflict");
});

t.test("bulk import (NDJSON)", async (t) => {
  const w = await world(t);
  const lines = [
    JSON.stringify(personLicence(w, 10)),
    "",
    JSON.stringify({ ...personLicence(w, 11), idempotencyKey: "imp-11" }),
    "{not json",
    JSON.stringify({ ...personLicence(w, 12), fields: {} }),
    JSON.stringify({ ...personLicence(w, 13), extra: true }),
    JSON.stringify({ ...personLicence(w, 11), idempotencyKey: "imp-11" }),
  ];
  const before = await w.h.ctx.tlog.size();
  const post = (body: string, token = w.tokens.issuer) => w.h.app.inject({ method: "POST", url: "/licences:batch", headers: { ...bearer(token), "content-type": "application/x-ndjson" }, payload: body });
  const r = await post(lines.join("\n") + "\n");
  t.equal(r.statusCode, 200, r.body);
  const b = r.json();
  t.same(b.summary, { lines: 6, issued: 2, replayed: 1, failed: 3 });
  t.same(b.results.map((x: { line: number; ok: boolean; code?: string }) => [x.line, x.ok, x.code ?? null]), [
    [1, true, null], [3, true, null], [4, false, "VALIDATION_FAILED"], [5, false, "FIELDS_INVALID"], [6, false, "VALIDATION_FAILED"], [7, true, null],
  ]);
  t.equal(b.results[5].identifier, b.results[1].identifier, "a repeated idempotency key in one batch is a replay");
  t.equal(await w.h.ctx.tlog.size(), before + 2, "one log entry per issued licence, none for failed lines");

  const rerun = await post(lines[2]!);
  t.equal(rerun.json().results[0].replay, true, "re-running an import with keys does not issue twice");

  const many = Array.from({ length: 10_001 }, () => "{}").join("\n");
  const big = await post(many);
  t.equal(big.statusCode, 413);
  t.equal(big.json().code, "BATCH_TOO_LARGE");
  // 30 MB of nothing but line feeds: refused once blank lines pass their own bound, without splitting the body
  // into 30 million strings first (that took ~0.8 s of the event loop and ~300 MB).
  const t0 = performance.now();
  const blank = await post("\n".repeat(30 * 2 ** 20));
  t.equal(blank.json().code, "BATCH_TOO_LARGE", "blank lines are bounded too");
  t.ok(performance.now() - t0 < 2_000, `answered in ${Math.round(performance.now() - t0)} ms`);
  const spaced = Array.from({ length: 3 }, (_, i) => JSON.stringify({ ...JSON.parse(lines[0]!), number: `BLANKS-${i}` })).join("\n\n\n");
  t.same((await post(spaced)).json().results.map((r: { line: number }) => r.line), [1, 4, 7], "blank lines between records still count for line numbers");
  const json = await w.h.app.inject({ method: "POST", url: "/licences:batch", headers: bearer(w.tokens.issuer), payload: { a: 1 } });
  t.equal(json.statusCode, 415, "the batch takes NDJSON only");
  const consumer = await post(lines[0]!, w.tokens.consumer);
  t.equal(consumer.json().code, "FORBIDDEN_ROLE");

  // 1,200 lines: several transactions (chunks of 500), every one logged
  const s0 = await w.h.ctx.tlog.size();
  const bulk = Array.from({ length: 1200 }, (_, i) => JSON.stringify(personLicence(w, 100 + (i % 800), { number: `B${i}` }))).join("\n");
  const res = await post(bulk);
  t.equal(res.json().summary.issued, 1200);
  t.equal(await w.h.ctx.tlog.size(), s0 + 1200);
  const ids = new Set(res.json().results.map((x: { identifier: string }) => x.identifier));
  t.equal(ids.size, 1200, "1200 distinct identifiers");

  // Chunks are signed on the seal worker while the previous chunk is stored: keys repeated across chunks, a bad
  // line in the middle, results in input order, and licences signed there verify like any other.
  const pLines = Array.from({ length: 1300 }, (_, i) => JSON.stringify({ ...personLicence(w, 2000 + (i % 700), { number: `P${i}` }), ...(i === 10 || i === 20 ? { idempotencyKey: `k-${i}` } : {}) }));
  pLines[700] = pLines[10]!; // same key, same request, next chunk → replay of line 11
  pLines[900] = JSON.stringify({ ...personLicence(w, 2000, { number: "OTHER" }), idempotencyKey: "k-20" }); // same key, other request
  pLines[600] = "{not json";
  const piped = (await post(pLines.join("\n"))).json();
  t.same(piped.summary, { lines: 1300, issued: 1297, replayed: 1, failed: 2 });
  t.same(piped.results.map((r: { line: number }) => r.line), Array.from({ length: 1300 }, (_, i) => i + 1), "results in input order");
  t.equal(piped.results[700].replay, true);
  t.equal(piped.results[700].identifier, piped.results[10].identifier, "a key repeated in a later chunk replays the first");
  t.equal(piped.results[900].code, "IDEMPOTENCY_CONFLICT");
  t.equal(piped.results[600].code, "VALIDATION_FAILED");
  for (const line of [0, 499, 500, 1299]) {
    const v = await w.h.app.inject({ method: "POST", url: "/verify", payload: { identifier: piped.results[line].identifier } });
    t.equal(v.json().result, "VALID", `line ${line + 1} verifies`);
    const rec = await w.h.ctx.licences.record(piped.results[line].identifier);
    const jws = await w.h.ctx.licences.jwsOf(rec);
    t.equal(rec.jwsSha256, createHash("sha256").update(jws).digest("hex"), "stored hash is the JWS's");
  }
});
