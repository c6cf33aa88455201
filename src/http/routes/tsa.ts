/**
 * POST /tsa — the internal RFC 3161 time-stamping authority over HTTP (RFC 3161 §3.4): body
 * `application/timestamp-query` (DER TimeStampReq), answer `application/timestamp-reply` (DER TimeStampResp).
 *
 * - Another media type (JSON included) is not a time-stamp query at all: 415 `UNSUPPORTED_MEDIA_TYPE`, JSON
 *   problem, before the body is read.
 * - A time-stamp query Sidian will not serve (not DER, not a TimeStampReq, nested too deeply, SHA-1, another
 *   policy, extensions): HTTP 400 with the RFC 3161 binary error form, a TimeStampResp whose PKIStatusInfo says
 *   rejection with its failInfo and reason, and the stable code in `x-error-code: TSA_REQUEST_INVALID`
 *   (docs/errors.md). RFC 3161 clients read the status from the body; HTTP clients see a 4xx.
 */
import type { FastifyInstance } from "fastify";
import { Type } from "@sinclair/typebox";
import type { Context } from "../../context.js";
import { AppError } from "../../errors.js";
import { problems } from "../schemas.js";

const MEDIA_TYPE = "application/timestamp-query";

export default async function tsaRoutes(app: FastifyInstance, opts: { ctx: Context }) {
  const { ctx } = opts;
  app.addContentTypeParser(MEDIA_TYPE, { parseAs: "buffer", bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));
  app.post<{ Body: Buffer }>("/tsa", {
    bodyLimit: 64 * 1024,
    config: { auth: "public", rateLimit: { max: ctx.config.publicRateLimit, timeWindow: "1 minute" } },
    // The media type is checked before any body is read or parsed (a JSON body never reaches a JSON parser here).
    onRequest: async (req) => {
      const type = String(req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
      if (type !== MEDIA_TYPE) throw new AppError("UNSUPPORTED_MEDIA_TYPE", `Send a DER TimeStampReq as ${MEDIA_TYPE}.`);
    },
    schema: {
      tags: ["seals"], description: "RFC 3161 time-stamping over HTTP: the body is a DER TimeStampReq (`openssl ts -query -sha256 -cert`), the answer a DER TimeStampResp signed by Sidian's TSA certificate. A request Sidian will not serve (not a DER TimeStampReq, SHA-1, another policy, extensions) gets HTTP 400 with a TimeStampResp whose status is rejection (RFC 3161's own error form; the code `TSA_REQUEST_INVALID` is in the `x-error-code` header). Another media type is 415 `UNSUPPORTED_MEDIA_TYPE`.",
      consumes: [MEDIA_TYPE], summary: "RFC 3161 time-stamping (application/timestamp-query → application/timestamp-reply)",
      response: {
        200: Type.String({ description: "application/timestamp-reply (DER TimeStampResp, status granted)" }),
        ...problems("KEYSTORE_UNAVAILABLE", "UNSUPPORTED_MEDIA_TYPE"),
        400: Type.String({ description: "`TSA_REQUEST_INVALID`: application/timestamp-reply (DER TimeStampResp, status rejection with failInfo); header `x-error-code: TSA_REQUEST_INVALID`", "x-error-codes": ["TSA_REQUEST_INVALID"] }),
      },
    },
  }, async (req, reply) => {
    const r = await ctx.tsa.respond(req.body);
    reply.type("application/timestamp-reply");
    if (!r.granted) {
      req.log.info({ code: "TSA_REQUEST_INVALID", tsaError: r.error }, "time-stamp request rejected");
      return reply.code(400).header("x-error-code", "TSA_REQUEST_INVALID").send(r.der);
    }
    return reply.send(r.der);
  });
}
