/** Shared set-up for the materials tests: a service, a matter, a material type, clients of each source class. */
import type { Test } from "tap";
import { ADMIN_ACTOR, bearer, build, type Harness } from "../helpers/app.js";

export const HOLDER = "350102199001010016";
export const OTHER_HOLDER = "11010519491231002X";

/** The smallest real PDF that our sniffer accepts (header … %%EOF), with a little text to vary it. */
export function pdfBytes(text = "lease", pad = 0): Buffer {
  const body = `%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n% ${text}\n${"x".repeat(pad)}\ntrailer<</Root 1 0 R>>\n%%EOF\n`;
  return Buffer.from(body, "latin1");
}

export const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from("IHDR-not-a-real-image-but-png-magic")]);

export interface MatSetup {
  h: Harness;
  consumer: { id: string; token: string; secret: string };
  counter: { id: string; token: string };
  issuer: { id: string; token: string; departmentId: string };
  admin: { id: string; token: string };
  holder: string;
}

export async function setup(t: Test, env: Record<string, string> = {}): Promise<MatSetup> {
  const h = await build(t, env);
  await h.ctx.catalogue.createMatter({ code: "M-A", name: "食品经营许可", licenceTypes: [] }, ADMIN_ACTOR);
  await h.ctx.catalogue.createMatter({ code: "M-B", name: "公共场所卫生许可", licenceTypes: [] }, ADMIN_ACTOR);
  await h.ctx.catalogue.createMatter({ code: "M-X", name: "免同意事项", licenceTypes: [], consentExempt: true, exemptBasis: "《某条例》第十条" }, ADMIN_ACTOR);
  await h.ctx.materials.types.create({ code: "LEASE", name: "房屋租赁合同", matters: ["M-A", "M-X"], mediaTypes: ["pdf", "ofd"], maxBytes: 64 * 1024 * 1024, expires: true, validityDays: 365 }, ADMIN_ACTOR);
  await h.ctx.materials.types.create({ code: "PHOTO", name: "场所照片", matters: ["M-A", "M-B"], mediaTypes: ["jpeg", "png"], maxBytes: 4096 }, ADMIN_ACTOR);
  const dept = await h.department();
  const consumer = await h.client("consumer", { matters: ["M-A", "M-B", "M-X"] });
  const counter = await h.client("counter", { departmentId: dept.id });
  const issuer = await h.client("issuer", { departmentId: dept.id });
  const admin = await h.client("admin");
  return { h, consumer, counter, issuer: { ...issuer, departmentId: dept.id }, admin, holder: await h.holderToken(HOLDER) };
}

export function metaHeader(meta: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(meta), "utf8").toString("base64url");
}

/** POST /materials with a raw body. */
export async function registerRaw(h: Harness, token: string, meta: Record<string, unknown>, body: Buffer, contentType = "application/pdf") {
  return h.app.inject({ method: "POST", url: "/materials", headers: { ...bearer(token), "content-type": contentType, "x-material-meta": metaHeader(meta) }, payload: body });
}

/** A multipart/form-data body: meta then file. */
export function multipartBody(meta: Record<string, unknown> | null, file: Buffer | null, opts: { fileName?: string; fileType?: string; boundary?: string; cut?: number } = {}): { body: Buffer; contentType: string } {
  const b = opts.boundary ?? "----sidianBoundary7MA4YWxkTrZu0gW";
  const parts: Buffer[] = [];
  if (meta) parts.push(Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="meta"\r\n\r\n${JSON.stringify(meta)}\r\n`));
  if (file) parts.push(Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="file"; filename="${opts.fileName ?? "lease.pdf"}"\r\nContent-Type: ${opts.fileType ?? "application/pdf"}\r\n\r\n`), file, Buffer.from("\r\n"));
  parts.push(Buffer.from(`--${b}--\r\n`));
  let body = Buffer.concat(parts);
  if (opts.cut !== undefined) body = body.subarray(0, opts.cut);
  return { body, contentType: `multipart/form-data; boundary=${b}` };
}

export { bearer };
