/**
 * With DEV key material (keys-dev/, public in the repository) every HTML page says so at its top, so nothing a
 * development service shows can pass for genuine (issue 14 §8). Registered only when the material is dev; the
 * licence PDFs and stamp appearances carry the same mark (src/pdf/licence.ts, src/modules/seals/picture.ts).
 */
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { DEV_MARK } from "../../pki/profiles.js";

const BANNER = `<p class="sidian-dev" role="note" data-sidian-dev="1" style="margin:0;padding:.4rem .8rem;background:#a1161b;color:#fff;` +
  `font:600 15px/1.4 system-ui,sans-serif;text-align:center">${DEV_MARK} — 本服务使用公开的开发测试密钥，所示内容不具效力 ` +
  `(development keys: nothing shown here is genuine)</p>`;

async function devBanner(app: FastifyInstance) {
  app.addHook("onSend", async (_req, reply, payload) => {
    const type = String(reply.getHeader("content-type") ?? "");
    if (!type.startsWith("text/html")) return payload;
    reply.header("x-sidian-dev-keys", "1");
    if (typeof payload !== "string" && !Buffer.isBuffer(payload)) return payload; // a stream (swagger-ui's files)
    const html = typeof payload === "string" ? payload : payload.toString("utf8");
    const m = /<body[^>]*>/i.exec(html);
    const at = m ? m.index + m[0].length : 0;
    return html.slice(0, at) + BANNER + html.slice(at);
  });
}

export default fp(devBanner, { name: "sidian-dev-banner" });
