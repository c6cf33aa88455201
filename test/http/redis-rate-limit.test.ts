/**
 * SIDIAN_REDIS_URL (issue 16 §6): the public rate limits are counted in Redis, so two instances share one budget
 * per client address; without it each instance counts alone. A real redis-server on a free port; skips with one
 * line when it is not installed (Debian package redis-server).
 */
import { spawn, spawnSync } from "node:child_process";
import net from "node:net";
import t, { type Test } from "tap";
import { build, freePort } from "../helpers/app.js";

t.test("two instances share the public rate limit through Redis", async (t) => {
  if (spawnSync("redis-server", ["--version"]).status !== 0) return void t.pass("skipped: redis-server is not installed (Debian package redis-server)");
  const port = await freePort();
  const server = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  t.teardown(() => void server.kill("SIGKILL"));
  for (let i = 0; i < 50; i++) {
    const up = await new Promise<boolean>((res) => net.connect(port, "127.0.0.1").on("connect", function (this: net.Socket) { this.destroy(); res(true); }).on("error", () => res(false)));
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const env = { SIDIAN_REDIS_URL: `redis://127.0.0.1:${port}/0`, SIDIAN_PUBLIC_RATE_LIMIT: "6" };
  const a = await build(t, env);
  const b = await build(t, env);
  const get = (h: typeof a) => h.app.inject({ method: "GET", url: "/log/checkpoint" });
  const codes: number[] = [];
  for (let i = 0; i < 3; i++) codes.push((await get(a)).statusCode, (await get(b)).statusCode);
  t.notOk(codes.includes(429), `6 requests across both instances are within the limit (${codes.join(",")})`);
  const over = await get(a);
  t.equal(over.statusCode, 429, "the 7th, on either instance, is over the shared limit");
  t.equal(over.json().code, "RATE_LIMITED");
  t.equal((await get(b)).statusCode, 429, "and on the other");

  // Without Redis each instance counts alone: 6 on each.
  const c = await build(t, { SIDIAN_PUBLIC_RATE_LIMIT: "6" });
  const d = await build(t, { SIDIAN_PUBLIC_RATE_LIMIT: "6" });
  const alone: number[] = [];
  for (let i = 0; i < 6; i++) alone.push((await get(c)).statusCode, (await get(d)).statusCode);
  t.notOk(alone.includes(429), "per instance without SIDIAN_REDIS_URL");
});

async function startRedis(t: Test, port: number) {
  const server = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  t.teardown(() => void server.kill("SIGKILL"));
  for (let i = 0; i < 50; i++) {
    const up = await new Promise<boolean>((res) => net.connect(port, "127.0.0.1").on("connect", function (this: net.Socket) { this.destroy(); res(true); }).on("error", () => res(false)));
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return server;
}

t.test("Redis away: each instance applies the limits in its own memory and says so; shared again when Redis returns", async (t) => {
  if (spawnSync("redis-server", ["--version"]).status !== 0) return void t.pass("skipped: redis-server is not installed (Debian package redis-server)");
  const port = await freePort();
  let server = await startRedis(t, port);
  const env = { SIDIAN_REDIS_URL: `redis://127.0.0.1:${port}/0`, SIDIAN_PUBLIC_RATE_LIMIT: "4" };
  const a = await build(t, env);
  const b = await build(t, env);
  const get = (h: typeof a) => h.app.inject({ method: "GET", url: "/log/checkpoint" });
  const ready = async (h: typeof a) => (await h.app.inject({ method: "GET", url: "/readyz" })).json() as { status: string; rateLimits?: string };
  const until = async (f: () => Promise<boolean>) => {
    for (let i = 0; i < 100 && !(await f()); i++) await new Promise((r) => setTimeout(r, 100));
  };
  await until(async () => (await ready(a)).rateLimits === "shared" && (await ready(b)).rateLimits === "shared");
  t.equal((await ready(a)).rateLimits, "shared", "/readyz: shared while Redis answers");

  // Redis goes away: not an outage, and the limits are not dropped — each instance counts alone.
  server.kill("SIGKILL");
  await new Promise((r) => server.once("exit", r));
  await until(async () => (await ready(a)).rateLimits === "per-instance");
  const r = await ready(a);
  t.equal(r.status, "ready", "still ready without Redis");
  t.equal(r.rateLimits, "per-instance", "/readyz says the limits are per instance now");
  const codes: number[] = [];
  for (let i = 0; i < 4; i++) codes.push((await get(a)).statusCode, (await get(b)).statusCode);
  t.notOk(codes.includes(429), `4 on each instance are within each one's own limit (${codes.join(",")})`);
  t.equal((await get(a)).statusCode, 429, "the 5th on one instance is over its own limit: limits still hold without Redis");
  t.equal((await get(b)).statusCode, 429, "and on the other");

  // Redis returns (empty): shared counts again.
  server = await startRedis(t, port);
  await until(async () => (await ready(a)).rateLimits === "shared" && (await ready(b)).rateLimits === "shared");
  t.equal((await ready(a)).rateLimits, "shared", "/readyz: shared again");
  const back: number[] = [];
  for (let i = 0; i < 2; i++) back.push((await get(a)).statusCode, (await get(b)).statusCode);
  t.notOk(back.includes(429), `counted in Redis again, from zero (${back.join(",")})`);
  t.equal((await get(a)).statusCode, 429, "the 5th across both instances is over the shared limit");
});

t.test("SIDIAN_REDIS_URL must be a redis URL", async (t) => {
  const { loadConfig } = await import("../../src/config.js");
  t.throws(() => loadConfig({ SIDIAN_MODE: "test", SIDIAN_REDIS_URL: "http://x" }, process.cwd()), { code: "CONFIG_INVALID", message: /SIDIAN_REDIS_URL/ });
});
