/**
 * Licence documents (issue 6): the sealed licence PDF.
 *   GET /licences/:id/document              issuer of the licence's department, admin
 *   GET /holders/me/licences/:id/document   the holder of the licence
 * (The use-annotated copy as a PDF is served by GET /copies/:token in holders.ts.)
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import type { DocumentService, LicenceDocument } from "../../modules/documents/index.js";
import { problems } from "../schemas.js";
import { LicenceId } from "./licences.js";

const IdParam = Type.Object({ id: LicenceId });
const SEC = [{ bearer: [] }];
const PDF = Type.String({ description: "application/pdf: one A4 page, PAdES B-T sealed with the issuing department's official seal; a licence that is not valid (x-licence-status ≠ 01) carries a status banner (e.g. 已吊销 / REVOKED)" });

/** Sends a sealed document: personal data, so never cached by intermediaries. */
export function sendDocument(reply: FastifyReply, d: LicenceDocument, filename: string) {
  return reply.type("application/pdf")
    .header("cache-control", "private, no-store")
    .header("etag", `"${d.sha256}"`)
    .header("x-document-sha256", d.sha256)
    .header("x-licence-status", d.status)
    .header("content-disposition", `inline; filename="${filename.replace(/[^A-Za-z0-9._-]/g, "_")}"`)
    .send(d.pdf);
}

export default async function documentRoutes(app: FastifyInstance, opts: { documents: DocumentService }) {
  const docs = opts.documents;

  app.get<{ Params: Static<typeof IdParam> }>("/licences/:id/document", {
    config: { auth: { roles: ["admin" as const, "issuer" as const] }, document: true },
    schema: { tags: ["licences"], description: "The licence as a one-page A4 PDF sealed with the issuing department's official seal (PAdES B-T). A licence that is not valid carries a status banner; `x-licence-status` and `x-document-sha256` headers tell which.",
      summary: "The licence as a sealed PDF (official seal of the issuing department, PAdES B-T); issuers: their department's only", security: SEC,
      params: IdParam, response: { 200: PDF, ...problems("LICENCE_NOT_FOUND", "LICENCE_ID_INVALID", "LICENCE_SEAL_MISSING", "KEYSTORE_UNAVAILABLE", "PDF_WORKERS_BUSY") } },
  }, async (req, reply) => {
    const d = await docs.licenceDocument(req.params.id, req.actor);
    return sendDocument(reply, d, `${d.identifier}.pdf`);
  });

  app.get<{ Params: Static<typeof IdParam> }>("/holders/me/licences/:id/document", {
    config: { auth: { holder: true }, document: true },
    schema: { tags: ["holder"], description: "The holder's own licence as a sealed PDF (as GET /licences/{id}/document).",
      summary: "One of my licences as a sealed PDF", security: SEC,
      params: IdParam, response: { 200: PDF, ...problems("LICENCE_NOT_FOUND", "LICENCE_SEAL_MISSING", "KEYSTORE_UNAVAILABLE", "PDF_WORKERS_BUSY") } },
  }, async (req, reply) => {
    const d = await docs.holderDocument(req.params.id, req.actor);
    return sendDocument(reply, d, `${d.identifier}.pdf`);
  });
}
