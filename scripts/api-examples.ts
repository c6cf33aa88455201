/**
 * The API examples of /docs and of the integration guide, recorded from a real run of the service: a temporary
 * SQLite database, the dev keys, every user's calls in order through app.inject (the same code path as HTTP).
 *
 *   npx tsx scripts/api-examples.ts          re-record: writes docs/api-examples.json and refreshes every
 *                                             `<!-- example:ID -->` … `<!-- /example -->` block of the guides
 *
 * test/http/api-examples.test.ts runs the same flows and fails when the committed recording no longer matches the
 * service (another status, another error code, other fields) or a guide block is stale: run this script then.
 * A new route gets its examples by a step here (or inline with `ex()` in its schema, src/http/openapi.ts).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildApp, type App } from "../src/app.js";
import { formatLicenceId } from "../src/codes/index.js";
import { loadConfig } from "../src/config.js";
import { createContext, type Context } from "../src/context.js";
import { mintHolderToken } from "../src/modules/auth/index.js";
import { fixedClock, type Actor } from "../src/modules/kernel.js";
import type { RecordedExamples, RecordedExchange } from "../src/http/openapi.js";
import { appDeps } from "../src/server.js";
import { makePdf } from "../fixtures/pdf/make-pdf.js";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const EXAMPLES_FILE = path.join(ROOT, "docs/api-examples.json");
export const GUIDES = [path.join(ROOT, "docs/integration.md"), path.join(ROOT, "docs/integration.zh.md")];
const SYSTEM: Actor = { kind: "system", name: "sidian clients create" };

// Fixed, valid codes (GB 32100 / GB 11643 check characters) so the examples read the same from run to run.
const DEPT_USCC = "11350100MB00000012";
const TYPE_CODE = "11100000MB03271699001";
const HOLDER_ID = "350102199001010016";
const OTHER_ID = "350102199001010032";

const HEADERS_KEPT = ["content-type", "idempotent-replayed", "etag", "x-stamp-id", "x-licence-status", "x-document-sha256", "retry-after", "cache-control"];

/** Long strings (tokens, signatures, pictures) are cut so the examples stay readable. */
function clip(v: unknown, depth = 0): unknown {
  if (typeof v === "string") return v.length > 200 ? `${v.slice(0, 120)}…(${v.length} characters)` : v;
  if (Array.isArray(v)) return v.slice(0, 4).map((x) => clip(x, depth + 1)).concat(v.length > 4 ? [`…(${v.length - 4} more)`] : []);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clip(x, depth + 1)]));
  return v;
}

function textBody(ct: string, raw: Buffer): unknown {
  if (ct.includes("json")) {
    try {
      return clip(JSON.parse(raw.toString("utf8")));
    } catch {
      return raw.toString("utf8").slice(0, 200);
    }
  }
  if (/^text\/|svg|x-pem|vc\+jwt|ndjson|markdown|openmetrics/.test(ct)) {
    const s = raw.toString("utf8");
    const lines = s.split("\n");
    const head = lines.slice(0, 12).map((l) => (l.length > 160 ? `${l.slice(0, 120)}…` : l)).join("\n");
    return lines.length > 12 ? `${head}\n…(${s.length} characters)` : head;
  }
  return `<${ct || "binary"}, ${raw.length} bytes>`;
}

/** OpenAPI path templates of the app, to name each exchange's operation. */
function operationMatcher(app: App): (method: string, url: string) => string {
  const spec = app.swagger() as { paths: Record<string, Record<string, unknown>> };
  const table = Object.entries(spec.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => ({
    op: `${m.toUpperCase()} ${p}`, method: m.toUpperCase(),
    re: new RegExp(`^${p.split(/(\{[^}]+\})/).map((part) => (part.startsWith("{") ? "[^/]+" : part.replace(/[.*+?^$()|[\]\\]/g, "\\$&"))).join("")}$`),
    literal: !p.includes("{"),
  }))).sort((a, b) => Number(b.literal) - Number(a.literal));
  return (method, url) => {
    const p = url.split("?")[0]!;
    const hit = table.find((t) => t.method === method && t.re.test(p));
    if (!hit) throw new Error(`no OpenAPI operation for ${method} ${p}`);
    return hit.op;
  };
}

export interface FlowRun {
  readonly exchanges: RecordedExchange[];
  readonly app: App;
  readonly ctx: Context;
  close(): Promise<void>;
}

interface Call {
  method?: string;
  url: string;
  token?: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** A non-JSON body: its media type. */
  raw?: { type: string; bytes: Buffer | string };
  expect: number;
}

/** Runs every user's calls in order against a fresh service and returns what was said. */
export async function runFlows(): Promise<FlowRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sidian-examples-"));
  const config = loadConfig({
    SIDIAN_MODE: "test", SIDIAN_DB: path.join(dir, "sidian.db"), SIDIAN_KEYS_DIR: path.join(ROOT, "keys-dev"), SIDIAN_DB_SYNC: "normal",
    SIDIAN_PUBLIC_URL: "https://sidian.example.gov.cn",
  }, ROOT);
  const clock = fixedClock(Date.now());
  const ctx = await createContext(config, { clock, autoCheckpoint: false });
  const app = await buildApp(appDeps(ctx, false));
  await app.ready();
  const close = async () => {
    await app.close();
    await ctx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const opOf = operationMatcher(app);
  const exchanges: RecordedExchange[] = [];

  async function call(id: string, title: string, c: Call) {
    const method = c.method ?? (c.body !== undefined || c.raw ? "POST" : "GET");
    const headers: Record<string, string> = { ...(c.token ? { authorization: `Bearer ${c.token}` } : {}), ...(c.headers ?? {}) };
    if (c.raw) headers["content-type"] = c.raw.type;
    const res = await app.inject({
      method: method as "GET", url: c.url, headers,
      ...(c.raw ? { payload: c.raw.bytes } : c.body !== undefined ? { payload: c.body as object } : {}),
    });
    if (res.statusCode !== c.expect) throw new Error(`${id}: ${method} ${c.url} answered ${res.statusCode}, not ${c.expect}: ${res.body.slice(0, 300)}`);
    const ct = String(res.headers["content-type"] ?? "");
    const reqHeaders: Record<string, string> = {};
    if (c.token) reqHeaders.authorization = `Bearer ${c.token.slice(0, 24)}…`;
    for (const [k, v] of Object.entries(c.headers ?? {})) reqHeaders[k] = k === "authorization" ? `${v.slice(0, 30)}…` : v;
    if (c.raw) reqHeaders["content-type"] = c.raw.type;
    else if (c.body !== undefined) reqHeaders["content-type"] = "application/json";
    const resHeaders: Record<string, string> = {};
    for (const k of HEADERS_KEPT) if (res.headers[k] !== undefined) resHeaders[k] = String(res.headers[k]);
    exchanges.push({
      id, title, operation: opOf(method, c.url),
      request: {
        method, url: c.url,
        ...(Object.keys(reqHeaders).length ? { headers: reqHeaders } : {}),
        ...(c.raw ? { body: Buffer.isBuffer(c.raw.bytes) ? `<${c.raw.type}, ${c.raw.bytes.length} bytes>` : c.raw.bytes } : c.body !== undefined ? { body: clip(c.body) } : {}),
      },
      response: { status: res.statusCode, headers: resHeaders, ...(res.rawPayload.length ? { body: textBody(ct, res.rawPayload) } : {}) },
    });
    return res;
  }

  try {
    // ---- The administrator: the first admin client comes from the command line (`sidian clients create --role admin`).
    const boot = await ctx.directory.createClient({ role: "admin", name: "市大数据局运维", id: "ops-admin", departmentId: null, matters: [] }, SYSTEM);
    const tokenOf = async (id: string, clientId: string, secret: string, title: string) =>
      (await call(id, title, { url: "/oauth/token", body: { grant_type: "client_credentials", client_id: clientId, client_secret: secret }, expect: 200 })).json().access_token as string;
    const admin = await tokenOf("admin.token", boot.client.id, boot.secret, "Get an access token (client credentials)");
    await call("admin.token.bad-secret", "A wrong secret", { url: "/oauth/token", body: { grant_type: "client_credentials", client_id: boot.client.id, client_secret: "not-the-secret" }, expect: 401 });
    await call("admin.me", "Check the token", { url: "/me", token: admin, expect: 200 });
    await call("system.me.no-token", "No token", { url: "/me", expect: 401 });

    const dept = (await call("admin.department.create", "Register an issuing department", { url: "/departments", token: admin, body: { name: "福州市市场监督管理局", uscc: DEPT_USCC, regionCode: "350100" }, expect: 201 })).json();
    await call("admin.department.create.exists", "The same USCC again", { url: "/departments", token: admin, body: { name: "福州市市场监督管理局", uscc: DEPT_USCC, regionCode: "350100" }, expect: 409 });
    await call("admin.department.create.bad-uscc", "A USCC whose check character is wrong", { url: "/departments", token: admin, body: { name: "某某局", uscc: "11350100MB0000001A", regionCode: "350100" }, expect: 400 });
    await call("admin.departments.list", "List departments", { url: "/departments?limit=10", token: admin, expect: 200 });
    await call("admin.department.get", "One department", { url: `/departments/${dept.id}`, token: admin, expect: 200 });
    await call("admin.department.get.missing", "An unknown department", { url: "/departments/dep_00000000", token: admin, expect: 404 });
    await call("admin.department.update", "Rename a department", { method: "PATCH", url: `/departments/${dept.id}`, token: admin, body: { name: "福州市市场监督管理局（知识产权局）" }, expect: 200 });

    await call("admin.type.create", "Define a licence type", { url: "/licence-types", token: admin, body: {
      code: TYPE_CODE, name: "食品经营许可证", holderKind: "person", holderCodeTypes: ["111"],
      fields: [
        { name: "scope", label: "经营项目", type: "string", required: true, maxLength: 100 },
        { name: "category", label: "主体业态", type: "enum", enum: ["食品销售经营者", "餐饮服务经营者"] },
      ],
      validityDays: 1825, issuers: [dept.id],
    }, expect: 201 });
    await call("admin.types.list", "List licence types", { url: "/licence-types", token: admin, expect: 200 });
    await call("admin.type.get", "One licence type", { url: `/licence-types/${TYPE_CODE}`, token: admin, expect: 200 });
    await call("admin.type.get.missing", "An unknown licence type", { url: "/licence-types/11100000MB03271699999", token: admin, expect: 404 });
    await call("admin.type.update", "Change a licence type", { method: "PATCH", url: `/licence-types/${TYPE_CODE}`, token: admin, body: { validityDays: 1826 }, expect: 200 });

    await call("admin.matter.create", "Define a matter and the licence types it may use", { url: "/matters", token: admin, body: { code: "350100-FOOD-001", name: "食品经营许可变更", licenceTypes: [TYPE_CODE] }, expect: 201 });
    await call("admin.matters.list", "List matters", { url: "/matters", token: admin, expect: 200 });
    await call("admin.matter.get", "One matter", { url: "/matters/350100-FOOD-001", token: admin, expect: 200 });
    await call("admin.matter.update", "Change a matter", { method: "PATCH", url: "/matters/350100-FOOD-001", token: admin, body: { name: "食品经营许可变更登记" }, expect: 200 });

    const issuerC = (await call("admin.client.create.issuer", "An issuer client for the department's system", { url: "/clients", token: admin, body: { id: "fz-scjg-zz", name: "市场监管局制证系统", role: "issuer", departmentId: dept.id }, expect: 201 })).json();
    const consumerC = (await call("admin.client.create.consumer", "A consumer client for an approval system", { url: "/clients", token: admin, body: { id: "fz-spxt", name: "市行政审批系统", role: "consumer", matters: ["350100-FOOD-001"] }, expect: 201 })).json();
    const counterC = (await call("admin.client.create.counter", "A counter client for a service hall", { url: "/clients", token: admin, body: { id: "fz-zwzx-ck01", name: "市政务服务中心 1 号窗口", role: "counter" }, expect: 201 })).json();
    await call("admin.client.create.unbound", "An issuer without a department", { url: "/clients", token: admin, body: { name: "未绑定", role: "issuer" }, expect: 400 });
    await call("admin.clients.list", "List clients", { url: "/clients?limit=10", token: admin, expect: 200 });
    await call("admin.client.get", "One client", { url: `/clients/${issuerC.client.id}`, token: admin, expect: 200 });
    await call("admin.client.update", "Rename a client", { method: "PATCH", url: `/clients/${counterC.client.id}`, token: admin, body: { name: "市政务服务中心一号窗口" }, expect: 200 });

    const seal = (await call("admin.seal.create", "Create the department's official seal (it seals the licence PDFs)", { url: "/seals", token: admin, body: { departmentId: dept.id, type: "01" }, expect: 201 })).json();
    const contract = (await call("admin.seal.create.contract", "A contract seal", { url: "/seals", token: admin, body: { departmentId: dept.id, type: "04", id: "3501000000001" }, expect: 201 })).json();
    await call("admin.seals.list", "List seals", { url: `/seals?departmentId=${dept.id}`, token: admin, expect: 200 });
    await call("admin.seal.get", "One seal", { url: `/seals/${seal.id}`, token: admin, expect: 200 });
    await call("admin.seal.picture", "Its picture", { url: `/seals/${seal.id}/picture.svg`, token: admin, expect: 200 });
    await call("admin.seal.ses", "Its GB/T 38540 data", { url: `/seals/${seal.id}/ses?format=json`, token: admin, expect: 200 });
    await call("admin.seal.suspend", "Suspend a seal", { url: `/seals/${contract.id}/status`, token: admin, body: { status: "suspended", reason: "印章保管人调岗" }, expect: 200 });

    const certs = (await call("admin.certificates.list", "The department's certificates", { url: `/departments/${dept.id}/certificates`, token: admin, expect: 200 })).json();
    const signer = (await call("admin.certificate.issue", "A signer certificate", { url: `/departments/${dept.id}/certificates`, token: admin, body: { profile: "signer", commonName: "张三" }, expect: 201 })).json();
    await call("admin.certificate.revoke", "Revoke a certificate", { url: `/pki/certificates/${signer.serial}/revoke`, token: admin, body: { reason: "superseded" }, expect: 200 });
    await call("admin.certificate.revoke.again", "Revoke it again", { url: `/pki/certificates/${signer.serial}/revoke`, token: admin, body: { reason: "superseded" }, expect: 409 });

    // ---- The issuing department's system.
    const issuer = await tokenOf("issuer.token", issuerC.client.id, issuerC.secret, "Get an access token");
    const licenceBody = {
      typeCode: TYPE_CODE, number: "JY13501020012345",
      holder: { name: "林小梅", code: HOLDER_ID, codeType: "111" },
      fields: { scope: "预包装食品（含冷藏冷冻食品）销售", category: "食品销售经营者" },
      issueDate: "2026-12-01", validFrom: "2026-12-01",
    };
    const idem = { "idempotency-key": "zz-2026-000123" };
    const lic = (await call("issuer.issue", "Issue a licence", { url: "/licences", token: issuer, headers: idem, body: licenceBody, expect: 201 })).json();
    await call("issuer.issue.replay", "The same request again (a retry after a timeout)", { url: "/licences", token: issuer, headers: idem, body: licenceBody, expect: 201 });
    await call("issuer.issue.key-reused", "The same Idempotency-Key with another body", { url: "/licences", token: issuer, headers: idem, body: { ...licenceBody, number: "JY13501020012346" }, expect: 409 });
    await call("issuer.issue.bad-holder", "A citizen ID whose check character is wrong", { url: "/licences", token: issuer, body: { ...licenceBody, number: "JY13501020012399", holder: { ...licenceBody.holder, code: "350102199001010017" } }, expect: 400 });
    await call("issuer.issue.bad-fields", "Data that does not match the type", { url: "/licences", token: issuer, body: { ...licenceBody, number: "JY13501020012398", fields: { category: "小作坊" } }, expect: 400 });
    const ndjson = [
      JSON.stringify({ ...licenceBody, number: "JY13501020012400", holder: { name: "陈建国", code: OTHER_ID, codeType: "111" }, idempotencyKey: "batch-2026-12-01-1" }),
      JSON.stringify({ ...licenceBody, number: "JY13501020012401", holder: { name: "王五", code: "350102199001010017", codeType: "111" }, idempotencyKey: "batch-2026-12-01-2" }),
    ].join("\n") + "\n";
    const batch = (await call("issuer.batch", "Bulk import (NDJSON): one line issued, one refused", { url: "/licences:batch", token: issuer, raw: { type: "application/x-ndjson", bytes: ndjson }, expect: 200 })).json();
    await call("issuer.list", "The department's licences", { url: "/licences?limit=2", token: issuer, expect: 200 });
    await call("issuer.get", "One licence", { url: `/licences/${lic.identifier}`, token: issuer, expect: 200 });
    await call("issuer.get.missing", "An unknown identifier", { url: `/licences/${formatLicenceId({ typeCode: TYPE_CODE, issuerCode: DEPT_USCC, serial: "999999", version: "001" })}`, token: issuer, expect: 404 });
    await call("issuer.document", "The licence as a sealed PDF", { url: `/licences/${lic.identifier}/document`, token: issuer, expect: 200 });
    const changed = (await call("issuer.change", "Change a licence (a new version)", { url: `/licences/${lic.identifier}/versions`, token: issuer, headers: { "idempotency-key": "bg-2026-000045" }, body: { reason: "经营项目变更", fields: { scope: "预包装食品销售、散装食品销售", category: "食品销售经营者" } }, expect: 201 })).json();
    await call("issuer.history", "Its history", { url: `/licences/${changed.identifier}/history`, token: issuer, expect: 200 });
    await call("issuer.suspend", "Suspend a licence (暂扣)", { url: `/licences/${changed.identifier}/status`, token: issuer, body: { action: "suspend", reason: "责令停业整顿" }, expect: 200 });
    await call("issuer.resume", "Resume it", { url: `/licences/${changed.identifier}/status`, token: issuer, body: { action: "resume" }, expect: 200 });
    const other = batch.results.find((r: { ok: boolean }) => r.ok).identifier as string;
    await call("issuer.revoke", "Revoke a licence (吊销)", { url: `/licences/${other}/status`, token: issuer, body: { action: "revoke", reason: "以欺骗手段取得许可" }, expect: 200 });
    await call("issuer.revoke.resume", "Resume a revoked licence", { url: `/licences/${other}/status`, token: issuer, body: { action: "resume" }, expect: 409 });
    const pdf = makePdf({ pages: 1, lines: () => ["Notice of approval", "Applicant: Lin Xiaomei", "(seal here)"] });
    const stamped = await call("issuer.stamp", "Stamp a PDF with the official seal", { url: `/seals/${seal.id}/stamp?anchor=${encodeURIComponent("(seal here)")}`, token: issuer, raw: { type: "application/pdf", bytes: pdf }, expect: 200 });
    await call("issuer.stamp.suspended", "Stamp with a suspended seal", { url: `/seals/${contract.id}/stamp?page=1&x=150&y=200`, token: issuer, raw: { type: "application/pdf", bytes: pdf }, expect: 409 });
    await call("issuer.stamps", "The seal's stamp records", { url: `/seals/${seal.id}/stamps`, token: issuer, expect: 200 });
    const sm2Seal = (await call("admin.seal.create.sm2", "A finance seal of the national profile (SM2)", { url: "/seals", token: admin, body: { departmentId: dept.id, type: "02", id: "3501000000002", profile: "sm2" }, expect: 201 })).json();
    const sm2Stamped = await call("issuer.stamp.sm2", "Stamp with the SM2 seal (SM3/SM2 CMS, SM2 time-stamp)", { url: `/seals/${sm2Seal.id}/stamp?page=1&x=150&y=200`, token: issuer, raw: { type: "application/pdf", bytes: pdf }, expect: 200 });
    await call("issuer.ses-signature", "The SM2 stamp as a GB/T 38540 SES_Signature", { url: `/seals/${sm2Seal.id}/ses-signature`, token: issuer, raw: { type: "application/pdf", bytes: sm2Stamped.rawPayload }, expect: 200 });
    await call("issuer.department.certificates", "The department's certificates", { url: `/departments/${dept.id}/certificates`, token: issuer, expect: 200 });
    void certs;

    // ---- The holder (a citizen, through the city's identity provider) and the approval system.
    const m = ctx.material;
    const holder = await mintHolderToken({ idpPrivateKey: m.idp.privateKey!, kid: m.idp.kid!, idpIssuer: config.idpIssuer, code: HOLDER_ID, codeType: "111", ttlSeconds: 600, now: clock.now() });
    const consumer = await tokenOf("consumer.token", consumerC.client.id, consumerC.secret, "Get an access token");
    const query = { holderCode: HOLDER_ID, holderCodeType: "111", matterCode: "350100-FOOD-001", useCause: "办理食品经营许可变更（受理号 2026120100017）" };
    await call("consumer.query.no-consent", "Before the holder consents", { url: "/holders/licences:query", token: consumer, body: query, expect: 403 });
    await call("holder.licences", "My licences", { url: "/holders/me/licences", token: holder, expect: 200 });
    const consent = (await call("holder.consent.grant", "Let the approval system fetch my licences for this matter", { url: "/holders/me/consents", token: holder, body: { clientId: consumerC.client.id, matterCode: "350100-FOOD-001", days: 30 }, expect: 201 })).json();
    await call("holder.consents", "My consents", { url: "/holders/me/consents", token: holder, expect: 200 });
    const answer = (await call("consumer.query", "免证办: fetch the holder's licences for the matter", { url: "/holders/licences:query", token: consumer, body: query, expect: 200 })).json();
    await call("consumer.query.foreign-matter", "A matter this client does not serve", { url: "/holders/licences:query", token: consumer, body: { ...query, matterCode: "350100-OTHER-001" }, expect: 403 });
    const copyToken = new URL(answer.items[0].copy.url).pathname.split("/").pop()!;
    await call("consumer.copy", "The use-annotated copy (加注件), JSON", { url: `/copies/${copyToken}`, token: consumer, expect: 200 });
    await call("consumer.copy.pdf", "The same copy as a sealed PDF", { url: `/copies/${copyToken}?format=pdf`, token: consumer, expect: 200 });
    await call("consumer.copy.bad", "A link that was altered", { url: `/copies/${copyToken.slice(0, -4)}AAAA`, token: consumer, expect: 404 });
    await call("holder.accesses", "Who used my licences", { url: "/holders/me/accesses", token: holder, expect: 200 });
    await call("holder.document", "My licence as a sealed PDF", { url: `/holders/me/licences/${changed.identifier}/document`, token: holder, expect: 200 });
    const qr = (await call("holder.qr", "Show my licence as a live QR (亮证)", { method: "POST", url: `/holders/me/licences/${changed.identifier}/qr`, token: holder, expect: 200 })).json();
    await call("holder.consent.revoke", "Revoke the consent", { method: "DELETE", url: `/holders/me/consents/${consent.id}`, token: holder, expect: 200 });
    await call("consumer.query.revoked", "After the holder revoked the consent", { url: "/holders/licences:query", token: consumer, body: query, expect: 403 });

    // ---- E-signatures: the approval system asks the holder to sign a document; the holder declines (or signs).
    const expiresAt = new Date(clock.now().getTime() + 7 * 86_400_000).toISOString();
    const signReq = { title: "告知承诺书", matterCode: "350100-FOOD-001", caseRef: "SL2026120100017", expiresAt, groups: [[{ name: "林小梅", holderCode: HOLDER_ID, holderCodeType: "111", role: "signer", placement: { page: 1, xMm: 120, yMm: 230, widthMm: 50, heightMm: 20 } }]] };
    const sreq = (await call("consumer.signature.create", "Ask the holder to sign a document (a draft request)", { url: "/signatures", token: consumer, body: signReq, expect: 201 })).json();
    const toSign = makePdf({ pages: 1, lines: () => ["Letter of commitment", "I, the applicant, commit to the conditions of the licence.", "Signature:"] });
    await call("consumer.signature.document", "Upload the PDF to sign", { method: "PUT", url: `/signatures/${sreq.id}/document`, token: consumer, raw: { type: "application/pdf", bytes: toSign }, expect: 200 });
    await call("consumer.signature.send", "Send it: the holder may sign now", { method: "POST", url: `/signatures/${sreq.id}/send`, token: consumer, expect: 200 });
    await call("consumer.signatures", "The client's signing requests", { url: "/signatures", token: consumer, expect: 200 });
    await call("holder.signatures", "Requests waiting for my signature", { url: "/holders/me/signatures", token: holder, expect: 200 });
    await call("holder.signature.get", "The request", { url: `/signatures/${sreq.id}`, token: holder, expect: 200 });
    await call("holder.signature.document", "The document to sign", { url: `/signatures/${sreq.id}/document`, token: holder, expect: 200 });
    await call("holder.signature.decline", "Decline to sign, with a reason", { url: `/signatures/${sreq.id}/decline`, token: holder, body: { reason: "承诺内容与申请事项不符" }, expect: 200 });
    await call("consumer.signature.cancel.declined", "Cancel a request that was declined", { url: `/signatures/${sreq.id}/cancel`, token: consumer, body: { reason: "重新发起" }, expect: 409 });
    const sreq2 = (await call("consumer.signature.create.again", "A new request", { url: "/signatures", token: consumer, body: signReq, expect: 201 })).json();
    await call("consumer.signature.cancel", "Cancel it", { url: `/signatures/${sreq2.id}/cancel`, token: consumer, body: { reason: "申请人撤回申请" }, expect: 200 });

    // ---- The counter (窗口).
    const counter = await tokenOf("counter.token", counterC.client.id, counterC.secret, "Get an access token");
    await call("counter.page", "The counter page", { url: "/counter", expect: 200 });
    await call("counter.verify", "Verify the QR the holder shows", { url: "/counter/verify", token: counter, body: { code: qr.url }, expect: 200 });
    await call("counter.verify.revoked", "A revoked licence's identifier", { url: "/counter/verify", token: counter, body: { code: other }, expect: 200 });
    await call("counter.attach", "Attach the licence to the case", { url: "/counter/cases/SL2026120100017/licences", token: counter, body: { identifier: changed.identifier }, expect: 201 });
    await call("counter.attach.revoked", "Attach a revoked licence", { url: "/counter/cases/SL2026120100017/licences", token: counter, body: { identifier: other }, expect: 409 });
    await call("counter.case", "The case's licences", { url: "/counter/cases/SL2026120100017/licences", token: counter, expect: 200 });

    // ---- Anyone verifying, online or offline.
    await ctx.tlog.checkpoint();
    await call("verifier.verify.jws", "Verify a licence JWS", { url: "/verify", body: { jws: answer.items[0].jws }, expect: 200 });
    await call("verifier.verify.revoked", "Verify a revoked licence by identifier", { url: "/verify", body: { identifier: other }, expect: 200 });
    await call("verifier.verify.garbage", "Something that is not a JWS", { url: "/verify", body: { jws: "not-a-jws" }, expect: 200 });
    await call("verifier.status", "A licence's online status", { url: `/licences/${changed.identifier}/status`, expect: 200 });
    const st = (await app.inject({ url: `/licences/${changed.identifier}/status` })).json();
    const listPath = new URL(st.statusList.url).pathname;
    const list = await call("verifier.status-list", "The department's signed status list", { url: listPath, expect: 200 });
    await call("verifier.status-list.not-modified", "Again, with the ETag", { url: listPath, headers: { "if-none-match": String(list.headers.etag) }, expect: 304 });
    await call("verifier.jwks", "Sidian's public keys (JWKS)", { url: "/.well-known/jwks.json", expect: 200 });
    await call("verifier.trust-bundle", "The trust anchors", { url: "/pki/trust-bundle.pem", expect: 200 });
    await call("verifier.crl", "The CRL (PEM)", { url: "/pki/crl?format=pem", expect: 200 });
    await call("verifier.certificate", "A certificate and its status", { url: `/pki/certificates/${signer.serial}`, expect: 200 });
    await call("verifier.log.key", "The log's public key", { url: "/log/key", expect: 200 });
    const cp = await call("verifier.log.checkpoint", "The latest signed checkpoint", { url: "/log/checkpoint", expect: 200 });
    const size = Number(cp.body.split("\n")[1]);
    await call("verifier.log.entry", "A log entry (redacted for anonymous callers)", { url: "/log/entries/0", expect: 200 });
    await call("verifier.log.entry.missing", "An index past the end", { url: `/log/entries/${size + 1000}`, expect: 404 });
    const vj = (await app.inject({ method: "POST", url: "/verify", payload: { identifier: changed.identifier } })).json();
    const logIndex = (vj.evidence?.index ?? 1) as number;
    await call("verifier.log.inclusion", "Inclusion proof of the licence's entry", { url: `/log/proof/inclusion?index=${logIndex}`, expect: 200 });
    await call("verifier.log.consistency", "Consistency between two tree sizes", { url: `/log/proof/consistency?from=2&to=${size}`, expect: 200 });
    await call("verifier.log.consistency.bad", "Sizes the wrong way round", { url: `/log/proof/consistency?from=${size}&to=2`, expect: 400 });
    const data = path.join(os.tmpdir(), `sidian-tsq-${process.pid}.txt`);
    fs.writeFileSync(data, "hello time-stamp");
    const tsq = execFileSync("openssl", ["ts", "-query", "-data", data, "-sha256", "-cert"], { stdio: ["ignore", "pipe", "ignore"] });
    fs.rmSync(data, { force: true });
    await call("verifier.tsa", "An RFC 3161 time-stamp", { url: "/tsa", raw: { type: "application/timestamp-query", bytes: tsq }, expect: 200 });
    await call("verifier.verify.pdf", "Validate the stamped PDF", { url: "/verify/pdf", raw: { type: "application/pdf", bytes: stamped.rawPayload }, expect: 200 });
    await call("verifier.page.live", "The page a live QR opens", { url: new URL(qr.url).pathname.replace(/^\/V\//, "/v/"), expect: 200 });
    await call("verifier.page.static", "The page a printed QR opens", { url: `/v/l/${changed.identifier}`, expect: 200 });
    await call("verifier.page.seal", "The official seal's picture on those pages", { url: `/v/s/${seal.id}`, expect: 200 });

    // ---- Operations.
    await call("ops.healthz", "Liveness", { url: "/healthz", expect: 200 });
    await call("ops.readyz", "Readiness", { url: "/readyz", expect: 200 });
    await call("ops.metrics", "Prometheus metrics (from an allowed network)", { url: "/metrics", expect: 200 });
  } catch (e) {
    await close();
    throw e;
  }
  return { exchanges, app, ctx, close };
}

// ---- The guide's example blocks ----------------------------------------------------------------------------------

const STATUS_TEXT: Record<number, string> = { 200: "OK", 201: "Created", 304: "Not Modified", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict", 413: "Content Too Large", 422: "Unprocessable Content", 429: "Too Many Requests", 503: "Service Unavailable" };

function show(body: unknown): string {
  return typeof body === "string" ? body : JSON.stringify(body, null, 2);
}

/** The markdown of one exchange, as the guides show it. */
export function renderExchange(x: RecordedExchange): string {
  const req = [`${x.request.method} ${x.request.url}`, ...Object.entries(x.request.headers ?? {}).map(([k, v]) => `${k}: ${v}`)];
  if (x.request.body !== undefined) req.push("", show(x.request.body));
  const res = [`HTTP/1.1 ${x.response.status} ${STATUS_TEXT[x.response.status] ?? ""}`.trimEnd(), ...Object.entries(x.response.headers ?? {}).map(([k, v]) => `${k}: ${v}`)];
  if (x.response.body !== undefined) res.push("", show(x.response.body));
  return ["```http", ...req, "```", "", "```http", ...res, "```"].join("\n");
}

const BLOCK = /<!-- example:([a-z0-9.-]+) -->\n[\s\S]*?<!-- \/example -->/g;

/** The guide with every example block rendered from the recording; unknown ids are listed in `missing`. */
export function refreshGuide(text: string, rec: RecordedExamples): { text: string; missing: string[] } {
  const byId = new Map(rec.exchanges.map((x) => [x.id, x]));
  const missing: string[] = [];
  const out = text.replace(BLOCK, (_all, id: string) => {
    const x = byId.get(id);
    if (!x) {
      missing.push(id);
      return `<!-- example:${id} -->\n(missing)\n<!-- /example -->`;
    }
    return `<!-- example:${id} -->\n${renderExchange(x)}\n<!-- /example -->`;
  });
  return { text: out, missing };
}

export const NOTE = "Recorded from a real run of the service by `npx tsx scripts/api-examples.ts` (dev keys, temporary database). Long values are cut (…). Do not edit by hand.";

async function main() {
  const run = await runFlows();
  await run.close();
  const rec: RecordedExamples = { note: NOTE, exchanges: run.exchanges };
  fs.writeFileSync(EXAMPLES_FILE, `${JSON.stringify(rec, null, 1)}\n`);
  process.stdout.write(`${run.exchanges.length} exchanges → ${path.relative(ROOT, EXAMPLES_FILE)}\n`);
  for (const g of GUIDES) {
    if (!fs.existsSync(g)) continue;
    const r = refreshGuide(fs.readFileSync(g, "utf8"), rec);
    fs.writeFileSync(g, r.text);
    process.stdout.write(`${path.relative(ROOT, g)} refreshed${r.missing.length ? `; unknown example ids: ${r.missing.join(", ")}` : ""}\n`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    process.stderr.write(`api-examples: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
