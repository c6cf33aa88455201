/** Shared TypeBox schemas for the HTTP layer. */
import { Type, type TSchema } from "@sinclair/typebox";

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

/** Standard error responses to add to a route's `response` map. */
export function problems(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const s of statuses) out[s] = ProblemRef;
  return out;
}

export const Uscc = Type.String({ minLength: 18, maxLength: 18, pattern: "^[0-9A-Z]{18}$", description: "统一社会信用代码 (GB 32100)" });
export const RegionCode = Type.String({ pattern: "^[0-9]{6}$", description: "行政区划代码 (GB/T 2260)" });
export const Role = Type.Union([Type.Literal("admin"), Type.Literal("issuer"), Type.Literal("consumer"), Type.Literal("counter")]);
export const Paging = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })), after: Type.Optional(Type.String({ maxLength: 128 })) },
  { additionalProperties: false },
);
