/**
 * The error contract everywhere (issue 14 §7): every failure — the framework's own and Node's HTTP parser's
 * included — is `{code, message, requestId}` with a code documented in docs/errors.md, or, on POST /tsa, RFC 3161's
 * binary error form. Probed over a real socket (app.inject skips Node's HTTP parser) and walked over every route.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import t, { type Test } from "tap";
import { needs } from "../helpers/tools.js";
import fp from "fastify-plugin";
import { TimeStampResp } from "@peculiar/asn1-tsp";
import { AsnConvert } from "@peculiar/asn1-schema";
import type { FastifyInstance, RouteOptions } from "fastify";
import { buildApp } from "../../src/app.js";
import { createContext } from "../../src/context.js";
import { ERROR_TABLE } from "../../src/errors.js";
import { fixedClock } from "../../src/modules/kernel.js";
import { appDeps } from "../../src/server.js";
import { bearer, build, ROOT, tempDir, testConfig } from "../helpers/app.js";

const documented = new Set([...fs.readFileSync(path.join(ROOT, "docs/errors.md"), "utf8").matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => `${m[1]} ${m[2]}`));

/** Asserts a raw or injected answer is a documented problem. */
function isProblem(tt: Test, status: number, headers: Record<string, unknown>, body: string, what: string, code?: string): void {
  let j: Record<string, unknown> = {};
  try {
    j = JSON.parse(body) as Record<string, unknown>;
  } catch {
    tt.fail(`${what}: the body is JSON (${body.slice(0, 80)})`);
    return;
  }
  tt.match(String(headers["content-type"]), /^application\/json/, `${what}: JSON`);
  tt.same(Object.keys(j).filter((k) => !["code", "message", "requestId", "details", "error"].includes(k)), [], `${what}: nothing but the problem fields`);
  tt.ok(typeof j.code === "string" && documented.has(`${j.code} ${status}`), `${what}: ${status} ${String(j.code)} is documented with that status`);
  tt.ok(typeof j.message === "string" && (j.message as string).length > 0, `${what}: a message`);
  tt.ok(typeof j.requestId === "string" && (j.requestId as string).length > 0, `${what}: a requestId`);
  tt.notMatch(String(j.message), /call stack|Maximum|FST_|TypeError|undefined/, `${what}: no internals`);
  if (code) tt.equal(j.code, code, `${what}: ${code}`);
  if (j.code && ERROR_TABLE[j.code as keyof typeof ERROR_TABLE]) tt.equal(status, ERROR_TABLE[j.code as keyof typeof ERROR_TABLE].status, `${what}: status from the table`);
}

/** Sends raw bytes, returns the parsed status line, headers and body of the answer. */
function raw(port: number, bytes: string | Buffer): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => s.write(bytes));
    const chunks: Buffer[] = [];
    s.on("data", (c) => chunks.push(c));
    s.on("error", () => undefined);
    s.on("close", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const [head, ...rest] = text.split("\r\n\r\n");
      const lines = (head ?? "").split("\r\n");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? "")?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(":");
        if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      if (status === 0) reject(new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 100))}`));
      else resolve({ status, headers, body: rest.join("\r\n\r\n") });
    });
    s.setTimeout(20_000, () => s.destroy());
  });
}

t.test("refusals of Node's HTTP parser and of the framework are problems with documented codes", async (tt) => {
  const h = await build(tt);
  await h.app.listen({ port: 0, host: "127.0.0.1" });
  const port = (h.app.server.address() as net.AddressInfo).port;

  const longUrl = await raw(port, `GET /${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
  tt.equal(longUrl.status, 431, "a 20,000-character URL: 431");
  isProblem(tt, longUrl.status, longUrl.headers, longUrl.body, "long URL", "HEADERS_TOO_LARGE");
  tt.equal(longUrl.headers["x-request-id"], JSON.parse(longUrl.body).requestId, "the request id is also a header");
  tt.equal(longUrl.headers["x-content-type-options"], "nosniff");

  const bigHeader = await raw(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(20_000)}\r\n\r\n`);
  isProblem(tt, bigHeader.status, bigHeader.headers, bigHeader.body, "large header", "HEADERS_TOO_LARGE");
  const manyHeaders = await raw(port, `GET /healthz HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`).join("\r\n")}\r\n\r\n`);
  tt.ok(manyHeaders.status === 431 || manyHeaders.status === 200, `many headers: ${manyHeaders.status}`);
  if (manyHeaders.status !== 200) isProblem(tt, manyHeaders.status, manyHeaders.headers, manyHeaders.body, "many headers");

  for (const [what, bytes] of [
    ["not HTTP", "HELLO\r\n\r\n"],
    ["unknown method", "FROB /healthz HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["bad header line", "GET /healthz HTTP/1.1\r\nHost x\r\n\r\n"],
    ["bad content length", "POST /departments HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"],
    ["two content lengths", "POST /verify HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"],
  ] as const) {
    const r = await raw(port, bytes);
    isProblem(tt, r.status, r.headers, r.body, what, "VALIDATION_FAILED");
  }

  // Through Fastify: unknown routes and methods, media types, sizes, broken and deep JSON.
  const cases: Array<[string, string, string, Record<string, string>, string | Buffer | undefined, string]> = [
    ["unknown route", "GET", "/nope", {}, undefined, "ROUTE_NOT_FOUND"],
    ["unknown route, any method", "DELETE", "/nope/deeper", {}, undefined, "ROUTE_NOT_FOUND"],
    ["method not routed", "DELETE", "/healthz", {}, undefined, "METHOD_NOT_ALLOWED"],
    ["PROPFIND", "PROPFIND", "/healthz", {}, undefined, "METHOD_NOT_ALLOWED"],
    ["OPTIONS", "OPTIONS", "/verify", {}, undefined, "METHOD_NOT_ALLOWED"],
    ["wrong method with a query", "PUT", "/log/checkpoint?x=1", {}, undefined, "METHOD_NOT_ALLOWED"],
    ["bad URL encoding", "GET", "/v/%E0%A4%A", {}, undefined, "VALIDATION_FAILED"],
    ["over-long parameter", "GET", `/v/${"a".repeat(600)}`, {}, undefined, "VALIDATION_FAILED"],
    ["wrong media type", "POST", "/verify", { "content-type": "application/xml" }, "<a/>", "UNSUPPORTED_MEDIA_TYPE"],
    ["no media type", "POST", "/verify", {}, "{}", "UNSUPPORTED_MEDIA_TYPE"],
    ["broken JSON", "POST", "/verify", { "content-type": "application/json" }, "{not json", "VALIDATION_FAILED"],
    ["empty JSON", "POST", "/verify", { "content-type": "application/json" }, "", "VALIDATION_FAILED"],
    ["deep JSON", "POST", "/verify", { "content-type": "application/json" }, "[".repeat(30_000) + "]".repeat(30_000), "VALIDATION_FAILED"],
    ["too large", "POST", "/verify", { "content-type": "application/json" }, JSON.stringify({ jws: "x".repeat(70_000) }), "BODY_TOO_LARGE"],
    ["proto key", "POST", "/verify", { "content-type": "application/json" }, '{"__proto__":{"a":1}}', "VALIDATION_FAILED"],
    ["TSA with JSON", "POST", "/tsa", { "content-type": "application/json" }, '{"a":1}', "UNSUPPORTED_MEDIA_TYPE"],
    ["TSA without a media type", "POST", "/tsa", {}, "abc", "UNSUPPORTED_MEDIA_TYPE"],
  ];
  for (const [what, method, url, headers, body, code] of cases) {
    const res = await fetch(`http://127.0.0.1:${port}${url}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    isProblem(tt, res.status, Object.fromEntries(res.headers), await res.text(), what, code);
    if (code === "METHOD_NOT_ALLOWED") tt.ok(res.headers.get("allow"), `${what}: an Allow header (${res.headers.get("allow")})`);
    if (code === "ROUTE_NOT_FOUND") tt.equal(res.headers.get("allow"), null, `${what}: no Allow header`);
  }
  const healthz = await fetch(`http://127.0.0.1:${port}/healthz`, { method: "DELETE" });
  tt.equal(healthz.headers.get("allow"), "GET, HEAD", "DELETE /healthz: Allow: GET, HEAD");
});

t.test("POST /tsa refuses in RFC 3161's form with a documented code; never a runtime message", async (tt) => {
  const h = await build(tt);
  const dir = tempDir(tt);
  const ask = (payload: Buffer) => h.app.inject({ method: "POST", url: "/tsa", headers: { "content-type": "application/timestamp-query" }, payload });
  const nested = (n: number) => Buffer.concat([Buffer.from("30 80 ".repeat(n).replace(/ /g, ""), "hex"), Buffer.alloc(2 * n)]);
  for (const [what, body] of [
    ["junk", Buffer.from("junk")], ["empty", Buffer.alloc(0)], ["JSON text", Buffer.from('{"a":1}')],
    ["BER nested 16,000 deep", nested(16_000)], ["BER nested 40 deep", nested(40)], ["truncated", Buffer.from("3082ffff", "hex")],
  ] as const) {
    const r = await ask(body);
    tt.equal(r.statusCode, 400, `${what}: 400`);
    tt.equal(r.headers["content-type"], "application/timestamp-reply", `${what}: RFC 3161 form`);
    tt.equal(r.headers["x-error-code"], "TSA_REQUEST_INVALID", `${what}: documented code`);
    tt.ok(documented.has("TSA_REQUEST_INVALID 400"));
    const resp = AsnConvert.parse(r.rawPayload, TimeStampResp);
    tt.equal(resp.status.status, 2, `${what}: status rejection`);
    const text = (resp.status.statusString ?? []).map((s) => s.toString()).join(" ");
    tt.notMatch(text, /call stack|Maximum|RangeError/, `${what}: no runtime message (${text})`);
  }
  // A proper query (made by openssl) is still granted.
  if (!needs("openssl")) {
    const data = path.join(dir, "d.txt");
    fs.writeFileSync(data, "x");
    const q = path.join(dir, "q.tsq");
    execFileSync("openssl", ["ts", "-query", "-data", data, "-sha256", "-out", q], { stdio: "pipe" });
    const ok = await ask(fs.readFileSync(q));
    tt.equal(ok.statusCode, 200);
    tt.equal(AsnConvert.parse(ok.rawPayload, TimeStampResp).status.status, 0);
  }
});

t.test("every route: wrong media type, broken JSON and unknown methods answer documented problems", async (tt) => {
  const ctx = await createContext(testConfig(tt), { clock: fixedClock(Date.now()), autoCheckpoint: false });
  const routes: RouteOptions[] = [];
  const deps = appDeps(ctx, false);
  const app = await buildApp({ ...deps, plugins: [fp(async (a: FastifyInstance) => void a.addHook("onRoute", (r) => void routes.push(r))), ...(deps.plugins ?? [])] });
  tt.teardown(async () => {
    await app.close();
    await ctx.close();
  });
  await app.ready();
  const h = { app, client: async (role: "admin") => {
    const { client, secret } = await ctx.directory.createClient({ role, name: "t", departmentId: null, matters: [] }, { kind: "system", name: "test" });
    const r = await app.inject({ method: "POST", url: "/oauth/token", payload: { grant_type: "client_credentials", client_id: client.id, client_secret: secret } });
    return r.json().access_token as string;
  } };
  const admin = await h.client("admin");
  let n = 0;
  // Every method each path takes, from the route table (HEAD comes with GET).
  const byPath = new Map<string, Set<string>>();
  for (const r of routes) for (const m of Array.isArray(r.method) ? r.method : [r.method]) byPath.set(r.url, (byPath.get(r.url) ?? new Set()).add(m));
  let wrong = 0;
  for (const r of routes) {
    const methods = (Array.isArray(r.method) ? r.method : [r.method]).filter((m) => m !== "HEAD");
    // "::" is a literal colon (/licences::batch); ":name" a parameter.
    const url = r.url.replace(/::/g, "\u0000").replace(/:([A-Za-z]+)/g, "x1234567890").replace(/\u0000/g, ":");
    if (url.startsWith("/docs")) continue;
    for (const m of methods) {
      if (m === "POST" || m === "PUT" || m === "PATCH") {
        const xml = await app.inject({ method: m, url, headers: { ...bearer(admin), "content-type": "application/xml" }, payload: "<a/>" });
        if (xml.statusCode >= 400) isProblem(tt, xml.statusCode, xml.headers, xml.body, `${m} ${r.url} xml`);
        else tt.fail(`${m} ${r.url} accepted application/xml`);
        const broken = await app.inject({ method: m, url, headers: { ...bearer(admin), "content-type": "application/json" }, payload: '{"a":' });
        if (broken.statusCode >= 400) isProblem(tt, broken.statusCode, broken.headers, broken.body, `${m} ${r.url} broken JSON`);
        n += 2;
      }
    }
    // Every method the path does not take: 405 METHOD_NOT_ALLOWED naming the ones it does (never 404, never the
    // route's own answer).
    const allowed = byPath.get(r.url)!;
    const allow = [...allowed].sort().join(", ");
    for (const other of ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"].filter((x) => !allowed.has(x))) {
      const res = await app.inject({ method: other as "PUT", url, headers: bearer(admin) });
      isProblem(tt, res.statusCode, res.headers, res.body, `${other} ${r.url}`, "METHOD_NOT_ALLOWED");
      tt.equal(res.headers.allow, allow, `${other} ${r.url}: Allow: ${allow}`);
      n++;
      wrong++;
    }
  }
  tt.ok(n > 80, `${n} requests`);
  tt.ok(wrong > byPath.size * 3, `${wrong} wrong methods over ${byPath.size} paths`);
});

t.test("a request arriving while the service closes gets NOT_READY in the problem shape", async (tt) => {
  const ctx = await createContext(testConfig(tt), { clock: fixedClock(Date.now()), autoCheckpoint: false });
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const app = await buildApp({ ...appDeps(ctx, false), plugins: [fp(async (a: FastifyInstance) => void a.addHook("preClose", async () => held))] });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const port = (app.server.address() as net.AddressInfo).port;
  const sock = net.connect(port, "127.0.0.1");
  await new Promise((r) => sock.once("connect", r));
  const closing = app.close();
  await new Promise((r) => setTimeout(r, 50));
  const answer = new Promise<string>((resolve) => {
    const chunks: Buffer[] = [];
    sock.on("data", (c) => chunks.push(c));
    sock.on("close", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
  sock.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  const text = await answer;
  release();
  await closing;
  await ctx.close();
  const [head, body] = text.split("\r\n\r\n");
  tt.match(head, /^HTTP\/1\.1 503/);
  const headers = Object.fromEntries((head ?? "").split("\r\n").slice(1).map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
  isProblem(tt, 503, headers, body ?? "", "while closing", "NOT_READY");
});
