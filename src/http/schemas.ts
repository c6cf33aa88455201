/** Shared TypeBox schemas for the HTTP layer. */
import { Type, type TSchema } from "@sinclair/typebox";
import { ERROR_TABLE, type ErrorCode } from "../errors.js";

export const ProblemSchema = Type.Object(
  {
    code: Type.String({ description: "Stable error code; see docs/errors.md" }),
    message: Type.String(),
    requestId: Type.String(),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    error: Type.Optional(Type.String({ description: "RFC 6749 error (token endpoint only)" })),
  },
  { $id: "Problem", title: "Problem" },
);

const ProblemRef = Type.Ref("Problem");

/**
 * Error responses for a route's `response` map. Give the stable codes the route can answer with
 * (`problems("LICENCE_NOT_FOUND", "FORBIDDEN_ROLE")`): they are grouped by HTTP status, and each status's OpenAPI
 * response lists its codes with their public messages and carries one example body. Bare statuses (`problems(400)`)
 * are the older form, kept until every route names its codes.
 */
export function problems(...items: Array<number | ErrorCode>): Record<number, TSchema> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const it of items) {
    const status = typeof it === "number" ? it : ERROR_TABLE[it].status;
    const codes = byStatus.get(status) ?? [];
    if (typeof it !== "number" && !codes.includes(it)) codes.push(it);
    byStatus.set(status, codes);
  }
  const out: Record<number, TSchema> = {};
  for (const [status, codes] of byStatus) {
    if (codes.length === 0) {
      out[status] = ProblemRef;
      continue;
    }
    const first = codes[0]!;
    out[status] = Type.Ref("Problem", {
      description: codes.map((c) => `\`${c}\`: ${ERROR_TABLE[c].message}`).join("\n\n"),
      examples: [{ code: first, message: ERROR_TABLE[first].message, requestId: "0193a0b4-5c1e-7f00-8000-000000000000" }],
      "x-error-codes": codes,
    });
  }
  return out;
}

export const Uscc = Type.String({ minLength: 18, maxLength: 18, pattern: "^[0-9A-Z]{18}$", description: "统一社会信用代码 (GB 32100)" });
/** The crypto profile (DESIGN rule 11); docs/sm2.md. */
export const cryptoProfile = (description = "crypto profile: p256 (ECDSA P-256 / SHA-256) or sm2 (SM2 / SM3, the national profile; docs/sm2.md)") =>
  Type.Union([Type.Literal("p256"), Type.Literal("sm2")], { description });
export const CryptoProfile = cryptoProfile();
export const RegionCode = Type.String({ pattern: "^[0-9]{6}$", description: "行政区划代码 (GB/T 2260)" });
export const Role = Type.Union([Type.Literal("admin"), Type.Literal("issuer"), Type.Literal("consumer"), Type.Literal("counter"), Type.Literal("archivist")]);
export const Paging = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })), after: Type.Optional(Type.String({ maxLength: 128 })) },
  { additionalProperties: false },
);
