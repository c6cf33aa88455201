/**
 * 四性检测 of a stored package (issue 19 §3).
 *   POST /archives/:id/checks   run DA/T 70 四性检测 over the stored package; the run is logged (`archive.checked`)
 * For the archivists (档案部门) of the case's department (scope archives:check) and the case's owner; anyone else
 * gets 404 ARCHIVE_NOT_FOUND, as for an archive that does not exist.
 *
 * A run reads and validates the whole package: it is limited per caller (SIDIAN_ARCHIVE_CHECK_RATE_LIMIT per
 * minute, counted after authentication and shared between instances through the rate-limit store), and concurrent
 * requests for one archive and stage share one run (src/modules/archives/check/runs.ts).
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import type { Context } from "../../context.js";
import { AppError } from "../../errors.js";
import { actorLabel } from "../../modules/kernel.js";
import { ex } from "../openapi.js";
import { problems } from "../schemas.js";

const SEC = [{ bearer: [] }];
const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 80, pattern: "^[0-9A-Za-z:_-]+$" }) });

const Failure = Type.Object({ subject: Type.String(), detail: Type.String() });
const Item = Type.Object({
  id: Type.String(), property: Type.String(), title: Type.String(), dat70: Type.String(),
  result: Type.Union([Type.Literal("pass"), Type.Literal("fail"), Type.Literal("not_applicable")]),
  found: Type.String(), failures: Type.Array(Failure), more: Type.Optional(Type.Integer()),
});
const Counts = Type.Object({ pass: Type.Integer(), fail: Type.Integer(), not_applicable: Type.Integer() });
/** The 四性检测 report (src/modules/archives/check/report.ts), as answered by the checks and the receipt routes. */
export const CheckReportOut = Type.Object({
  result: Type.Union([Type.Literal("pass"), Type.Literal("fail")]), stage: Type.String(), checkedAt: Type.String({ format: "date-time" }),
  package: Type.Object({
    name: Type.String(), source: Type.String(), caseNo: Type.Union([Type.String(), Type.Null()]), payloadFiles: Type.Integer(), payloadBytes: Type.Integer(),
    tagManifestSha256: Type.Union([Type.String(), Type.Null()]),
  }),
  summary: Type.Object({ authenticity: Counts, integrity: Counts, usability: Counts, security: Counts }),
  items: Type.Array(Item),
  checker: Type.Object({ agent: Type.String(), anchors: Type.Array(Type.String()), logKey: Type.Union([Type.String(), Type.Null()]), virusScanner: Type.Union([Type.String(), Type.Null()]) }),
  elapsedMs: Type.Number(),
});
const CheckRunOut = Type.Object({
  archiveId: Type.String(),
  logIndex: Type.Integer({ description: "the `archive.checked` log entry recording this run" }),
  report: CheckReportOut,
});
/** An example report (failing one item), for the OpenAPI document. */
export const EX_REPORT = {
  result: "fail", stage: "preservation", checkedAt: "2027-06-01T02:00:00.000Z",
  package: { name: "SL2026120100017", source: "zip", caseNo: "SL2026120100017", payloadFiles: 4, payloadBytes: 145_988, tagManifestSha256: "41ab…" },
  summary: { authenticity: { pass: 9, fail: 1, not_applicable: 0 }, integrity: { pass: 5, fail: 0, not_applicable: 0 }, usability: { pass: 4, fail: 0, not_applicable: 0 }, security: { pass: 2, fail: 0, not_applicable: 1 } },
  items: [
    { id: "authenticity.payload-digests", property: "authenticity", title: "内容数据摘要值与清单一致（SHA-256、SM3）", dat70: "BC-1-2", result: "fail", found: "2 failure(s); first: data/documents/0193f0a2.pdf: sha256 is 5d1e…, manifest-sha256.txt line 4 says 9a0c…", failures: [{ subject: "data/documents/0193f0a2.pdf", detail: "sha256 is 5d1e…, manifest-sha256.txt line 4 says 9a0c…" }, { subject: "data/documents/0193f0a2.pdf", detail: "sm3 is 77f0…, manifest-sm3.txt line 4 says 0b3d…" }] },
    { id: "security.virus-scan", property: "security", title: "病毒检测（ClamAV clamd）", dat70: "BC-4-2", result: "not_applicable", found: "no virus scanner configured (SIDIAN_CLAMD / --clamd)", failures: [] },
  ],
  checker: { agent: "sidian/0.1.0", anchors: ["C=CN, O=Sidian, CN=Sidian Root CA (sha256 3a91…)"], logKey: "sidian.dev/log 5c1f09aa", virusScanner: null },
  elapsedMs: 412,
};
const EX_RUN = { archiveId: "0193f0a9-0000-7000-8000-0000000a0c41", logIndex: 318, report: EX_REPORT };

export default async function archiveCheckRoutes(app: FastifyInstance, { ctx }: { ctx: Context }): Promise<void> {
  const Body = ex(Type.Object({
    stage: Type.Optional(Type.Union([Type.Literal("archiving"), Type.Literal("transfer"), Type.Literal("preservation")], {
      description: "DA/T 70 stage: archiving 归档 (GD), transfer and receipt 移交接收 (YJ), long-term preservation 长期保存 (BC, default)",
    })),
  }, { additionalProperties: false }), { stage: "preservation" });
  app.post<{ Params: Static<typeof IdParam>; Body: Static<typeof Body> | undefined }>("/archives/:id/checks", {
    config: {
      auth: { roles: ["archivist", "consumer", "issuer", "counter"] },
      // Per caller, after authentication (preHandler: the actor is known), in the shared rate-limit store.
      rateLimit: { max: ctx.config.archiveCheckRateLimit, timeWindow: "1 minute", hook: "preHandler", groupId: "archive-checks", keyGenerator: (req: FastifyRequest) => actorLabel(req.actor) },
    },
    schema: {
      tags: ["cases"], summary: "四性检测: check a stored package (DA/T 70)", security: SEC, params: IdParam, body: Body,
      description: "Runs DA/T 70-2018 四性检测 (authenticity, integrity, usability, security) over the stored package with the service's own trust (root and issuing CA, TSA, log key) and online PDF validation; every item has an id, a Chinese title, a result (pass / fail / not_applicable), what it found, and each failing file (docs/archive-checks.md). The run is recorded as an `archive.checked` log entry (stage, result, failed items, the tag manifest's and the report's SHA-256) before the report is answered. Concurrent requests for the same archive and stage share one run (each gets its report and `logIndex`); each caller may start SIDIAN_ARCHIVE_CHECK_RATE_LIMIT runs a minute (429 `RATE_LIMITED`). For the archivists of the case's department (scope `archives:check`) and the case's owner; anyone else gets 404 `ARCHIVE_NOT_FOUND`. A failed check is a 200 whose report says `fail`.",
      response: { 200: ex(CheckRunOut, EX_RUN), ...problems("ARCHIVE_NOT_FOUND", "ARCHIVE_NOT_STORED", "RATE_LIMITED") },
    },
  }, async (req) => {
    const a = req.actor;
    if (a.kind === "client" && a.role === "archivist" && !a.scopes.includes("archives:check")) throw new AppError("FORBIDDEN_SCOPE", "The token lacks scope: archives:check.");
    return ctx.archiveChecks.check(req.params.id, req.actor, req.body?.stage ?? "preservation");
  });
}
