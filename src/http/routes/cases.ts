/**
 * Cases (办件) and their archival packages (issue 19).
 *   POST /cases                       open a case (approval system, department system, counter)
 *   GET  /cases                       the caller's cases, newest first
 *   GET  /cases/:id                   one case with its items
 *   POST /cases/:id/items             attach a licence, a fetched licence copy (加注件), a completed signing request
 *   POST /cases/:id/documents         attach a stamped document (the PDF as body)
 *   POST /cases/:id/close             close with the result
 *   POST /cases/:id/archive           build and store the archival package (BagIt, signed, time-stamped)
 *   GET  /archives/:id                the archive record
 *   GET  /archives/:id/package        the package (zip), streamed
 * A case belongs to its stored owner (the department, or the approval system that opened it): anyone else gets
 * 404 CASE_NOT_FOUND. An archive is also visible to the archivists of the case's department.
 */
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import type { Context } from "../../context.js";
import { AppError } from "../../errors.js";
import { CASE_RESULTS, MAX_CASE_FILE_BYTES, type CaseView } from "../../modules/cases/index.js";
import type { ArchiveView } from "../../modules/archives/index.js";
import { ex } from "../openapi.js";
import { problems } from "../schemas.js";
import { Line } from "../validation.js";

const SEC = [{ bearer: [] }];
const HOLDERS = { roles: ["consumer" as const, "issuer" as const, "counter" as const] };
const READERS = { roles: ["consumer" as const, "issuer" as const, "counter" as const, "archivist" as const] };
const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 80, pattern: "^[0-9A-Za-z:_-]+$" }) });
const CaseNo = Type.String({ minLength: 1, maxLength: 64, pattern: "^[0-9A-Za-z_-]+$", description: "办件编号 (unique per owner)" });

const EX_ID = "0193f0a1-7c2e-7000-8000-00000000c0de";
const EX_ITEM = { id: 1, kind: "licence", ref: "1.2.156.3005.2.11100000MB03271699001.11350100MB0000000X.0000017.001.K", clientId: "approval-system", verdict: "VALID", detail: {}, logIndex: 212, at: "2026-12-01T09:31:00.000Z" };
const EX_CASE = {
  id: EX_ID, caseNo: "SL2026120100017", channel: "api", departmentId: "0193a0b4-1111-7000-8000-000000000001", clientId: "approval-system", matterCode: "M-0001", title: "食品经营许可（新办）",
  applicant: { name: "张三", codeType: "111", code: "110***********002X" }, staff: { name: "李四", id: "A0231" }, status: "open", result: null,
  openedAt: "2026-12-01T09:30:00.000Z", closedAt: null, logIndex: 211, items: [EX_ITEM],
};
const EX_ARCHIVE = {
  id: "0193f0a9-0000-7000-8000-0000000a0c41", caseId: EX_ID, caseNo: "SL2026120100017", departmentId: EX_CASE.departmentId, bagName: "SL2026120100017", status: "stored",
  files: 3, payloadOctets: 182_311, manifestSha256: "9f2c…", tagmanifestSha256: "41ab…", packageSha256: "c0ff…", packageSize: 191_022, certSerial: "5f1a…",
  createdAt: "2026-12-02T10:00:00.000Z", storedAt: "2026-12-02T10:00:01.000Z", logIndex: 230,
};

const Item = Type.Object({
  id: Type.Integer(), kind: Type.String(), ref: Type.String(), clientId: Type.String(), verdict: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Record(Type.String(), Type.Unknown()), logIndex: Type.Integer(), at: Type.String({ format: "date-time" }),
});
const CaseOut = Type.Object({
  id: Type.String(), caseNo: Type.String(), channel: Type.String(), departmentId: Type.Union([Type.String(), Type.Null()]), clientId: Type.String(),
  matterCode: Type.Union([Type.String(), Type.Null()]), title: Type.Union([Type.String(), Type.Null()]),
  applicant: Type.Union([Type.Object({ name: Type.String(), codeType: Type.String(), code: Type.String({ description: "masked" }) }), Type.Null()]),
  staff: Type.Union([Type.Object({ name: Type.String(), id: Type.Optional(Type.String()) }), Type.Null()]),
  status: Type.String(), result: Type.Union([Type.String(), Type.Null()]), openedAt: Type.String({ format: "date-time" }),
  closedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]), logIndex: Type.Integer(), items: Type.Array(Item),
});
const ArchiveOut = Type.Object({
  id: Type.String(), caseId: Type.String(), caseNo: Type.String(), departmentId: Type.String(), bagName: Type.String(), status: Type.String(),
  files: Type.Integer(), payloadOctets: Type.Integer(), manifestSha256: Type.String(), tagmanifestSha256: Type.Union([Type.String(), Type.Null()]),
  packageSha256: Type.Union([Type.String(), Type.Null()]), packageSize: Type.Union([Type.Integer(), Type.Null()]), certSerial: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: "date-time" }), storedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]), logIndex: Type.Integer(),
});

const iso = (d: Date | null) => (d ? d.toISOString() : null);
function caseOut(c: CaseView) {
  return { ...c, openedAt: c.openedAt.toISOString(), closedAt: iso(c.closedAt), items: c.items.map((i) => ({ ...i, at: i.at.toISOString() })) };
}
function archiveOut(a: ArchiveView) {
  return { ...a, createdAt: a.createdAt.toISOString(), storedAt: iso(a.storedAt) };
}

const OpenBody = ex(Type.Object({
  caseNo: CaseNo,
  matterCode: Type.String({ minLength: 1, maxLength: 64 }),
  title: Line({ minLength: 1, maxLength: 200 }),
  departmentId: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "the department that handles the case: only one the caller is entitled to (its own, or one of the matter's handling departments, 实施主体, from the catalogue); optional when there is one (403 FORBIDDEN_DEPARTMENT otherwise)" })),
  applicant: Type.Object({
    name: Line({ minLength: 1, maxLength: 100 }), codeType: Type.String({ minLength: 3, maxLength: 3 }), code: Type.String({ minLength: 4, maxLength: 32 }),
  }, { additionalProperties: false }),
  staff: Type.Object({ name: Line({ minLength: 1, maxLength: 100 }), id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: "^[0-9A-Za-z_-]+$" })) }, { additionalProperties: false, description: "经办人" }),
}, { additionalProperties: false }), {
  caseNo: "SL2026120100017", matterCode: "M-0001", title: "食品经营许可（新办）",
  applicant: { name: "张三", codeType: "111", code: "11010519491231002X" }, staff: { name: "李四", id: "A0231" },
});

const ItemBody = ex(Type.Union([
  Type.Object({ kind: Type.Literal("licence"), identifier: Type.String({ minLength: 10, maxLength: 128 }) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal("licence-copy"), copy: Type.String({ minLength: 10, maxLength: 2000, description: "the copy link (or its token) the 免证办 query answered with" }) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal("signature"), requestId: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal("material"), materialId: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false }),
]), { kind: "licence", identifier: EX_ITEM.ref }, { kind: "licence-copy", copy: "https://sidian.example.gov.cn/copies/eyJ…" }, { kind: "signature", requestId: "0193b2c4-…" }, { kind: "material", materialId: "1.2.156.3005.3.…" });

export default async function caseRoutes(app: FastifyInstance, opts: { ctx: Context }) {
  const { ctx } = opts;
  if (!app.hasContentTypeParser("application/pdf")) {
    app.addContentTypeParser("application/pdf", { parseAs: "buffer", bodyLimit: MAX_CASE_FILE_BYTES }, (_req, body, done) => done(null, body));
  }

  app.post<{ Body: Static<typeof OpenBody> }>("/cases", {
    config: { auth: HOLDERS },
    schema: {
      tags: ["cases"], summary: "Open a case (办件)", security: SEC, body: OpenBody,
      description: "Opens a case for a matter: its number (办件编号, unique per owner), title, the applicant (name and holder code; the code is kept as the holder's keyed hash plus ciphertext and answered masked) and the 经办 staff member. An approval system (consumer) must serve the matter. The handling department — whose certificate will sign the case's archive — is never the caller's word: a client registered for a department opens cases for that department only, and only for matters whose handling departments (`departments`, 实施主体, catalogue) name it or name none; an approval system registered for no department opens it for one of the matter's handling departments (`departmentId` picks one when there are several). Anything else is 403 `FORBIDDEN_DEPARTMENT`. The case belongs to whoever opened it (the approval system, or the department): nobody else sees it. Logged (`case.opened`).",
      response: { 201: ex(CaseOut, EX_CASE), ...problems("CASE_NUMBER_TAKEN", "MATTER_NOT_FOUND", "DEPARTMENT_NOT_FOUND", "FORBIDDEN_MATTER", "FORBIDDEN_DEPARTMENT", "HOLDER_CODE_INVALID", "HOLDER_CODE_TYPE_INVALID") },
    },
  }, async (req, reply) => {
    const b = req.body;
    const c = await ctx.cases.open({
      caseNo: b.caseNo, matterCode: b.matterCode, title: b.title, ...(b.departmentId ? { departmentId: b.departmentId } : {}),
      applicant: b.applicant, staff: { name: b.staff.name, ...(b.staff.id ? { id: b.staff.id } : {}) },
    }, req.actor);
    return reply.code(201).send(caseOut(c));
  });

  app.get<{ Querystring: { limit?: number; before?: string } }>("/cases", {
    config: { auth: HOLDERS },
    schema: {
      tags: ["cases"], summary: "The caller's cases, newest first", security: SEC,
      description: "Cases the caller owns (its department's, or the approval system's own), newest first; `before` (an opening time, ISO 8601) pages on.",
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })), before: Type.Optional(Type.String({ format: "date-time" })) }, { additionalProperties: false }),
      response: { 200: ex(Type.Object({ items: Type.Array(CaseOut) }), { items: [EX_CASE] }), ...problems() },
    },
  }, async (req) => {
    const before = req.query.before ? new Date(req.query.before) : undefined;
    const items = await ctx.cases.list(req.actor, { limit: req.query.limit ?? 50, ...(before ? { before } : {}) });
    return { items: items.map(caseOut) };
  });

  app.get<{ Params: Static<typeof IdParam> }>("/cases/:id", {
    config: { auth: HOLDERS },
    schema: {
      tags: ["cases"], summary: "A case and what it used", security: SEC, params: IdParam,
      description: "The case with its items (licences, licence copies, signing requests, stamped documents) and their log indexes. Another owner's case is 404 `CASE_NOT_FOUND`.",
      response: { 200: ex(CaseOut, EX_CASE), ...problems("CASE_NOT_FOUND") },
    },
  }, async (req) => caseOut(await ctx.cases.get(req.params.id, req.actor)));

  app.post<{ Params: Static<typeof IdParam>; Body: Static<typeof ItemBody> }>("/cases/:id/items", {
    config: { auth: HOLDERS },
    schema: {
      tags: ["cases"], summary: "Attach a licence, a licence copy (加注件), a signing request or a material", security: SEC, params: IdParam, body: ItemBody,
      description: "Only what the caller legitimately holds for the case's applicant and matter. `licence`: the applicant's licence, verifying as valid now (the licence JWS goes into the package) — for an approval system, one its 免证办 query handed over for this matter while the holder's consent (or the matter's exemption) stands (the item records that access: `detail.accessId`, `detail.accessed`); for a department's system, one its department issued; for a counter, the one the holder presented. `licence-copy`: a 加注件 the caller fetched with a 免证办 query for this applicant and this matter (the copy link): its signed copy and its PDF are kept with the case, and the access record's log entry becomes the package's `accessed` event. `signature`: a completed signing request the caller (or its department) initiated, not for another matter: its sealed document and evidence are kept. `material`: a valid material (电子材料) of the applicant, the caller's own (registered by it or its department) or handed to it by its reuse query for this matter with consent: its bytes go into the package from the materials store, its registration is the package's `received` event. Whatever does not exist, is another holder's, department's or client's, or was not handed over with consent is one answer, 404 `CASE_ITEM_UNAVAILABLE` (same words, no details: no oracle). Logged (`case.item-attached`) in the same transaction.",
      response: { 201: ex(Item, EX_ITEM), ...problems("CASE_NOT_FOUND", "CASE_CLOSED", "CASE_ITEM_UNAVAILABLE", "CASE_ATTACH_REFUSED", "FORBIDDEN_ROLE") },
    },
  }, async (req, reply) => {
    const b = req.body;
    const input = b.kind === "licence" ? { kind: "licence" as const, identifier: b.identifier }
      : b.kind === "licence-copy" ? { kind: "licence-copy" as const, copy: b.copy.replace(/^.*\/copies\//, "") }
      : b.kind === "signature" ? { kind: "signature" as const, requestId: b.requestId }
      : { kind: "material" as const, materialId: b.materialId };
    const it = await ctx.cases.attach(req.params.id, input, req.actor);
    return reply.code(201).send({ ...it, at: it.at.toISOString() });
  });

  app.post<{ Params: Static<typeof IdParam>; Body: Buffer }>("/cases/:id/documents", {
    bodyLimit: MAX_CASE_FILE_BYTES,
    config: { auth: HOLDERS },
    schema: {
      tags: ["cases"], summary: "Attach a stamped document (the PDF as body)", security: SEC, params: IdParam, consumes: ["application/pdf"],
      ...{ "x-body-example": "%PDF-1.7 … (a PDF stamped through POST /seals/{id}/stamp)" },
      description: "Body: the stamped PDF (`content-type: application/pdf`, up to 32 MiB), exactly as `POST /seals/{id}/stamp` answered it: its SHA-256 must be the result of a recorded stamp (用印记录) by a seal of the case's department, whose log entry becomes the package's `stamped` event; any other PDF (stamped by another department, or not at all) is 404 `CASE_ITEM_UNAVAILABLE`. Kept with the case (encrypted). Logged (`case.item-attached`).",
      response: { 201: ex(Item, { ...EX_ITEM, kind: "document", ref: "6c1f0c1e-…", verdict: null, detail: { sealId: "…", stamped: 180, sha256: "…" } }), ...problems("CASE_NOT_FOUND", "CASE_CLOSED", "CASE_ITEM_UNAVAILABLE", "CASE_ATTACH_REFUSED") },
    },
  }, async (req, reply) => {
    if (!Buffer.isBuffer(req.body)) throw new AppError("UNSUPPORTED_MEDIA_TYPE", "Send the PDF as the body with content-type application/pdf.");
    const it = await ctx.cases.attach(req.params.id, { kind: "document", pdf: req.body }, req.actor);
    return reply.code(201).send({ ...it, at: it.at.toISOString() });
  });

  const CloseBody = ex(Type.Object({ result: Type.Union(CASE_RESULTS.map((r) => Type.Literal(r)), { description: "approved 准予 · rejected 不予 · withdrawn 撤回 · terminated 终止" }) }, { additionalProperties: false }), { result: "approved" });
  app.post<{ Params: Static<typeof IdParam>; Body: Static<typeof CloseBody> }>("/cases/:id/close", {
    config: { auth: HOLDERS },
    schema: {
      tags: ["cases"], summary: "Close the case with its result", security: SEC, params: IdParam, body: CloseBody,
      description: "open → closed, with the result (办结). Nothing can be attached afterwards. Logged (`case.closed`).",
      response: { 200: ex(CaseOut, { ...EX_CASE, status: "closed", result: "approved", closedAt: "2026-12-02T09:00:00.000Z" }), ...problems("CASE_NOT_FOUND", "CASE_CLOSED") },
    },
  }, async (req) => caseOut(await ctx.cases.close(req.params.id, { result: req.body.result }, req.actor)));

  const ArchiveBody = ex(Type.Object({
    retention: Type.Optional(Type.Union([Type.Literal("permanent"), Type.Literal("30y"), Type.Literal("10y")], { description: "保管期限: 永久 / 30年 / 10年 (default 30y)" })),
  }, { additionalProperties: false }), { retention: "30y" });
  app.post<{ Params: Static<typeof IdParam>; Body: Static<typeof ArchiveBody> | undefined }>("/cases/:id/archive", {
    config: { auth: HOLDERS },
    schema: {
      tags: ["cases"], summary: "Archive a closed case: build and store its package", security: SEC, params: IdParam, body: ArchiveBody,
      description: "Builds the case's archival package (docs/archives.md): a BagIt 1.0 bag with every file the case used, SHA-256 and SM3 manifests, the case metadata (XML after GB/T 42727 / DA/T 46, and JSON), the PREMIS-style events each with its log inclusion proof to the signed checkpoint included, and a CAdES signature with an RFC 3161 time-stamp over the tag manifest by the case department's certificate — only when the case's department is one the caller may act for under the matter (403 `FORBIDDEN_DEPARTMENT` otherwise). The archive and its `case.archived` log entry are created in one transaction; the package is stored encrypted and downloaded with `GET /archives/{id}/package`. A build that stopped half-way is finished by calling this again. One build runs per archive (across instances): a request while another builds answers 409 `ARCHIVE_BUILD_IN_PROGRESS`; a crashed builder's lease runs out after 60 s.",
      response: { 201: ex(ArchiveOut, EX_ARCHIVE), ...problems("CASE_NOT_FOUND", "CASE_NOT_ARCHIVABLE", "CASE_ALREADY_ARCHIVED", "ARCHIVE_BUILD_IN_PROGRESS", "FORBIDDEN_DEPARTMENT") },
    },
  }, async (req, reply) => {
    const a = await ctx.archives.archive(req.params.id, req.actor, req.body?.retention ? { retention: req.body.retention } : {});
    return reply.code(201).send(archiveOut(a));
  });

  app.get<{ Params: Static<typeof IdParam> }>("/archives/:id", {
    config: { auth: READERS },
    schema: {
      tags: ["cases"], summary: "An archive (the record of a case's package)", security: SEC, params: IdParam,
      description: "For the case's owner and the archivists (档案部门) of the case's department; anyone else gets 404 `ARCHIVE_NOT_FOUND`.",
      response: { 200: ex(ArchiveOut, EX_ARCHIVE), ...problems("ARCHIVE_NOT_FOUND") },
    },
  }, async (req) => archiveOut(await ctx.archives.get(req.params.id, req.actor)));

  app.get<{ Params: Static<typeof IdParam> }>("/archives/:id/package", {
    config: { auth: READERS },
    schema: {
      tags: ["cases"], summary: "The archival package (zip)", security: SEC, params: IdParam,
      description: "The stored package as a zip whose one top-level folder is the bag (`<case number>/`), streamed (`x-package-sha256` carries its SHA-256). For the case's owner and the archivists of the case's department. Check it with `sidian archive check` or by hand (docs/archives.md).",
      response: { 200: Type.String({ description: "application/zip", examples: ["PK\u0003\u0004…"] }), ...problems("ARCHIVE_NOT_FOUND", "ARCHIVE_NOT_STORED") },
    },
  }, async (req, reply) => {
    const p = await ctx.archives.packageStream(req.params.id, req.actor);
    return reply.type("application/zip").header("cache-control", "private, no-store").header("content-length", String(p.size))
      .header("x-package-sha256", p.sha256).header("content-disposition", `attachment; filename="${encodeURIComponent(p.filename)}"; filename*=UTF-8''${encodeURIComponent(p.filename)}`)
      .send(p.stream);
  });
}
