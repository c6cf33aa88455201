/**
 * Registration (issue 18 §2): each source class, the receipt, hashes, encryption at rest, and the bad inputs of the
 * issue as classes (declared type contradicted by the bytes, over the limit, empty, truncated, hash mismatch,
 * material type a matter does not accept), each leaving no row, no chunk and no log entry.
 */
import crypto from "node:crypto";
import t from "tap";
import { decodeProtectedHeader, importJWK, compactVerify, createLocalJWKSet } from "jose";
import { parseMaterialId } from "../../src/modules/materials/index.js";
import { HOLDER, OTHER_HOLDER, PNG, bearer, multipartBody, pdfBytes, registerRaw, setup } from "./helpers.js";

const sha = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");

async function counts(h: Awaited<ReturnType<typeof setup>>["h"]) {
  const rows = Number(await h.sql.value("SELECT count(*) AS n FROM materials"));
  const chunks = Number(await h.sql.value("SELECT count(*) AS n FROM material_chunks"));
  const log = await h.ctx.tlog.size();
  return { rows, chunks, log };
}

t.test("each source class registers; the receipt verifies with plain jose from the published JWKS", async (t) => {
  const s = await setup(t);
  const { h } = s;
  const file = pdfBytes("lease-1");
  const a = await registerRaw(h, s.consumer.token, { typeCode: "LEASE", holder: { code: HOLDER, codeType: "111" }, matterCode: "M-A", name: "租赁合同.pdf", sha256: sha(file) }, file);
  t.equal(a.statusCode, 201, a.body);
  const r = a.json();
  t.equal(r.material.source, "approval");
  t.equal(r.material.sha256, sha(file));
  t.equal(r.material.sm3, crypto.createHash("sm3").update(file).digest("hex"));
  t.equal(r.material.mediaType, "application/pdf");
  t.equal(r.material.holder, "350***********0016");
  t.ok(parseMaterialId(r.material.identifier).ok, "identifier with a valid check character");
  t.ok(r.material.expiresAt, "a type that expires gives a validity");

  const jwks = (await h.app.inject({ url: "/.well-known/jwks.json" })).json();
  const { payload, protectedHeader } = await compactVerify(r.receipt, createLocalJWKSet(jwks));
  t.equal(protectedHeader.typ, "sidian-material-receipt+jws");
  const claims = JSON.parse(new TextDecoder().decode(payload));
  t.match(claims, { sub: r.material.identifier, sha256: sha(file), size: file.length, type: "LEASE", source: "approval", registrant: `client:${s.consumer.id}`, logIndex: r.material.logIndex, mediaType: "application/pdf" });
  t.match(claims.holder, /^[0-9a-f]{64}$/, "holder as a keyed hash");
  t.not(claims.holder, h.ctx.pii.lookupHash("111", HOLDER), "not the lookup hash (unlinkable across receipts)");
  void decodeProtectedHeader; void importJWK;

  const entry = await h.ctx.tlog.getEntry(r.material.logIndex);
  t.equal(entry.event.type, "material.registered");
  t.equal((entry.event.data as { sha256: string }).sha256, sha(file));

  // Counter terminal: the attestation travels with it.
  const c = await registerRaw(h, s.counter.token, { typeCode: "PHOTO", holder: { code: HOLDER, codeType: "111" }, counter: { operator: "A0123", device: "SCAN-07", checkedAgainstOriginal: true } }, PNG, "image/png");
  t.equal(c.statusCode, 201, c.body);
  t.equal(c.json().material.source, "counter");
  t.same(c.json().material.attestation, { operator: "A0123", device: "SCAN-07", checkedAgainstOriginal: true });
  // Department (issuer) and the holder themself.
  const d = await registerRaw(h, s.issuer.token, { typeCode: "LEASE", holder: { code: OTHER_HOLDER, codeType: "111" } }, pdfBytes("dept"));
  t.equal(d.statusCode, 201, d.body);
  t.equal(d.json().material.source, "department");
  const me = await registerRaw(h, s.holder, { typeCode: "PHOTO" }, PNG, "image/png");
  t.equal(me.statusCode, 201, me.body);
  t.equal(me.json().material.source, "holder");
  t.equal(me.json().material.holder, "***");

  // Multipart, file name with the extension.
  const mp = multipartBody({ typeCode: "LEASE", holder: { code: HOLDER, codeType: "111" }, matterCode: "M-A" }, pdfBytes("mp"));
  const m = await h.app.inject({ method: "POST", url: "/materials", headers: { ...bearer(s.consumer.token), "content-type": mp.contentType }, payload: mp.body });
  t.equal(m.statusCode, 201, m.body);

  // Encrypted at rest: no stored chunk holds the plaintext.
  const rows = await h.sql.all<{ bytes: Buffer }>("SELECT bytes FROM material_chunks");
  t.ok(rows.length >= 5);
  for (const row of rows) t.notOk(Buffer.from(row.bytes).includes(Buffer.from("%PDF-")), "chunk is ciphertext");

  // The bytes come back for the registrant and the holder; not for another client.
  const back = await h.app.inject({ url: `/materials/${r.material.identifier}/content`, headers: bearer(s.consumer.token) });
  t.equal(back.statusCode, 200);
  t.same(back.rawPayload, file);
  t.equal(back.headers["x-material-sha256"], sha(file));
  const other = await h.client("consumer", { matters: ["M-A"] });
  t.equal((await h.app.inject({ url: `/materials/${r.material.identifier}`, headers: bearer(other.token) })).json().code, "MATERIAL_NOT_FOUND");
});

t.test("bad input: each class refused, nothing stored or logged", async (t) => {
  const s = await setup(t);
  const { h } = s;
  const meta = { typeCode: "LEASE", holder: { code: HOLDER, codeType: "111" }, matterCode: "M-A" };
  const narrow = await h.client("consumer", { matters: ["M-B"] });
  const before = await counts(h);
  const pe = Buffer.concat([Buffer.from("MZ\x90\x00\x03\x00\x00\x00", "latin1"), crypto.randomBytes(2000)]);
  const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), crypto.randomBytes(500)]);
  const script = Buffer.from("#!/bin/sh\nrm -rf / # %PDF-1.4\n");
  const html = Buffer.from("<html><script>alert(1)</script>%%EOF");
  const zip = Buffer.concat([Buffer.from("PK\x03\x04", "latin1"), Buffer.alloc(26), Buffer.from("evil.exe")]);
  const cases: Array<[string, () => Promise<{ statusCode: number; json(): { code: string } }>, string]> = [
    ["PE called lease.pdf (raw, application/pdf)", () => registerRaw(h, s.consumer.token, { ...meta, name: "lease.pdf" }, pe), "MATERIAL_CONTENT_REFUSED"],
    ["ELF as octet-stream", () => registerRaw(h, s.consumer.token, meta, elf, "application/octet-stream"), "MATERIAL_CONTENT_REFUSED"],
    ["shell script", () => registerRaw(h, s.consumer.token, meta, script, "application/pdf"), "MATERIAL_CONTENT_REFUSED"],
    ["HTML", () => registerRaw(h, s.consumer.token, meta, html, "application/octet-stream"), "MATERIAL_CONTENT_REFUSED"],
    ["a ZIP that is not OFD", () => registerRaw(h, s.consumer.token, meta, zip, "application/octet-stream"), "MATERIAL_CONTENT_REFUSED"],
    ["a PDF without %%EOF (truncated file)", () => registerRaw(h, s.consumer.token, meta, pdfBytes().subarray(0, 40)), "MATERIAL_CONTENT_REFUSED"],
    ["a PNG declared as PDF", () => registerRaw(h, s.counter.token, { typeCode: "PHOTO", holder: meta.holder, counter: { operator: "x", device: "y", checkedAgainstOriginal: true } }, PNG, "application/pdf"), "MATERIAL_CONTENT_REFUSED"],
    ["a PDF the type does not accept", () => registerRaw(h, s.counter.token, { typeCode: "PHOTO", holder: meta.holder, counter: { operator: "x", device: "y", checkedAgainstOriginal: true } }, pdfBytes()), "MATERIAL_CONTENT_REFUSED"],
    ["a real PDF named .exe (multipart)", async () => {
      const mp = multipartBody(meta, pdfBytes(), { fileName: "lease.exe", fileType: "application/octet-stream" });
      return h.app.inject({ method: "POST", url: "/materials", headers: { ...bearer(s.consumer.token), "content-type": mp.contentType }, payload: mp.body });
    }, "MATERIAL_CONTENT_REFUSED"],
    ["over the type's limit", () => registerRaw(h, s.counter.token, { typeCode: "PHOTO", holder: meta.holder, counter: { operator: "x", device: "y", checkedAgainstOriginal: true } }, Buffer.concat([PNG, Buffer.alloc(5000)]), "image/png"), "MATERIAL_TOO_LARGE"],
    ["empty", () => registerRaw(h, s.consumer.token, meta, Buffer.alloc(0)), "MATERIAL_EMPTY"],
    ["SHA-256 mismatch", () => registerRaw(h, s.consumer.token, { ...meta, sha256: "0".repeat(64) }, pdfBytes()), "MATERIAL_HASH_MISMATCH"],
    ["SM3 mismatch", () => registerRaw(h, s.consumer.token, { ...meta, sm3: "a".repeat(64) }, pdfBytes()), "MATERIAL_HASH_MISMATCH"],
    ["a matter that does not accept the type", () => registerRaw(h, s.consumer.token, { ...meta, matterCode: "M-B" }, pdfBytes()), "MATERIAL_TYPE_NOT_ACCEPTED"],
    ["a matter the client does not serve", () => registerRaw(h, narrow.token, meta, pdfBytes()), "FORBIDDEN_MATTER"],
    ["no metadata", () => h.app.inject({ method: "POST", url: "/materials", headers: { ...bearer(s.consumer.token), "content-type": "application/pdf" }, payload: pdfBytes() }), "MATERIAL_UPLOAD_INVALID"],
    ["metadata with an unknown field", () => registerRaw(h, s.consumer.token, { ...meta, evil: 1 }, pdfBytes()), "MATERIAL_UPLOAD_INVALID"],
    ["a JSON body", () => h.app.inject({ method: "POST", url: "/materials", headers: { ...bearer(s.consumer.token), "content-type": "application/json" }, payload: { x: 1 } }), "UNSUPPORTED_MEDIA_TYPE"],
    ["multipart cut before the closing boundary", async () => {
      const mp = multipartBody(meta, pdfBytes("cut", 3000));
      return h.app.inject({ method: "POST", url: "/materials", headers: { ...bearer(s.consumer.token), "content-type": mp.contentType }, payload: mp.body.subarray(0, mp.body.length - 20) });
    }, "MATERIAL_UPLOAD_INVALID"],
    ["multipart file before meta", async () => {
      const b = "----x";
      const body = Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n${pdfBytes().toString("latin1")}\r\n--${b}\r\nContent-Disposition: form-data; name="meta"\r\n\r\n${JSON.stringify(meta)}\r\n--${b}--\r\n`, "latin1");
      return h.app.inject({ method: "POST", url: "/materials", headers: { ...bearer(s.consumer.token), "content-type": `multipart/form-data; boundary=${b}` }, payload: body });
    }, "MATERIAL_UPLOAD_INVALID"],
    ["multipart with two files", async () => {
      const b = "----y";
      const f = `Content-Disposition: form-data; name="file"; filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n${pdfBytes().toString("latin1")}\r\n`;
      const body = Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="meta"\r\n\r\n${JSON.stringify(meta)}\r\n--${b}\r\n${f}--${b}\r\n${f}--${b}--\r\n`, "latin1");
      return h.app.inject({ method: "POST", url: "/materials", headers: { ...bearer(s.consumer.token), "content-type": `multipart/form-data; boundary=${b}` }, payload: body });
    }, "MATERIAL_UPLOAD_INVALID"],
    ["a bad holder code", () => registerRaw(h, s.consumer.token, { ...meta, holder: { code: "350102199001010015", codeType: "111" } }, pdfBytes()), "HOLDER_CODE_INVALID"],
    ["an admin registering", () => registerRaw(h, s.admin.token, meta, pdfBytes()), "FORBIDDEN_ROLE"],
  ];
  for (const [name, run, code] of cases) {
    const r = await run();
    t.equal(r.json().code, code, `${name} → ${code} (${r.statusCode})`);
  }
  t.same(await counts(h), before, "no row, no chunk, no log entry");
});

t.test("versions and derivations: supersede links the older; derived links its original", async (t) => {
  const s = await setup(t);
  const { h } = s;
  const meta = { typeCode: "LEASE", holder: { code: HOLDER, codeType: "111" }, matterCode: "M-A" };
  const v1 = (await registerRaw(h, s.consumer.token, meta, pdfBytes("v1"))).json().material;
  const v2r = await registerRaw(h, s.consumer.token, { ...meta, supersedes: v1.identifier }, pdfBytes("v2"));
  t.equal(v2r.statusCode, 201, v2r.body);
  const v2 = v2r.json().material;
  t.equal(v2.supersedes, v1.identifier);
  t.equal(v2.identifier.split(".")[2], v1.identifier.split(".")[2], "same serial");
  t.equal(v2.identifier.split(".")[3], "002");
  const old = (await h.app.inject({ url: `/materials/${v1.identifier}`, headers: bearer(s.consumer.token) })).json();
  t.equal(old.status, "superseded");
  t.equal(old.supersededBy, v2.identifier);
  t.equal((await registerRaw(h, s.consumer.token, { ...meta, supersedes: v1.identifier }, pdfBytes("v3"))).json().code, "MATERIAL_STATE_INVALID", "a superseded one cannot be superseded again");
  const hist = (await h.app.inject({ url: `/materials/${v2.identifier}/history`, headers: bearer(s.consumer.token) })).json();
  t.same(hist.items.map((i: { identifier: string }) => i.identifier), [v1.identifier, v2.identifier]);
  const d = await registerRaw(h, s.consumer.token, { ...meta, derivedFrom: v2.identifier, derivation: "redacted" }, pdfBytes("redacted"));
  t.equal(d.statusCode, 201, d.body);
  t.equal(d.json().material.derivedFrom, v2.identifier);
  t.equal(d.json().material.derivation, "redacted");
  t.equal((await registerRaw(h, s.consumer.token, { ...meta, holder: { code: OTHER_HOLDER, codeType: "111" }, derivedFrom: v2.identifier }, pdfBytes("x"))).json().code, "MATERIAL_STATE_INVALID", "derived material of another holder");
});
