/**
 * Issue 6 benchmarks: minting a live QR (token + SVG) in-process, and the verification page under load
 * (autocannon, 50 connections) against the bare route measured in the same run.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { mintHolderToken } from "../src/modules/auth/index.js";
import { keyHintFromKid, mintLiveToken, qrMatrix, qrSvg } from "../src/modules/qr/index.js";
import { formatLicenceId, usccCheckChar } from "../src/codes/index.js";
import { loadKeyMaterial } from "../src/pki/index.js";
import { load, opsPerSecond, startServer, type Report } from "./lib.js";
import QRCode from "qrcode";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const uscc = (body17: string) => body17 + usccCheckChar(body17);

export async function run(report: Report): Promise<void> {
  const m = await loadKeyMaterial(path.join(root, "keys-dev"));
  const key = { hint: keyHintFromKid(m.token.kid), privateKey: m.token.privateKey, publicKey: m.token.publicKey };
  const id = formatLicenceId({ typeCode: "11100000MB03271699001", issuerCode: "91350100M000100Y43", serial: "2026000123", version: "001" });
  const sample = "HTTPS://SIDIAN.EXAMPLE/V/" + mintLiveToken(key, id, new Date(), 300).token;
  report.add({ name: "qrcode package toString(svg) of the same URL (baseline)", value: await opsPerSecond(() => QRCode.toString(sample, { type: "svg" })), unit: "ops/s" });
  report.add({
    name: "mint live QR: signed token + SVG", unit: "ops/s", baseline: "qrcode package toString(svg) of the same URL (baseline)", goal: "≥ 500/s",
    value: await opsPerSecond(() => qrSvg(qrMatrix("HTTPS://SIDIAN.EXAMPLE/V/" + mintLiveToken(key, id, new Date(), 300).token))),
  });

  const bare = await startServer("bare");
  let bareRps = 0;
  try {
    const r = await load({ url: `http://127.0.0.1:${bare.port}/bare` });
    bareRps = r.rps;
    report.add({ name: "bare Fastify route (baseline, pages)", value: r.rps, unit: "req/s" });
  } finally {
    await bare.stop();
  }
  void bareRps;

  const s = await startServer("sidian");
  try {
    const base = `http://127.0.0.1:${s.port}`;
    const basic = (id: string, secret: string) => "Basic " + Buffer.from(`${id}:${secret}`).toString("base64");
    const token = async (id: string, secret: string) => ((await (await fetch(`${base}/oauth/token`, { method: "POST", headers: { authorization: basic(id, secret), "content-type": "application/x-www-form-urlencoded" }, body: "grant_type=client_credentials" })).json()) as { access_token: string }).access_token;
    const admin = await token(s.info.clientId!, s.info.secret!);
    const post = async (url: string, body: unknown, tok: string) => {
      const r = await fetch(`${base}${url}`, { method: "POST", headers: { authorization: `Bearer ${tok}`, "content-type": "application/json" }, body: JSON.stringify(body) });
      if (r.status >= 300) throw new Error(`${url}: ${r.status} ${await r.text()}`);
      return r.json() as Promise<Record<string, unknown>>;
    };
    const dept = await post("/departments", { name: "基准市市场监督管理局", uscc: uscc("11350100MB0000777"), regionCode: "350100" }, admin);
    const typeCode = uscc("11100000MB0327777") + "001";
    await post("/licence-types", { code: typeCode, name: "基准许可证", holderKind: "person", holderCodeTypes: ["111"], fields: [{ name: "scope", label: "经营项目", type: "string", required: true, maxLength: 100 }], validityDays: 365, issuers: [dept.id] }, admin);
    await post("/seals", { departmentId: dept.id, type: "01" }, admin);
    const issuer = (await post("/clients", { name: "bench issuer", role: "issuer", departmentId: dept.id }, admin)) as { client: { id: string }; secret: string };
    const itok = await token(issuer.client.id, issuer.secret);
    const code = "11010519491231002X";
    const lic = await post("/licences", { typeCode, number: "BENCH-0001", holder: { name: "张三", code, codeType: "111" }, fields: { scope: "基准" } }, itok);
    const holder = await mintHolderToken({ idpPrivateKey: m.idp.privateKey!, kid: m.idp.kid!, idpIssuer: "https://idp.dev.sidian.invalid", code });
    const qr = await post(`/holders/me/licences/${lic.identifier as string}/qr`, {}, holder);
    const pagePath = new URL(qr.url as string).pathname;
    const page = await fetch(`${base}${pagePath}`);
    const html = await page.text();
    if (!html.includes('data-verdict="VALID"')) throw new Error("the bench page does not show VALID");
    const sealPath = /<img src="([^"]+)"/.exec(html)?.[1];
    const seal = sealPath ? await (await fetch(`${base}${sealPath}`)).text() : "";
    report.add({
      name: "verification page weight (first visit: HTML + seal picture)", value: Buffer.byteLength(html) + Buffer.byteLength(seal), unit: "bytes", goal: "≤ 100 KB",
      note: `HTML ${Buffer.byteLength(html)} B on every scan; seal SVG ${Buffer.byteLength(seal)} B, cached by the browser (immutable)`,
    });
    // Second baseline: a bare route sending an HTML document of the same size (the bytes without the work).
    const same = await startServer("bare", { BENCH_HTML_BYTES: String(Buffer.byteLength(html)) });
    try {
      const b = await load({ url: `http://127.0.0.1:${same.port}/html` });
      report.add({ name: "bare Fastify route, same-size HTML (I/O only)", value: b.rps, unit: "req/s", baseline: "bare Fastify route (baseline, pages)", note: `${Buffer.byteLength(html)} B, p99 ${b.p99} ms` });
    } finally {
      await same.stop();
    }
    await load({ url: `${base}${pagePath}`, duration: 2 }); // warm-up, not measured
    const r = await load({ url: `${base}${pagePath}` });
    if (r.non2xx) throw new Error(`page: ${r.non2xx} non-2xx`);
    report.add({ name: "GET /v/:token verification page (live QR)", value: r.rps, unit: "req/s", baseline: "bare Fastify route (baseline, pages)", goal: "≥ 30% of bare" });
    report.add({ name: "verification page p99 latency (50 connections)", value: r.p99, unit: "ms", goal: "≤ 20 ms" });
    report.add({ name: "GET /v/:token vs the same bytes with no work", value: r.rps, unit: "req/s", baseline: "bare Fastify route, same-size HTML (I/O only)" });
  } finally {
    await s.stop();
  }
}
