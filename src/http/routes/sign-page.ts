/**
 * The signer's pages (issue 17): public HTML and scripts; everything they show comes from the API with the holder's
 * token (kept in the browser's sessionStorage, handed over in the URL fragment or pasted, never in a URL the server
 * sees).
 *   GET /sign                       the holder's page: what waits for me, what I signed, my passkeys (register one)
 *   GET /sign/:requestId            the signer's page: the request's facts, the whole PDF, where I sign, draw, sign or decline
 *   GET /sign/assets/:file          the page's script and style (assets/sign)
 *   GET /sign/pdfjs/…               PDF.js from pdfjs-dist, served by Sidian itself (no CDN): the library, its worker,
 *                                   CMaps, standard fonts and image decoders (only the files the package ships)
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import { AppError } from "../../errors.js";
import { own } from "../../util/lookup.js";
import { problems } from "../schemas.js";

const ASSETS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../assets/sign");
const PDFJS = path.dirname(createRequire(import.meta.url).resolve("pdfjs-dist/package.json"));

/**
 * The page's own CSP: scripts and the PDF.js worker from this origin only; `wasm-unsafe-eval` lets PDF.js run its
 * bundled JBIG2/JPEG 2000 decoders (WebAssembly from this origin, no JavaScript eval); no framing, no forms elsewhere.
 */
export const SIGN_PAGE_CSP = [
  "default-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "worker-src 'self'", "connect-src 'self'", "img-src 'self' data: blob:",
  "font-src 'self' data:", "style-src 'self' 'unsafe-inline'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join("; ");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
  ".bcmap": "application/octet-stream", ".pfb": "application/octet-stream", ".ttf": "font/ttf", ".wasm": "application/wasm",
};
const typeOf = (f: string) => own(TYPES, path.extname(f)) ?? "application/octet-stream";

/** The files of a folder of pdfjs-dist that a browser may ask for (by exact name; nothing else is read). */
function listing(dir: string, exts: readonly string[]): Set<string> {
  try {
    return new Set(fs.readdirSync(dir).filter((f) => exts.includes(path.extname(f))));
  } catch {
    return new Set();
  }
}

const FileParam = Type.Object({ file: Type.String({ minLength: 1, maxLength: 128 }) });
const RequestParam = Type.Object({ requestId: Type.String({ minLength: 1, maxLength: 64 }) });
const PAGE_EXAMPLE = "<!doctype html><html lang=\"zh-CN\"><head><title>电子签名 · E-signature — Sidian 四电</title>…";

export default async function signPageRoutes(app: FastifyInstance, opts: { rateLimit: number }) {
  const rateLimit = { max: opts.rateLimit, timeWindow: "1 minute" };
  const html = fs.readFileSync(path.join(ASSETS, "index.html"));
  // Maps, not object literals: a file named "toString", "__proto__" or "constructor" finds nothing (404), never a
  // property of Object.prototype (a 500).
  const assets = new Map<string, Buffer>([["app.js", fs.readFileSync(path.join(ASSETS, "app.js"))], ["app.css", fs.readFileSync(path.join(ASSETS, "app.css"))]]);
  const build = new Map<string, string>([["pdf.min.mjs", path.join(PDFJS, "build/pdf.min.mjs")], ["pdf.worker.min.mjs", path.join(PDFJS, "build/pdf.worker.min.mjs")]]);
  const folders = new Map<string, { dir: string; files: Set<string> }>();
  for (const [name, exts] of [["cmaps", [".bcmap"]], ["standard_fonts", [".pfb", ".ttf"]], ["wasm", [".wasm"]]] as const) {
    const dir = path.join(PDFJS, name);
    folders.set(name, { dir, files: listing(dir, exts) });
  }
  // The library and its worker are read once (≈1.8 MB); CMaps, fonts and decoders when first asked for.
  const cache = new Map<string, Buffer>();
  const read = (file: string): Buffer => {
    let b = cache.get(file);
    if (!b) cache.set(file, (b = fs.readFileSync(file)));
    return b;
  };

  const pageSchema = (summary: string, description: string, params?: typeof RequestParam) => ({
    tags: ["pages"], summary, description, ...(params ? { params } : {}),
    response: { 200: { content: { "text/html": { schema: Type.String({ examples: [PAGE_EXAMPLE] }) } } } },
  });
  const sendPage = async (_req: unknown, reply: import("fastify").FastifyReply) =>
    reply.header("cache-control", "no-cache").header("content-security-policy", SIGN_PAGE_CSP).type("text/html; charset=utf-8").send(html);

  app.get("/sign", {
    config: { auth: "public", rateLimit, document: true },
    schema: pageSchema("The holder's signing page (HTML): what waits for my signature, what I signed, my passkeys",
      "Log in with a holder token from the identity provider (returned in the URL fragment `#token=…`, or pasted); lists the requests waiting for me and those I signed or declined, and registers passkeys (WebAuthn) for cloud signatures. Chinese first, English with the toggle."),
  }, sendPage);

  app.get<{ Params: Static<typeof RequestParam> }>("/sign/:requestId", {
    config: { auth: "public", rateLimit, document: true },
    schema: pageSchema("The signer's page (HTML) for a signing request",
      "Shows the request's facts and participants, renders the whole PDF in the page (PDF.js served by Sidian) with the box where the signer signs, lets them draw a signature (kept as vector strokes) or reuse one saved on the device, and confirm with a passkey, or decline with a reason. Works on a phone; Chinese first, English with the toggle. What the page shows comes from `GET /signatures/{id}` and `GET /signatures/{id}/document` with the holder's token: anyone else sees 404.",
    RequestParam),
  }, sendPage);

  app.get<{ Params: Static<typeof FileParam> }>("/sign/assets/:file", {
    config: { auth: "public", rateLimit, document: true },
    schema: { hide: true, params: FileParam, response: { 200: Type.String(), ...problems("ROUTE_NOT_FOUND") } },
  }, async (req, reply) => {
    const body = assets.get(req.params.file);
    if (!body) throw new AppError("ROUTE_NOT_FOUND");
    return reply.header("cache-control", "no-cache").type(typeOf(req.params.file)).send(body);
  });

  app.get<{ Params: Static<typeof FileParam> }>("/sign/pdfjs/:file", {
    config: { auth: "public", rateLimit, document: true },
    schema: { hide: true, params: FileParam, response: { 200: Type.String(), ...problems("ROUTE_NOT_FOUND") } },
  }, async (req, reply) => {
    const f = build.get(req.params.file);
    if (!f) throw new AppError("ROUTE_NOT_FOUND");
    return reply.header("cache-control", "public, max-age=86400").type(typeOf(f)).send(read(f));
  });

  const FolderParam = Type.Object({ folder: Type.Union([...folders.keys()].map((k) => Type.Literal(k))), file: Type.String({ minLength: 1, maxLength: 128 }) });
  app.get<{ Params: Static<typeof FolderParam> }>("/sign/pdfjs/:folder/:file", {
    // CMaps are fetched one per CJK font encoding: a page may ask for several at once.
    config: { auth: "public", rateLimit: { max: opts.rateLimit * 4, timeWindow: "1 minute" }, document: true },
    schema: { hide: true, params: FolderParam, response: { 200: Type.String(), ...problems("ROUTE_NOT_FOUND") } },
  }, async (req, reply) => {
    const d = folders.get(req.params.folder);
    if (!d || !d.files.has(req.params.file)) throw new AppError("ROUTE_NOT_FOUND");
    return reply.header("cache-control", "public, max-age=86400").type(typeOf(req.params.file)).send(read(path.join(d.dir, req.params.file)));
  });
}
