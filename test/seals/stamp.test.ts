import t from "tap";
import { gate, needs } from "../helpers/tools.js";
import { makePdf, variants } from "../../fixtures/pdf/make-pdf.js";
import { bearer } from "../helpers/app.js";
import { opensslCmsVerify, pdfsig, qpdfCheck, stamp, verify, withSeal } from "./helpers.js";

/** Skips (with a visible line naming the Debian packages) where these tools are missing. */
const test = gate(t, needs("pdfsig", "qpdf", "certutil", "openssl"));

test("stamp a PDF: incremental, PAdES B-T, valid in pdfsig/openssl/qpdf and in our validator", async (t) => {
  const s = await withSeal(t);
  const input = makePdf({ pages: 3 });
  const res = await stamp(s, input, "page=2&x=150&y=200&reason=approved");
  t.equal(res.statusCode, 200, res.statusCode === 200 ? "" : res.body);
  t.equal(res.headers["content-type"], "application/pdf");
  const out = res.rawPayload;
  t.ok(out.subarray(0, input.length).equals(input), "the original bytes are kept byte for byte");
  const q = qpdfCheck(t, out);
  t.equal(q.status, 0, q.out);
  const bundle = s.h.ctx.pki.trustBundlePem();
  const ps = pdfsig(t, out, bundle);
  t.match(ps, /Signature is Valid/, ps);
  t.match(ps, /Certificate is Trusted/, ps);
  t.match(ps, /ETSI\.CAdES\.detached/);
  const cms = opensslCmsVerify(t, out, 0, bundle);
  t.ok(cms.ok, `openssl cms -verify: ${cms.out}`);

  const v = await verify(s.h, out);
  t.equal(v.result, "VALID", JSON.stringify(v, null, 1));
  t.equal(v.signatures.length, 1);
  const sig = v.signatures[0];
  t.equal(sig.sealId, s.sealId);
  t.ok(sig.timestampTime, "time-stamped");
  t.equal(sig.coversWholeFile, true);
  for (const id of ["byte-range", "contents", "digest", "signature", "timestamp", "certificate", "seal", "modifications"]) {
    t.equal(sig.checks.find((c: { id: string }) => c.id === id)?.status, "PASSED", `${id} passed`);
  }

  // 用印记录 and the log entry
  const recs = await s.h.app.inject({ url: `/seals/${s.sealId}/stamps`, headers: bearer(s.issuer) });
  t.equal(recs.json().items.length, 1);
  t.equal(recs.json().items[0].id, res.headers["x-stamp-id"]);
  t.equal(recs.json().items[0].page, 2);
  const size = await s.h.ctx.tlog.size();
  const last = await s.h.ctx.tlog.getEntry(size - 1);
  t.equal(last.event.type, "seal.stamped");
  t.equal(last.event.data.resultSha256, res.headers["x-document-sha256"]);
});

test("two departments stamp the same document: both signatures stay valid", async (t) => {
  const a = await withSeal(t, { name: "甲市财政局", type: "02" });
  const b = await withSeal(t, { h: a.h, name: "乙市税务局", type: "01" });
  for (const variant of ["plain", "objectStreams", "linearized"] as const) {
    const input = variant === "plain" ? makePdf({ pages: 2 }) : variants[variant](makePdf({ pages: 2 }));
    const one = await stamp(a, input);
    t.equal(one.statusCode, 200, one.statusCode === 200 ? "first department stamps" : one.body.slice(0, 200));
    const two = await stamp(b, one.rawPayload, "page=1&x=60&y=200");
    t.equal(two.statusCode, 200, two.statusCode === 200 ? "second department stamps" : two.body.slice(0, 200));
    const out = two.rawPayload;
    t.ok(out.subarray(0, one.rawPayload.length).equals(one.rawPayload), `${variant}: second stamp is incremental`);
    const ps = pdfsig(t, out, a.h.ctx.pki.trustBundlePem());
    t.equal((ps.match(/Signature is Valid/g) ?? []).length, 2, `${variant}: pdfsig finds two valid signatures`);
    t.equal(qpdfCheck(t, out).status, 0, `${variant}: qpdf --check`);
    const v = await verify(a.h, out);
    t.equal(v.result, "VALID", `${variant}: ${JSON.stringify(v.signatures.map((x: { checks: unknown }) => x.checks))}`);
    t.equal(v.signatures.length, 2);
    t.equal(v.signatures.find((x: { sealId: string }) => x.sealId === a.sealId).coversWholeFile, false, "the first signature does not cover the second stamp");
    t.match(v.signatures.find((x: { sealId: string }) => x.sealId === a.sealId).checks.find((c: { id: string }) => c.id === "modifications").detail, /allowed/);
  }
});

test("seal status: suspended, revoked, expired seals refuse to stamp; validation uses the status at signing time", async (t) => {
  const s = await withSeal(t);
  const input = makePdf();
  const before = await stamp(s, input);
  t.equal(before.statusCode, 200);
  s.h.clock.advance(60_000);
  const setStatus = (status: string) => s.h.app.inject({ method: "POST", url: `/seals/${s.sealId}/status`, headers: bearer(s.admin), payload: { status, reason: "test" } });
  t.equal((await setStatus("suspended")).statusCode, 200);
  const sus = await stamp(s, input);
  t.equal(sus.statusCode, 409);
  t.equal(sus.json().code, "SEAL_SUSPENDED");
  s.h.clock.advance(60_000);
  t.equal((await setStatus("active")).statusCode, 200);
  t.equal((await stamp(s, input)).statusCode, 200, "reactivated seal stamps again");
  s.h.clock.advance(60_000);
  t.equal((await setStatus("revoked")).statusCode, 200);
  const rev = await stamp(s, input);
  t.equal(rev.json().code, "SEAL_REVOKED");
  t.equal((await setStatus("active")).json().code, "SEAL_STATUS_INVALID", "revocation is final");
  // A stamp made before revocation stays valid (time-stamp before revocation time).
  const v = await verify(s.h, before.rawPayload);
  t.equal(v.result, "VALID", JSON.stringify(v.signatures[0]?.checks));
  // Expired
  const e = await withSeal(t, { h: s.h, name: "某市公安局" });
  s.h.clock.advance(4 * 365 * 86_400_000);
  const fresh = (await s.h.client("issuer", { departmentId: e.dept.id })).token;
  const exp = await stamp(e, input, "page=1&x=150&y=200", fresh);
  t.equal(exp.json().code, "SEAL_EXPIRED");
});

test("authorisation and bad input", async (t) => {
  const s = await withSeal(t);
  const other = await withSeal(t, { h: s.h, name: "另一个局" });
  const wrong = await stamp(s, makePdf(), "page=1&x=10&y=10", other.issuer);
  t.equal(wrong.json().code, "FORBIDDEN_DEPARTMENT", "an issuer cannot use another department's seal");
  const cases: Array<[string, Buffer, string, string]> = [
    ["not a PDF", Buffer.from("hello world, this is not a pdf"), "page=1&x=10&y=10", "PDF_INVALID"],
    ["truncated", makePdf().subarray(0, 300), "page=1&x=10&y=10", "PDF_INVALID"],
    ["encrypted", variants.encrypted(makePdf()), "page=1&x=10&y=10", "PDF_ENCRYPTED"],
    ["broken xref", Buffer.from(makePdf().toString("latin1").replace(/startxref\n\d+/, "startxref\n12345"), "latin1"), "page=1&x=10&y=10", "PDF_INVALID"],
    ["no such page", makePdf(), "page=9&x=10&y=10", "PDF_PAGE_NOT_FOUND"],
    ["no placement", makePdf(), "page=1", "VALIDATION_FAILED"],
    ["anchor not found", makePdf(), "anchor=NOWHERE", "PDF_ANCHOR_NOT_FOUND"],
  ];
  for (const [name, body, q, code] of cases) {
    const r = await stamp(s, body, q);
    t.equal(r.json().code, code, name);
    t.ok(r.statusCode >= 400 && r.statusCode < 500, `${name}: 4xx (${r.statusCode})`);
  }
  const anchored = await stamp(s, makePdf({ pages: 2 }), "anchor=Seal%20here&page=2");
  t.equal(anchored.statusCode, 200, "anchor placement");
  const json = await s.h.app.inject({ method: "POST", url: `/seals/${s.sealId}/stamp?page=1&x=1&y=1`, headers: { ...bearer(s.issuer) }, payload: { a: 1 } });
  t.equal(json.json().code, "UNSUPPORTED_MEDIA_TYPE");
  const big = await s.h.app.inject({ method: "POST", url: "/verify/pdf", headers: { "content-type": "application/pdf" }, payload: Buffer.alloc(51 * 1024 * 1024, 0x20) });
  t.equal(big.statusCode, 413);
  t.equal(big.json().code, "BODY_TOO_LARGE");
});
