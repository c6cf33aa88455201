/**
 * Transfer and receipt (移交接收, issue 19 §4).
 *   POST /archives:receive               an archive office receives a package zip (streamed), checks it (四性检测 at
 *                                        the transfer stage) and keeps it only when every item passed
 *   GET  /archive-receipts/:id           the receipt with its report
 *   GET  /archive-receipts/:id/package   the package as received, streamed
 * For archivist clients (scope archives:receive); a receipt is visible to the archivists of the receiving
 * department only (anyone else: 404 ARCHIVE_RECEIPT_NOT_FOUND).
 */
import type { Readable } from "node:stream";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import type { Context } from "../../context.js";
import { AppError } from "../../errors.js";
import type { Received } from "../../modules/archives/receive.js";
import { ex } from "../openapi.js";
import { problems } from "../schemas.js";
import { CheckReportOut, EX_REPORT } from "./archive-checks.js";

const SEC = [{ bearer: [] }];
const ARCHIVISTS = { roles: ["archivist" as const] };
const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 80, pattern: "^[0-9A-Za-z_-]+$" }) });
const ZIP_TYPES = ["application/zip", "application/octet-stream"];

const ReceiptOut = Type.Object({
  id: Type.String(), departmentId: Type.String({ description: "the receiving archive office" }), bagName: Type.String(),
  caseNo: Type.Union([Type.String(), Type.Null()]), sourceOrganization: Type.Union([Type.String(), Type.Null()], { description: "bag-info.txt Source-Organization" }),
  sourceArchiveId: Type.Union([Type.String(), Type.Null()], { description: "bag-info.txt Sidian-Archive-Id" }), status: Type.String(),
  packageSha256: Type.String(), packageSize: Type.Integer(), tagmanifestSha256: Type.String(), reportSha256: Type.String({ description: "SHA-256 of the report's JSON text (logged)" }),
  receivedBy: Type.String(), receivedAt: Type.String({ format: "date-time" }), logIndex: Type.Union([Type.Integer(), Type.Null()], { description: "the `archive.received` log entry" }),
});
const EX_RECEIPT = {
  id: "0193f0b2-0000-7000-8000-00000000e1a7", departmentId: "dept-archives", bagName: "SL2026120100017", caseNo: "SL2026120100017",
  sourceOrganization: "福州市市场监督管理局", sourceArchiveId: "0193f0a9-0000-7000-8000-0000000a0c41", status: "received",
  packageSha256: "5f1c…", packageSize: 146_902, tagmanifestSha256: "41ab…", reportSha256: "e03b…", receivedBy: "client:archives-office",
  receivedAt: "2027-01-04T02:00:00.000Z", logIndex: 512,
};
const EX_PASS = {
  ...EX_REPORT, result: "pass", stage: "transfer",
  summary: { authenticity: { pass: 10, fail: 0, not_applicable: 0 }, integrity: { pass: 5, fail: 0, not_applicable: 0 }, usability: { pass: 4, fail: 0, not_applicable: 0 }, security: { pass: 2, fail: 0, not_applicable: 1 } },
  items: [EX_REPORT.items[1]!],
};
const ReceivedOut = ex(Type.Object({ receipt: ReceiptOut, report: CheckReportOut }), { receipt: EX_RECEIPT, report: EX_PASS });

const out = (r: Received) => ({ receipt: { ...r.receipt, receivedAt: r.receipt.receivedAt.toISOString() }, report: r.report });

function scoped(req: FastifyRequest, scope: string): void {
  const a = req.actor;
  if (a.kind === "client" && !a.scopes.includes(scope)) throw new AppError("FORBIDDEN_SCOPE", `The token lacks scope: ${scope}.`);
}

export default async function archiveReceiveRoutes(app: FastifyInstance, { ctx }: { ctx: Context }): Promise<void> {
  // The package is handed over as a stream (read by the receiver, at most to SIDIAN_ARCHIVE_RECEIVE_MAX_BYTES).
  for (const ct of ZIP_TYPES) app.addContentTypeParser(ct, (_req, payload, done) => done(null, payload));
  const max = ctx.config.archiveReceiveMaxBytes;

  app.post("/archives::receive", {
    bodyLimit: max,
    config: { auth: ARCHIVISTS },
    schema: {
      tags: ["cases"], summary: "移交接收: receive a package built elsewhere, checked before it is kept", security: SEC,
      consumes: ZIP_TYPES,
      body: { description: "The package zip (one top-level folder, the BagIt bag: docs/archives.md) as the raw body, `application/zip` or `application/octet-stream`.", examples: ["PK\u0003\u0004… (the package's bytes)"] } as unknown as TSchema,
      description: `An archive office (archivist client, scope \`archives:receive\`) receives a package at transfer: the body is streamed to a private temporary file (at most ${max} bytes, SIDIAN_ARCHIVE_RECEIVE_MAX_BYTES: 413 \`ARCHIVE_PACKAGE_TOO_LARGE\`, nothing more is read), opened with the bounded zip reader (not a zip: 422 \`ARCHIVE_PACKAGE_MALFORMED\`; \`../\`, absolute or link entries, duplicate names, a zip bomb or encryption: 422 \`ARCHIVE_PACKAGE_UNSAFE\` naming the entry) and checked with DA/T 70 四性检测 at the transfer stage (YJ) with the service's trust. A package that fails any item is refused (422 \`ARCHIVE_PACKAGE_REFUSED\`, \`details.report\` names each failing item and file; the refusal is logged as \`archive.receive-refused\`). A package that passes is stored encrypted and logged as \`archive.received\` before the answer (201, the receipt and the report). The same package (tag manifest) again: 409 \`ARCHIVE_ALREADY_RECEIVED\`.`,
      response: { 201: ReceivedOut, ...problems("ARCHIVE_PACKAGE_TOO_LARGE", "ARCHIVE_PACKAGE_MALFORMED", "ARCHIVE_PACKAGE_UNSAFE", "ARCHIVE_PACKAGE_REFUSED", "ARCHIVE_ALREADY_RECEIVED", "UNSUPPORTED_MEDIA_TYPE") },
    },
  }, async (req, reply) => {
    try {
      scoped(req, "archives:receive");
      const body = req.body as Readable | undefined;
      if (!body || typeof body.pipe !== "function") throw new AppError("UNSUPPORTED_MEDIA_TYPE", `Send the package zip as the body (${ZIP_TYPES.join(" or ")}).`);
      const len = Number(req.headers["content-length"]);
      const r = await ctx.archiveReceiver.receive(req.actor, body, Number.isSafeInteger(len) ? { declaredLength: len } : {});
      return reply.code(201).header("cache-control", "no-store").send(out(r));
    } catch (e) {
      // The rest of the upload is not read: the connection closes after the answer.
      if (!req.raw.complete) reply.header("connection", "close");
      throw e;
    }
  });

  app.get<{ Params: Static<typeof IdParam> }>("/archive-receipts/:id", {
    config: { auth: ARCHIVISTS },
    schema: {
      tags: ["cases"], summary: "A received package: its receipt and the report at receipt", security: SEC, params: IdParam,
      description: "The receipt (hashes, sender as bag-info.txt names it, the `archive.received` log entry) and the 四性检测 report made at receipt. For the archivists of the receiving department (scope `archives:read`); anyone else gets 404 `ARCHIVE_RECEIPT_NOT_FOUND`.",
      response: { 200: ReceivedOut, ...problems("ARCHIVE_RECEIPT_NOT_FOUND") },
    },
  }, async (req, reply) => {
    scoped(req, "archives:read");
    reply.header("cache-control", "no-store");
    return out(await ctx.archiveReceiver.get(req.params.id, req.actor));
  });

  app.get<{ Params: Static<typeof IdParam> }>("/archive-receipts/:id/package", {
    config: { auth: ARCHIVISTS },
    schema: {
      tags: ["cases"], summary: "A received package (zip), as received", security: SEC, params: IdParam,
      description: "The package exactly as received (its SHA-256 in `x-package-sha256`), streamed. For the archivists of the receiving department (scope `archives:read`); anyone else gets 404 `ARCHIVE_RECEIPT_NOT_FOUND`.",
      response: { 200: Type.String({ description: "application/zip", examples: ["PK\u0003\u0004…"] }), ...problems("ARCHIVE_RECEIPT_NOT_FOUND") },
    },
  }, async (req, reply) => {
    scoped(req, "archives:read");
    const p = await ctx.archiveReceiver.packageStream(req.params.id, req.actor);
    return reply.type("application/zip").header("cache-control", "private, no-store").header("content-length", String(p.size))
      .header("x-package-sha256", p.sha256).header("content-disposition", `attachment; filename="${encodeURIComponent(p.filename)}"; filename*=UTF-8''${encodeURIComponent(p.filename)}`)
      .send(p.stream);
  });
}
