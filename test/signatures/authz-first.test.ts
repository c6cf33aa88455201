/**
 * Authorisation before work (issue 14, access that should be refused): on every signing route that reads the
 * document, a caller who may not see the request gets 404 SIGNING_REQUEST_NOT_FOUND before any PDF work, whatever
 * the document or the body — no worker time spent for them and no different answer (a PDF error, a certificate
 * error) that tells a request exists. The initiator of a request that is no longer a draft gets the state's 409,
 * also without the document being read.
 */
import t from "tap";
import { makePdf } from "../../fixtures/pdf/make-pdf.js";
import { bearer } from "../helpers/app.js";
import { body, citizenId, createRequest, setup, signer, type SigningSetup } from "./helpers.js";

/** Counts the PDF worker tasks of the signing service (the pool object it was built with). */
function countPdfWork(s: SigningSetup): () => number {
  const pool = s.h.ctx.pdf;
  const orig = pool.signing.bind(pool);
  let n = 0;
  pool.signing = (pdf, op) => {
    n++;
    return orig(pdf, op);
  };
  return () => n;
}

const MARK = { width: 300, height: 120, strokes: [[20, 80, 60, 40, 100, 90]] };

t.test("send and upload: strangers get 404 before the document is read", async (t) => {
  const s = await setup(t, 2);
  const { h, people: [a, b] } = s;
  const work = countPdfWork(s);
  // A draft whose placement names a page the document does not have: reading it at send is PDF_PAGE_NOT_FOUND.
  const created = await h.app.inject({ method: "POST", url: "/signatures", headers: bearer(s.consumer.token), payload: body(s, [[signer(a!, { page: 9, xMm: 1, yMm: 1, widthMm: 40, heightMm: 15 })]]) });
  t.equal(created.statusCode, 201, created.body);
  const id = created.json().id as string;
  const put = await h.app.inject({ method: "PUT", url: `/signatures/${id}/document`, headers: { ...bearer(s.consumer.token), "content-type": "application/pdf" }, payload: makePdf() });
  t.equal(put.statusCode, 200, put.body);
  const dept = await h.department("乙局");
  const strangers: Array<[string, string]> = [
    ["another approval system", (await h.client("consumer")).token],
    ["an issuer of a department", (await h.client("issuer", { departmentId: dept.id })).token],
  ];
  const before = work();
  for (const [who, token] of strangers) {
    const send = await h.app.inject({ method: "POST", url: `/signatures/${id}/send`, headers: bearer(token) });
    t.equal(send.statusCode, 404, `${who}: send → 404 (${send.body.slice(0, 120)})`);
    t.equal(send.json().code, "SIGNING_REQUEST_NOT_FOUND", who);
    for (const [what, pdf] of [["junk", Buffer.from("not a pdf at all")], ["a good PDF", makePdf()]] as const) {
      const up = await h.app.inject({ method: "PUT", url: `/signatures/${id}/document`, headers: { ...bearer(token), "content-type": "application/pdf" }, payload: pdf });
      t.equal(up.statusCode, 404, `${who}: upload of ${what} → 404 (${up.body.slice(0, 120)})`);
      t.equal(up.json().code, "SIGNING_REQUEST_NOT_FOUND", `${who}: ${what}`);
    }
    // A request that does not exist answers exactly the same.
    const none = await h.app.inject({ method: "POST", url: `/signatures/0193a0b4-5c1e-7f00-8000-0000000000ff/send`, headers: bearer(token) });
    t.same([none.statusCode, none.json().code], [404, "SIGNING_REQUEST_NOT_FOUND"]);
  }
  t.equal(work(), before, "no PDF work was done for a caller who may not see the request");
  // The initiator still gets the document's own answer.
  const mine = await h.app.inject({ method: "POST", url: `/signatures/${id}/send`, headers: bearer(s.consumer.token) });
  t.equal(mine.json().code, "PDF_PAGE_NOT_FOUND", "the initiator's send reads the document");
  t.equal(work(), before + 1);

  // Once sent, the initiator's upload is refused by state, before the upload is read.
  const sent = await createRequest(s, [[signer(b!)]]);
  const n = work();
  const late = await h.app.inject({ method: "PUT", url: `/signatures/${sent}/document`, headers: { ...bearer(s.consumer.token), "content-type": "application/pdf" }, payload: Buffer.from("%PDF-1.7 junk") });
  t.equal(late.statusCode, 409, late.body);
  t.equal(late.json().code, "SIGNING_STATE_INVALID");
  const again = await h.app.inject({ method: "POST", url: `/signatures/${sent}/send`, headers: bearer(s.consumer.token) });
  t.equal(again.json().code, "SIGNING_STATE_INVALID");
  t.equal(work(), n, "no PDF work for a request that is no longer a draft");
});

t.test("own-key prepare: a holder who is not a participant gets 404 before their certificates are read", async (t) => {
  const s = await setup(t, 1);
  const { h, people: [a] } = s;
  const id = await createRequest(s, [[signer(a!)]]);
  const stranger = await h.holderToken(citizenId(998));
  const work = countPdfWork(s);
  const n = work();
  for (const certificates of [["AAAA"], ["not base64 at all!"], ["MIIBkTCB+wIJAKHBfpE"]]) {
    const r = await h.app.inject({ method: "POST", url: `/signatures/${id}/external/prepare`, headers: bearer(stranger), payload: { certificates, mark: MARK } });
    t.equal(r.statusCode, 404, `${JSON.stringify(certificates)}: ${r.body.slice(0, 120)}`);
    t.equal(r.json().code, "SIGNING_REQUEST_NOT_FOUND");
  }
  const none = await h.app.inject({ method: "POST", url: `/signatures/0193a0b4-5c1e-7f00-8000-0000000000ff/external/prepare`, headers: bearer(stranger), payload: { certificates: ["AAAA"], mark: MARK } });
  t.same([none.statusCode, none.json().code], [404, "SIGNING_REQUEST_NOT_FOUND"], "the same answer as for a request that does not exist");
  t.equal(work(), n, "no PDF work");
  // The participant gets the certificate's own answer.
  const mine = await h.app.inject({ method: "POST", url: `/signatures/${id}/external/prepare`, headers: bearer(a!.token), payload: { certificates: ["AAAA"], mark: MARK } });
  t.equal(mine.statusCode, 422, mine.body);
  t.equal(mine.json().code, "EXTERNAL_CERTIFICATE_UNTRUSTED");
});
