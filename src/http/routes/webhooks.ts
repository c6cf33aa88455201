/**
 * Webhooks (Standard Webhooks) to tell an initiator about its signing requests.
 *   PUT    /clients/:id/webhook     admin: set the client's endpoint (the secret is shown when new or rotated)
 *   GET    /clients/:id/webhook     admin: the endpoint (never the secret)
 *   DELETE /clients/:id/webhook     admin: remove it (queued messages then fail)
 *   GET    /webhooks/deliveries     consumer / issuer: the delivery log of my messages
 */
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import type { WebhookService } from "../../modules/webhooks/index.js";
import { problems } from "../schemas.js";

const SEC = [{ bearer: [] }];
const ADMIN = { roles: ["admin" as const] };
const INITIATOR = { roles: ["consumer" as const, "issuer" as const] };
const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const PutBody = Type.Object({
  url: Type.String({ minLength: 8, maxLength: 2000, description: "https URL that receives the POSTs (http only to a loopback host outside production)" }),
  rotateSecret: Type.Optional(Type.Boolean({ description: "make a new signing secret (the old one stops working at once)" })),
}, { additionalProperties: false, examples: [{ url: "https://approval.example.gov.cn/hooks/sidian" }] });
const EndpointOut = Type.Object({
  clientId: Type.String(), url: Type.String(), createdAt: Type.String({ format: "date-time" }), updatedAt: Type.String({ format: "date-time" }),
  secret: Type.Optional(Type.String({ description: "whsec_… — shown only when created or rotated: keep it to check webhook-signature" })),
}, { examples: [{ clientId: "approval-1", url: "https://approval.example.gov.cn/hooks/sidian", createdAt: "2026-12-07T06:00:00.000Z", updatedAt: "2026-12-07T06:00:00.000Z", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }] });
const DeliveriesQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })) }, { additionalProperties: false });

const iso = (d: Date | null) => d?.toISOString() ?? null;

export default async function webhookRoutes(app: FastifyInstance, opts: { webhooks: WebhookService<never> }) {
  const svc = opts.webhooks;
  const out = (e: { clientId: string; url: string; createdAt: Date; updatedAt: Date; secret?: string }) => ({
    clientId: e.clientId, url: e.url, createdAt: e.createdAt.toISOString(), updatedAt: e.updatedAt.toISOString(), ...(e.secret ? { secret: e.secret } : {}),
  });

  app.put<{ Params: Static<typeof IdParam>; Body: Static<typeof PutBody> }>("/clients/:id/webhook", {
    config: { auth: ADMIN },
    schema: {
      tags: ["webhooks"], summary: "Set a client's webhook endpoint (Standard Webhooks)",
      description: "Events about the client's signing requests (sent, viewed, signed, declined, expired, cancelled, completed, sealed) are POSTed there as JSON `{type, timestamp, data}` with the headers `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256(key, id.timestamp.body)>`, key = the base64 part of the secret. A non-2xx answer is retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. These endpoints are the only places Sidian sends webhooks to.",
      security: SEC, params: IdParam, body: PutBody,
      response: { 200: EndpointOut, ...problems("CLIENT_NOT_FOUND", "WEBHOOK_URL_INVALID", "VALIDATION_FAILED") },
    },
  }, async (req, reply) => {
    reply.header("cache-control", "no-store");
    return out(await svc.setEndpoint(req.params.id, req.body.url, req.body.rotateSecret === true, req.actor));
  });

  app.get<{ Params: Static<typeof IdParam> }>("/clients/:id/webhook", {
    config: { auth: ADMIN },
    schema: {
      tags: ["webhooks"], summary: "A client's webhook endpoint", description: "The URL and when it was set; never the secret.",
      security: SEC, params: IdParam, response: { 200: EndpointOut, ...problems("WEBHOOK_NOT_FOUND") },
    },
  }, async (req) => out(await svc.getEndpoint(req.params.id, req.actor)));

  app.delete<{ Params: Static<typeof IdParam> }>("/clients/:id/webhook", {
    config: { auth: ADMIN },
    schema: {
      tags: ["webhooks"], summary: "Remove a client's webhook endpoint", description: "No more messages are queued; those still queued fail at their next attempt.",
      security: SEC, params: IdParam, response: { 204: Type.Null({ description: "removed" }), ...problems("WEBHOOK_NOT_FOUND") },
    },
  }, async (req, reply) => {
    await svc.deleteEndpoint(req.params.id, req.actor);
    return reply.code(204).send();
  });

  app.get<{ Querystring: Static<typeof DeliveriesQuery> }>("/webhooks/deliveries", {
    config: { auth: INITIATOR },
    schema: {
      tags: ["webhooks"], summary: "The delivery log of my webhook messages",
      description: "Newest first: each message's id (the `webhook-id` header), type, body, status (pending, delivered, failed), attempts, the last HTTP status or error and when it is tried next.",
      security: SEC, querystring: DeliveriesQuery,
      response: { 200: Type.Object({ items: Type.Array(Type.Object({
        id: Type.String(), type: Type.String(), payload: Type.String(), status: Type.String(), attempts: Type.Integer(),
        nextAttemptAt: Type.String({ format: "date-time" }), lastStatus: Type.Union([Type.Integer(), Type.Null()]), lastError: Type.Union([Type.String(), Type.Null()]),
        createdAt: Type.String({ format: "date-time" }), deliveredAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
      })) }, { examples: [{ items: [{ id: "msg_2b1f…", type: "signing.completed", payload: "{\"type\":\"signing.completed\",\"timestamp\":\"2026-12-07T06:10:00.000Z\",\"data\":{\"requestId\":\"0193a0b4-…\",\"logIndex\":42}}", status: "delivered", attempts: 1, nextAttemptAt: "2026-12-07T06:10:00.000Z", lastStatus: 204, lastError: null, createdAt: "2026-12-07T06:10:00.000Z", deliveredAt: "2026-12-07T06:10:00.120Z" }] }] }),
      ...problems("VALIDATION_FAILED") },
    },
  }, async (req, reply) => {
    reply.header("cache-control", "no-store");
    const items = await svc.deliveries(req.actor, req.query.limit ?? 50);
    return { items: items.map((d) => ({ id: d.id, type: d.type, payload: d.payload, status: d.status, attempts: d.attempts, nextAttemptAt: d.nextAttemptAt.toISOString(), lastStatus: d.lastStatus, lastError: d.lastError, createdAt: d.createdAt.toISOString(), deliveredAt: iso(d.deliveredAt) })) };
  });
}
