/**
 * What a person sees when scanning: the verification pages and the holder's live QR.
 *   GET  /v/:token   (and /V/:token: live QR URLs are upper-case for QR alphanumeric mode)   public, rate limited
 *   GET  /v/l/:id    static QR printed on a licence (the identifier)                          public, rate limited
 *   GET  /v/s/:id    an official seal's picture (SVG) as shown on those pages                  public, cached
 *   POST /holders/me/licences/:id/qr   the holder mints a live QR (JSON, or ?format=svg|png)    holder
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import type { Context } from "../../context.js";
import type { PageOutcome } from "../../modules/qr/index.js";
import { renderVerifyPageParts, withTime, type Lang, type PageParts } from "../pages/verify-page.js";
import type { Verdict } from "../../modules/licences/index.js";
import { AppError } from "../../errors.js";
import { TtlCache } from "../../util/lru.js";
import { problems } from "../schemas.js";

const TokenParam = Type.Object({ token: Type.String({ minLength: 1, maxLength: 400 }) });
const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const LangQuery = Type.Object({ lang: Type.Optional(Type.Union([Type.Literal("zh"), Type.Literal("en")])) }, { additionalProperties: false });
const FormatQuery = Type.Object({ format: Type.Optional(Type.Union([Type.Literal("json"), Type.Literal("svg"), Type.Literal("png")])) }, { additionalProperties: false });

export default async function pageRoutes(app: FastifyInstance, opts: { ctx: Context }) {
  const { ctx } = opts;
  const rateLimit = { max: ctx.config.publicRateLimit, timeWindow: "1 minute" };

  // The issuing department's current official seal (SealService.officialSeal), looked up once a minute per department.
  const seals = new TtlCache<string, string | null>(1000, 60_000);
  /** Licence → issuing department never changes: remembered so a page does not read the licence twice. */
  const departmentOf = new Map<string, string>();
  async function sealUrlFor(identifier: string | undefined): Promise<string | null> {
    if (!identifier) return null;
    let departmentId = departmentOf.get(identifier);
    if (!departmentId) {
      const rec = await ctx.uow.read.licences.byId(identifier);
      if (!rec) return null;
      departmentId = rec.departmentId;
      if (departmentOf.size >= 10_000) departmentOf.clear();
      departmentOf.set(identifier, departmentId);
    }
    const id = await officialSealId(departmentId);
    return id ? `/v/s/${encodeURIComponent(id)}` : null;
  }

  // Only what a verification page shows: a department's current official seal, not any seal by id.
  // Pictures by seal id, with the department whose official seal each was; re-checked like the pages' own lookup.
  const pictures = new Map<string, { svg: string; departmentId: string }>();
  function officialSealId(departmentId: string): Promise<string | null> {
    return seals.get(departmentId, async (d) => (await ctx.seals.officialSeal(d))?.id ?? null);
  }
  app.get<{ Params: Static<typeof IdParam> }>("/v/s/:id", {
    config: { auth: "public", rateLimit, document: true },
    schema: { tags: ["pages"], description: "The SVG picture of a department's current official seal, shown on the verification pages. Only the current official seal of a department is served.",
      summary: "The picture (SVG) of a department's current official seal, as shown on the verification pages", params: IdParam,
      response: { 200: { content: { "image/svg+xml": { schema: Type.String() } } }, ...problems("SEAL_NOT_FOUND") } },
  }, async (req, reply) => {
    const id = req.params.id;
    let pic = pictures.get(id);
    if (pic && (await officialSealId(pic.departmentId)) !== id) pic = undefined;
    if (!pic) {
      const seal = await ctx.seals.get(id).catch((e: unknown) => {
        if (e instanceof AppError && e.code === "SEAL_NOT_FOUND") return null;
        throw e;
      });
      if (!seal?.departmentId || (await officialSealId(seal.departmentId)) !== id) throw new AppError("SEAL_NOT_FOUND");
      pic = { svg: await ctx.seals.svg(id), departmentId: seal.departmentId };
      if (pictures.size > 1000) pictures.clear();
      pictures.set(id, pic);
    }
    // A seal's picture never changes for its id; whether it is still the official one is re-checked (within a minute).
    return reply.header("cache-control", "public, max-age=86400, immutable").type("image/svg+xml").send(pic.svg);
  });

  /**
   * Pages rendered for a verdict the verifier reused (same object), by what else the page shows: rendered once,
   * then sent again with only the checked-at time changed. A new verdict is a new object, so nothing stale is shown.
   */
  const rendered = new WeakMap<Verdict, Map<string, PageParts>>();
  async function send(req: FastifyRequest, reply: FastifyReply, o: PageOutcome, lang: Lang | undefined) {
    const identifier = o.kind === "static" ? o.verdict.licence?.identifier : o.verdict?.licence?.identifier;
    // Chinese first, whatever the browser's language; English with ?lang=en (the page's toggle).
    const language = lang ?? "zh";
    const selfPath = req.url.split("?")[0]!;
    const sealUrl = await sealUrlFor(identifier);
    const token = o.kind === "live" ? o.token : undefined;
    const key = `${language}|${selfPath}|${sealUrl ?? ""}|${token ? `${token.status}|${"expiresAt" in token ? token.expiresAt.getTime() : ""}` : ""}`;
    let byPage = o.verdict ? rendered.get(o.verdict) : undefined;
    let parts = byPage?.get(key);
    if (!parts) {
      parts = renderVerifyPageParts(o, { lang: language, sealUrl, selfPath });
      if (o.verdict) {
        if (!byPage) rendered.set(o.verdict, (byPage = new Map()));
        // A few pages per verdict (languages, a token or two): bounded, as verdicts are (at most 5,000 × 4 × ~4 KB).
        if (byPage.size < 4) byPage.set(key, parts);
      }
    }
    const html = withTime(parts, ctx.clock.now(), language);
    return reply
      .header("cache-control", "no-store")
      .header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
      .type("text/html; charset=utf-8")
      .send(html);
  }

  const liveSchema = {
    tags: ["pages"], description: "The page a phone opens from a live QR code (亮证): verdict in large type, the licence's minimal facts (holder code masked), in Chinese or English (`lang`). Always 200: an expired, forged or revoked token shows why.",
      summary: "Verification page for a live QR (亮证) token (HTML)", params: TokenParam, querystring: LangQuery,
    response: { 200: { content: { "text/html": { schema: Type.String() } } } },
  };
  const live = async (req: FastifyRequest<{ Params: Static<typeof TokenParam>; Querystring: Static<typeof LangQuery> }>, reply: FastifyReply) =>
    send(req, reply, await ctx.qr.checkLive(req.params.token, null), req.query.lang);
  app.get("/v/:token", { config: { auth: "public", rateLimit, document: true }, schema: liveSchema }, live);
  app.get("/V/:token", { config: { auth: "public", rateLimit, document: true }, schema: { ...liveSchema, hide: true } }, live);

  app.get<{ Params: Static<typeof IdParam>; Querystring: Static<typeof LangQuery> }>("/v/l/:id", {
    config: { auth: "public", rateLimit, document: true },
    schema: { tags: ["pages"], description: "The page a printed licence's static QR code opens: verdict and minimal facts (no personal data beyond the masked holder).",
      summary: "Verification page for a printed (static) licence QR code (HTML)", params: IdParam, querystring: LangQuery,
      response: { 200: { content: { "text/html": { schema: Type.String() } } } } },
  }, async (req, reply) => send(req, reply, await ctx.qr.checkStatic(req.params.id, null), req.query.lang));

  app.post<{ Params: Static<typeof IdParam>; Querystring: Static<typeof FormatQuery> }>("/holders/me/licences/:id/qr", {
    config: { auth: { holder: true }, document: true },
    schema: {
      tags: ["holder"], description: "Mints a short-lived signed token for one of my licences and its QR code (SVG and PNG) pointing at /v/{token}; show it on the phone. Valid SIDIAN_LIVE_QR_TTL seconds (default 300).",
      summary: "Mint a live QR (亮证) for one of my licences: short-lived signed token, SVG and PNG",
      security: [{ bearer: [] }], params: IdParam, querystring: FormatQuery,
      response: {
        200: Type.Object({ token: Type.String(), url: Type.String(), expiresAt: Type.String({ format: "date-time" }), qrVersion: Type.Integer(), svg: Type.String(), png: Type.String({ description: "base64" }) }),
        ...problems("LICENCE_NOT_FOUND", "KEYSTORE_UNAVAILABLE"),
      },
    },
  }, async (req, reply) => {
    const q = await ctx.qr.mint(req.actor, req.params.id);
    reply.header("cache-control", "no-store");
    if (req.query.format === "svg") return reply.type("image/svg+xml").send(q.svg);
    if (req.query.format === "png") return reply.type("image/png").send(q.png);
    return { token: q.token, url: q.url, expiresAt: q.expiresAt.toISOString(), qrVersion: q.qrVersion, svg: q.svg, png: q.png.toString("base64") };
  });
}
