import type { FastifyInstance } from "fastify";
import { Type } from "@sinclair/typebox";
import { problems } from "../schemas.js";

export interface ReadinessProbe {
  /** `problems` says why when something is not ready (e.g. the PKCS#11 token is away). */
  (): Promise<Readiness> | Readiness;
}

export interface Readiness {
  db: boolean;
  keys: boolean;
  problems?: string[];
  /** With SIDIAN_REDIS_URL: whether the rate limits are shared through Redis now or counted per instance. */
  rateLimits?: "shared" | "per-instance";
}

export default async function systemRoutes(app: FastifyInstance, opts: { ready: ReadinessProbe; version: string }) {
  app.get("/healthz", {
    config: { auth: "public" },
    schema: { tags: ["system"], description: "Liveness probe for the orchestrator: 200 while the process runs. It touches neither the database nor the keys; use /readyz to decide whether to send traffic.",
      summary: "Liveness", response: { 200: Type.Object({ status: Type.Literal("ok"), version: Type.String() }) } },
  }, async () => ({ status: "ok" as const, version: opts.version }));

  app.get("/readyz", {
    config: { auth: "public" },
    schema: {
      tags: ["system"], summary: "Readiness: database reachable and keys usable",
      description: "For load balancers and orchestrators: 200 when the database answers and the signing keys can sign, 503 otherwise. " +
        "`problems` says why the service is not ready (e.g. the PKCS#11 token holding the keys is unreachable); it never holds secrets.",
      response: {
        200: Type.Object({
          status: Type.Literal("ready"), db: Type.Boolean(), keys: Type.Boolean(),
          rateLimits: Type.Optional(Type.Union([Type.Literal("shared"), Type.Literal("per-instance")], {
            description: "With SIDIAN_REDIS_URL only: `shared` while Redis answers; `per-instance` while it does not (each instance then applies the limits in its own memory).",
          })),
        }, { examples: [{ status: "ready", db: true, keys: true }] }),
        503: Type.Object({
          status: Type.Literal("not-ready"), db: Type.Boolean(), keys: Type.Boolean(),
          rateLimits: Type.Optional(Type.Union([Type.Literal("shared"), Type.Literal("per-instance")])),
          problems: Type.Optional(Type.Array(Type.String(), { description: "Why the service is not ready." })),
        }, { examples: [{ status: "not-ready", db: true, keys: false, problems: ["PKCS#11 token: The PKCS#11 token \"sidian\" is unavailable: signing failed (CKR_DEVICE_REMOVED)"] }] }),
      },
    },
  }, async (_req, reply) => {
    const r = await opts.ready();
    if (r.db && r.keys) return { status: "ready" as const, db: r.db, keys: r.keys, ...(r.rateLimits ? { rateLimits: r.rateLimits } : {}) };
    return reply.code(503).send({ status: "not-ready" as const, ...r });
  });

  app.get("/me", {
    config: { auth: { roles: ["admin", "issuer", "consumer", "counter", "archivist"], holder: true } },
    schema: {
      tags: ["system"], description: "The principal the bearer token stands for: a client (id, role, department, matters, scopes) or a holder (code type; the code itself is never echoed). Call it once after obtaining a token to check the set-up.",
      summary: "Who am I (the authenticated principal)",
      security: [{ bearer: [] }],
      response: {
        200: Type.Object({
          kind: Type.String(), clientId: Type.Optional(Type.String()), role: Type.Optional(Type.String()),
          departmentId: Type.Optional(Type.Union([Type.String(), Type.Null()])), matters: Type.Optional(Type.Array(Type.String())),
          scopes: Type.Array(Type.String()), codeType: Type.Optional(Type.String()),
        }),
        ...problems(401),
      },
    },
  }, async (req) => {
    const a = req.actor;
    if (a.kind === "client") return { kind: a.kind, clientId: a.clientId, role: a.role, departmentId: a.departmentId, matters: a.matters, scopes: a.scopes };
    if (a.kind === "holder") return { kind: a.kind, codeType: a.codeType, scopes: a.scopes };
    return { kind: a.kind, scopes: [] };
  });
}
