/**
 * Child process for upload-crash.test.ts: a real Sidian on the database named in argv (SQLite file or PostgreSQL
 * URL) with a matter, a material type and a consumer client; prints `READY <url> <token> <logSize>` and serves
 * until it is killed. TMPDIR (set by the parent) is where uploads are staged.
 */
import path from "node:path";
import { buildApp } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { createContext } from "../../src/context.js";
import { appDeps } from "../../src/server.js";

const [db, root] = process.argv.slice(2) as [string, string];
const config = loadConfig({ SIDIAN_MODE: "test", SIDIAN_DB: db, SIDIAN_KEYS_DIR: path.join(root, "keys-dev"), SIDIAN_DB_SYNC: "normal" }, root);
const ctx = await createContext(config, { autoCheckpoint: false });
const sys = { kind: "system" as const, name: "test" };
await ctx.catalogue.createMatter({ code: "M-K", name: "测试事项", licenceTypes: [] }, sys);
await ctx.materials.types.create({ code: "BIG", name: "大文件", matters: ["M-K"], mediaTypes: ["pdf"], maxBytes: 100 * 1024 * 1024 }, sys);
const { client, secret } = await ctx.directory.createClient({ role: "consumer", name: "crash test", matters: ["M-K"] }, sys);
const app = await buildApp(appDeps(ctx, false));
const res = await app.inject({ method: "POST", url: "/oauth/token", payload: { grant_type: "client_credentials", client_id: client.id, client_secret: secret } });
await app.listen({ host: "127.0.0.1", port: 0 });
const addr = app.server.address() as { port: number };
process.stdout.write(`READY http://127.0.0.1:${addr.port} ${res.json().access_token as string} ${await ctx.tlog.size()}\n`);
