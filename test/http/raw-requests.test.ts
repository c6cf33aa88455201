/**
 * The error contract for what Node's HTTP server handles before Fastify (issue 14 §7: every failure is
 * {code, message, requestId}): an HTTP/1.1 request without Host got Node's bare 400 with no body, and CONNECT had
 * its connection dropped without an answer. Sent over a real socket, as a client would.
 */
import net from "node:net";
import t from "tap";
import { build } from "../helpers/app.js";

function raw(port: number, text: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1", () => s.write(text));
    const chunks: Buffer[] = [];
    const done = () => {
      const all = Buffer.concat(chunks).toString("utf8");
      const i = all.indexOf("\r\n\r\n");
      const head = i < 0 ? all : all.slice(0, i);
      const lines = head.split("\r\n");
      const headers = Object.fromEntries(lines.slice(1).map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "")?.[1] ?? 0), headers, body: i < 0 ? "" : all.slice(i + 4) });
    };
    s.on("data", (c) => chunks.push(c));
    s.on("close", done);
    s.on("error", () => undefined);
    setTimeout(() => s.destroy(), 5000);
  });
}

t.test("requests Node answers before any route get the problem shape", async (t) => {
  const h = await build(t);
  await h.app.listen({ port: 0, host: "127.0.0.1" });
  const port = (h.app.server.address() as net.AddressInfo).port;
  const problem = (r: { status: number; headers: Record<string, string>; body: string }, status: number, code: string, what: string) => {
    t.equal(r.status, status, `${what}: ${status}`);
    t.match(r.headers["content-type"], /^application\/json/, `${what}: JSON`);
    let j: Record<string, unknown> = {};
    try {
      j = JSON.parse(r.body) as Record<string, unknown>;
    } catch {
      t.fail(`${what}: the body is not JSON: ${JSON.stringify(r.body.slice(0, 80))}`);
    }
    t.equal(j.code, code, `${what}: ${code}`);
    t.type(j.message, "string");
    t.type(j.requestId, "string");
  };
  for (const path of ["/healthz", "/licences", "/verify/pdf"]) {
    problem(await raw(port, `GET ${path} HTTP/1.1\r\nConnection: close\r\n\r\n`), 400, "VALIDATION_FAILED", `GET ${path} with no Host`);
  }
  problem(await raw(port, "POST /verify/pdf HTTP/1.1\r\nContent-Type: application/pdf\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx"), 400, "VALIDATION_FAILED", "POST with no Host");
  // HTTP/1.0 has no Host requirement.
  const old = await raw(port, "GET /healthz HTTP/1.0\r\n\r\n");
  t.equal(old.status, 200, "HTTP/1.0 without Host is answered");
  for (const target of ["example.com:443", "127.0.0.1:22"]) {
    problem(await raw(port, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`), 405, "METHOD_NOT_ALLOWED", `CONNECT ${target}`);
  }
  for (const m of ["TRACE", "PROPFIND", "SEARCH", "MKCOL"]) {
    problem(await raw(port, `${m} /licences HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`), 405, "METHOD_NOT_ALLOWED", `${m} /licences`);
  }
  const ok = await raw(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  t.equal(ok.status, 200, "the server still answers");
});
