/**
 * POST /tsa — the internal RFC 3161 time-stamping authority over HTTP (RFC 3161 §3.4): body
 * `application/timestamp-query` (DER TimeStampReq), answer `application/timestamp-reply` (DER TimeStampResp).
 * Bad requests get an HTTP 200 TimeStampResp with status rejection (as the RFC asks), except bodies that are not
 * a time-stamp query at all (wrong media type → 415).
 */
import type { FastifyInstance } from "fastify";
import { Type } from "@sinclair/typebox";
import type { Context } from "../../context.js";
import { problems } from "../schemas.js";

export default async function tsaRoutes(app: FastifyInstance, opts: { ctx: Context }) {
  const { ctx } = opts;
  app.addContentTypeParser("application/timestamp-query", { parseAs: "buffer", bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));
  app.post<{ Body: Buffer }>("/tsa", {
    bodyLimit: 64 * 1024,
    config: { auth: "public", rateLimit: { max: ctx.config.publicRateLimit, timeWindow: "1 minute" } },
    schema: {
      tags: ["seals"], description: "RFC 3161 time-stamping over HTTP: the body is a DER TimeStampReq (`openssl ts -query -sha256 -cert`), the answer a DER TimeStampResp signed by Sidian's TSA certificate. A request Sidian will not serve (SHA-1, malformed) gets a TimeStampResp with status rejection, not an HTTP error.",
      consumes: ["application/timestamp-query"], summary: "RFC 3161 time-stamping (application/timestamp-query → application/timestamp-reply)",
      response: { 200: Type.String({ description: "application/timestamp-reply (DER TimeStampResp)" }), ...problems("KEYSTORE_UNAVAILABLE") },
    },
  }, async (req, reply) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const r = await ctx.tsa.respond(body);
    if (!r.granted) req.log.info({ tsaError: r.error }, "time-stamp request rejected");
    return reply.type("application/timestamp-reply").send(r.der);
  });
}
