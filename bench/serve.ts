/**
 * A server for the benchmarks, run in a child process by bench/lib.ts `startServer(kind)`.
 *   bare    a bare Fastify JSON route (the in-run baseline)
 *   sidian  the real app on a temp SQLite file with the dev keys, plus an admin client
 * Prints `READY {json}` on stdout when listening.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Fastify from "fastify";
import { buildApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { createContext } from "../src/context.js";
import { appDeps } from "../src/server.js";

const kind = process.argv[2] ?? "bare";

async function main() {
  if (kind === "bare") {
    const app = Fastify({ logger: false });
    app.get("/bare", async () => ({ hello: "world" }));
    // The I/O of a verification without the verification: parse a JSON body, answer a fixed JSON of BENCH_ECHO_BYTES.
    const echo = { result: "VALID", pad: "x".repeat(Math.max(0, Number(process.env.BENCH_ECHO_BYTES ?? 2300) - 30)) };
    app.post("/echo", async (req) => (typeof (req.body as { jws?: unknown }).jws === "string" ? echo : { result: "INVALID" }));
    // The I/O of any POST without its work: parse the JSON body, answer ?bytes=N bytes of JSON (made once per size,
    // sent as bytes). With the holder query's request bodies and answer size, no implementation can be faster.
    const answers = new Map<number, Buffer>();
    app.post("/answer", (req, reply) => {
      const n = Math.min(Math.max(Number((req.query as { bytes?: string }).bytes ?? 1000) || 1000, 20), 1_000_000);
      let b = answers.get(n);
      if (!b) answers.set(n, (b = Buffer.from(JSON.stringify({ ok: (req.body as object) !== null, pad: "x".repeat(n - 22) }))));
      void reply.type("application/json; charset=utf-8").send(b);
    });
    // The I/O of a verification page without the page: a fixed HTML document of BENCH_HTML_BYTES.
    const html = `<!doctype html><p>${"x".repeat(Math.max(0, Number(process.env.BENCH_HTML_BYTES ?? 4000) - 20))}</p>`;
    app.get("/html", (_req, reply) => reply.type("text/html; charset=utf-8").send(html));
    await app.listen({ host: "127.0.0.1", port: 0 });
    const port = (app.server.address() as { port: number }).port;
    console.log(`READY ${JSON.stringify({ port: String(port) })}`);
    process.once("SIGTERM", () => void app.close().then(() => process.exit(0)));
    return;
  }
  if (kind === "sidian") {
    const dir = process.env.BENCH_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), "sidian-bench-"));
    const config = loadConfig({
      ...process.env,
      SIDIAN_MODE: "test",
      SIDIAN_DB: process.env.BENCH_DB ?? path.join(dir, "bench.db"),
      SIDIAN_PORT: "0",
      // The seeded database was made under the default public URL; the port it listens on may differ.
      SIDIAN_PUBLIC_URL: process.env.SIDIAN_PUBLIC_URL ?? "http://127.0.0.1:8080",
      SIDIAN_LOG_LEVEL: "silent",
      SIDIAN_PUBLIC_RATE_LIMIT: "1000000",
    });
    // BENCH_VERIFY_MEMORY=off: verification keeps nothing per licence (to measure what that memory earns).
    const ctx = await createContext(config, process.env.BENCH_VERIFY_MEMORY === "off" ? { verifyMemory: false } : {});
    const app = await buildApp(appDeps(ctx, false));
    await app.listen({ host: "127.0.0.1", port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const { client, secret } = await ctx.directory.createClient({ name: "bench admin", role: "admin" }, { kind: "system", name: "bench" });
    console.log(`READY ${JSON.stringify({ port: String(port), clientId: client.id, secret, dir })}`);
    process.once("SIGTERM", () => void app.close().then(() => ctx.close()).then(() => {
      if (!process.env.BENCH_DIR) fs.rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    }));
    return;
  }
  throw new Error(`unknown bench server kind ${kind}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
