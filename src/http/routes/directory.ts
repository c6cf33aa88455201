/** Departments and API clients (admin), with read access for a department's own issuers. */
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import type { DirectoryService, Department, PublicClient } from "../../modules/directory/index.js";
import { requireDepartment } from "../plugins/auth.js";
import { cryptoProfile, CryptoProfile, Paging, problems, RegionCode, Role, Uscc } from "../schemas.js";
import { Line } from "../validation.js";

const DepartmentOut = Type.Object({
  id: Type.String(), name: Type.String(), uscc: Type.String(), regionCode: Type.String(), profile: CryptoProfile,
  createdAt: Type.String({ format: "date-time" }), updatedAt: Type.String({ format: "date-time" }),
}, { $id: "Department" });
const DepartmentCreate = Type.Object({
  name: Line({ minLength: 2, maxLength: 100 }), uscc: Uscc, regionCode: RegionCode,
  profile: Type.Optional(cryptoProfile("crypto profile of the department's licence-signing key and the default of its seals: p256 (default) or sm2")),
}, { additionalProperties: false });
const DepartmentPatch = Type.Object({
  name: Type.Optional(Line({ minLength: 2, maxLength: 100 })), regionCode: Type.Optional(RegionCode),
}, { additionalProperties: false, minProperties: 1 });

const MatterCode = Type.String({ minLength: 1, maxLength: 64, pattern: "^[0-9A-Za-z._-]+$" });
const Scope = Type.String({ minLength: 1, maxLength: 64, pattern: "^[a-z:_-]+$" });
const ClientOut = Type.Object({
  id: Type.String(), name: Type.String(), role: Role, departmentId: Type.Union([Type.String(), Type.Null()]),
  matters: Type.Array(Type.String()), scopes: Type.Array(Type.String()), status: Type.String(),
  createdAt: Type.String({ format: "date-time" }), updatedAt: Type.String({ format: "date-time" }),
}, { $id: "Client" });
const ClientCreate = Type.Object({
  id: Type.Optional(Type.String({ minLength: 3, maxLength: 64 })),
  name: Line({ minLength: 1, maxLength: 100 }),
  role: Role,
  departmentId: Type.Optional(Type.String({ maxLength: 64 })),
  matters: Type.Optional(Type.Array(MatterCode, { maxItems: 1000 })),
  scopes: Type.Optional(Type.Array(Scope, { maxItems: 32 })),
}, { additionalProperties: false });
const ClientPatch = Type.Object({
  name: Type.Optional(Line({ minLength: 1, maxLength: 100 })),
  status: Type.Optional(Type.Union([Type.Literal("active"), Type.Literal("disabled")])),
  matters: Type.Optional(Type.Array(MatterCode, { maxItems: 1000 })),
  scopes: Type.Optional(Type.Array(Scope, { maxItems: 32 })),
  rotateSecret: Type.Optional(Type.Boolean()),
}, { additionalProperties: false, minProperties: 1 });
const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

const ADMIN = { roles: ["admin" as const], scopes: ["admin"] };
const SEC = [{ bearer: [] }];

function dept(d: Department) {
  return { ...d, createdAt: d.createdAt.toISOString(), updatedAt: d.updatedAt.toISOString() };
}
function client(c: PublicClient) {
  return { ...c, createdAt: c.createdAt.toISOString(), updatedAt: c.updatedAt.toISOString() };
}

export default async function directoryRoutes(app: FastifyInstance, opts: { directory: DirectoryService }) {
  const dir = opts.directory;
  app.addSchema(DepartmentOut);
  app.addSchema(ClientOut);

  app.post<{ Body: Static<typeof DepartmentCreate> }>("/departments", {
    config: { auth: ADMIN },
    schema: { tags: ["directory"], description: "Registers an issuing department (制证部门) by its USCC and region code. Its licence-signing key and certificate are made at once (on the HSM when one is configured), of the department's crypto `profile` (`p256` by default, `sm2` for an SM2 key certified by the SM2 issuing CA). Then define the licence types it may issue and create its `issuer` client.",
      summary: "Create a department (issues its licence-signing certificate)", security: SEC, body: DepartmentCreate,
      response: { 201: Type.Ref("Department"), ...problems("USCC_INVALID", "REGION_CODE_INVALID", "DEPARTMENT_EXISTS", "KEYSTORE_UNAVAILABLE") } },
  }, async (req, reply) => reply.code(201).send(dept(await dir.createDepartment(req.body, req.actor))));

  app.get<{ Querystring: Static<typeof Paging> }>("/departments", {
    config: { auth: ADMIN },
    schema: { tags: ["directory"], description: "Departments in id order, a page at a time: pass the answer's `next` as `after` for the following page (null: the last page).",
      summary: "List departments", security: SEC, querystring: Paging,
      response: { 200: Type.Object({ items: Type.Array(Type.Ref("Department")), next: Type.Union([Type.String(), Type.Null()]) }), ...problems(400, 401, 403) } },
  }, async (req) => {
    const limit = req.query.limit ?? 100;
    const items = await dir.listDepartments({ limit, ...(req.query.after ? { after: req.query.after } : {}) });
    return { items: items.map(dept), next: items.length === limit ? items[items.length - 1]!.id : null };
  });

  app.get<{ Params: Static<typeof IdParam> }>("/departments/:id", {
    config: { auth: { roles: ["admin", "issuer"] } },
    schema: { tags: ["directory"], description: "One department. An issuer client may read only its own department (403 `FORBIDDEN_DEPARTMENT` otherwise).",
      summary: "Get a department (issuers: their own only)", security: SEC, params: IdParam,
      response: { 200: Type.Ref("Department"), ...problems("DEPARTMENT_NOT_FOUND", "FORBIDDEN_DEPARTMENT") } },
  }, async (req) => {
    requireDepartment(req.actor, req.params.id);
    return dept(await dir.getDepartment(req.params.id));
  });

  app.patch<{ Params: Static<typeof IdParam>; Body: Static<typeof DepartmentPatch> }>("/departments/:id", {
    config: { auth: ADMIN },
    schema: { tags: ["directory"], description: "Renames a department or changes its region code. Licences already issued keep the name they were signed with.",
      summary: "Change a department's name or region", security: SEC, params: IdParam, body: DepartmentPatch,
      response: { 200: Type.Ref("Department"), ...problems("REGION_CODE_INVALID", "DEPARTMENT_NOT_FOUND") } },
  }, async (req) => dept(await dir.updateDepartment(req.params.id, req.body, req.actor)));

  app.post<{ Body: Static<typeof ClientCreate> }>("/clients", {
    config: { auth: ADMIN },
    schema: { tags: ["directory"], description: "Creates a client of one role: `issuer` (bound to a department), `consumer` (an approval system, bound to the matters it serves), `counter` or `admin`. The secret is in this answer only (store it in the client's secret store; rotate it with PATCH … `rotateSecret`). Scopes default to the role's.",
      summary: "Create an API client; the secret is returned once", security: SEC, body: ClientCreate,
      response: { 201: Type.Object({ client: Type.Ref("Client"), secret: Type.String() }), ...problems("CLIENT_BINDING_INVALID", "INVALID_SCOPE", "DEPARTMENT_NOT_FOUND", "MATTER_NOT_FOUND", "CLIENT_EXISTS") } },
  }, async (req, reply) => {
    const { client: c, secret } = await dir.createClient(req.body, req.actor);
    return reply.code(201).header("cache-control", "no-store").send({ client: client(c), secret });
  });

  app.get<{ Querystring: Static<typeof Paging> & { departmentId?: string } }>("/clients", {
    config: { auth: ADMIN },
    schema: { tags: ["directory"], description: "Clients in id order, a page at a time (`next` → `after`); `departmentId` narrows the list. Secrets are never listed.",
      summary: "List clients", security: SEC,
      querystring: Type.Composite([Paging, Type.Object({ departmentId: Type.Optional(Type.String({ maxLength: 64 })) })], { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(Type.Ref("Client")), next: Type.Union([Type.String(), Type.Null()]) }), ...problems(400, 401, 403) } },
  }, async (req) => {
    const limit = req.query.limit ?? 100;
    const items = await dir.listClients({ limit, ...(req.query.after ? { after: req.query.after } : {}), ...(req.query.departmentId ? { departmentId: req.query.departmentId } : {}) });
    return { items: items.map(client), next: items.length === limit ? items[items.length - 1]!.id : null };
  });

  app.get<{ Params: Static<typeof IdParam> }>("/clients/:id", {
    config: { auth: ADMIN },
    schema: { tags: ["directory"], description: "One client (without its secret).",
      summary: "Get a client", security: SEC, params: IdParam, response: { 200: Type.Ref("Client"), ...problems("CLIENT_NOT_FOUND") } },
  }, async (req) => {
    const { secretHash: _s, ...c } = await dir.getClient(req.params.id);
    return client(c);
  });

  app.patch<{ Params: Static<typeof IdParam>; Body: Static<typeof ClientPatch> }>("/clients/:id", {
    config: { auth: ADMIN },
    schema: { tags: ["directory"], description: "Changes a client's name, matters or scopes, disables it (its tokens stop working at once) or rotates its secret (the new secret is in this answer only; the old one stops working).",
      summary: "Change, disable or rotate the secret of a client", security: SEC, params: IdParam, body: ClientPatch,
      response: { 200: Type.Object({ client: Type.Ref("Client"), secret: Type.Optional(Type.String()) }), ...problems("CLIENT_NOT_FOUND", "MATTER_NOT_FOUND", "INVALID_SCOPE", "CLIENT_BINDING_INVALID") } },
  }, async (req, reply) => {
    const r = await dir.updateClient(req.params.id, req.body, req.actor);
    if (r.secret) reply.header("cache-control", "no-store");
    return { client: client(r.client), ...(r.secret ? { secret: r.secret } : {}) };
  });
}
