/**
 * POST /verify (public, rate limited): a verdict for a licence JWS or identifier (DESIGN rule 4). Personal data is
 * masked for anonymous callers; counter terminals see the holder's name; administrators see everything.
 */
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import type { Actor } from "../../modules/kernel.js";
import type { LicenceVerifier, Viewer } from "../../modules/licences/index.js";
import { problems } from "../schemas.js";

const BODY_LIMIT = 66_000;
const VerifyBody = Type.Union([
  // No minLength/maxLength on the JWS: ajv counts a string's length character by character (surrogate pairs), a
  // measurable cost on every call for strings of several KB. The route's body limit bounds it instead, and an
  // empty or malformed JWS gets a verdict (format FAILED) like any other.
  Type.Object({ jws: Type.String({ description: `compact JWS; the request body is limited to ${BODY_LIMIT.toLocaleString("en-US")} bytes` }) }, { additionalProperties: false }),
  Type.Object({ identifier: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false }),
]);
const Check = Type.Object({ id: Type.String(), status: Type.String(), detail: Type.String() });
const VerdictOut = Type.Object({
  result: Type.String({ description: "VALID | INVALID | INDETERMINATE" }),
  checks: Type.Array(Check),
  licence: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: "masked facts" })),
  evidence: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: "transparency-log inclusion proof + checkpoint" })),
});

function viewer(a: Actor): Viewer {
  if (a.kind === "client" && a.role === "admin") return "full";
  if (a.kind === "client" && a.role === "counter") return "counter";
  return "public";
}

export default async function verifyRoutes(app: FastifyInstance, opts: { verifier: LicenceVerifier; publicRateLimit: number }) {
  // The body is parsed by the app's JSON parser (validation.ts: valid UTF-8, bounded nesting, the text rule).
  app.post<{ Body: Static<typeof VerifyBody> }>("/verify", {
    bodyLimit: BODY_LIMIT,
    config: { auth: { roles: ["admin", "issuer", "consumer", "counter", "archivist"], holder: true, optional: true }, rateLimit: { max: opts.publicRateLimit, timeWindow: "1 minute" } },
    schema: { tags: ["verify"], description: "Verifies a licence given as its JWS or its identifier: signature, certificate chain, issuer's grant at signing time, stored record, validity dates, status and transparency-log inclusion. Always 200 with a verdict (VALID, INVALID, INDETERMINATE) and the check that failed. Anyone may call it (rate limited); with a token, the answer may show more.",
      summary: "Verify a licence (JWS or identifier): signature, chain, issuer, record, validity, status, log", body: VerifyBody,
      response: { 200: VerdictOut, ...problems("VALIDATION_FAILED", "BODY_TOO_LARGE", "RATE_LIMITED") } },
  }, async (req, reply) => {
    // The verdict's JSON text (serialised once per reused verdict, see LicenceVerifier.verifyJson): the same
    // properties the response schema lists, so it is sent as is.
    const json = await opts.verifier.verifyJson(req.body as { jws?: string; identifier?: string }, viewer(req.actor));
    return reply.type("application/json; charset=utf-8").send(json);
  });
}
