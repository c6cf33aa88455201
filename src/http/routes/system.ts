import type { FastifyInstance } from "fastify";
import { Type } from "@sinclair/typebox";
import { problems } from "../schemas.js";

export interface ReadinessProbe {
  (): { db: boolean; keys: boolean };
}

export default async function systemRoutes(app: FastifyInstance, opts: { ready: ReadinessProbe; version: string }) {
  app.get("/healthz", {
    config: { auth: "public" },
    schema: { tags: ["system"], summary: "Liveness", response: { 200: Type.Object({ status: Type.Literal("ok"), version: Type.String() }) } },
  }, async () => ({ status: "ok" as const, version: opts.version }));

  app.get("/readyz", {
    config: { auth: "public" },
    schema: {
      tags: ["system"], summary: "Readiness: database reachable and keys loaded",
      response: {
        200: Type.Object({ status: Type.Literal("ready"), db: Type.Boolean(), keys: Type.Boolean() }),
        503: Type.Object({ status: Type.Literal("not-ready"), db: Type.Boolean(), keys: Type.Boolean() }),
      },
    },
  }, async (_req, reply) => {
    const r = opts.ready();
    if (r.db && r.keys) return { status: "ready" as const, ...r };
    return reply.code(503).send({ status: "not-ready" as const, ...r });
  });

  app.get("/me", {
    config: { auth: { roles: ["admin", "issuer", "consumer", "counter"], holder: true } },
    schema: {
      tags: ["system"], summary: "Who am I (the authenticated principal)",
      security: [{ bearer: [] }],
      response: {
        200: Type.Object({
          kind: Type.String(), clientId: Type.Optional(Type.String()), role: Type.Optional(Type.String()),
          departmentId: Type.Optional(Type.Union([Type.String(), Type.Null()])), matters: Type.Optional(Type.Array(Type.String())),
          scopes: Type.Array(Type.String()), codeType: Type.Optional(Type.String()),
        }),
        ...problems(401, 403),
      },
    },
  }, async (req) => {
    const a = req.actor;
    if (a.kind === "client") return { kind: a.kind, clientId: a.clientId, role: a.role, departmentId: a.departmentId, matters: a.matters, scopes: a.scopes };
    if (a.kind === "holder") return { kind: a.kind, codeType: a.codeType, scopes: a.scopes };
    return { kind: a.kind, scopes: [] };
  });
}
