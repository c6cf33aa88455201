/**
 * E-signatures (issue 17): signing requests.
 *   POST /signatures                      consumer (for a matter it serves) / issuer: create a draft request
 *   GET  /signatures                      the initiator's requests (issuers: their department's)
 *   GET  /signatures/:id                  initiator or participant (anyone else: 404)
 *   PUT  /signatures/:id/document         initiator, draft: the PDF to sign
 *   GET  /signatures/:id/document         initiator or participant: the latest revision
 *   POST /signatures/:id/send             initiator: draft → in progress
 *   POST /signatures/:id/cancel           initiator: cancel an open request
 *   POST /signatures/:id/decline          participant whose turn it is: decline with a reason
 *   GET  /holders/me/signatures           holder: requests waiting for me (or all of mine)
 *   POST /signatures/:id/sign/options     participant: WebAuthn options bound to this request and document hash
 *   POST /signatures/:id/sign             participant: cloud signature (fresh login + passkey assertion + drawn mark)
 *   POST /signatures/:id/external/prepare     participant: the data to sign for their own certificate (getDataToSign)
 *   POST /signatures/:id/external/signature   participant: the signature value (embedded as their revision)
 *   GET|POST /holders/me/passkeys, POST /holders/me/passkeys/options   holder: passkeys
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { AppError } from "../../errors.js";
import type { CatalogueRepos } from "../../modules/catalogue/index.js";
import type { Completion, RequestView, SignatureRepos, SignatureService, SigningFlow, SigningRequest } from "../../modules/signatures/index.js";
import type { PkiRepos } from "../../pki/index.js";
import { Line } from "../validation.js";
import { problems } from "../schemas.js";
import { PDF_BODY_LIMIT } from "./seals.js";

const SEC = [{ bearer: [] }];
const INITIATOR = { roles: ["consumer" as const, "issuer" as const] };
const EITHER = { roles: ["consumer" as const, "issuer" as const], holder: true };
const HOLDER = { holder: true };
const EX_ID = "0193a0b4-5c1e-7f00-8000-0000000000a1";

const Placement = Type.Union([
  Type.Object({
    page: Type.Integer({ minimum: 1, maximum: 100_000, description: "1-based page" }),
    xMm: Type.Number({ minimum: 0, maximum: 2000, description: "left edge of the box, mm from the page's left edge" }),
    yMm: Type.Number({ minimum: 0, maximum: 2000, description: "top edge of the box, mm from the page's top edge" }),
    widthMm: Type.Number({ minimum: 10, maximum: 200 }),
    heightMm: Type.Number({ minimum: 5, maximum: 200 }),
  }, { additionalProperties: false }),
  Type.Object({
    placeholder: Type.String({ minLength: 1, maxLength: 64, description: "text in the PDF where the signature goes, e.g. [[签名1]] (first occurrence)" }),
    widthMm: Type.Number({ minimum: 10, maximum: 200 }),
    heightMm: Type.Number({ minimum: 5, maximum: 200 }),
  }, { additionalProperties: false }),
]);
const ParticipantIn = Type.Object({
  name: Line({ minLength: 1, maxLength: 64, description: "the person's name (shown to them, in their certificate)" }),
  holderCode: Type.String({ minLength: 1, maxLength: 64, description: "the person's code (citizen ID…): matched against their holder token" }),
  holderCodeType: Type.String({ pattern: "^[0-9]{3}$", description: "GB/T 36903 personal code type: 111, 411-414, 511, 516, 999" }),
  role: Type.Union([Type.Literal("signer"), Type.Literal("approver"), Type.Literal("copy")], { description: "copy: receives the document, does not sign" }),
  actingFor: Type.Optional(Type.String({ minLength: 18, maxLength: 18, description: "USCC of the company a legal representative signs for" })),
  placement: Type.Optional(Placement),
}, { additionalProperties: false });
const CreateBody = Type.Object({
  title: Line({ minLength: 1, maxLength: 200 }),
  matterCode: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "the matter (事项); required for approval systems" })),
  caseRef: Type.Optional(Line({ minLength: 1, maxLength: 64, description: "the case (办件) number" })),
  expiresAt: Type.String({ format: "date-time" }),
  groups: Type.Array(Type.Array(ParticipantIn, { minItems: 1, maxItems: 50 }), { minItems: 1, maxItems: 20, description: "groups in signing order; a group's participants sign in parallel" }),
}, {
  additionalProperties: false,
  examples: [{
    title: "告知承诺书", matterCode: "M-0001", caseRef: "2026-000123", expiresAt: "2026-12-31T16:00:00Z",
    groups: [
      [{ name: "张三", holderCode: "11010519491231002X", holderCodeType: "111", role: "signer", placement: { placeholder: "[[签名1]]", widthMm: 40, heightMm: 20 } }],
      [{ name: "李四", holderCode: "110105194912310037", holderCodeType: "111", role: "approver", placement: { page: 1, xMm: 120, yMm: 230, widthMm: 40, heightMm: 20 } }],
    ],
  }],
});
const ParticipantOut = Type.Object({
  idx: Type.Integer(), group: Type.Integer(), name: Type.String({ description: "in full for the initiator and the person; masked for other participants" }),
  holderCode: Type.String({ description: "masked" }), holderCodeType: Type.String(), role: Type.String(), actingFor: Type.Union([Type.String(), Type.Null()]),
  placement: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  status: Type.String({ description: "waiting | pending (may act now) | signed | declined | copy" }),
  viewedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]), actedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  declineReason: Type.Union([Type.String(), Type.Null()]), method: Type.Union([Type.String(), Type.Null()]), logIndex: Type.Union([Type.Integer(), Type.Null()]),
  me: Type.Optional(Type.Boolean()),
});
const EX_REQUEST = {
  id: EX_ID, title: "告知承诺书", matterCode: "M-0001", caseRef: "2026-000123", initiator: "client:approval-1", departmentId: null,
  status: "in_progress", currentGroup: 1, groupCount: 2, expiresAt: "2026-12-31T16:00:00.000Z",
  documentSha256: "9f2c…", currentSha256: "9f2c…", pageCount: 2, statusReason: null,
  createdAt: "2026-12-07T06:00:00.000Z", updatedAt: "2026-12-07T06:01:00.000Z", completedAt: null,
  participants: [{ idx: 0, group: 1, name: "张三", holderCode: "110***********002X", holderCodeType: "111", role: "signer", actingFor: null,
    placement: { placeholder: "[[签名1]]", widthMm: 40, heightMm: 20 }, status: "pending", viewedAt: null, actedAt: null, declineReason: null, method: null, logIndex: null }],
};
const EX_EVIDENCE = {
  format: "sidian-signing-evidence/1", generatedAt: "2026-12-07T06:30:00.000Z",
  request: { id: EX_ID, title: "告知承诺书", status: "completed", documentSha256: "9f2c…", finalSha256: "c41a…", sealed: true },
  participants: [{ idx: 0, group: 1, name: "张三", holderCode: "110***********002X", holderCodeType: "111", role: "signer", status: "signed", method: "cloud", actedAt: "2026-12-07T06:10:00.000Z", logIndex: 42, declineReason: null }],
  documents: [{ seq: 1, kind: "uploaded", sha256: "9f2c…", createdAt: "2026-12-07T06:00:00.000Z" }, { seq: 4, kind: "completed", sha256: "c41a…", createdAt: "2026-12-07T06:10:01.000Z" }],
  events: [{ type: "signing.signed", at: "2026-12-07T06:10:00.000Z", logIndex: 42, leafHash: "q83v…", treeSize: 50, rootHash: "Zm9v…", hashes: ["…"], checkpoint: "sidian.example/log\n50\nZm9v…\n\n— …", leaf: "{\"type\":\"signing.signed\",…}" }],
  log: { origin: "sidian.example/log", name: "sidian.example/log", keyId: "…", vkey: "…", publicKeyPem: "-----BEGIN PUBLIC KEY-----…" },
  howToVerify: "Each event: SHA-256(0x00 || leaf) = leafHash; …",
};
const RequestOut = Type.Object({
  id: Type.String(), title: Type.String(), matterCode: Type.Union([Type.String(), Type.Null()]), caseRef: Type.Union([Type.String(), Type.Null()]),
  initiator: Type.String(), departmentId: Type.Union([Type.String(), Type.Null()]),
  status: Type.String({ description: "draft | in_progress | completed | declined | expired | cancelled" }),
  currentGroup: Type.Integer({ description: "the group that may act now (0 while a draft)" }), groupCount: Type.Integer(),
  expiresAt: Type.String({ format: "date-time" }), documentSha256: Type.Union([Type.String(), Type.Null()]), currentSha256: Type.Union([Type.String(), Type.Null()]),
  pageCount: Type.Union([Type.Integer(), Type.Null()]), statusReason: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: "date-time" }), updatedAt: Type.String({ format: "date-time" }), completedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  participants: Type.Array(ParticipantOut),
}, { $id: "SigningRequest", examples: [EX_REQUEST] });
const SummaryOut = Type.Object({
  id: Type.String(), title: Type.String(), matterCode: Type.Union([Type.String(), Type.Null()]), caseRef: Type.Union([Type.String(), Type.Null()]),
  status: Type.String(), currentGroup: Type.Integer(), groupCount: Type.Integer(), expiresAt: Type.String({ format: "date-time" }),
  createdAt: Type.String({ format: "date-time" }), updatedAt: Type.String({ format: "date-time" }),
});
const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const ReasonBody = (required: boolean, ex: string) => Type.Object({
  reason: required ? Type.String({ minLength: 1, maxLength: 500 }) : Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
}, { additionalProperties: false, examples: [{ reason: ex }] });
const ListQuery = Type.Object({
  status: Type.Optional(Type.Union(["draft", "in_progress", "completed", "declined", "expired", "cancelled"].map((s) => Type.Literal(s)))),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  before: Type.Optional(Type.String({ maxLength: 128, description: "the `next` of the page before" })),
}, { additionalProperties: false });
const MineQuery = Type.Object({
  which: Type.Optional(Type.Union([Type.Literal("waiting"), Type.Literal("all")], { description: "waiting (default): my turn now; all: every request I take part in" })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
}, { additionalProperties: false });

export function requestOut(v: RequestView) {
  const r = v.request;
  return {
    id: r.id, title: r.title, matterCode: r.matterCode, caseRef: r.caseRef, initiator: `client:${r.initiatorClientId}`, departmentId: r.departmentId,
    status: r.status, currentGroup: r.currentGroup, groupCount: r.groupCount, expiresAt: r.expiresAt.toISOString(),
    documentSha256: r.documentSha256, currentSha256: r.currentSha256, pageCount: r.pageCount, statusReason: r.statusReason,
    createdAt: r.createdAt.toISOString(), updatedAt: r.updatedAt.toISOString(), completedAt: r.completedAt?.toISOString() ?? null,
    participants: v.participants.map((p) => ({
      ...p, viewedAt: p.viewedAt?.toISOString() ?? null, actedAt: p.actedAt?.toISOString() ?? null,
      placement: p.placement as Record<string, unknown> | null,
    })),
  };
}

function summaryOut(r: SigningRequest) {
  return {
    id: r.id, title: r.title, matterCode: r.matterCode, caseRef: r.caseRef, status: r.status, currentGroup: r.currentGroup, groupCount: r.groupCount,
    expiresAt: r.expiresAt.toISOString(), createdAt: r.createdAt.toISOString(), updatedAt: r.updatedAt.toISOString(),
  };
}

const ok = (schema: TSchema) => ({ 200: schema });
export const NOT_FOUND_CODES = ["SIGNING_REQUEST_NOT_FOUND", "AUTH_REQUIRED", "TOKEN_INVALID", "FORBIDDEN_ROLE"] as const;
export const CLOSED_CODES = ["SIGNING_STATE_INVALID", "SIGNING_DECLINED", "SIGNING_EXPIRED", "SIGNING_CANCELLED", "SIGNING_COMPLETED"] as const;

export function sendPdf(reply: FastifyReply, pdf: Buffer, sha256: string, filename: string) {
  return reply.type("application/pdf").header("cache-control", "private, no-store").header("x-document-sha256", sha256)
    .header("content-disposition", `attachment; filename="${filename}"`).send(pdf);
}

const Mark = Type.Object({
  width: Type.Number({ minimum: 10, maximum: 4000, description: "drawing surface width, px" }),
  height: Type.Number({ minimum: 10, maximum: 4000 }),
  strokes: Type.Array(Type.Array(Type.Number(), { minItems: 2, maxItems: 10_000 }), { minItems: 1, maxItems: 200, description: "each stroke x0, y0, x1, y1, … in px (origin top-left)" }),
}, { additionalProperties: false, description: "the handwritten signature as vector strokes" });
const EX_MARK = { width: 300, height: 120, strokes: [[20, 80, 60, 40, 100, 90, 140, 30], [160, 60, 260, 60]] };
const SignBody = Type.Object({
  assertion: Type.Record(Type.String(), Type.Unknown(), { description: "the WebAuthn assertion (AuthenticationResponseJSON) made with the options of …/sign/options" }),
  mark: Mark,
}, { additionalProperties: false, examples: [{ assertion: { id: "…", rawId: "…", type: "public-key", response: { clientDataJSON: "…", authenticatorData: "…", signature: "…" }, clientExtensionResults: {} }, mark: EX_MARK }] });
const PrepareBody = Type.Object({
  certificates: Type.Array(Type.String({ maxLength: 16_384, description: "DER, base64" }), { minItems: 1, maxItems: 5, description: "the signer's certificate first, then its CA certificates" }),
  mark: Mark,
}, { additionalProperties: false, examples: [{ certificates: ["MIIB…"], mark: EX_MARK }] });
const SignatureBody = Type.Object({
  signatureValue: Type.String({ minLength: 8, maxLength: 2048, description: "DER ECDSA signature over dataToSign, base64" }),
}, { additionalProperties: false, examples: [{ signatureValue: "MEUCIQ…" }] });
const SignedOut = Type.Object({ requestId: Type.String(), status: Type.String(), logIndex: Type.Integer(), documentSha256: Type.String() }, {
  examples: [{ requestId: EX_ID, status: "in_progress", logIndex: 42, documentSha256: "5b1e…" }],
});
const RegisterBody = Type.Object({
  response: Type.Record(Type.String(), Type.Unknown(), { description: "RegistrationResponseJSON from navigator.credentials.create()" }),
}, { additionalProperties: false, examples: [{ response: { id: "…", rawId: "…", type: "public-key", response: { clientDataJSON: "…", attestationObject: "…" }, clientExtensionResults: {} } }] });
const RegisterOptionsBody = Type.Object({ displayName: Type.Optional(Line({ minLength: 1, maxLength: 64 })) }, { additionalProperties: false, examples: [{ displayName: "张三" }] });
const OPTIONS_EX = { challenge: "Zm9v…", rpId: "sign.example.gov.cn", allowCredentials: [{ id: "…", type: "public-key" }], userVerification: "required", timeout: 60000 };

export default async function signatureRoutes<R extends SignatureRepos & CatalogueRepos & PkiRepos>(app: FastifyInstance, opts: { signatures: SignatureService<R>; signing: SigningFlow<R>; completion: Completion<R> }) {
  const flow = opts.signing;
  const svc = opts.signatures;
  app.addSchema(RequestOut);
  if (!app.hasContentTypeParser("application/pdf")) {
    app.addContentTypeParser("application/pdf", { parseAs: "buffer", bodyLimit: PDF_BODY_LIMIT }, (_req, body, done) => done(null, body));
  }

  app.post<{ Body: Static<typeof CreateBody> }>("/signatures", {
    config: { auth: INITIATOR },
    schema: {
      tags: ["signatures"], summary: "Create a signing request (draft)",
      description: "An approval system (for a matter it serves) or a department creates a request: title, matter, case, expiry and the participants in groups that sign in sequence (a group's participants sign in parallel). Each signer and approver needs a placement: a page and a rectangle in mm, or a text placeholder such as `[[签名1]]` found in the PDF. Upload the PDF next (`PUT /signatures/{id}/document`), then send it. Logged as `signing.created`.",
      security: SEC, body: CreateBody,
      response: { 201: Type.Ref("SigningRequest"), ...problems("VALIDATION_FAILED", "HOLDER_CODE_TYPE_INVALID", "HOLDER_CODE_INVALID", "USCC_INVALID", "AUTH_REQUIRED", "FORBIDDEN_ROLE", "FORBIDDEN_MATTER", "MATTER_NOT_FOUND") },
    },
  }, async (req, reply) => {
    const b = req.body;
    const expiresAt = new Date(b.expiresAt);
    const v = await svc.create({
      title: b.title, expiresAt, groups: b.groups, ...(b.matterCode ? { matterCode: b.matterCode } : {}), ...(b.caseRef ? { caseRef: b.caseRef } : {}),
    }, req.actor);
    return reply.code(201).send(requestOut(v));
  });

  app.get<{ Querystring: Static<typeof ListQuery> }>("/signatures", {
    config: { auth: INITIATOR },
    schema: {
      tags: ["signatures"], summary: "List my signing requests (issuers: their department's), newest first",
      description: "A page at a time: pass the answer's `next` as `before` for the next page.",
      security: SEC, querystring: ListQuery,
      response: { 200: Type.Object({ items: Type.Array(SummaryOut), next: Type.Optional(Type.String()) }, {
        examples: [{ items: [{ id: EX_ID, title: "告知承诺书", matterCode: "M-0001", caseRef: "2026-000123", status: "in_progress", currentGroup: 1, groupCount: 2, expiresAt: "2026-12-31T16:00:00.000Z", createdAt: "2026-12-07T06:00:00.000Z", updatedAt: "2026-12-07T06:01:00.000Z" }] }],
      }), ...problems("VALIDATION_FAILED", "AUTH_REQUIRED", "FORBIDDEN_ROLE") },
    },
  }, async (req) => {
    const limit = req.query.limit ?? 50;
    let before: { at: Date; id: string } | undefined;
    if (req.query.before) {
      const m = /^(\d{1,15})\.([0-9a-f-]{36})$/.exec(req.query.before);
      if (!m) throw new AppError("VALIDATION_FAILED", "before must be the `next` of an earlier page.", { details: { field: "before" } });
      before = { at: new Date(Number(m[1])), id: m[2]! };
    }
    const items = await svc.list(req.actor, { limit, ...(req.query.status ? { status: req.query.status as SigningRequest["status"] } : {}), ...(before ? { before } : {}) });
    const last = items[items.length - 1];
    return { items: items.map(summaryOut), ...(items.length === limit && last ? { next: `${last.createdAt.getTime()}.${last.id}` } : {}) };
  });

  app.get<{ Params: Static<typeof IdParam> }>("/signatures/:id", {
    config: { auth: EITHER },
    schema: {
      tags: ["signatures"], summary: "A signing request and its participants",
      description: "For the initiator and the participants; for anyone else the request does not exist (404). A participant's first look is logged (`signing.viewed`). A request past its expiry is reported (and recorded) as expired.",
      security: SEC, params: IdParam, response: { ...ok(Type.Ref("SigningRequest")), ...problems(...NOT_FOUND_CODES) },
    },
  }, async (req, reply) => {
    reply.header("cache-control", "no-store");
    return requestOut(await svc.get(req.params.id, req.actor));
  });

  app.put<{ Params: Static<typeof IdParam>; Body: Buffer }>("/signatures/:id/document", {
    bodyLimit: PDF_BODY_LIMIT,
    config: { auth: INITIATOR },
    schema: {
      tags: ["signatures"], summary: "Upload the PDF to sign (draft only; replaces an earlier upload)",
      consumes: ["application/pdf"],
      description: "Body: the PDF (`content-type: application/pdf`, up to 50 MB). Encrypted PDFs are refused. The document is fixed when the request is sent.",
      security: SEC, params: IdParam,
      response: { ...ok(Type.Ref("SigningRequest")), ...problems(...NOT_FOUND_CODES, "SIGNING_STATE_INVALID", "SIGNING_EXPIRED", "SIGNING_CANCELLED", "BODY_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "PDF_INVALID", "PDF_ENCRYPTED", "PDF_LIMIT_EXCEEDED", "PDF_BUDGET_EXCEEDED", "PDF_WORKERS_BUSY") },
    },
  }, async (req) => {
    if (!Buffer.isBuffer(req.body)) throw new AppError("UNSUPPORTED_MEDIA_TYPE", "Send the PDF as the body with content-type application/pdf.");
    return requestOut(await svc.putDocument(req.params.id, req.body, req.actor));
  });

  app.get<{ Params: Static<typeof IdParam> }>("/signatures/:id/document", {
    config: { auth: EITHER, document: true },
    schema: {
      tags: ["signatures"], summary: "The latest revision of the document (PDF)",
      description: "The document as it stands: as uploaded, then with each signature added as an incremental revision, then completed and sealed. `x-document-sha256` carries its SHA-256.",
      security: SEC, params: IdParam,
      response: { 200: Type.String({ description: "application/pdf", examples: ["%PDF-1.7 …"] }), ...problems(...NOT_FOUND_CODES, "SIGNING_DOCUMENT_MISSING") },
    },
  }, async (req, reply) => {
    let d = await svc.document(req.params.id, req.actor);
    // Completed but not sealed yet (sealing failed after the last signature): try again now.
    if (d.request.status === "completed" && d.kind !== "completed" && (await opts.completion.tryFinalise(req.params.id))) d = await svc.document(req.params.id, req.actor);
    return sendPdf(reply, d.pdf, d.sha256, `${d.request.id}${d.kind === "completed" ? "-signed" : ""}.pdf`);
  });

  app.get<{ Params: Static<typeof IdParam> }>("/signatures/:id/evidence", {
    config: { auth: EITHER },
    schema: {
      tags: ["signatures"], summary: "The evidence bundle (JSON): revisions, trust events and their inclusion proofs",
      description: "For the initiator and the participants. The request and its participants (codes masked), every revision of the document with its SHA-256 (uploaded, prepared, each signature, the sealed final one), and every trust event of the request (created, sent, viewed, signed, declined, expired, cancelled, completed, sealed) with its log leaf and an RFC 9162 inclusion proof against a signed checkpoint, and the log's public key: enough to check offline that the events are in the log.",
      security: SEC, params: IdParam,
      response: { 200: Type.Object({
        format: Type.String(), generatedAt: Type.String({ format: "date-time" }), request: Type.Record(Type.String(), Type.Unknown()),
        participants: Type.Array(Type.Record(Type.String(), Type.Unknown())), documents: Type.Array(Type.Object({ seq: Type.Integer(), kind: Type.String(), sha256: Type.String(), createdAt: Type.String({ format: "date-time" }) })),
        events: Type.Array(Type.Record(Type.String(), Type.Unknown())), log: Type.Record(Type.String(), Type.Unknown()), howToVerify: Type.String(),
      }, { examples: [EX_EVIDENCE] }), ...problems(...NOT_FOUND_CODES) },
    },
  }, async (req, reply) => {
    reply.header("cache-control", "no-store");
    return opts.completion.evidence(req.params.id, req.actor);
  });

  app.post<{ Params: Static<typeof IdParam> }>("/signatures/:id/send", {
    config: { auth: INITIATOR },
    schema: {
      tags: ["signatures"], summary: "Send the request: the document is fixed and the first group may sign",
      description: "draft → in_progress. Every placement is checked against the document (the page exists, the placeholder is found). Logged as `signing.sent` with the document's SHA-256.",
      security: SEC, params: IdParam,
      response: { ...ok(Type.Ref("SigningRequest")), ...problems(...NOT_FOUND_CODES, ...CLOSED_CODES, "SIGNING_DOCUMENT_MISSING", "CONFLICT", "PDF_PAGE_NOT_FOUND", "PDF_ANCHOR_NOT_FOUND", "PDF_LIMIT_EXCEEDED", "PDF_BUDGET_EXCEEDED", "PDF_WORKERS_BUSY") },
    },
  }, async (req) => requestOut(await svc.send(req.params.id, req.actor)));

  app.post<{ Params: Static<typeof IdParam>; Body: Static<ReturnType<typeof ReasonBody>> }>("/signatures/:id/cancel", {
    config: { auth: INITIATOR },
    schema: {
      tags: ["signatures"], summary: "Cancel an open request (final)",
      description: "draft or in_progress → cancelled; nobody can sign it afterwards (409 SIGNING_CANCELLED). Logged as `signing.cancelled`.",
      security: SEC, params: IdParam, body: ReasonBody(false, "申请人撤回申请"),
      response: { ...ok(Type.Ref("SigningRequest")), ...problems(...NOT_FOUND_CODES, ...CLOSED_CODES, "VALIDATION_FAILED") },
    },
  }, async (req) => requestOut(await svc.cancel(req.params.id, req.body?.reason ?? null, req.actor)));

  app.post<{ Params: Static<typeof IdParam>; Body: Static<ReturnType<typeof ReasonBody>> }>("/signatures/:id/decline", {
    config: { auth: HOLDER },
    schema: {
      tags: ["signatures"], summary: "Decline to sign, with a reason (final for the whole request)",
      description: "Only a participant whose group signs now. The request becomes `declined`; logged as `signing.declined`.",
      security: SEC, params: IdParam, body: ReasonBody(true, "内容与约定不符"),
      response: { ...ok(Type.Ref("SigningRequest")), ...problems(...NOT_FOUND_CODES, ...CLOSED_CODES, "SIGNING_NOT_YOUR_TURN", "SIGNING_ALREADY_ACTED", "VALIDATION_FAILED") },
    },
  }, async (req) => requestOut(await svc.decline(req.params.id, req.body.reason!, req.actor)));

  app.get<{ Querystring: Static<typeof MineQuery> }>("/holders/me/signatures", {
    config: { auth: HOLDER },
    schema: {
      tags: ["holder"], summary: "Requests waiting for my signature (or every request I take part in)",
      description: "`which=waiting` (default): requests in progress where my group signs now and I have not acted. `which=all`: every request I am a participant of, newest first, with my status.",
      security: SEC, querystring: MineQuery,
      response: { 200: Type.Object({ items: Type.Array(Type.Object({
        id: Type.String(), title: Type.String(), matterCode: Type.Union([Type.String(), Type.Null()]), caseRef: Type.Union([Type.String(), Type.Null()]),
        status: Type.String(), expiresAt: Type.String({ format: "date-time" }), createdAt: Type.String({ format: "date-time" }),
        role: Type.String(), group: Type.Integer(), myStatus: Type.String(), actedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
      })) }, { examples: [{ items: [{ id: EX_ID, title: "告知承诺书", matterCode: "M-0001", caseRef: "2026-000123", status: "in_progress", expiresAt: "2026-12-31T16:00:00.000Z", createdAt: "2026-12-07T06:00:00.000Z", role: "signer", group: 1, myStatus: "pending", actedAt: null }] }] }),
      ...problems("VALIDATION_FAILED", "AUTH_REQUIRED", "TOKEN_INVALID", "FORBIDDEN_ROLE") },
    },
  }, async (req, reply) => {
    reply.header("cache-control", "no-store");
    const items = await svc.holderList(req.actor, req.query.which ?? "waiting", req.query.limit ?? 50);
    return { items: items.map((i) => ({ ...i, expiresAt: i.expiresAt.toISOString(), createdAt: i.createdAt.toISOString(), actedAt: i.actedAt?.toISOString() ?? null })) };
  });

  const SIGN_CODES = [...NOT_FOUND_CODES, ...CLOSED_CODES, "SIGNING_NOT_YOUR_TURN", "SIGNING_ALREADY_ACTED", "SIGNING_DOCUMENT_CHANGED", "SIGNATURE_MARK_INVALID", "VALIDATION_FAILED", "PDF_LIMIT_EXCEEDED", "PDF_BUDGET_EXCEEDED", "PDF_WORKERS_BUSY"] as const;

  app.post<{ Params: Static<typeof IdParam> }>("/signatures/:id/sign/options", {
    config: { auth: HOLDER },
    schema: {
      tags: ["signatures"], summary: "Passkey options for a cloud signature, bound to this request and document",
      description: "The WebAuthn challenge is derived from the request, the participant and the document's current SHA-256, and can be used once within 5 minutes. Needs a holder login from the last SIDIAN_SIGNING_REAUTH_SECONDS and a registered passkey.",
      security: SEC, params: IdParam,
      response: { 200: Type.Object({ options: Type.Record(Type.String(), Type.Unknown()), documentSha256: Type.String() }, { examples: [{ options: OPTIONS_EX, documentSha256: "9f2c…" }] }),
        ...problems(...NOT_FOUND_CODES, ...CLOSED_CODES, "SIGNING_NOT_YOUR_TURN", "SIGNING_ALREADY_ACTED", "SIGNING_REAUTH_REQUIRED", "PASSKEY_REQUIRED") },
    },
  }, async (req) => {
    const r = await flow.signOptions(req.params.id, req.actor);
    return { options: r.options as unknown as Record<string, unknown>, documentSha256: r.documentSha256 };
  });

  app.post<{ Params: Static<typeof IdParam>; Body: Static<typeof SignBody> }>("/signatures/:id/sign", {
    config: { auth: HOLDER },
    schema: {
      tags: ["signatures"], summary: "Sign with my cloud key (passkey confirmation + drawn signature)",
      description: "Adds the participant's PAdES B-T signature as a new incremental revision (personal-signing certificate from Sidian's CA, RFC 3161 time-stamp) with the drawn strokes as its appearance. The key is created on first use. Logged as `signing.signed`; the next group may sign once every participant of this group has; after the last group the request is completed.",
      security: SEC, params: IdParam, body: SignBody,
      response: { 200: SignedOut, ...problems(...SIGN_CODES, "SIGNING_REAUTH_REQUIRED", "PASSKEY_REQUIRED", "WEBAUTHN_ASSERTION_INVALID", "KEYSTORE_UNAVAILABLE") },
    },
  }, async (req) => {
    const r = await flow.signCloud(req.params.id, req.actor, { assertion: req.body.assertion as never, mark: req.body.mark });
    return { requestId: req.params.id, ...r };
  });

  app.post<{ Params: Static<typeof IdParam>; Body: Static<typeof PrepareBody> }>("/signatures/:id/external/prepare", {
    config: { auth: HOLDER },
    schema: {
      tags: ["signatures"], summary: "Own key, step 1: the data to sign for my certificate (getDataToSign)",
      description: "The certificate chain must end at a CA of SIDIAN_SIGNING_TRUST (ECDSA P-256). Sidian prepares the participant's revision and answers the DER CMS signed attributes (`dataToSign`) that the signer's own key (UKey, phone app) signs with ECDSA/SHA-256. Valid for 15 minutes; `sidian sign-external` does both steps with a key file.",
      security: SEC, params: IdParam, body: PrepareBody,
      response: { 200: Type.Object({
        dataToSign: Type.String({ description: "DER signed attributes, base64" }), digestAlgorithm: Type.String(), digest: Type.String({ description: "SHA-256 of dataToSign, hex" }),
        signatureAlgorithm: Type.String(), documentSha256: Type.String(), expiresAt: Type.String({ format: "date-time" }),
      }, { examples: [{ dataToSign: "MYGT…", digestAlgorithm: "SHA-256", digest: "3a7f…", signatureAlgorithm: "ECDSA P-256 with SHA-256 over dataToSign (DER signature value)", documentSha256: "9f2c…", expiresAt: "2026-12-07T06:15:00.000Z" }] }),
      ...problems(...SIGN_CODES, "EXTERNAL_CERTIFICATE_UNTRUSTED") },
    },
  }, async (req) => {
    const r = await flow.externalPrepare(req.params.id, req.actor, req.body);
    return { ...r, expiresAt: r.expiresAt.toISOString() };
  });

  app.post<{ Params: Static<typeof IdParam>; Body: Static<typeof SignatureBody> }>("/signatures/:id/external/signature", {
    config: { auth: HOLDER },
    schema: {
      tags: ["signatures"], summary: "Own key, step 2: the signature value (embedded as my revision)",
      description: "The value must verify over the prepared `dataToSign` with the certificate's key; Sidian adds the time-stamp and embeds the CMS. Refused when another participant signed in between (SIGNING_DOCUMENT_CHANGED: prepare again).",
      security: SEC, params: IdParam, body: SignatureBody,
      response: { 200: SignedOut, ...problems(...SIGN_CODES, "SIGNING_PREPARATION_NOT_FOUND", "EXTERNAL_SIGNATURE_INVALID") },
    },
  }, async (req) => ({ requestId: req.params.id, ...(await flow.externalComplete(req.params.id, req.actor, req.body)) }));

  app.post<{ Body: Static<typeof RegisterOptionsBody> }>("/holders/me/passkeys/options", {
    config: { auth: HOLDER },
    schema: {
      tags: ["holder"], summary: "Start registering a passkey (WebAuthn creation options)",
      description: "Options for navigator.credentials.create(): user verification required, P-256 (ES256). The challenge is single use within 5 minutes.",
      security: SEC, body: RegisterOptionsBody,
      response: { 200: Type.Record(Type.String(), Type.Unknown(), { examples: [{ challenge: "Zm9v…", rp: { name: "Sidian 四电", id: "sign.example.gov.cn" }, user: { id: "…", name: "holder-…", displayName: "张三" }, pubKeyCredParams: [{ alg: -7, type: "public-key" }] }] }),
        ...problems("VALIDATION_FAILED", "AUTH_REQUIRED", "FORBIDDEN_ROLE") },
    },
  }, async (req) => (await flow.registrationOptions(req.actor, req.body?.displayName ?? "Sidian")) as unknown as Record<string, unknown>);

  app.post<{ Body: Static<typeof RegisterBody> }>("/holders/me/passkeys", {
    config: { auth: HOLDER },
    schema: {
      tags: ["holder"], summary: "Finish registering a passkey",
      description: "Verifies the registration response against the challenge, origin (SIDIAN_PUBLIC_URL) and RP ID (its host name) and keeps the credential's public key.",
      security: SEC, body: RegisterBody,
      response: { 201: Type.Object({ id: Type.String(), createdAt: Type.String({ format: "date-time" }) }, { examples: [{ id: "q1w2…", createdAt: "2026-12-07T06:00:00.000Z" }] }),
        ...problems("VALIDATION_FAILED", "WEBAUTHN_REGISTRATION_INVALID", "AUTH_REQUIRED", "FORBIDDEN_ROLE") },
    },
  }, async (req, reply) => {
    const r = await flow.register(req.actor, req.body.response as never);
    return reply.code(201).send({ id: r.id, createdAt: r.createdAt.toISOString() });
  });

  app.get("/holders/me/passkeys", {
    config: { auth: HOLDER },
    schema: {
      tags: ["holder"], summary: "My passkeys", description: "The passkeys I registered for signing, with their last use.",
      security: SEC,
      response: { 200: Type.Object({ items: Type.Array(Type.Object({ id: Type.String(), createdAt: Type.String({ format: "date-time" }), lastUsedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]) })) },
        { examples: [{ items: [{ id: "q1w2…", createdAt: "2026-12-07T06:00:00.000Z", lastUsedAt: null }] }] }), ...problems("AUTH_REQUIRED", "FORBIDDEN_ROLE") },
    },
  }, async (req) => ({ items: (await flow.passkeyList(req.actor)).map((p) => ({ id: p.id, createdAt: p.createdAt.toISOString(), lastUsedAt: p.lastUsedAt?.toISOString() ?? null })) }));
}
