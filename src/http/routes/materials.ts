/**
 * E-materials (电子材料, issue 18).
 *   POST|GET /material-types, GET|PATCH /material-types/:code     材料目录 (admin writes; client roles read)
 *   POST /materials                       register a material (streamed: raw body + x-material-meta, or multipart meta + file)
 *   GET  /materials/:id                   one material with its receipt (registrant, its department, the holder, admin)
 *   GET  /materials/:id/content           its bytes (same callers; an approval system only while valid)
 *   GET  /materials/:id/receipt           the receipt JWS, or ?format=pdf a receipt PDF sealed by the platform
 *   GET  /materials/:id/container         an ASiC-E container: the bytes + receipt, a signed manifest (CAdES-B-T)
 *   GET  /materials/:id/history           every version of its lineage
 *   POST /materials/:id/revoke            revoke with a reason (registrant, its department, admin)
 *   POST /holders/materials:query         approval system: a holder's materials for a matter (consent; recorded)
 *   GET  /material-links/:token           approval system: the bytes behind a link of that answer
 *   GET  /holders/me/materials            holder: my materials
 *   POST /holders/me/materials/:id/withdraw   holder: withdraw one (its bytes are deleted)
 *   POST /verify/material                 anyone (rate limited): were these bytes / this receipt registered, and status
 *
 * Uploads are never buffered whole: the body (or the multipart file part) is handed to the service as a stream,
 * read at most to the material type's limit (then 413 and the connection is closed: nothing more is read).
 */
import { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { Busboy } from "@fastify/busboy";
import { AppError } from "../../errors.js";
import { DERIVATIONS, MATERIAL_ANSWER_MAX, MATERIAL_MAX_BYTES, type MaterialService, type MaterialType, type MaterialView, type RegisterMeta } from "../../modules/materials/index.js";
import type { MaterialsReceiptPdf } from "../../modules/materials/receipt-pdf.js";
import type { MaterialContainer } from "../../modules/materials/container.js";
import { PassThrough } from "node:stream";
import { ex } from "../openapi.js";
import { problems } from "../schemas.js";
import { Line } from "../validation.js";
import { textProblem } from "../../util/text.js";
import { MatterCode } from "./catalogue.js";

const MaterialTypeCode = Type.String({ pattern: "^[0-9A-Z]{2,21}$", description: "material type code: 2-21 characters 0-9 A-Z" });
const MaterialId = Type.String({ pattern: "^MAT\\.[0-9A-Z]{2,21}\\.[0-9A-Z]{16}\\.[0-9]{3}\\.[0-9A-Z]$", description: "material identifier MAT.<type>.<serial>.<version>.<check> (MOD 37,36)" });
const MediaKind = Type.Union([Type.Literal("pdf"), Type.Literal("jpeg"), Type.Literal("png"), Type.Literal("ofd"), Type.Literal("json")]);
const Hex64 = Type.String({ pattern: "^[0-9a-fA-F]{64}$" });

const TypeCreate = ex(Type.Object({
  code: MaterialTypeCode,
  name: Line({ minLength: 1, maxLength: 100 }),
  matters: Type.Array(MatterCode, { maxItems: 500, description: "matters (事项) that accept materials of this type" }),
  mediaTypes: Type.Array(MediaKind, { minItems: 1, maxItems: 5 }),
  maxBytes: Type.Integer({ minimum: 1, maximum: MATERIAL_MAX_BYTES }),
  expires: Type.Optional(Type.Boolean()),
  validityDays: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 36_500 }), Type.Null()])),
}, { additionalProperties: false }), { code: "LEASE", name: "房屋租赁合同", matters: ["M-0001"], mediaTypes: ["pdf", "ofd"], maxBytes: 20_971_520, expires: true, validityDays: 365 });
const TypePatch = ex(Type.Object({
  name: Type.Optional(Line({ minLength: 1, maxLength: 100 })),
  matters: Type.Optional(Type.Array(MatterCode, { maxItems: 500 })),
  mediaTypes: Type.Optional(Type.Array(MediaKind, { minItems: 1, maxItems: 5 })),
  maxBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: MATERIAL_MAX_BYTES })),
  expires: Type.Optional(Type.Boolean()),
  validityDays: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 36_500 }), Type.Null()])),
}, { additionalProperties: false, minProperties: 1 }), { matters: ["M-0001", "M-0002"] });
const TYPE_EXAMPLE = { code: "LEASE", name: "房屋租赁合同", matters: ["M-0001"], mediaTypes: ["pdf", "ofd"], maxBytes: 20_971_520, expires: true, validityDays: 365, createdAt: "2026-12-07T08:00:00.000Z", updatedAt: "2026-12-07T08:00:00.000Z" };
const TypeOut = ex(Type.Object({
  code: Type.String(), name: Type.String(), matters: Type.Array(Type.String()), mediaTypes: Type.Array(Type.String()), maxBytes: Type.Integer(),
  expires: Type.Boolean(), validityDays: Type.Union([Type.Integer(), Type.Null()]), createdAt: Type.String({ format: "date-time" }), updatedAt: Type.String({ format: "date-time" }),
}), TYPE_EXAMPLE);

const VIEW_EXAMPLE = {
  identifier: "MAT.LEASE.0MIDF3K2AX7Q2ZPT.001.7", typeCode: "LEASE", typeName: "房屋租赁合同", mediaType: "application/pdf", size: 48213,
  sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", sm3: "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b",
  source: "approval", registrant: "client:approval-01", matterCode: "M-0001", departmentId: null, name: "租赁合同.pdf", holder: "350***********0015",
  status: "valid", statusText: "有效", statusReason: null, statusAt: "2026-12-07T08:00:00.000Z", expiresAt: "2027-12-07T08:00:00.000Z",
  supersedes: null, supersededBy: null, derivedFrom: null, derivation: null, attestation: null, registeredAt: "2026-12-07T08:00:00.000Z", logIndex: 1042,
};
const RECEIPT_EXAMPLE = "eyJhbGciOiJFUzI1NiIsInR5cCI6InNpZGlhbi1tYXRlcmlhbC1yZWNlaXB0K2p3cyIsImtpZCI6IjQxZDAifQ.eyJ2IjoxLCJzdWIiOiJNQVQuTEVBU0UuMC4wMDEuNyJ9.c2lnbmF0dXJl";
const ViewFields = {
  identifier: Type.String(), typeCode: Type.String(), typeName: Type.Union([Type.String(), Type.Null()]), mediaType: Type.String(), size: Type.Integer(),
  sha256: Type.String(), sm3: Type.String(), source: Type.String({ description: "approval | counter | holder | department" }), registrant: Type.String(),
  matterCode: Type.Union([Type.String(), Type.Null()]), departmentId: Type.Union([Type.String(), Type.Null()]), name: Type.Union([Type.String(), Type.Null()]),
  holder: Type.String({ description: "the holder code, masked" }), status: Type.String({ description: "valid | superseded | revoked | withdrawn | expired" }), statusText: Type.String(),
  statusReason: Type.Union([Type.String(), Type.Null()]), statusAt: Type.String({ format: "date-time" }), expiresAt: Type.Union([Type.String(), Type.Null()]),
  supersedes: Type.Union([Type.String(), Type.Null()]), supersededBy: Type.Union([Type.String(), Type.Null()]), derivedFrom: Type.Union([Type.String(), Type.Null()]),
  derivation: Type.Union([Type.String(), Type.Null()]), attestation: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  registeredAt: Type.String({ format: "date-time" }), logIndex: Type.Integer(),
};
const ViewOut = ex(Type.Object(ViewFields), VIEW_EXAMPLE);
const WithReceipt = ex(Type.Object({ ...ViewFields, receipt: Type.String({ description: "the receipt (可信回执), a compact JWS: docs/materials.md" }) }), { ...VIEW_EXAMPLE, receipt: RECEIPT_EXAMPLE });
const Registered = ex(Type.Object({
  material: Type.Object(ViewFields), receipt: Type.String({ description: "the receipt (可信回执), a compact JWS signed with the key in /.well-known/jwks.json (claims: docs/materials.md)" }),
  receiptPdf: Type.String({ description: "where a receipt PDF sealed by the platform can be fetched" }),
}), { material: VIEW_EXAMPLE, receipt: RECEIPT_EXAMPLE, receiptPdf: "/materials/MAT.LEASE.0MIDF3K2AX7Q2ZPT.001.7/receipt?format=pdf" });

/** The metadata of a registration (the x-material-meta header, or the multipart `meta` field: JSON). */
const Meta = Type.Object({
  typeCode: MaterialTypeCode,
  holder: Type.Optional(Type.Object({ code: Type.String({ minLength: 1, maxLength: 64 }), codeType: Type.String({ pattern: "^[0-9]{3}$" }) }, { additionalProperties: false })),
  matterCode: Type.Optional(MatterCode),
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  sha256: Type.Optional(Hex64),
  sm3: Type.Optional(Hex64),
  counter: Type.Optional(Type.Object({
    operator: Type.String({ minLength: 1, maxLength: 64 }), device: Type.String({ minLength: 1, maxLength: 64 }), checkedAgainstOriginal: Type.Boolean(),
  }, { additionalProperties: false })),
  supersedes: Type.Optional(MaterialId),
  derivedFrom: Type.Optional(MaterialId),
  derivation: Type.Optional(Type.Union(DERIVATIONS.map((d) => Type.Literal(d)))),
  validUntil: Type.Optional(Type.String({ format: "date-time", maxLength: 40 })),
}, { additionalProperties: false });
const metaCheck = TypeCompiler.Compile(Meta);

const QueryBody = ex(Type.Object({
  holderCode: Type.String({ minLength: 1, maxLength: 64 }),
  holderCodeType: Type.String({ pattern: "^[0-9]{3}$" }),
  matterCode: MatterCode,
  useCause: Line({ minLength: 1, maxLength: 200, description: "用途/事由" }),
  typeCodes: Type.Optional(Type.Array(MaterialTypeCode, { maxItems: 50 })),
}, { additionalProperties: false }), { holderCode: "350102199001010015", holderCodeType: "111", matterCode: "M-0001", useCause: "办理食品经营许可", typeCodes: ["LEASE"] });
const RevokeBody = ex(Type.Object({ reason: Line({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false }), { reason: "合同已解除" });
const VerifyBody = ex(Type.Object({
  sha256: Type.Optional(Hex64), sm3: Type.Optional(Hex64),
  receipt: Type.Optional(Type.String({ minLength: 1, maxLength: 16_000, pattern: "^[A-Za-z0-9_.-]+$" })),
}, { additionalProperties: false, minProperties: 1 }), { sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", receipt: RECEIPT_EXAMPLE });
const Check = Type.Object({ id: Type.String(), status: Type.String(), detail: Type.String() });
const Verdict = ex(Type.Object({
  result: Type.Union([Type.Literal("VALID"), Type.Literal("INVALID"), Type.Literal("INDETERMINATE")]),
  status: Type.String({ description: "VALID, SUPERSEDED, REVOKED, WITHDRAWN, EXPIRED or UNKNOWN" }),
  checks: Type.Array(Check),
  material: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  registrations: Type.Optional(Type.Integer()),
  evidence: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
}), {
  result: "INVALID", status: "REVOKED",
  checks: [{ id: "bytes", status: "PASSED", detail: "registered once" }, { id: "status", status: "FAILED", detail: "revoked: 合同已解除" }, { id: "log", status: "PASSED", detail: "registered at log index 1042" }],
  material: { identifier: VIEW_EXAMPLE.identifier, typeCode: "LEASE", source: "approval", registeredAt: VIEW_EXAMPLE.registeredAt, status: "revoked", holder: "350***********0015", logIndex: 1042 },
  registrations: 1,
});

const CodeParam = Type.Object({ code: MaterialTypeCode });
const IdParam = Type.Object({ id: MaterialId });
const TokenParam = Type.Object({ token: Type.String({ minLength: 10, maxLength: 1000, pattern: "^[A-Za-z0-9_.-]+$" }) });
const ReceiptQuery = Type.Object({ format: Type.Optional(Type.Union([Type.Literal("jws"), Type.Literal("pdf")])) }, { additionalProperties: false });
const MineQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })), current: Type.Optional(Type.Boolean()) }, { additionalProperties: false });

const ADMIN = { roles: ["admin" as const], scopes: ["admin"] };
const READERS = { roles: ["admin" as const, "issuer" as const, "consumer" as const, "counter" as const] };
const REGISTRANTS = { roles: ["consumer" as const, "counter" as const, "issuer" as const], holder: true };
const SEERS = { roles: ["admin" as const, "consumer" as const, "counter" as const, "issuer" as const], holder: true };
const SEC = [{ bearer: [] }];
const BINARY = ex(Type.String({ description: "the material's bytes (its media type in content-type; x-material-sha256 header)" }), "%PDF-1.7 …");
const RAW_TYPES = ["application/pdf", "image/jpeg", "image/png", "application/ofd", "application/octet-stream"];

const typeOut = (t: MaterialType) => ({ ...t, createdAt: t.createdAt.toISOString(), updatedAt: t.updatedAt.toISOString() });

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const uploadInvalid = (field: string, msg: string) => new AppError("MATERIAL_UPLOAD_INVALID", `${field} ${msg}.`, { details: { field } });

/**
 * The text of a header: Node hands header values over as latin1 (one char per byte), so a value with bytes over
 * 0x7f is read back as UTF-8, strictly. MATERIAL_UPLOAD_INVALID (400) naming the header for anything else.
 */
function headerUtf8(field: string, raw: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\u0000-\u007f]*$/.test(raw)) return raw;
  try {
    return strictUtf8.decode(Buffer.from(raw, "latin1"));
  } catch {
    throw uploadInvalid(field, "is not UTF-8");
  }
}

/**
 * A file name sent percent-encoded (RFC 3986, UTF-8) in a header: a malformed escape (`%`, `%zz`), a truncated or
 * overlong UTF-8 sequence, a control or bidirectional character, or more than `max` characters is refused with
 * MATERIAL_UPLOAD_INVALID naming the header, never a 500.
 */
export function decodeHeaderName(field: string, raw: string, max = 255): string {
  let v: string;
  try {
    v = decodeURIComponent(headerUtf8(field, raw));
  } catch {
    throw uploadInvalid(field, "is not valid percent-encoded UTF-8");
  }
  const p = textProblem(v);
  if (p) throw uploadInvalid(field, p);
  if (v.length === 0 || [...v].length > max) throw uploadInvalid(field, `must be 1 to ${max} characters`);
  return v;
}

function parseMeta(text: string | undefined, field = "x-material-meta"): RegisterMeta {
  if (!text) throw new AppError("MATERIAL_UPLOAD_INVALID", "Send the material's metadata (JSON) in the x-material-meta header, or as the multipart field `meta` before the file.");
  let v: unknown;
  const t = text.trim();
  let json: string;
  if (t.startsWith("{")) json = field === "meta" ? t : headerUtf8(field, t);
  else {
    if (!/^[A-Za-z0-9_-]+={0,2}$/.test(t)) throw uploadInvalid(field, "is neither JSON nor base64url of JSON");
    try {
      json = strictUtf8.decode(Buffer.from(t, "base64url"));
    } catch {
      throw uploadInvalid(field, "is base64url of bytes that are not UTF-8");
    }
  }
  try {
    v = JSON.parse(json);
  } catch {
    throw new AppError("MATERIAL_UPLOAD_INVALID", "The metadata is not JSON (or base64url of JSON).", { details: { field } });
  }
  if (!metaCheck.Check(v)) {
    const errors = [...metaCheck.Errors(v)].slice(0, 10).map((e) => ({ path: e.path, message: e.message }));
    throw new AppError("MATERIAL_UPLOAD_INVALID", `The metadata is not valid: ${errors.map((e) => `${e.path || "/"} ${e.message}`).join("; ")}.`, { details: { errors } });
  }
  return v as RegisterMeta;
}

interface Upload {
  meta: RegisterMeta;
  body: AsyncIterable<Buffer>;
  contentType?: string;
  fileName?: string;
}

/** A multipart body: the `meta` field first, then exactly one `file` part; the closing boundary must arrive. */
function multipart(req: FastifyRequest, raw: Readable): Promise<Upload> {
  return new Promise<Upload>((resolve, reject) => {
    let meta: string | undefined;
    let settled = false;
    let fail: (e: Error) => void = () => undefined;
    let bb: ReturnType<typeof Busboy>;
    try {
      bb = Busboy({
        headers: req.headers as never,
        limits: { fields: 4, fieldSize: 16 * 1024, fieldNameSize: 64, files: 1, parts: 6, headerPairs: 16, fileSize: MATERIAL_MAX_BYTES + 1 },
      });
    } catch (e) {
      reject(new AppError("MATERIAL_UPLOAD_INVALID", "The multipart body cannot be read (boundary).", { cause: e }));
      return;
    }
    const finished = new Promise<void>((res, rej) => {
      bb.on("finish", () => res());
      fail = (e) => rej(e);
    });
    finished.catch(() => undefined);
    const bad = (msg: string) => new AppError("MATERIAL_UPLOAD_INVALID", msg);
    const abort = (e: Error) => {
      fail(e);
      if (!settled) {
        settled = true;
        reject(e);
      }
    };
    bb.on("error", (e: Error) => abort(new AppError("MATERIAL_UPLOAD_INVALID", "The multipart body is malformed or ends before its closing boundary.", { cause: e })));
    bb.on("partsLimit", () => abort(bad("Too many multipart parts (meta and file only).")));
    bb.on("filesLimit", () => abort(bad("One file per upload.")));
    bb.on("fieldsLimit", () => abort(bad("Too many multipart fields (meta only).")));
    bb.on("field", (name: string, value: string, _nt: boolean, valueTruncated: boolean) => {
      if (name !== "meta") return abort(bad(`Unknown multipart field ${JSON.stringify(name.slice(0, 64))} (meta and file only).`));
      if (valueTruncated) return abort(bad("The meta field is over 16 KiB."));
      meta = value;
    });
    bb.on("file", (name: string, stream: Readable & { truncated?: boolean }, fileName: string, _enc: string, mimeType: string) => {
      // A part cut short errors its stream: the error is what the reader (or `finished`) reports, never uncaught.
      stream.on("error", (e: Error) => abort(new AppError("MATERIAL_UPLOAD_INVALID", "The multipart body ends before its closing boundary.", { cause: e })));
      if (settled) return void stream.resume();
      if (name !== "file") return abort(bad("The file part is called `file`."));
      let m: RegisterMeta;
      try {
        m = parseMeta(meta, "meta");
      } catch (e) {
        stream.resume();
        return abort(e as Error);
      }
      settled = true;
      async function* body(): AsyncGenerator<Buffer> {
        for await (const c of stream) yield c as Buffer;
        // The end of the file part is not the end of the upload: a body cut before its closing boundary is refused.
        await finished;
      }
      resolve({ meta: m, body: body(), ...(mimeType ? { contentType: mimeType } : {}), ...(fileName ? { fileName } : {}) });
    });
    bb.on("finish", () => {
      if (!settled) {
        settled = true;
        reject(bad("The multipart body has no `file` part."));
      }
    });
    raw.on("error", (e) => abort(e));
    raw.on("aborted", () => abort(new AppError("MATERIAL_UPLOAD_INVALID", "The upload was cut off.")));
    raw.pipe(bb);
  });
}

/** The upload of a POST /materials, from either form of body. */
async function upload(req: FastifyRequest): Promise<Upload> {
  const raw = req.body as Readable | undefined;
  const ct = String(req.headers["content-type"] ?? "").toLowerCase();
  if (!raw || typeof (raw as Readable).pipe !== "function") {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", `Send the file as the body (${RAW_TYPES.join(", ")}) with x-material-meta, or as multipart/form-data (meta, file).`);
  }
  if (ct.startsWith("multipart/form-data")) return multipart(req, raw);
  const h = req.headers["x-material-meta"];
  const name = req.headers["x-material-name"];
  return {
    meta: parseMeta(Array.isArray(h) ? h[0] : h), body: raw as AsyncIterable<Buffer>, contentType: ct,
    ...(typeof name === "string" ? { fileName: decodeHeaderName("x-material-name", name) } : {}),
  };
}

/** Sends a material's bytes: personal data, never cached. */
function sendBytes(reply: FastifyReply, m: { identifier: string; mediaType: string; size: number; sha256: string; status: string }, stream: Readable) {
  const ext = ({ "application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png", "application/ofd": "ofd", "application/json": "json" } as Record<string, string>)[m.mediaType] ?? "bin";
  return reply.type(m.mediaType).header("content-length", String(m.size))
    .header("cache-control", "private, no-store").header("x-material-sha256", m.sha256).header("x-material-status", m.status)
    .header("content-disposition", `inline; filename="${m.identifier}.${ext}"`).send(stream);
}

export default async function materialRoutes(app: FastifyInstance, opts: { materials: MaterialService; receiptPdf?: MaterialsReceiptPdf; container?: MaterialContainer; publicRateLimit: number }) {
  const svc = opts.materials;
  // Uploads are handed over as streams (read by the service, at most to the type's limit).
  const passThrough = (_req: FastifyRequest, payload: unknown, done: (e: Error | null, body?: unknown) => void) => done(null, payload);
  for (const ct of [...RAW_TYPES, "multipart/form-data"]) app.addContentTypeParser(ct, passThrough);

  // ---- 材料目录 ----
  app.post<{ Body: Static<typeof TypeCreate> }>("/material-types", {
    config: { auth: ADMIN },
    schema: { tags: ["materials"], summary: "Define a material type (材料目录)", security: SEC, body: TypeCreate,
      description: "Defines a material type: its code (2-21 characters 0-9 A-Z, the identifier's type part), the matters that accept it, the media kinds it accepts (judged from the bytes: pdf, jpeg, png, ofd, json), its upload limit and whether its materials expire (with a default validity).",
      response: { 201: TypeOut, ...problems("MATERIAL_TYPE_INVALID", "MATERIAL_TYPE_EXISTS") } },
  }, async (req, reply) => reply.code(201).send(typeOut(await svc.types.create(req.body, req.actor))));

  app.get("/material-types", {
    config: { auth: READERS },
    schema: { tags: ["materials"], summary: "List material types", security: SEC, description: "Every material type with the matters that accept it.",
      response: { 200: ex(Type.Object({ items: Type.Array(TypeOut) }), { items: [TYPE_EXAMPLE] }), ...problems(401, 403) } },
  }, async () => ({ items: (await svc.types.list()).map(typeOut) }));

  app.get<{ Params: Static<typeof CodeParam> }>("/material-types/:code", {
    config: { auth: READERS },
    schema: { tags: ["materials"], summary: "Get a material type", security: SEC, description: "One material type.", params: CodeParam,
      response: { 200: TypeOut, ...problems("MATERIAL_TYPE_NOT_FOUND") } },
  }, async (req) => typeOut(await svc.types.get(req.params.code)));

  app.patch<{ Params: Static<typeof CodeParam>; Body: Static<typeof TypePatch> }>("/material-types/:code", {
    config: { auth: ADMIN },
    schema: { tags: ["materials"], summary: "Change a material type", security: SEC, params: CodeParam, body: TypePatch,
      description: "Changes a material type. Materials already registered keep their identifier, hashes and validity; a matter removed from `matters` no longer gets them in reuse answers (and its links stop answering).",
      response: { 200: TypeOut, ...problems("MATERIAL_TYPE_INVALID", "MATERIAL_TYPE_NOT_FOUND") } },
  }, async (req) => typeOut(await svc.types.update(req.params.code, req.body, req.actor)));

  // ---- registration ----
  app.post("/materials", {
    bodyLimit: MATERIAL_MAX_BYTES,
    config: { auth: REGISTRANTS },
    schema: {
      tags: ["materials"], summary: "Register a material (streamed upload); answers its receipt (可信回执)", security: SEC,
      consumes: [...RAW_TYPES, "multipart/form-data"],
      body: { description: "The file: either the raw body (content-type of the file, or application/octet-stream) with the metadata JSON in the `x-material-meta` header (JSON, or base64url of JSON for non-ASCII text) and optionally the file name percent-encoded (UTF-8) in `x-material-name`, or multipart/form-data with a `meta` field (JSON) followed by one `file` part.", examples: ["%PDF-1.7 … (the file's bytes)"] } as unknown as TSchema,
      description: "Registers a material. The source class comes from the caller: an approval system (consumer: `holder` and a `matterCode` it serves that accepts the type), a counter terminal (`holder` and `counter`: operator, device, checkedAgainstOriginal), a department (issuer: `holder`), or the holder themself (no `holder`). The bytes are streamed: hashed (SHA-256, SM3), judged by content (magic numbers; a PE file called lease.pdf is refused), read at most to the type's `maxBytes` (413, nothing stored), encrypted at rest, and stored with the `material.registered` log entry in one transaction. `supersedes` makes it the next version of a valid material (same holder and type); `derivedFrom` (+ `derivation`) links it to its original. `sha256`/`sm3` in the metadata are checked against the bytes. The answer carries the receipt JWS (claims: docs/materials.md).",
      response: { 201: Registered, ...problems("MATERIAL_UPLOAD_INVALID", "MATERIAL_EMPTY", "HOLDER_CODE_INVALID", "VALIDATION_FAILED", "FORBIDDEN_MATTER", "MATERIAL_TYPE_NOT_ACCEPTED", "MATERIAL_TYPE_NOT_FOUND", "MATERIAL_NOT_FOUND", "MATERIAL_STATE_INVALID", "MATERIAL_SOURCE_PROTECTED", "MATERIAL_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "MATERIAL_CONTENT_REFUSED", "MATERIAL_HASH_MISMATCH") },
    },
  }, async (req, reply) => {
    let u: Upload | undefined;
    try {
      u = await upload(req);
      const r = await svc.register(req.actor, u.meta, u.body, { ...(u.contentType ? { contentType: u.contentType } : {}), ...(u.fileName ? { fileName: u.fileName } : {}) });
      return reply.code(201).header("cache-control", "no-store").send({ material: r.view, receipt: r.receipt, receiptPdf: `/materials/${r.record.identifier}/receipt?format=pdf` });
    } catch (e) {
      // The rest of the upload is not read: the connection closes after the answer.
      const raw = req.raw;
      if (!raw.complete) reply.header("connection", "close");
      throw e;
    }
  });

  // ---- reads ----
  app.get<{ Params: Static<typeof IdParam> }>("/materials/:id", {
    config: { auth: SEERS },
    schema: { tags: ["materials"], summary: "One material with its receipt", security: SEC, params: IdParam,
      description: "The material's record (hashes, type, source, status, versions, derivation) and a receipt JWS, for its registrant, an issuer of the registering department, the holder, or an administrator; anyone else gets 404.",
      response: { 200: WithReceipt, ...problems("MATERIAL_NOT_FOUND") } },
  }, async (req, reply) => {
    reply.header("cache-control", "no-store");
    return svc.get(req.params.id, req.actor);
  });

  app.get<{ Params: Static<typeof IdParam> }>("/materials/:id/content", {
    config: { auth: SEERS, document: true },
    schema: { tags: ["materials"], summary: "A material's bytes (preview or download)", security: SEC, params: IdParam,
      description: "The bytes as registered (decrypted, streamed), with `x-material-sha256` and `x-material-status`. For the callers of GET /materials/{id}; an approval system gets only a valid material (a revoked, withdrawn, superseded or expired one: 409). A withdrawn material's bytes are deleted (409).",
      response: { 200: BINARY, ...problems("MATERIAL_NOT_FOUND", "MATERIAL_STATE_INVALID") } },
  }, async (req, reply) => {
    const r = await svc.readMaterialBytes(req.params.id, req.actor);
    return sendBytes(reply, r.material, r.stream);
  });

  app.get<{ Params: Static<typeof IdParam>; Querystring: Static<typeof ReceiptQuery> }>("/materials/:id/receipt", {
    config: { auth: SEERS, document: true },
    schema: { tags: ["materials"], summary: "The receipt: a JWS (default) or a receipt PDF sealed by the platform (?format=pdf)", security: SEC, params: IdParam, querystring: ReceiptQuery,
      description: "The receipt (可信回执) as a compact JWS (`application/jose`), or as an A4 PDF naming the same facts with a QR code, sealed (PAdES) with the platform's seal (`SIDIAN_SIGNING_SEAL`).",
      response: { 200: ex(Type.String({ description: "application/jose (the JWS) or application/pdf" }), RECEIPT_EXAMPLE), ...problems("MATERIAL_NOT_FOUND", "MATERIAL_RECEIPT_SEAL_MISSING", "KEYSTORE_UNAVAILABLE", "PDF_WORKERS_BUSY") } },
  }, async (req, reply) => {
    reply.header("cache-control", "no-store");
    if (req.query.format === "pdf") {
      if (!opts.receiptPdf) throw new AppError("MATERIAL_RECEIPT_SEAL_MISSING");
      const rec = await svc.core.visible(req.params.id, req.actor);
      const pdf = await opts.receiptPdf.render(rec);
      return reply.type("application/pdf").header("content-disposition", `inline; filename="${rec.identifier}-receipt.pdf"`).send(pdf);
    }
    return reply.type("application/jose").send(await svc.receiptFor(req.params.id, req.actor));
  });

  app.get<{ Params: Static<typeof IdParam> }>("/materials/:id/container", {
    config: { auth: SEERS, document: true },
    schema: { tags: ["materials"], summary: "The material as an ASiC-E container (ETSI EN 319 162-1) for systems that cannot be integrated", security: SEC, params: IdParam,
      description: "A zip (`application/vnd.etsi.asic-e+zip`): `mimetype` first and stored, the material's bytes as registered (`<identifier>.<ext>`), its receipt (`receipt.jws`), `META-INF/ASiCManifest.xml` listing both with their SHA-256, and `META-INF/signature.p7s`, a detached CAdES-B-T signature over the manifest by the platform key with an RFC 3161 time-stamp. `sidian verify x.asice` verifies it offline; so do `unzip` and `openssl cms -verify` (README \"Verifying an ASiC-E container by hand\"). For the callers of GET /materials/{id}/content, under the same rules (an approval system only while the material is valid). Streamed: the bytes are hashed as they pass, and the download breaks off if they are not the registered ones.",
      response: { 200: ex(Type.String({ description: "application/vnd.etsi.asic-e+zip (binary)" }), "PK\u0003\u0004 … mimetype application/vnd.etsi.asic-e+zip …"), ...problems("MATERIAL_NOT_FOUND", "MATERIAL_STATE_INVALID", "KEYSTORE_UNAVAILABLE") } },
  }, async (req, reply) => {
    if (!opts.container) throw new AppError("NOT_READY", "ASiC-E containers are not configured.");
    const c = await opts.container.prepare(req.params.id, req.actor);
    const out = new PassThrough();
    c.write(out).then(() => out.end(), (e: unknown) => {
      // Headers are gone: the only honest signal left is a broken download (no terminating chunk).
      req.log.error({ err: e, material: c.material.identifier }, "container stream failed");
      c.abandon();
      out.destroy(e instanceof Error ? e : new Error(String(e)));
    });
    return reply.type("application/vnd.etsi.asic-e+zip").header("cache-control", "private, no-store")
      .header("x-material-sha256", c.material.sha256).header("x-material-status", c.material.status)
      .header("content-disposition", `attachment; filename="${c.fileName}"`).send(out);
  });

  app.get<{ Params: Static<typeof IdParam> }>("/materials/:id/history", {
    config: { auth: SEERS },
    schema: { tags: ["materials"], summary: "Every version of a material", security: SEC, params: IdParam,
      description: "The versions of the material's lineage (001 first) the caller may see, each with its status (a newer version supersedes the older).",
      response: { 200: ex(Type.Object({ items: Type.Array(ViewOut) }), { items: [VIEW_EXAMPLE] }), ...problems("MATERIAL_NOT_FOUND") } },
  }, async (req) => ({ items: await svc.history(req.params.id, req.actor) }));

  app.post<{ Params: Static<typeof IdParam>; Body: Static<typeof RevokeBody> }>("/materials/:id/revoke", {
    config: { auth: { roles: ["admin" as const, "consumer" as const, "counter" as const, "issuer" as const] } },
    schema: { tags: ["materials"], summary: "Revoke a material (with a reason)", security: SEC, params: IdParam, body: RevokeBody,
      description: "Revokes a material: it is never handed to an approval system again, its links stop answering, and its receipt verifies as REVOKED. For its registrant, an issuer of the registering department, or an administrator. Logged.",
      response: { 200: ViewOut, ...problems("MATERIAL_NOT_FOUND", "MATERIAL_STATE_INVALID") } },
  }, async (req) => svc.revoke(req.params.id, req.body.reason, req.actor));

  // ---- reuse ----
  app.post<{ Body: Static<typeof QueryBody> }>("/holders/materials::query", {
    config: { auth: { roles: ["consumer" as const] } },
    schema: { tags: ["materials"], summary: "一次提交、多次复用: fetch a holder's materials for a matter (consent or exemption required; recorded)", security: SEC, body: QueryBody,
      description: "An approval system fetches a holder's valid materials of the types its matter accepts (or of `typeCodes`), naming the use cause. Needs the holder's consent for this client and matter (POST /holders/me/consents), or a consent-exempt matter. The use is recorded (the holder sees it in GET /holders/me/accesses) and logged before the answer leaves. Each material comes with its receipt and a link to its bytes valid for an hour.",
      response: { 200: ex(Type.Object({
        accessId: Type.String(), basis: Type.String(), logIndex: Type.Integer(),
        truncated: Type.Boolean({ description: `more than ${MATERIAL_ANSWER_MAX} materials: ask for fewer types` }),
        items: Type.Array(Type.Object({ ...ViewFields, receipt: Type.String(), link: Type.Object({ url: Type.String(), expiresAt: Type.String({ format: "date-time" }) }) })),
      }), { accessId: "0193a0b4-5c1e-7f00-8000-000000000001", basis: "consent", logIndex: 1050, truncated: false, items: [{ ...VIEW_EXAMPLE, receipt: RECEIPT_EXAMPLE, link: { url: "https://sidian.example/material-links/AZOgtFwefwCAAAAAAAAAAQ.0.tm9k2o.Qx7", expiresAt: "2026-12-07T09:00:00.000Z" } }] }),
      ...problems("FORBIDDEN_MATTER", "MATERIAL_TYPE_NOT_ACCEPTED", "CONSENT_REQUIRED", "HOLDER_CODE_INVALID", "MATTER_NOT_FOUND") } },
  }, async (req, reply) => {
    reply.header("cache-control", "no-store");
    return svc.query(req.actor, req.body);
  });

  app.get<{ Params: Static<typeof TokenParam> }>("/material-links/:token", {
    config: { auth: { roles: ["consumer" as const] }, document: true },
    schema: { tags: ["materials"], summary: "The bytes behind a link of a reuse answer", security: SEC, params: TokenParam,
      description: "The material's bytes, for the approval system that fetched the answer, until the link expires, and only while the consent (or exemption), the client's matter, the type's acceptance and the material's validity still hold.",
      response: { 200: BINARY, ...problems("MATERIAL_LINK_INVALID") } },
  }, async (req, reply) => {
    const r = await svc.fetchLink(req.actor, req.params.token);
    const v = await svc.core.view(r.record);
    return sendBytes(reply, v, r.stream);
  });

  // ---- holder ----
  app.get<{ Querystring: Static<typeof MineQuery> }>("/holders/me/materials", {
    config: { auth: { holder: true } },
    schema: { tags: ["holder"], summary: "My materials", security: SEC, querystring: MineQuery,
      description: "The holder's materials, newest first, whoever registered them (`current=true`: valid ones only). Preview one with GET /materials/{id}/content.",
      response: { 200: ex(Type.Object({ items: Type.Array(ViewOut) }), { items: [VIEW_EXAMPLE] }), ...problems(400, 401, 403) } },
  }, async (req, reply) => {
    reply.header("cache-control", "no-store");
    return { items: await svc.mine(req.actor, { ...(req.query.limit ? { limit: req.query.limit } : {}), ...(req.query.current ? { current: true } : {}) }) };
  });

  app.post<{ Params: Static<typeof IdParam> }>("/holders/me/materials/:id/withdraw", {
    config: { auth: { holder: true } },
    schema: { tags: ["holder"], summary: "Withdraw one of my materials (its bytes are deleted)", security: SEC, params: IdParam,
      description: "The holder withdraws a material registered for them: it leaves reuse at once (links stop answering) and its bytes are deleted (when a case that used it still waits for its archival package, once that package is stored: the archive keeps what the case relied on); the record, its receipt and its log entries stay, and its receipt verifies as WITHDRAWN. A department-issued material (a document a department's system produced) is not the holder's to withdraw (403 `MATERIAL_SOURCE_PROTECTED`: its registrant or department revokes it).",
      response: { 200: ViewOut, ...problems("MATERIAL_NOT_FOUND", "MATERIAL_STATE_INVALID", "MATERIAL_SOURCE_PROTECTED") } },
  }, async (req) => svc.withdraw(req.params.id, req.actor));

  // ---- verification ----
  app.post<{ Body: Static<typeof VerifyBody> | Readable }>("/verify/material", {
    bodyLimit: MATERIAL_MAX_BYTES,
    config: { auth: "public", rateLimit: { max: opts.publicRateLimit, timeWindow: "1 minute" } },
    schema: { tags: ["materials"], summary: "Verify a material: the file (or its hash) and/or its receipt",
      consumes: ["application/json", ...RAW_TYPES],
      body: { ...VerifyBody, description: "JSON `{sha256?, sm3?, receipt?}`; or the file itself as the body (any of the raw types), with the receipt JWS in the `x-material-receipt` header if you have it." } as unknown as TSchema,
      description: "Whether these exact bytes were registered, when, by which kind of source (approval system, counter, holder, department), and the material's status now, with the transparency-log inclusion proof; a receipt is checked against the published keys and the record. Always 200 with a verdict (VALID, INVALID, INDETERMINATE and why); the holder is masked. A revoked material verifies as REVOKED (INVALID).",
      response: { 200: Verdict, ...problems("VALIDATION_FAILED", "MATERIAL_EMPTY", "MATERIAL_TOO_LARGE") } },
    // A JSON body is checked by its schema; a raw file body is a stream (no schema applies).
    validatorCompiler: ({ httpPart, schema }) => {
      if (httpPart !== "body") return () => true;
      const check = TypeCompiler.Compile(VerifyBody as TSchema);
      void schema;
      return (data: unknown) => (data && typeof (data as Readable).pipe === "function" ? true : check.Check(data) ? true : { error: new AppError("VALIDATION_FAILED", `The body is not valid: ${[...check.Errors(data)].slice(0, 5).map((e) => `${e.path || "/"} ${e.message}`).join("; ")}.`) });
    },
  }, async (req) => {
    const b = req.body as Static<typeof VerifyBody> | Readable;
    if (b && typeof (b as Readable).pipe === "function") {
      const h = req.headers["x-material-receipt"];
      const receipt = typeof h === "string" ? h.trim() : undefined;
      if (receipt !== undefined && !/^[A-Za-z0-9_.-]{1,16000}$/.test(receipt)) throw new AppError("VALIDATION_FAILED", "x-material-receipt is not a compact JWS.");
      return svc.verify({ bytes: b as Readable, ...(receipt ? { receipt } : {}) });
    }
    const j = b as Static<typeof VerifyBody>;
    return svc.verify({ ...(j.sha256 ? { sha256: j.sha256 } : {}), ...(j.sm3 ? { sm3: j.sm3 } : {}), ...(j.receipt ? { receipt: j.receipt } : {}) });
  });
}
