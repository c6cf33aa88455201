/** The licence catalogue (admin writes; every client role reads): licence types and matters (事项). */
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import type { CatalogueService, LicenceType, Matter } from "../../modules/catalogue/index.js";
import { Line } from "../validation.js";
import { cryptoProfile, CryptoProfile, problems } from "../schemas.js";

export const TypeCode = Type.String({ pattern: "^[0-9A-Z]{18}[0-9]{3}$", description: "21-char type code: the defining authority's USCC + 3 digits" });
export const MatterCode = Type.String({ minLength: 1, maxLength: 64, pattern: "^[0-9A-Za-z._-]+$", description: "事项编码" });
const HolderCodeType = Type.String({ pattern: "^[0-9]{3}$", description: "GB/T 36903 holder code type (001, 099, 111, 411-414, 511, 516, 999)" });

const FieldDef = Type.Object({
  name: Type.String({ pattern: "^[A-Za-z][A-Za-z0-9_]{0,47}$" }),
  label: Line({ minLength: 1, maxLength: 64, description: "Chinese label (显示名称)" }),
  type: Type.Union([Type.Literal("string"), Type.Literal("number"), Type.Literal("date"), Type.Literal("enum")]),
  required: Type.Optional(Type.Boolean()),
  maxLength: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  minimum: Type.Optional(Type.Number()),
  maximum: Type.Optional(Type.Number()),
  enum: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 200 })),
}, { additionalProperties: false });

const TypeCreate = Type.Object({
  code: TypeCode,
  name: Line({ minLength: 1, maxLength: 100 }),
  holderKind: Type.Union([Type.Literal("person"), Type.Literal("organisation")]),
  holderCodeTypes: Type.Array(HolderCodeType, { minItems: 1, maxItems: 10 }),
  fields: Type.Array(FieldDef, { maxItems: 64 }),
  validityDays: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 36_500 }), Type.Null()], { description: "default validity; null = long-term (长期)" })),
  issuers: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 500, description: "department ids allowed to issue" }),
  profile: Type.Optional(cryptoProfile("crypto profile its licences are signed with: p256 (JWS ES256, default) or sm2 (JWS alg SM2SM3; each issuer needs an SM2 licence-signing certificate)")),
}, { additionalProperties: false });
const TypePatch = Type.Object({
  name: Type.Optional(Line({ minLength: 1, maxLength: 100 })),
  holderKind: Type.Optional(Type.Union([Type.Literal("person"), Type.Literal("organisation")])),
  holderCodeTypes: Type.Optional(Type.Array(HolderCodeType, { minItems: 1, maxItems: 10 })),
  fields: Type.Optional(Type.Array(FieldDef, { maxItems: 64 })),
  validityDays: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 36_500 }), Type.Null()])),
  issuers: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 500 })),
  profile: Type.Optional(CryptoProfile),
}, { additionalProperties: false, minProperties: 1 });
const TypeOut = Type.Object({
  code: Type.String(), name: Type.String(), holderKind: Type.String(), holderCodeTypes: Type.Array(Type.String()),
  fields: Type.Array(Type.Record(Type.String(), Type.Unknown())), validityDays: Type.Union([Type.Integer(), Type.Null()]),
  issuers: Type.Array(Type.String()), profile: CryptoProfile, createdAt: Type.String({ format: "date-time" }), updatedAt: Type.String({ format: "date-time" }),
}, { $id: "LicenceType" });

const MatterCreate = Type.Object({
  code: MatterCode,
  name: Line({ minLength: 1, maxLength: 200 }),
  licenceTypes: Type.Array(TypeCode, { maxItems: 200 }),
  consentExempt: Type.Optional(Type.Boolean({ description: "exempt from holder consent by regulation" })),
  exemptBasis: Type.Optional(Type.Union([Line({ minLength: 1, maxLength: 500 }), Type.Null()], { description: "the regulation (required when consentExempt)" })),
  departments: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 200, description: "the departments that handle the matter (实施主体): a case (办件) of the matter is handled, signed and archived in the name of one of them; an approval system cannot name another (403 FORBIDDEN_DEPARTMENT)" })),
}, { additionalProperties: false });
const MatterPatch = Type.Object({
  name: Type.Optional(Line({ minLength: 1, maxLength: 200 })),
  licenceTypes: Type.Optional(Type.Array(TypeCode, { maxItems: 200 })),
  consentExempt: Type.Optional(Type.Boolean()),
  exemptBasis: Type.Optional(Type.Union([Line({ minLength: 1, maxLength: 500 }), Type.Null()])),
  departments: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 200, description: "the departments that handle the matter (实施主体): a case (办件) of the matter is handled, signed and archived in the name of one of them; an approval system cannot name another (403 FORBIDDEN_DEPARTMENT)" })),
}, { additionalProperties: false, minProperties: 1 });
const MatterOut = Type.Object({
  code: Type.String(), name: Type.String(), licenceTypes: Type.Array(Type.String()), consentExempt: Type.Boolean(),
  exemptBasis: Type.Union([Type.String(), Type.Null()]), departments: Type.Array(Type.String(), { description: "the departments that handle the matter (实施主体)" }),
  createdAt: Type.String({ format: "date-time" }), updatedAt: Type.String({ format: "date-time" }),
}, { $id: "Matter" });

const CodeParam = Type.Object({ code: TypeCode });
const MatterParam = Type.Object({ code: MatterCode });
const ADMIN = { roles: ["admin" as const], scopes: ["admin"] };
const READERS = { roles: ["admin" as const, "issuer" as const, "consumer" as const, "counter" as const] };
const SEC = [{ bearer: [] }];

const typeOut = (t: LicenceType) => ({ ...t, fields: t.fields as unknown as Record<string, unknown>[], createdAt: t.createdAt.toISOString(), updatedAt: t.updatedAt.toISOString() });
const matterOut = (m: Matter) => ({ ...m, createdAt: m.createdAt.toISOString(), updatedAt: m.updatedAt.toISOString() });

export default async function catalogueRoutes(app: FastifyInstance, opts: { catalogue: CatalogueService }) {
  const cat = opts.catalogue;
  app.addSchema(TypeOut);
  app.addSchema(MatterOut);

  app.post<{ Body: Static<typeof TypeCreate> }>("/licence-types", {
    config: { auth: ADMIN },
    schema: { tags: ["catalogue"], description: "Defines a licence type (证照类型): its 21-character type code, holder kind and code types, the fields its data carries (typed, checked at issuance) and the departments allowed to issue it.",
      summary: "Define a licence type (证照类型)", security: SEC, body: TypeCreate,
      response: { 201: Type.Ref("LicenceType"), ...problems("LICENCE_TYPE_INVALID", "LICENCE_TYPE_EXISTS") } },
  }, async (req, reply) => reply.code(201).send(typeOut(await cat.createType(req.body, req.actor))));

  app.get("/licence-types", {
    config: { auth: READERS },
    schema: { tags: ["catalogue"], description: "Every licence type with its field schema: an issuing system reads it to build its forms, an approval system to know what it may ask for.",
      summary: "List licence types", security: SEC,
      response: { 200: Type.Object({ items: Type.Array(Type.Ref("LicenceType")) }), ...problems(401, 403) } },
  }, async () => ({ items: (await cat.listTypes()).map(typeOut) }));

  app.get<{ Params: Static<typeof CodeParam> }>("/licence-types/:code", {
    config: { auth: READERS },
    schema: { tags: ["catalogue"], description: "One licence type with its field schema and its issuing departments.",
      summary: "Get a licence type", security: SEC, params: CodeParam,
      response: { 200: Type.Ref("LicenceType"), ...problems("LICENCE_TYPE_NOT_FOUND") } },
  }, async (req) => typeOut(await cat.getType(req.params.code)));

  app.patch<{ Params: Static<typeof CodeParam>; Body: Static<typeof TypePatch> }>("/licence-types/:code", {
    config: { auth: ADMIN },
    schema: { tags: ["catalogue"], description: "Changes a licence type. Licences already issued keep the data they were signed with; a department removed from `issuers` keeps its earlier licences valid (judged by the grant at signing time).",
      summary: "Change a licence type (issued licences keep the data they were signed with)", security: SEC,
      params: CodeParam, body: TypePatch, response: { 200: Type.Ref("LicenceType"), ...problems("LICENCE_TYPE_INVALID", "LICENCE_TYPE_NOT_FOUND") } },
  }, async (req) => typeOut(await cat.updateType(req.params.code, req.body, req.actor)));

  app.post<{ Body: Static<typeof MatterCreate> }>("/matters", {
    config: { auth: ADMIN },
    schema: { tags: ["catalogue"], description: "Defines a matter (事项) and the licence types an approval system may fetch for it. `consentExempt` (with `exemptBasis`, the regulation) lets it fetch without the holder's consent; every fetch is still recorded and shown to the holder. `departments` names the departments that handle it (实施主体): a case (办件) of the matter is opened, signed and archived in the name of one of them.",
      summary: "Define a matter (事项) and the licence types it may use", security: SEC, body: MatterCreate,
      response: { 201: Type.Ref("Matter"), ...problems("LICENCE_TYPE_NOT_FOUND", "MATTER_EXISTS", "DEPARTMENT_NOT_FOUND") } },
  }, async (req, reply) => reply.code(201).send(matterOut(await cat.createMatter(req.body, req.actor))));

  app.get("/matters", {
    config: { auth: READERS },
    schema: { tags: ["catalogue"], description: "Every matter with the licence types it may use.",
      summary: "List matters", security: SEC,
      response: { 200: Type.Object({ items: Type.Array(Type.Ref("Matter")) }), ...problems(401, 403) } },
  }, async () => ({ items: (await cat.listMatters()).map(matterOut) }));

  app.get<{ Params: Static<typeof MatterParam> }>("/matters/:code", {
    config: { auth: READERS },
    schema: { tags: ["catalogue"], description: "One matter.",
      summary: "Get a matter", security: SEC, params: MatterParam,
      response: { 200: Type.Ref("Matter"), ...problems("MATTER_NOT_FOUND") } },
  }, async (req) => matterOut(await cat.getMatter(req.params.code)));

  app.patch<{ Params: Static<typeof MatterParam>; Body: Static<typeof MatterPatch> }>("/matters/:code", {
    config: { auth: ADMIN },
    schema: { tags: ["catalogue"], description: "Changes a matter's name, licence types, consent exemption or handling departments (`departments`, 实施主体: cases opened from now on are checked against them).",
      summary: "Change a matter", security: SEC, params: MatterParam, body: MatterPatch,
      response: { 200: Type.Ref("Matter"), ...problems("MATTER_NOT_FOUND", "LICENCE_TYPE_NOT_FOUND", "DEPARTMENT_NOT_FOUND") } },
  }, async (req) => matterOut(await cat.updateMatter(req.params.code, req.body, req.actor)));
}
