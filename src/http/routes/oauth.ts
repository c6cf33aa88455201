/**
 * POST /oauth/token — OAuth 2.0 client credentials grant (RFC 6749 §4.4). Client authentication by HTTP Basic
 * (client_secret_basic) or form/JSON fields (client_secret_post). Rate limited per IP.
 */
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import { AppError } from "../../errors.js";
import type { AuthService } from "../../modules/auth/index.js";
import { problems } from "../schemas.js";
import { checkJsonValue, utf8Text } from "../validation.js";

const TokenRequest = Type.Object(
  {
    grant_type: Type.String({ maxLength: 64 }),
    scope: Type.Optional(Type.String({ maxLength: 512 })),
    client_id: Type.Optional(Type.String({ maxLength: 128 })),
    client_secret: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);

function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  if (!header) return undefined;
  const m = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header.trim());
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const i = decoded.indexOf(":");
  if (i < 0) return undefined;
  // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
  try {
    return { id: decodeURIComponent(decoded.slice(0, i)), secret: decodeURIComponent(decoded.slice(i + 1)) };
  } catch (e) {
    throw new AppError("INVALID_CLIENT", "The Basic credentials are not form-urlencoded (RFC 6749 §2.3.1).", { cause: e });
  }
}

export default async function oauthRoutes(app: FastifyInstance, opts: { auth: AuthService; rateLimit: number }) {
  // application/x-www-form-urlencoded, as RFC 6749 requires. Duplicate parameters are an error (§3.1).
  // Valid UTF-8 and the text rule, as for JSON bodies (validation.ts).
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "buffer", bodyLimit: 4096 }, (_req, body, done) => {
    try {
      const params = new URLSearchParams(utf8Text(body as Buffer));
      // No prototype: "constructor" or "toString" is an ordinary (unknown) parameter, and "__proto__" is refused
      // as a forbidden key by checkJsonValue, never taken for Object.prototype's.
      const out: Record<string, string> = Object.create(null) as Record<string, string>;
      for (const [k, v] of params) {
        if (Object.hasOwn(out, k)) return done(new AppError("VALIDATION_FAILED", `Parameter ${k} is repeated.`), undefined);
        out[k] = v;
      }
      checkJsonValue(out);
      done(null, out);
    } catch (e) {
      done(e as Error, undefined);
    }
  });

  app.post<{ Body: Static<typeof TokenRequest> }>("/oauth/token", {
    config: { auth: "public", rateLimit: { max: opts.rateLimit, timeWindow: "1 minute" } },
    schema: {
      tags: ["auth"],
      summary: "Client credentials → access token (ES256 JWT)",
      description: "Authenticate with HTTP Basic (client_id:client_secret) or client_id/client_secret fields. Tokens are short-lived; the `scope` is the subset of the client's scopes asked for (default: all).",
      body: TokenRequest,
      consumes: ["application/x-www-form-urlencoded", "application/json"],
      response: {
        200: Type.Object({ access_token: Type.String(), token_type: Type.Literal("Bearer"), expires_in: Type.Integer(), scope: Type.String() }),
        ...problems("UNSUPPORTED_GRANT_TYPE", "INVALID_SCOPE", "INVALID_CLIENT", "KEYSTORE_UNAVAILABLE"),
      },
    },
  }, async (req, reply) => {
    const basic = basicCredentials(req.headers.authorization);
    const b = req.body;
    if (basic && (b.client_id || b.client_secret)) throw new AppError("VALIDATION_FAILED", "Use one client authentication method, not two.");
    const clientId = basic?.id ?? b.client_id;
    const clientSecret = basic?.secret ?? b.client_secret;
    if (!clientId || !clientSecret) throw new AppError("INVALID_CLIENT", "Client credentials are missing.");
    const res = await opts.auth.issueToken({ grantType: b.grant_type, clientId, clientSecret, ...(b.scope !== undefined ? { scope: b.scope } : {}) });
    reply.header("cache-control", "no-store").header("pragma", "no-cache");
    return res;
  });
}
