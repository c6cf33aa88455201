/**
 * E-licences (issuer side) and status publication (public).
 *   POST /licences                     issue one (Idempotency-Key header makes retries safe)
 *   POST /licences:batch               bulk import, NDJSON (one licence per line), per-line results
 *   GET  /licences, /licences/:id, /licences/:id/history
 *   POST /licences:search              find a department's licences by licence number and/or holder code
 *   POST /licences/:id/status          suspend | resume | cancel | deregister | revoke (with reason)
 *   POST /licences/:id/versions        change: a new version superseding the current one (Idempotency-Key too)
 *   GET  /licences/:id/status          online status (public, no personal data)
 *   GET  /status-lists/:departmentId/:list   signed status list (W3C Bitstring Status List style; ETag)
 */
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { AppError } from "../../errors.js";
import type { Actor } from "../../modules/kernel.js";
import { MAX_BATCH_LINES, type ChangePatch, type IssueInput, type IssuerContext, type LicenceService, type LicenceView } from "../../modules/licences/index.js";
import { ex } from "../openapi.js";
import { problems } from "../schemas.js";
import { checkJsonValue, Line, utf8Text } from "../validation.js";
import { TypeCode } from "./catalogue.js";

/** If-None-Match against an entity tag, by weak comparison (RFC 9110 13.1.2): a list of tags, W/ or not, or "*". */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, "");
  const want = opaque(etag);
  return header.split(",").some((t) => t.trim() === "*" || opaque(t) === want);
}

const DateStr = Type.String({ pattern: "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", description: "YYYY-MM-DD" });
export const LicenceId = Type.String({ minLength: 20, maxLength: 128, pattern: "^1\\.2\\.156\\.3005\\.2\\.[0-9A-Z.]+$", description: "GB/T 36904 licence identifier" });
// Values are typed by the licence type's field schema (checked in the domain, FIELDS_INVALID), with no `type` here:
// ajv's coercion (coerceTypes "array", for query strings) would turn "35.5" into 35.5 or unwrap [1] into "1" and
// sign a value the client never sent. Nested values are refused there too; a request nested deeper than the stack
// is VALIDATION_FAILED where it is hashed (licences/service.ts hashOfRequest).
const FieldValues = Type.Record(Type.String({ maxLength: 48 }), Type.Unknown({ description: "string | number, per the type's field schema" }), { maxProperties: 64 });
const Holder = Type.Object({
  name: Line({ minLength: 1, maxLength: 200 }),
  code: Type.String({ minLength: 1, maxLength: 64 }),
  codeType: Type.String({ pattern: "^[0-9]{3}$" }),
}, { additionalProperties: false });
const IssueFields = {
  typeCode: TypeCode,
  number: Line({ minLength: 1, maxLength: 64, description: "证照编号" }),
  holder: Holder,
  fields: FieldValues,
  issueDate: Type.Optional(DateStr),
  validFrom: Type.Optional(DateStr),
  validUntil: Type.Optional(Type.Union([DateStr, Type.Null()], { description: "null = long-term; omitted = the type's default" })),
};
const IssueBody = Type.Object(IssueFields, { additionalProperties: false });
const IdemKey = Type.String({ minLength: 1, maxLength: 128, pattern: "^[A-Za-z0-9._:-]+$" });
const BatchLine = Type.Object({ ...IssueFields, idempotencyKey: Type.Optional(IdemKey) }, { additionalProperties: false });
const batchLineCheck = TypeCompiler.Compile(BatchLine);
const IssueHeaders = Type.Object({ "idempotency-key": Type.Optional(IdemKey) });

const licenceFields = {
  identifier: Type.String(), typeCode: Type.String(), name: Type.String(), version: Type.String(), departmentId: Type.String(),
  status: Type.String(), statusText: Type.String(), statusAt: Type.String({ format: "date-time" }),
  validFrom: Type.String(), validUntil: Type.Union([Type.String(), Type.Null()]),
  supersedes: Type.Union([Type.String(), Type.Null()]), supersededBy: Type.Union([Type.String(), Type.Null()]),
  statusList: Type.Object({ url: Type.String(), index: Type.Integer() }), logIndex: Type.Integer(),
  createdAt: Type.String({ format: "date-time" }),
  data: Type.Record(Type.String(), Type.Unknown(), { description: "the signed licence data (JWS payload)" }),
  jws: Type.String({ description: "compact JWS, ES256, x5c = [signing certificate, issuing CA]" }),
};
const LicenceOut = Type.Object(licenceFields, { $id: "Licence" });
/** The licence response schema for other route plugins (schemas added with addSchema are plugin-scoped). */
export const LicenceOutInline = Type.Object(licenceFields);
const IdParam = Type.Object({ id: LicenceId });
const StatusBody = Type.Object({
  action: Type.Union([Type.Literal("suspend"), Type.Literal("resume"), Type.Literal("cancel"), Type.Literal("deregister"), Type.Literal("revoke")]),
  reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
}, { additionalProperties: false });
const ChangeBody = Type.Object({
  reason: Type.String({ minLength: 1, maxLength: 500 }),
  number: Type.Optional(Line({ minLength: 1, maxLength: 64 })),
  holderName: Type.Optional(Line({ minLength: 1, maxLength: 200 })),
  fields: Type.Optional(FieldValues),
  issueDate: Type.Optional(DateStr),
  validFrom: Type.Optional(DateStr),
  validUntil: Type.Optional(Type.Union([DateStr, Type.Null()])),
}, { additionalProperties: false });
const ListQuery = Type.Object({
  departmentId: Type.Optional(Type.String({ maxLength: 64 })),
  typeCode: Type.Optional(TypeCode),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  after: Type.Optional(Type.String({ pattern: "^[0-9]{1,15}$" })),
}, { additionalProperties: false });
const SearchBody = ex(Type.Object({
  number: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "证照编号, exactly as issued" })),
  holder: Type.Optional(Type.Object({ code: Type.String({ minLength: 1, maxLength: 64 }), codeType: Type.String({ pattern: "^[0-9]{3}$" }) }, { additionalProperties: false })),
  typeCode: Type.Optional(TypeCode),
  departmentId: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "administrators: the department searched (issuers search their own)" })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
}, { additionalProperties: false }), { number: "JY13501020000001" }, { holder: { code: "350102199001010015", codeType: "111" }, typeCode: "11100000MB03271699001" });
const SEARCH_EXAMPLE = {
  items: [{
    identifier: "1.2.156.3005.2.11100000MB03271699001.11350100003597651W.0000000001.001.6", typeCode: "11100000MB03271699001", version: "001",
    status: "01", validFrom: "2026-12-07", validUntil: "2031-12-06", createdAt: "2026-12-07T06:30:00.000Z",
  }],
};
const ListItem = Type.Object({
  identifier: Type.String(), typeCode: Type.String(), version: Type.String(), status: Type.String(), validFrom: Type.String(),
  validUntil: Type.Union([Type.String(), Type.Null()]), createdAt: Type.String({ format: "date-time" }),
});
const ListParams = Type.Object({ departmentId: Type.String({ minLength: 1, maxLength: 64 }), list: Type.Integer({ minimum: 0, maximum: 1_000_000 }) });

const ISSUE = { roles: ["issuer" as const], scopes: ["licences:issue"] };
const MANAGE = { roles: ["issuer" as const], scopes: ["licences:manage"] };
const READ = { roles: ["admin" as const, "issuer" as const] };
const SEC = [{ bearer: [] }];

export function licenceOut(v: LicenceView) {
  return { ...v, statusAt: v.statusAt.toISOString(), createdAt: v.createdAt.toISOString(), data: v.data as unknown as Record<string, unknown> };
}

function issuerContext(actor: Actor): IssuerContext {
  if (actor.kind !== "client" || actor.role !== "issuer" || !actor.departmentId) throw new AppError("FORBIDDEN_ROLE");
  return { actor, departmentId: actor.departmentId, idempotencyScope: actor.clientId };
}

/** Splits an NDJSON body into checked lines (parse at the edge); bad lines become per-line errors. */
export function parseNdjson(body: string): { items: Array<IssueInput | { error: AppError }>; lineNumbers: number[] } {
  const items: Array<IssueInput | { error: AppError }> = [];
  const lineNumbers: number[] = [];
  // Read a line at a time (no array of every line), and blank lines count towards a bound of their own: a body of
  // nothing but line feeds would otherwise be split into millions of empty strings before any limit applied.
  const maxRawLines = 2 * MAX_BATCH_LINES + 1;
  for (let i = 0, at = 0; at <= body.length; i++) {
    if (i >= maxRawLines) throw new AppError("BATCH_TOO_LARGE", `At most ${MAX_BATCH_LINES} lines per batch (and ${maxRawLines} counting blank ones).`, { details: { maxLines: MAX_BATCH_LINES } });
    let end = body.indexOf("\n", at);
    if (end < 0) end = body.length;
    const text = body.slice(at, end).trim();
    at = end + 1;
    if (text === "") continue;
    lineNumbers.push(i + 1);
    if (lineNumbers.length > MAX_BATCH_LINES) throw new AppError("BATCH_TOO_LARGE", `At most ${MAX_BATCH_LINES} lines per batch.`, { details: { maxLines: MAX_BATCH_LINES } });
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      items.push({ error: new AppError("VALIDATION_FAILED", "The line is not JSON.") });
      continue;
    }
    try {
      checkJsonValue(v);
    } catch (e) {
      items.push({ error: e as AppError });
      continue;
    }
    if (!batchLineCheck.Check(v)) {
      const e = batchLineCheck.Errors(v).First();
      items.push({ error: new AppError("VALIDATION_FAILED", `The line is not valid: ${e?.path || "/"} ${e?.message ?? ""}`.trim(), { details: { path: e?.path || "/" } }) });
      continue;
    }
    items.push(v as IssueInput);
  }
  return { items, lineNumbers };
}

export default async function licenceRoutes(app: FastifyInstance, opts: { licences: LicenceService; publicRateLimit: number }) {
  const lic = opts.licences;
  const rateLimit = { max: opts.publicRateLimit, timeWindow: "1 minute" };
  app.addSchema(LicenceOut);
  const batchBodyLimit = 32 * 1024 * 1024;
  app.addContentTypeParser("application/x-ndjson", { parseAs: "buffer", bodyLimit: batchBodyLimit }, (_req, body, done) => {
    try {
      done(null, utf8Text(body as Buffer));
    } catch (e) {
      done(e as Error, undefined);
    }
  });

  app.post<{ Body: Static<typeof IssueBody>; Headers: Static<typeof IssueHeaders> }>("/licences", {
    config: { auth: ISSUE },
    schema: { tags: ["licences"], description: "Issues one licence: the GB/T 36904 identifier is assigned, the data is checked against the type's field schema, signed by the department's licence-signing key (JWS ES256) and appended to the transparency log in the same transaction; the answer comes once it is durable. Send an `Idempotency-Key` and retry with the same key and body after a timeout or a 5xx: the licence is issued once (`idempotent-replayed: true` on a replay). A licence number (证照编号) is unique per type and department among current licences, whatever their status: a second one is 409 `LICENCE_NUMBER_TAKEN` naming the licence that has it.",
      summary: "Issue a licence: identifier assigned, signed (JWS ES256), stored and logged", security: SEC,
      headers: IssueHeaders, body: IssueBody, response: { 201: Type.Ref("Licence"), ...problems("LICENCE_NUMBER_TAKEN", "LICENCE_TYPE_NOT_FOUND", "LICENCE_TYPE_NOT_ALLOWED", "FIELDS_INVALID", "HOLDER_CODE_TYPE_INVALID", "HOLDER_CODE_INVALID", "VALIDITY_INVALID", "IDEMPOTENCY_CONFLICT", "SIGNING_KEY_UNAVAILABLE", "KEYSTORE_UNAVAILABLE") } },
  }, async (req, reply) => {
    const key = req.headers["idempotency-key"];
    const r = await lic.issue({ ...(req.body as IssueInput), ...(key ? { idempotencyKey: key } : {}) }, issuerContext(req.actor));
    if (r.replay) reply.header("idempotent-replayed", "true");
    return reply.code(201).send(licenceOut(r.licence));
  });

  app.post<{ Body: string }>("/licences::batch", {
    config: { auth: ISSUE },
    bodyLimit: batchBodyLimit,
    schema: { tags: ["licences"], description: "Issues many licences in one request: NDJSON, one licence per line (the body of POST /licences plus an optional `idempotencyKey`). Each line succeeds or fails on its own (per-line `code` and `message`); the answer is 200 whatever the lines did. Sending the same batch again issues nothing twice (lines keyed by `idempotencyKey`). A line whose number a current licence of its type and department already has, or an earlier line of the batch, fails with `LICENCE_NUMBER_TAKEN` naming that licence.",
      summary: `Bulk import (NDJSON, one licence per line, at most ${MAX_BATCH_LINES}); per-line results`, security: SEC,
      consumes: ["application/x-ndjson"],
      response: {
        200: Type.Object({
          summary: Type.Object({ lines: Type.Integer(), issued: Type.Integer(), replayed: Type.Integer(), failed: Type.Integer() }),
          results: Type.Array(Type.Object({
            line: Type.Integer(), ok: Type.Boolean(), identifier: Type.Optional(Type.String()), replay: Type.Optional(Type.Boolean()),
            code: Type.Optional(Type.String()), message: Type.Optional(Type.String()), details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
          })),
        }),
        ...problems("BATCH_TOO_LARGE", "KEYSTORE_UNAVAILABLE"),
      } },
  }, async (req) => {
    const ic = issuerContext(req.actor);
    if (typeof req.body !== "string") throw new AppError("UNSUPPORTED_MEDIA_TYPE", "Send the batch as application/x-ndjson.");
    const { items, lineNumbers } = parseNdjson(req.body);
    const results = await lic.issueBatch(items, ic);
    const out = results.map((r, i) => ({ ...r, line: lineNumbers[i]! }));
    const issued = out.filter((r) => r.ok && !r.replay).length;
    const replayed = out.filter((r) => r.ok && r.replay).length;
    return { summary: { lines: out.length, issued, replayed, failed: out.length - issued - replayed }, results: out };
  });

  app.get<{ Querystring: Static<typeof ListQuery> }>("/licences", {
    config: { auth: READ },
    schema: { tags: ["licences"], description: "A department's licences, newest first, a page at a time (`next` → `after`). Issuers see their own department's; admins name one with `departmentId`.",
      summary: "List a department's licences (issuers: their own; admins: ?departmentId=)", security: SEC, querystring: ListQuery,
      response: { 200: Type.Object({ items: Type.Array(ListItem), next: Type.Union([Type.String(), Type.Null()]) }), ...problems("FORBIDDEN_DEPARTMENT") } },
  }, async (req) => {
    const limit = req.query.limit ?? 100;
    const items = await lic.list(req.actor, { ...req.query, limit });
    const recs = items.map((i) => ({ ...i, createdAt: i.createdAt.toISOString() }));
    const last = items.length === limit ? await lic.record(items[items.length - 1]!.identifier) : null;
    return { items: recs, next: last ? String(last.statusIndex) : null };
  });

  app.post<{ Body: Static<typeof SearchBody> }>("/licences::search", {
    config: { auth: READ },
    schema: { tags: ["licences"], description: "Finds a department's current licences (not superseded) by licence number (证照编号, exact), by holder code, or both, of one type when `typeCode` is given; in identifier order. Issuers search their own department's; admins name one with `departmentId`. A POST so that holder codes stay out of URLs and access logs.",
      summary: "Find a department's licences by licence number and/or holder code (issuers: their own)", security: SEC, body: SearchBody,
      response: { 200: ex(Type.Object({ items: Type.Array(ListItem) }), SEARCH_EXAMPLE), ...problems("FORBIDDEN_DEPARTMENT", "HOLDER_CODE_INVALID", "HOLDER_CODE_TYPE_INVALID") } },
  }, async (req, reply) => {
    reply.header("cache-control", "no-store");
    const b = req.body;
    const items = await lic.find(req.actor, {
      limit: b.limit ?? 100,
      ...(b.number !== undefined ? { number: b.number } : {}), ...(b.holder ? { holder: b.holder } : {}),
      ...(b.typeCode !== undefined ? { typeCode: b.typeCode } : {}), ...(b.departmentId !== undefined ? { departmentId: b.departmentId } : {}),
    });
    return { items: items.map((i) => ({ ...i, createdAt: i.createdAt.toISOString() })) };
  });

  app.get<{ Params: Static<typeof IdParam> }>("/licences/:id", {
    config: { auth: READ },
    schema: { tags: ["licences"], description: "One licence: its data, the signed JWS (x5c = signing certificate, issuing CA), status, version chain and log index. Issuers may read their own department's only: another department's licence is 404 `LICENCE_NOT_FOUND`, as one that does not exist.",
      summary: "A licence with its data and JWS (issuers: their department's only)", security: SEC, params: IdParam,
      response: { 200: Type.Ref("Licence"), ...problems("LICENCE_NOT_FOUND", "LICENCE_ID_INVALID") } },
  }, async (req) => licenceOut(await lic.get(req.params.id, req.actor)));

  app.get<{ Params: Static<typeof IdParam> }>("/licences/:id/history", {
    config: { auth: READ },
    schema: { tags: ["licences"], description: "Every version of a licence and every status change, each signed and logged.",
      summary: "Every version and every signed, logged status change", security: SEC, params: IdParam,
      response: { 200: Type.Object({ identifier: Type.String(), lineage: Type.String(), versions: Type.Array(Type.Record(Type.String(), Type.Unknown())) }), ...problems("LICENCE_NOT_FOUND", "LICENCE_ID_INVALID") } },
  }, async (req) => lic.history(req.params.id, req.actor));

  app.post<{ Params: Static<typeof IdParam>; Body: Static<typeof StatusBody> }>("/licences/:id/status", {
    config: { auth: MANAGE },
    schema: { tags: ["licences"], description: "Changes a licence's status: `suspend` (暂扣), `resume`, `cancel` (撤销), `deregister` (注销) or `revoke` (吊销); a reason is required except for `resume`. The change is signed, logged and published in the department's status list. A transition the current status does not allow is 409 `LICENCE_TRANSITION_INVALID` (e.g. anything after revocation).",
      summary: "Suspend (暂扣), resume, cancel (撤销), deregister (注销) or revoke (吊销); illegal transitions are 409", security: SEC,
      params: IdParam, body: StatusBody, response: { 200: Type.Ref("Licence"), ...problems("LICENCE_NOT_FOUND", "LICENCE_ID_INVALID", "LICENCE_TRANSITION_INVALID", "KEYSTORE_UNAVAILABLE") } },
  }, async (req) => {
    if (req.body.action !== "resume" && !req.body.reason) throw new AppError("VALIDATION_FAILED", "A reason is required.", { details: { field: "reason" } });
    return licenceOut(await lic.transition(req.params.id, req.body.action, req.body.reason ?? null, req.actor));
  });

  app.post<{ Params: Static<typeof IdParam>; Body: Static<typeof ChangeBody>; Headers: Static<typeof IssueHeaders> }>("/licences/:id/versions", {
    config: { auth: MANAGE },
    schema: { tags: ["licences"], description: "Changes a licence (变更): a new version (version + 1, new identifier) is issued with the changed data, and the current one is kept, marked superseded. `Idempotency-Key` makes retries safe as for issuance.",
      summary: "Change (变更): issue the next version; the current one is kept, marked superseded (Idempotency-Key header makes retries safe)", security: SEC,
      headers: IssueHeaders, params: IdParam, body: ChangeBody, response: { 201: Type.Ref("Licence"), ...problems("LICENCE_NOT_FOUND", "LICENCE_ID_INVALID", "LICENCE_TRANSITION_INVALID", "LICENCE_NUMBER_TAKEN", "FIELDS_INVALID", "VALIDITY_INVALID", "IDEMPOTENCY_CONFLICT", "SIGNING_KEY_UNAVAILABLE", "KEYSTORE_UNAVAILABLE") } },
  }, async (req, reply) => {
    const key = req.headers["idempotency-key"];
    const scope = req.actor.kind === "client" ? req.actor.clientId : null;
    if (key && !scope) throw new AppError("FORBIDDEN_ROLE");
    const r = await lic.change(req.params.id, req.body as ChangePatch, req.actor, key && scope ? { key, scope } : undefined);
    if (r.replay) reply.header("idempotent-replayed", "true");
    return reply.code(201).send(licenceOut(r.licence));
  });

  app.get<{ Params: Static<typeof IdParam> }>("/licences/:id/status", {
    config: { auth: "public", rateLimit },
    schema: { tags: ["status"], description: "A licence's current status (no personal data), for verifiers online: status code and text, since when, validity and the successor version if changed. For offline or bulk checks use the signed status list.",
      summary: "Online status of a licence (no personal data)", params: IdParam,
      response: { 200: Type.Object({
        identifier: Type.String(), status: Type.String(), statusText: Type.String(), since: Type.Union([Type.String(), Type.Null()]),
        version: Type.String(), validFrom: Type.String(), validUntil: Type.Union([Type.String(), Type.Null()]),
        supersededBy: Type.Union([Type.String(), Type.Null()]), statusList: Type.Object({ url: Type.String(), index: Type.Integer() }),
      }), ...problems("LICENCE_NOT_FOUND", "LICENCE_ID_INVALID") } },
  }, async (req, reply) => {
    reply.header("cache-control", "no-cache");
    return lic.status(req.params.id);
  });

  app.get<{ Params: Static<typeof ListParams> }>("/status-lists/:departmentId/:list", {
    config: { auth: "public", rateLimit },
    schema: { tags: ["status"], description: "A department's signed status list (JWS): 4 bits per licence at the index named in the licence's `statusList`, gzip + base64url. Cache it by ETag (If-None-Match → 304) and check many licences offline.",
      summary: "Signed status list (JWS, W3C Bitstring Status List style: 4 bits per licence, gzip + base64url); ETag",
      params: ListParams, response: { 200: Type.String(), ...problems("STATUS_LIST_NOT_FOUND", "STATUS_LIST_UNAVAILABLE") } },
  }, async (req, reply) => {
    const l = await lic.statusList(req.params.departmentId, req.params.list);
    reply.header("etag", l.etag).header("cache-control", `public, max-age=${l.maxAge}`);
    if (etagMatches(req.headers["if-none-match"], l.etag)) return reply.code(304).send();
    return reply.type("application/vc+jwt").send(l.jws);
  });
}
