/**
 * The newcomer's path (issue 14 §8): `sidian demo` beside a `--demo` server keeps the server's secrets and prints
 * its real URL; the deployment's public URL is kept with the database and a command with another one is refused;
 * a taken port is one line.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import t from "tap";
import { loadConfig } from "../../src/config.js";
import { createContext } from "../../src/context.js";
import { ADMIN_ACTOR, freePort, ROOT, tempDir } from "../helpers/app.js";

const MAIN = path.join(ROOT, "src/main.ts");

/** The environment of a fresh shell: no SIDIAN_* variables but the ones given. */
function shellEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("SIDIAN_")) env[k] = v;
  return { ...env, SIDIAN_MODE: "development", SIDIAN_LOG_LEVEL: "silent", SIDIAN_DB_SYNC: "normal", ...extra };
}

const secretOf = (out: string, id: string) => new RegExp(`client_id=${id}\\s+client_secret=(\\S+)`).exec(out)?.[1];

t.test("sidian demo beside a --demo server: the server's secrets keep working, the URLs name its port", async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, "sidian.db");
  const port = await freePort();
  const server = spawn(process.execPath, ["--import", "tsx", MAIN, "serve", "--demo"], { cwd: ROOT, env: shellEnv({ SIDIAN_DB: db, SIDIAN_PORT: String(port) }) });
  t.teardown(() => void server.kill("SIGKILL"));
  let out = "";
  server.stdout.on("data", (b: Buffer) => (out += b.toString()));
  server.stderr.on("data", (b: Buffer) => (out += b.toString()));
  const deadline = Date.now() + 90_000;
  while (!/service: \S+/.test(out) && Date.now() < deadline && server.exitCode === null) await new Promise((r) => setTimeout(r, 200));
  const base = `http://127.0.0.1:${port}`;
  t.match(out, `service: ${base}`, `the server prints its own URL: ${out.slice(0, 400)}`);
  const adminSecret = secretOf(out, "demo-admin");
  t.ok(adminSecret, "the server printed the admin secret");

  // The demo run from another shell, without the server's port in its environment.
  const demo = spawnSync(process.execPath, ["--import", "tsx", MAIN, "demo"], { cwd: ROOT, encoding: "utf8", env: shellEnv({ SIDIAN_DB: db }) });
  t.equal(demo.status, 0, demo.stderr);
  t.match(demo.stdout, `service: ${base}`, "the demo names the server's URL, not the default port");
  t.notMatch(demo.stdout, /127\.0\.0\.1:8080/, "no URL with another port");
  t.equal(secretOf(demo.stdout, "demo-admin"), adminSecret, "the same secret as the server printed: nothing rotated");
  t.notMatch(demo.stdout, /new secrets for/);

  const tok = await fetch(`${base}/oauth/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `grant_type=client_credentials&client_id=demo-admin&client_secret=${encodeURIComponent(adminSecret!)}` });
  t.equal(tok.status, 200, "the secret the server printed still gets a token after the demo ran");
  const secrets = path.join(dir, "sidian.db.demo-secrets.json");
  t.equal(fs.statSync(secrets).mode & 0o077, 0, "the demo secrets file is readable by its owner only");
});

t.test("the deployment's public URL is kept with the database; a command with another one is refused", async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, "sidian.db");
  const base = { SIDIAN_MODE: "test", SIDIAN_DB: db, SIDIAN_KEYS_DIR: path.join(ROOT, "keys-dev"), SIDIAN_DB_SYNC: "normal" };
  const first = await createContext(loadConfig({ ...base, SIDIAN_PORT: "9191" }, ROOT), { autoCheckpoint: false });
  t.equal(first.config.publicUrl, "http://127.0.0.1:9191");
  await first.close();

  // A command run from a shell that names no URL signs the deployment's: the department certificate's CRL URL.
  const cli = await createContext(loadConfig(base, ROOT), { autoCheckpoint: false, adoptPublicUrl: true });
  t.equal(cli.config.publicUrl, "http://127.0.0.1:9191", "the recorded URL, not the default :8080");
  const d = await cli.directory.createDepartment({ name: "测试局", uscc: "91350100M000100Y43", regionCode: "350100" }, ADMIN_ACTOR);
  const cert = (await cli.uow.read.certificates.listByDepartment(d.id))[0]!;
  t.ok(Buffer.from(cert.der).includes(Buffer.from("http://127.0.0.1:9191/pki/crl")), "the certificate names the deployment's CRL URL");
  t.notOk(Buffer.from(cert.der).includes(Buffer.from(":8080")));
  await cli.close();

  // Another URL, named explicitly, is refused — by a command and by the server.
  await t.rejects(createContext(loadConfig({ ...base, SIDIAN_PUBLIC_URL: "https://other.example" }, ROOT), { autoCheckpoint: false, adoptPublicUrl: true }),
    { code: "CONFIG_INVALID", message: /belongs to the deployment at http:\/\/127\.0\.0\.1:9191.*https:\/\/other\.example/ });
  await t.rejects(createContext(loadConfig(base, ROOT), { autoCheckpoint: false }), { code: "CONFIG_INVALID", message: /SIDIAN_PUBLIC_URL=http:\/\/127\.0\.0\.1:9191/ }, "the server never adopts: it is told");
  const imp = spawnSync(process.execPath, ["--import", "tsx", MAIN, "departments", "list"], { cwd: ROOT, encoding: "utf8", env: shellEnv({ ...base, SIDIAN_PORT: "9999" }) });
  t.equal(imp.status, 78, imp.stderr);
  t.equal(imp.stderr.trim().split("\n").length, 1, `one line: ${imp.stderr}`);
  t.match(imp.stderr, /^sidian: CONFIG_INVALID: The database .* belongs to the deployment at http:\/\/127\.0\.0\.1:9191/);
});

t.test("a taken port is one clear line, and nothing is written", async (t) => {
  const dir = tempDir(t);
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
  t.teardown(() => new Promise<void>((r) => blocker.close(() => r())));
  const port = (blocker.address() as net.AddressInfo).port;
  const r = spawnSync(process.execPath, ["--import", "tsx", MAIN, "serve"], { cwd: ROOT, encoding: "utf8", timeout: 60_000, env: shellEnv({ SIDIAN_DB: path.join(dir, "s.db"), SIDIAN_PORT: String(port) }) });
  t.equal(r.status, 78, "exit 78 (configuration)");
  const lines = r.stderr.trim().split("\n");
  t.equal(lines.length, 1, `one line: ${r.stderr}`);
  t.match(lines[0], new RegExp(`^sidian: CONFIG_INVALID: Port ${port} on 127\\.0\\.0\\.1 is already in use .*SIDIAN_PORT`));
  t.notMatch(r.stderr + r.stdout, /EADDRINUSE|at .*\(node:/, "no stack trace");
  t.notOk(fs.existsSync(path.join(dir, "s.db")), "the database was not created (the URL was not recorded with a port that was never served)");
});
