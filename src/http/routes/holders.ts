/**
 * 免证办 and the holder's own API.
 *   POST /holders/licences:query         consumer: a holder's licences for a matter, with use cause (recorded)
 *   GET  /copies/:token                  consumer: the use-annotated copy (加注件) behind a temporary link — signed JSON
 *                                        by default; a sealed PDF with a visible watermark for ?format=pdf or Accept: application/pdf
 *   GET  /holders/me/licences            holder: my licences
 *   GET|POST /holders/me/consents, DELETE /holders/me/consents/:id    holder: consents
 *   GET  /holders/me/accesses            holder: who used my licences
 */
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import type { AccessService } from "../../modules/access/index.js";
import type { DocumentService } from "../../modules/documents/index.js";
import { AppError } from "../../errors.js";
import { sendDocument } from "./documents.js";
import { Line } from "../validation.js";
import { problems } from "../schemas.js";
import { MatterCode, TypeCode } from "./catalogue.js";
import { LicenceOutInline, licenceOut } from "./licences.js";
import { HOLDER_ANSWER_MAX } from "../../modules/licences/index.js";

const QueryBody = Type.Object({
  holderCode: Type.String({ minLength: 1, maxLength: 64 }),
  holderCodeType: Type.String({ pattern: "^[0-9]{3}$" }),
  matterCode: MatterCode,
  useCause: Line({ minLength: 1, maxLength: 200, description: "用证事由" }),
  typeCodes: Type.Optional(Type.Array(TypeCode, { maxItems: 50 })),
}, { additionalProperties: false });
const ConsentBody = Type.Object({
  clientId: Type.String({ minLength: 3, maxLength: 64 }),
  matterCode: MatterCode,
  days: Type.Optional(Type.Integer({ minimum: 1, maximum: 365, default: 90 })),
}, { additionalProperties: false });
const ConsentOut = Type.Object({
  id: Type.String(), clientId: Type.String(), clientName: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  matterCode: Type.String(), matterName: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  grantedAt: Type.String({ format: "date-time" }), expiresAt: Type.String({ format: "date-time" }),
  revokedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]), status: Type.String(),
});
const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const CopyQuery = Type.Object({ format: Type.Optional(Type.Union([Type.Literal("json"), Type.Literal("pdf")], { description: "json (default) or pdf; without it, Accept: application/pdf selects the PDF" })) }, { additionalProperties: false });
const TokenParam = Type.Object({ token: Type.String({ minLength: 10, maxLength: 1000, pattern: "^[A-Za-z0-9_.-]+$" }) });
const MineQuery = Type.Object({
  after: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: "list the licences after this identifier (the `next` of the page before)" })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: HOLDER_ANSWER_MAX, description: `at most ${HOLDER_ANSWER_MAX} (the default)` })),
}, { additionalProperties: false });
const AccessQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })), before: Type.Optional(Type.String({ format: "date-time" })) }, { additionalProperties: false });

const CONSUMER = { roles: ["consumer" as const], scopes: ["licences:query"] };
const HOLDER = { holder: true };
const SEC = [{ bearer: [] }];

function consentOut(c: { id: string; clientId: string; matterCode: string; grantedAt: Date; expiresAt: Date; revokedAt: Date | null; clientName?: string | null; matterName?: string | null }, status: string) {
  return {
    id: c.id, clientId: c.clientId, matterCode: c.matterCode, grantedAt: c.grantedAt.toISOString(), expiresAt: c.expiresAt.toISOString(),
    revokedAt: c.revokedAt ? c.revokedAt.toISOString() : null, status,
    ...(c.clientName !== undefined ? { clientName: c.clientName } : {}), ...(c.matterName !== undefined ? { matterName: c.matterName } : {}),
  };
}

/** The copy's form: ?format wins; otherwise a PDF only when the client asks for application/pdf (and not JSON first). */
function wantsPdf(format: string | undefined, accept: string | undefined): boolean {
  if (format) return format === "pdf";
  if (!accept) return false;
  const pdf = accept.indexOf("application/pdf");
  const json = accept.indexOf("application/json");
  return pdf >= 0 && (json < 0 || pdf < json);
}

export default async function holderRoutes(app: FastifyInstance, opts: { access: AccessService; documents?: DocumentService }) {
  const acc = opts.access;

  app.post<{ Body: Static<typeof QueryBody> }>("/holders/licences::query", {
    config: { auth: CONSUMER },
    schema: { tags: ["access"], description: "免证办: an approval system fetches a holder's current licences for a matter it serves, naming the use cause (用证事由). Needs the holder's consent for this client and matter (or a consent-exempt matter). The fetch is recorded and logged before the answer is sent; the holder sees it. Each licence comes with a copy link (加注件) valid for a short time.",
      summary: "免证办: fetch a holder's licences for a matter (consent or exemption required; recorded)", security: SEC,
      body: QueryBody, response: { 200: Type.Object({
        accessId: Type.String(), basis: Type.String(),
        truncated: Type.Boolean({ description: `true when the holder has more than ${HOLDER_ANSWER_MAX} current licences of the types asked for: the first ${HOLDER_ANSWER_MAX} by identifier are listed (ask for fewer types)` }),
        items: Type.Array(Type.Object({
          identifier: Type.String(), typeCode: Type.String(), name: Type.String(), version: Type.String(), status: Type.String(), statusText: Type.String(),
          validFrom: Type.String(), validUntil: Type.Union([Type.String(), Type.Null()]),
          data: Type.Record(Type.String(), Type.Unknown()), jws: Type.String(),
          copy: Type.Object({ url: Type.String(), expiresAt: Type.String({ format: "date-time" }) }),
        })),
      }), ...problems("FORBIDDEN_MATTER", "CONSENT_REQUIRED", "HOLDER_CODE_INVALID", "MATTER_NOT_FOUND") } },
  }, async (req, reply) => {
    const r = await acc.query(req.actor, req.body);
    reply.header("cache-control", "no-store");
    // The answer as UTF-8 bytes, made by the licence module (what the response schema above describes; sent as is:
    // Fastify skips serialisation for bytes).
    return reply.type("application/json; charset=utf-8").send(r.body);
  });

  app.get<{ Params: Static<typeof TokenParam>; Querystring: Static<typeof CopyQuery> }>("/copies/:token", {
    config: { auth: CONSUMER, document: true },
    schema: { tags: ["access"], description: "The use-annotated copy (加注件) behind a copy link from a 免证办 answer, for the client that fetched it and until the link expires: a JWS naming the consumer, matter, use cause and expiry over the licence (JSON), or the licence PDF with that annotation as a visible watermark, sealed (`format=pdf`).",
      summary: "The use-annotated copy (加注件) behind a temporary link: a JWS naming consumer, matter, use cause and expiry (JSON, default), or the licence PDF with that annotation as a visible watermark, sealed (?format=pdf or Accept: application/pdf)", security: SEC,
      params: TokenParam, querystring: CopyQuery,
      response: { 200: Type.Union([Type.Object({ copy: Type.String(), annotation: Type.Record(Type.String(), Type.Unknown()), licence: Type.Record(Type.String(), Type.Unknown()) }), Type.String({ description: "application/pdf" })]), ...problems("COPY_LINK_INVALID", "LICENCE_SEAL_MISSING", "KEYSTORE_UNAVAILABLE", "PDF_WORKERS_BUSY") } },
  }, async (req, reply) => {
    reply.header("cache-control", "no-store");
    reply.header("vary", "accept");
    if (wantsPdf(req.query.format, req.headers.accept)) {
      if (!opts.documents) throw new AppError("ROUTE_NOT_FOUND", "PDF copies are not available here.");
      const d = await opts.documents.copyDocument(req.params.token, req.actor);
      return sendDocument(reply, d, `${d.identifier}-copy.pdf`);
    }
    return acc.copy(req.actor, req.params.token);
  });

  app.get<{ Querystring: Static<typeof MineQuery> }>("/holders/me/licences", {
    config: { auth: HOLDER },
    schema: { tags: ["holder"], description: "The holder's own current licences, in identifier order, a page at a time (`next` → `after`).",
      summary: "My licences (current versions), in identifier order, a page at a time", security: SEC, querystring: MineQuery,
      response: { 200: Type.Object({
        items: Type.Array(LicenceOutInline),
        truncated: Type.Boolean({ description: "true when there are more: ask again with after = next" }),
        next: Type.Optional(Type.String({ description: "the last identifier of this page, when truncated" })),
      }), ...problems(400, 401, 403) } },
  }, async (req, reply) => {
    reply.header("cache-control", "no-store");
    const r = await acc.holderLicences(req.actor, { ...(req.query.after ? { after: req.query.after } : {}), ...(req.query.limit ? { limit: req.query.limit } : {}) });
    const items = r.items.map(licenceOut);
    return { items, truncated: r.truncated, ...(r.truncated && items.length ? { next: items[items.length - 1]!.identifier } : {}) };
  });

  app.get("/holders/me/consents", {
    config: { auth: HOLDER },
    schema: { tags: ["holder"], description: "The holder's consents: active, expired and revoked.",
      summary: "My consents (active, expired, revoked)", security: SEC,
      response: { 200: Type.Object({ items: Type.Array(ConsentOut) }), ...problems(401, 403) } },
  }, async (req) => ({ items: (await acc.listConsents(req.actor)).map((c) => consentOut(c, c.status)) }));

  app.post<{ Body: Static<typeof ConsentBody> }>("/holders/me/consents", {
    config: { auth: HOLDER },
    schema: { tags: ["holder"], description: "The holder lets one approval system fetch their licences for one matter, for `days` days (default 90). Revoke it at any time.",
      summary: "Grant a consumer consent to fetch my licences for one matter, for N days", security: SEC, body: ConsentBody,
      response: { 201: ConsentOut, ...problems("CLIENT_NOT_FOUND", "MATTER_NOT_FOUND", "FORBIDDEN_MATTER") } },
  }, async (req, reply) => reply.code(201).send(consentOut(await acc.grantConsent(req.actor, req.body), "active")));

  app.delete<{ Params: Static<typeof IdParam> }>("/holders/me/consents/:id", {
    config: { auth: HOLDER },
    schema: { tags: ["holder"], description: "Revokes one of the holder's consents at once: the next fetch under it is 403 `CONSENT_REQUIRED`.",
      summary: "Revoke a consent", security: SEC, params: IdParam,
      response: { 200: ConsentOut, ...problems("CONSENT_NOT_FOUND", "CONFLICT") } },
  }, async (req) => consentOut(await acc.revokeConsent(req.actor, req.params.id), "revoked"));

  app.get<{ Querystring: Static<typeof AccessQuery> }>("/holders/me/accesses", {
    config: { auth: HOLDER },
    schema: { tags: ["holder"], description: "Every 免证办 fetch of the holder's licences and every reuse of their materials: client, matter, use cause, time, licences, materials and the log index that proves it.",
      summary: "Who used my licences: every 免证办 fetch (client, matter, use cause, time)", security: SEC, querystring: AccessQuery,
      response: { 200: Type.Object({ items: Type.Array(Type.Object({
        id: Type.String(), at: Type.String({ format: "date-time" }), client: Type.Object({ id: Type.String(), name: Type.Union([Type.String(), Type.Null()]) }),
        matter: Type.Object({ code: Type.String(), name: Type.Union([Type.String(), Type.Null()]) }), useCause: Type.String(),
        licences: Type.Array(Type.String()), materials: Type.Array(Type.String({ description: "materials reused (POST /holders/materials:query)" })), basis: Type.String(), logIndex: Type.Integer(),
      })) }), ...problems(400, 401, 403) } },
  }, async (req, reply) => {
    reply.header("cache-control", "no-store");
    const items = await acc.accesses(req.actor, { limit: req.query.limit ?? 100, ...(req.query.before ? { before: new Date(req.query.before) } : {}) });
    return { items: items.map((i) => ({ ...i, at: i.at.toISOString() })) };
  });
}
