/**
 * The counter terminal (窗口).
 *   GET  /counter, /counter/app.js, /counter/app.css, /counter/jsqr.js   the page and its assets (public, own origin)
 *   POST /counter/verify                      {code}: whatever a QR held → verdict (names visible, codes masked)
 *   POST /counter/cases/:caseNo/licences      {identifier}: attach a licence that verifies as valid to a case
 *   GET  /counter/cases/:caseNo/licences      the case's attached licences
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import type { Context } from "../../context.js";
import { checkRows, factRows, headline } from "../pages/verify-page.js";
import { problems } from "../schemas.js";

const ASSETS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../assets/counter");
const COUNTER = { roles: ["counter" as const], scopes: ["verify:counter"] };
const SEC = [{ bearer: [] }];
const CaseParam = Type.Object({ caseNo: Type.String({ minLength: 1, maxLength: 64, pattern: "^[0-9A-Za-z_-]+$" }) });

function load(file: string): Buffer {
  return fs.readFileSync(path.join(ASSETS, file));
}

export default async function counterRoutes(app: FastifyInstance, opts: { ctx: Context }) {
  const { ctx } = opts;
  const rateLimit = { max: ctx.config.publicRateLimit, timeWindow: "1 minute" };
  const jsqr = fs.readFileSync(createRequire(import.meta.url).resolve("jsqr/dist/jsQR.js"));
  const files: Record<string, { body: Buffer; type: string }> = {
    "/counter": { body: load("index.html"), type: "text/html; charset=utf-8" },
    "/counter/app.js": { body: load("app.js"), type: "text/javascript; charset=utf-8" },
    "/counter/app.css": { body: load("app.css"), type: "text/css; charset=utf-8" },
    "/counter/jsqr.js": { body: jsqr, type: "text/javascript; charset=utf-8" },
  };
  for (const [url, f] of Object.entries(files)) {
    app.get(url, {
      config: { auth: "public", rateLimit, document: true },
      schema: { tags: ["pages"], description: "The counter terminal's page (HTML): scan a QR with the camera, an image or pasted text, then attach the licence to a case.",
      summary: url === "/counter" ? "Counter terminal page (scan with the camera, an image or pasted text)" : `Counter page asset ${path.basename(url)}`, hide: url !== "/counter",
        response: { 200: { content: { [f.type.split(";")[0]!]: { schema: Type.String() } } } } },
    }, async (_req, reply) => reply.header("cache-control", "no-cache").type(f.type).send(f.body));
  }

  app.post<{ Body: { code: string } }>("/counter/verify", {
    config: { auth: COUNTER },
    schema: {
      tags: ["pages"], description: "What a scanned QR held (a live token URL, a static URL or an identifier) → a verdict with the licence's name and minimal facts for the counter (holder names visible, codes masked). Unrecognised input is a 200 verdict `UNRECOGNISED`, not an error. Recorded.",
      summary: "Verify what a scanned QR held (live token URL, static URL or identifier)", security: SEC,
      body: Type.Object({ code: Type.String({ minLength: 1, maxLength: 1000 }) }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          code: Type.String(), zh: Type.String(), en: Type.String(), tone: Type.String(), note: Type.Optional(Type.String()),
          identifier: Type.Union([Type.String(), Type.Null()]), licenceName: Type.Union([Type.String(), Type.Null()]),
          facts: Type.Array(Type.Array(Type.String())), checks: Type.Array(Type.Object({ name: Type.String(), status: Type.String(), detail: Type.String() })),
        }),
        ...problems(400, 401, 403),
      },
    },
  }, async (req) => {
    const clientId = req.actor.kind === "client" ? req.actor.clientId : "";
    const o = await ctx.qr.checkCode(req.body.code, clientId);
    const now = ctx.clock.now();
    if (!o) {
      return { code: "UNRECOGNISED", zh: "无法识别", en: "Not recognised", tone: "bad", note: "这不是四电的证照二维码。", identifier: null, licenceName: null, facts: [], checks: [] };
    }
    const h = headline(o);
    return {
      code: h.code, zh: h.zh, en: h.en, tone: h.tone, ...(h.note ? { note: h.note.zh } : {}),
      identifier: o.verdict?.licence?.identifier ?? null, licenceName: o.verdict?.licence?.name ?? null,
      facts: factRows(o, "zh", now), checks: checkRows(o, "zh"),
    };
  });

  app.post<{ Params: Static<typeof CaseParam>; Body: { identifier: string } }>("/counter/cases/:caseNo/licences", {
    config: { auth: COUNTER },
    schema: {
      tags: ["pages"], description: "Attaches a licence that verifies as valid now to a case (办件) of the caller's department (the first attachment opens the case for that department — a case of `/cases` like any other, its owner stored with it; another department's case is 404 `CASE_NOT_FOUND`, a closed one 409 `CASE_CLOSED`). The attachment is logged; a licence that is not valid is refused (409 `CASE_ATTACH_REFUSED`).",
      summary: "Attach a licence that verifies as valid to a case (办件); logged", security: SEC, params: CaseParam,
      body: Type.Object({ identifier: Type.String({ minLength: 10, maxLength: 128 }) }, { additionalProperties: false }),
      response: { 201: Type.Object({ caseNo: Type.String(), identifier: Type.String(), verdict: Type.String(), logIndex: Type.Integer(), at: Type.String({ format: "date-time" }) }), ...problems("LICENCE_NOT_FOUND", "CASE_ATTACH_REFUSED", "CASE_NOT_FOUND", "CASE_CLOSED") },
    },
  }, async (req, reply) => {
    const a = await ctx.cases.counterAttach(req.params.caseNo, req.body.identifier, req.actor);
    return reply.code(201).send({ caseNo: a.caseNo, identifier: a.identifier, verdict: a.verdict, logIndex: a.logIndex, at: a.at.toISOString() });
  });

  app.get<{ Params: Static<typeof CaseParam> }>("/counter/cases/:caseNo/licences", {
    config: { auth: COUNTER },
    schema: {
      tags: ["pages"], description: "The licences attached to a case of the caller's department, with who attached them, the verdict then and the log index. A case belongs to the department that opened it: another department's case, like one that does not exist, is 404 `CASE_NOT_FOUND`.",
      summary: "Licences attached to a case", security: SEC, params: CaseParam,
      response: { 200: Type.Object({ items: Type.Array(Type.Object({ identifier: Type.String(), clientId: Type.String(), verdict: Type.String(), logIndex: Type.Integer(), at: Type.String({ format: "date-time" }) })) }), ...problems("CASE_NOT_FOUND") },
    },
  }, async (req) => ({
    items: (await ctx.cases.counterItems(req.params.caseNo, req.actor)).map((a) => ({ identifier: a.ref, clientId: a.clientId, verdict: a.verdict, logIndex: a.logIndex, at: a.at.toISOString() })),
  }));
}
