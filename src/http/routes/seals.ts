/**
 * E-seals (issue 5).
 *   POST /seals                      admin: create a seal (new key + seal certificate, logged)
 *   GET  /seals                      admin (any department) / issuer (own department)
 *   GET  /seals/:id                  admin / issuer of the seal's department
 *   POST /seals/:id/status           admin: suspend, reactivate, revoke (revoking also revokes the certificate)
 *   GET  /seals/:id/status-evidence  anyone (rate limited): seal-status evidence signed by the issuing CA (CMS, DER or PEM)
 *   GET  /seals/:id/picture.svg      the seal picture at physical size
 *   GET  /seals/:id/ses              GB/T 38540 SES_Seal v4 (DER, signed by the seal maker); ?format=json: fields as JSON
 *   GET  /seals/:id/stamps           用印记录
 *   POST /seals/:id/stamp            issuer of the seal's department (scope seals:stamp): application/pdf in, stamped PDF out
 *   POST /seals/:id/ses-signature    issuer of the seal's department (scope seals:stamp): a stamped PDF in, its GB/T 38540
 *                                    SES_Signature (DER, SM2 seals) out
 */
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import type { Context } from "../../context.js";
import { AppError } from "../../errors.js";
import { SEAL_TYPES, type Placement, type Seal, type SealType, type StampRecord } from "../../modules/seals/index.js";
import { toPem } from "../../pki/index.js";
import { requireDepartment } from "../plugins/auth.js";
import { Line } from "../validation.js";
import { CryptoProfile, problems } from "../schemas.js";

export const PDF_BODY_LIMIT = 50 * 1024 * 1024;

const SealOut = Type.Object({
  id: Type.String(), departmentId: Type.String(), name: Type.String(), type: Type.String(), arcText: Type.String(), typeText: Type.String(),
  diameterMm: Type.Number(), certSerial: Type.String(), validFrom: Type.String({ format: "date-time" }), validTo: Type.String({ format: "date-time" }),
  status: Type.String(), statusReason: Type.Union([Type.String(), Type.Null()]), profile: CryptoProfile,
  createdAt: Type.String({ format: "date-time" }), updatedAt: Type.String({ format: "date-time" }),
}, { $id: "Seal" });
const StampOut = Type.Object({
  id: Type.String(), sealId: Type.String(), departmentId: Type.String(), certSerial: Type.String(), signer: Type.String(),
  documentSha256: Type.String(), resultSha256: Type.String(), page: Type.Integer(), fieldName: Type.String(),
  stampedAt: Type.String({ format: "date-time" }), timestampAt: Type.String({ format: "date-time" }),
}, { $id: "StampRecord" });
const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const CreateBody = Type.Object({
  departmentId: Type.String({ minLength: 1, maxLength: 64 }),
  type: Type.Union(SEAL_TYPES.map((t) => Type.Literal(t)), { description: "01 法定名称章, 02 财务专用章, 03 发票专用章, 04 合同专用章, 05 法定代表人名章, 99 other" }),
  id: Type.Optional(Type.String({ pattern: "^[0-9A-Za-z-]{4,64}$", description: "esID; generated when absent" })),
  name: Type.Optional(Line({ minLength: 1, maxLength: 64 })),
  arcText: Type.Optional(Line({ minLength: 1, maxLength: 24, description: "text along the arc; default: the department name" })),
  typeText: Type.Optional(Line({ maxLength: 10, description: "text below the star; default from the type" })),
  validFrom: Type.Optional(Type.String({ format: "date-time" })),
  validTo: Type.Optional(Type.String({ format: "date-time" })),
  diameterMm: Type.Optional(Type.Number({ minimum: 20, maximum: 60 })),
  profile: Type.Optional(Type.Union([Type.Literal("p256"), Type.Literal("sm2")], { description: "crypto profile of the seal's key and certificate: the department's profile by default, p256 or sm2 (national profile: SM2 key, SM2 certificate, stamps with SM3/SM2 and an SM2 timestamp)" })),
}, { additionalProperties: false });
const StatusBody = Type.Object({
  status: Type.Union([Type.Literal("active"), Type.Literal("suspended"), Type.Literal("revoked")]),
  reason: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
}, { additionalProperties: false });
const ListQuery = Type.Object({
  departmentId: Type.Optional(Type.String({ maxLength: 64 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  after: Type.Optional(Type.String({ maxLength: 128 })),
}, { additionalProperties: false });
const StampQuery = Type.Object({
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: "1-based page; with x/y, or to restrict the anchor search" })),
  x: Type.Optional(Type.Number({ minimum: 0, maximum: 2000, description: "seal centre, mm from the left edge of the page" })),
  y: Type.Optional(Type.Number({ minimum: 0, maximum: 2000, description: "seal centre, mm from the top edge of the page" })),
  anchor: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "place the seal on this text (first occurrence)" })),
  dx: Type.Optional(Type.Number({ minimum: -500, maximum: 500, description: "offset from the anchor, mm (right)" })),
  dy: Type.Optional(Type.Number({ minimum: -500, maximum: 500, description: "offset from the anchor, mm (down)" })),
  reason: Type.Optional(Type.String({ maxLength: 200 })),
  location: Type.Optional(Type.String({ maxLength: 200 })),
}, { additionalProperties: false });

function sealOut(s: Seal) {
  return {
    id: s.id, departmentId: s.departmentId, name: s.name, type: s.type, arcText: s.arcText, typeText: s.typeText, diameterMm: s.diameterMm,
    certSerial: s.certSerial, validFrom: s.validFrom.toISOString(), validTo: s.validTo.toISOString(), status: s.status, statusReason: s.statusReason, profile: s.profile,
    createdAt: s.createdAt.toISOString(), updatedAt: s.updatedAt.toISOString(),
  };
}

export function stampOut(r: StampRecord) {
  return {
    id: r.id, sealId: r.sealId, departmentId: r.departmentId, certSerial: r.certSerial, signer: r.signer, documentSha256: r.documentSha256,
    resultSha256: r.resultSha256, page: r.pageIndex + 1, fieldName: r.fieldName, stampedAt: r.stampedAt.toISOString(), timestampAt: r.timestampAt.toISOString(),
  };
}

export default async function sealRoutes(app: FastifyInstance, opts: { ctx: Context }) {
  const { ctx } = opts;
  const seals = ctx.seals;
  app.addSchema(SealOut);
  app.addSchema(StampOut);
  app.addContentTypeParser("application/pdf", { parseAs: "buffer", bodyLimit: PDF_BODY_LIMIT }, (_req, body, done) => done(null, body));

  const visible = async (actor: Parameters<typeof requireDepartment>[0], id: string) => {
    const s = await seals.get(id);
    requireDepartment(actor, s.departmentId);
    return s;
  };

  app.post<{ Body: Static<typeof CreateBody> }>("/seals", {
    config: { auth: { roles: ["admin"], scopes: ["admin"] } },
    schema: { tags: ["seals"], description: "Creates a seal (GB/T 38540): a new key on the key store, a seal certificate, the SES_Seal structure and its picture. The department's official seal (type 01) also seals its licence PDFs. Logged.",
      summary: "Create a seal: a new key and seal certificate for the department (logged)", security: [{ bearer: [] }],
      body: CreateBody, response: { 201: Type.Ref("Seal"), ...problems("DEPARTMENT_NOT_FOUND", "SEAL_EXISTS", "SEAL_TEXT_UNSUPPORTED", "KEYSTORE_UNAVAILABLE", "CRYPTO_PROFILE_UNAVAILABLE") } },
  }, async (req, reply) => {
    const b = req.body;
    const s = await seals.createSeal({
      departmentId: b.departmentId, type: b.type as SealType,
      ...(b.id ? { id: b.id } : {}), ...(b.name ? { name: b.name } : {}), ...(b.arcText ? { arcText: b.arcText } : {}),
      ...(b.typeText !== undefined ? { typeText: b.typeText } : {}),
      ...(b.validFrom ? { validFrom: new Date(b.validFrom) } : {}), ...(b.validTo ? { validTo: new Date(b.validTo) } : {}),
      ...(b.diameterMm ? { diameterMm: b.diameterMm } : {}),
      ...(b.profile ? { crypto: b.profile } : {}),
    }, req.actor);
    return reply.code(201).send(sealOut(s));
  });

  app.get<{ Querystring: Static<typeof ListQuery> }>("/seals", {
    config: { auth: { roles: ["admin", "issuer"] } },
    schema: { tags: ["seals"], description: "Seals, a page at a time; issuers see their own department's only.",
      summary: "List seals (issuers: their own department's)", security: [{ bearer: [] }], querystring: ListQuery,
      response: { 200: Type.Object({ items: Type.Array(Type.Ref("Seal")) }), ...problems(400, 401, 403) } },
  }, async (req) => {
    const a = req.actor;
    let departmentId = req.query.departmentId;
    if (a.kind === "client" && a.role === "issuer") {
      if (departmentId && departmentId !== a.departmentId) throw new AppError("FORBIDDEN_DEPARTMENT");
      departmentId = a.departmentId ?? "-";
    }
    const items = await seals.list({ limit: req.query.limit ?? 100, ...(departmentId ? { departmentId } : {}), ...(req.query.after ? { after: req.query.after } : {}) });
    return { items: items.map(sealOut) };
  });

  app.get<{ Params: Static<typeof IdParam> }>("/seals/:id", {
    config: { auth: { roles: ["admin", "issuer"] } },
    schema: { tags: ["seals"], description: "One seal with its certificate serial, status and validity.",
      summary: "A seal", security: [{ bearer: [] }], params: IdParam, response: { 200: Type.Ref("Seal"), ...problems("SEAL_NOT_FOUND", "FORBIDDEN_DEPARTMENT") } },
  }, async (req) => sealOut(await visible(req.actor, req.params.id)));

  app.post<{ Params: Static<typeof IdParam>; Body: Static<typeof StatusBody> }>("/seals/:id/status", {
    config: { auth: { roles: ["admin"], scopes: ["admin"] } },
    schema: { tags: ["seals"], description: "Suspends or reactivates a seal, or revokes it (final: its certificate is revoked too). A suspended or revoked seal cannot stamp; earlier stamps keep verifying as made before the change. Logged.",
      summary: "Suspend, reactivate or revoke a seal (revocation is final and revokes its certificate)", security: [{ bearer: [] }],
      params: IdParam, body: StatusBody, response: { 200: Type.Ref("Seal"), ...problems("SEAL_NOT_FOUND", "SEAL_STATUS_INVALID", "KEYSTORE_UNAVAILABLE") } },
  }, async (req) => sealOut(await seals.setStatus(req.params.id, req.body.status, req.body.reason ?? null, req.actor)));

  app.get<{ Params: Static<typeof IdParam>; Querystring: { format?: "der" | "pem" } }>("/seals/:id/status-evidence", {
    config: { auth: "public", rateLimit: { max: ctx.config.publicRateLimit, timeWindow: "1 minute" } },
    schema: {
      tags: ["seals"], summary: "Seal-status evidence for offline verification (CMS signed by the issuing CA; DER, or PEM with ?format=pem)",
      description: "The seal's status history (every change with its time and reason), its validity and its certificate's revocation, produced now and standing until `nextUpdate` (24 h), as a CMS SignedData signed by the issuing CA (the key that signs the CRL). `sidian verify file.pdf --status FILE` uses it offline; `openssl cms -verify -inform DER -in FILE -CAfile trust-bundle.pem -purpose any` checks it and prints the JSON statement. Every stamp already carries the evidence of its signing time; fetch this for a signature made with the seal's key elsewhere, or to learn a later revocation.",
      params: IdParam,
      querystring: Type.Object({ format: Type.Optional(Type.Union([Type.Literal("der"), Type.Literal("pem")])) }, { additionalProperties: false }),
      response: {
        200: { description: "The evidence", content: {
          "application/pkcs7-mime": { schema: Type.String({ format: "binary", examples: ["<DER ContentInfo (SignedData)>"] }) },
          "application/x-pem-file": { schema: Type.String({ examples: ["-----BEGIN CMS-----\nMIIE…\n-----END CMS-----\n"] }) },
        } },
        ...problems("SEAL_NOT_FOUND"),
      },
    },
  }, async (req, reply) => {
    const der = await seals.statusEvidence(req.params.id);
    reply.header("cache-control", "no-store");
    if (req.query.format === "pem") return reply.type("application/x-pem-file").send(toPem(der, "CMS"));
    return reply.type("application/pkcs7-mime; smime-type=signed-data").header("content-disposition", `attachment; filename="seal-${req.params.id}-status.p7s"`).send(der);
  });

  app.get<{ Params: Static<typeof IdParam> }>("/seals/:id/picture.svg", {
    config: { auth: { roles: ["admin", "issuer"] }, document: true },
    schema: { tags: ["seals"], description: "The seal's picture as SVG at its physical size in millimetres.",
      summary: "The seal picture as SVG at its physical size (mm)", security: [{ bearer: [] }], params: IdParam,
      response: { 200: Type.String({ description: "image/svg+xml" }), ...problems("SEAL_NOT_FOUND", "FORBIDDEN_DEPARTMENT") } },
  }, async (req, reply) => {
    await visible(req.actor, req.params.id);
    return reply.type("image/svg+xml").header("cache-control", "private, max-age=300").send(await seals.svg(req.params.id));
  });

  app.get<{ Params: Static<typeof IdParam>; Querystring: { format?: "der" | "json" } }>("/seals/:id/ses", {
    config: { auth: { roles: ["admin", "issuer"] } },
    schema: { tags: ["seals"], description: "The seal as GB/T 38540-2020 `SES_Seal` (version 4), DER: header ES/4/Sidian, esID, property (type 1 organisation seal, name, certListType 1 with the seal's certificate, creation and validity dates), the SVG picture with its size in mm, signed by Sidian's seal maker (SM3withSM2, signer ID 1234567812345678) over the DER of `SES_SealInfo`; `openssl asn1parse -inform DER` shows the fields in the standard's order. `?format=json` gives the earlier JSON view of the fields (unsigned). 404 CRYPTO_PROFILE_UNAVAILABLE when the deployment has no SM2 hierarchy (no seal maker).",
      summary: "GB/T 38540 SES_Seal (DER, signed by the seal maker)", security: [{ bearer: [] }], params: IdParam,
      querystring: Type.Object({ format: Type.Optional(Type.Union([Type.Literal("der"), Type.Literal("json")])) }, { additionalProperties: false }),
      response: { 200: { description: "SES_Seal", content: {
        "application/octet-stream": { schema: Type.String({ format: "binary", examples: ["<DER SES_Seal: SEQUENCE { SES_SealInfo, cert, 1.2.156.10197.1.501, signedValue }>"] }) },
        "application/json": { schema: Type.Object({ esealInfo: Type.Record(Type.String(), Type.Unknown()), signInfo: Type.Null(), note: Type.String() }, { examples: [{ esealInfo: { header: { ID: "ES", version: 4, Vid: "Sidian" }, esID: "3501000164384DA1" }, signInfo: null, note: "SES_SealInfo fields per GB/T 38540" }] }) },
      } }, ...problems("SEAL_NOT_FOUND", "FORBIDDEN_DEPARTMENT", "CRYPTO_PROFILE_UNAVAILABLE") } },
  }, async (req, reply) => {
    await visible(req.actor, req.params.id);
    if (req.query.format === "json") return reply.type("application/json").send(await seals.sesSeal(req.params.id));
    const der = await seals.sesSealDer(req.params.id);
    return reply.type("application/octet-stream").header("content-disposition", `attachment; filename="${req.params.id}.ses"`).send(der);
  });

  app.get<{ Params: Static<typeof IdParam>; Querystring: { limit?: number; after?: string } }>("/seals/:id/stamps", {
    config: { auth: { roles: ["admin", "issuer"] } },
    schema: { tags: ["seals"], description: "The seal's stamp records (用印记录): who stamped which document (SHA-256 before and after), when, on which page.",
      summary: "Stamp records (用印记录) of a seal", security: [{ bearer: [] }], params: IdParam,
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })), after: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(Type.Ref("StampRecord")) }), ...problems("SEAL_NOT_FOUND", "FORBIDDEN_DEPARTMENT") } },
  }, async (req) => {
    await visible(req.actor, req.params.id);
    const items = await seals.stamps(req.params.id, { limit: req.query.limit ?? 100, ...(req.query.after ? { after: req.query.after } : {}) });
    return { items: items.map(stampOut) };
  });

  app.post<{ Params: Static<typeof IdParam>; Querystring: Static<typeof StampQuery>; Body: Buffer }>("/seals/:id/stamp", {
    bodyLimit: PDF_BODY_LIMIT,
    config: { auth: { roles: ["issuer"], scopes: ["seals:stamp"] }, document: true },
    schema: {
      tags: ["seals"],
      consumes: ["application/pdf"], summary: "Stamp a PDF with the seal: PAdES B-T signature (time-stamped) with the seal as its visible appearance, by incremental update",
      description: "Body: the PDF (`content-type: application/pdf`, up to 50 MB). Placement: `page`+`x`+`y` (mm from the top-left corner to the seal centre), or `anchor` text (optionally `page`, `dx`, `dy`). Returns the stamped PDF; the stamp record id is in `x-stamp-id`.",
      security: [{ bearer: [] }], params: IdParam, querystring: StampQuery,
      response: { 200: Type.String({ description: "application/pdf" }), ...problems("SEAL_NOT_FOUND", "FORBIDDEN_DEPARTMENT", "SEAL_REVOKED", "SEAL_SUSPENDED", "SEAL_EXPIRED", "PDF_INVALID", "PDF_ENCRYPTED", "PDF_UNSUPPORTED", "PDF_PAGE_NOT_FOUND", "PDF_ANCHOR_NOT_FOUND", "PDF_CHANGES_NOT_ALLOWED", "PDF_LIMIT_EXCEEDED", "PDF_BUDGET_EXCEEDED", "PDF_WORKERS_BUSY", "KEYSTORE_UNAVAILABLE") },
    },
  }, async (req, reply) => {
    await visible(req.actor, req.params.id);
    const q = req.query;
    if (!Buffer.isBuffer(req.body)) throw new AppError("UNSUPPORTED_MEDIA_TYPE", "Send the PDF as the body with content-type application/pdf.");
    let placement: Placement;
    if (q.anchor !== undefined) {
      if (q.x !== undefined || q.y !== undefined) throw new AppError("VALIDATION_FAILED", "Give either anchor or x/y, not both.");
      placement = { anchor: q.anchor, ...(q.page !== undefined ? { page: q.page } : {}), ...(q.dx !== undefined ? { dxMm: q.dx } : {}), ...(q.dy !== undefined ? { dyMm: q.dy } : {}) };
    } else {
      if (q.x === undefined || q.y === undefined) throw new AppError("VALIDATION_FAILED", "Placement needs x and y (mm), or an anchor text.");
      placement = { page: q.page ?? 1, xMm: q.x, yMm: q.y };
    }
    const r = await seals.stamp(req.params.id, {
      pdf: req.body, placement, ...(q.reason ? { reason: q.reason } : {}), ...(q.location ? { location: q.location } : {}),
    }, req.actor, (seal) => requireDepartment(req.actor, seal.departmentId));
    return reply.type("application/pdf")
      .header("x-stamp-id", r.record.id)
      .header("x-document-sha256", r.record.resultSha256)
      .header("content-disposition", "attachment; filename=\"stamped.pdf\"")
      .send(r.pdf);
  });

  app.post<{ Params: Static<typeof IdParam>; Body: Buffer }>("/seals/:id/ses-signature", {
    bodyLimit: PDF_BODY_LIMIT,
    config: { auth: { roles: ["issuer"], scopes: ["seals:stamp"] } },
    schema: {
      tags: ["seals"],
      consumes: ["application/pdf"], summary: "Export a stamp of an SM2 seal as a GB/T 38540 SES_Signature (DER)",
      description: "Body: a PDF exactly as `POST /seals/:id/stamp` returned it for this seal (`content-type: application/pdf`, up to 50 MB; 404 `STAMP_NOT_FOUND` otherwise). Returns GB/T 38540-2020 `SES_Signature`: TBS_Sign { version 4, the seal's SES_Seal (signed by the seal maker), timeInfo (the stamp's time-stamp time), dataHash (SM3 of the document sent), propertyInfo (`type=application/pdf; stamp=…; field=…; page=…; sha256=…`) }, the seal certificate, SM3withSM2 (signer ID 1234567812345678) signature of the seal's key over the DER of TBS_Sign, and `timeStamp` [0]: an SM2 time-stamp token over the signature value. Seals of the sm2 profile only (404 `CRYPTO_PROFILE_UNAVAILABLE` for P-256 seals); the seal must still be usable, and the export is logged (`seal.ses-signed`). Check it with `openssl asn1parse -inform DER` and `openssl pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:1234567812345678` over TBS_Sign.",
      security: [{ bearer: [] }], params: IdParam,
      response: {
        200: { description: "SES_Signature", content: { "application/octet-stream": { schema: Type.String({ format: "binary", examples: ["<DER SES_Signature: SEQUENCE { TBS_Sign, cert, 1.2.156.10197.1.501, signature, [0] timeStamp }>"] }) } } },
        ...problems("SEAL_NOT_FOUND", "FORBIDDEN_DEPARTMENT", "STAMP_NOT_FOUND", "CRYPTO_PROFILE_UNAVAILABLE", "SEAL_REVOKED", "SEAL_SUSPENDED", "SEAL_EXPIRED", "KEYSTORE_UNAVAILABLE"),
      },
    },
  }, async (req, reply) => {
    await visible(req.actor, req.params.id);
    if (!Buffer.isBuffer(req.body)) throw new AppError("UNSUPPORTED_MEDIA_TYPE", "Send the stamped PDF as the body with content-type application/pdf.");
    const r = await seals.sesSignature(req.params.id, req.body, req.actor, (seal) => requireDepartment(req.actor, seal.departmentId));
    return reply.type("application/octet-stream")
      .header("x-stamp-id", r.stamp.id)
      .header("content-disposition", `attachment; filename="${req.params.id}-${r.stamp.id}.ses"`)
      .send(r.der);
  });
}
