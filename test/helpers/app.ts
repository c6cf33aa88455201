/**
 * Test helpers: a real service on a temp SQLite file with the committed dev keys, driven through app.inject.
 * SIDIAN_TEST_STORE=pg runs the same tests on PostgreSQL (SIDIAN_TEST_PG, default the local server), each
 * service on a schema of its own, dropped at teardown (.ci/run does this as a second pass when PostgreSQL answers).
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { Test } from "tap";
import { buildApp, type App } from "../../src/app.js";
import { loadConfig, type Config } from "../../src/config.js";
import { createContext, type Context } from "../../src/context.js";
import { mintHolderToken } from "../../src/modules/auth/index.js";
import { fixedClock, type Actor, type Role } from "../../src/modules/kernel.js";
import { appDeps } from "../../src/server.js";
import { pgSchema, TEST_PG } from "./pg.js";
import type { Sql } from "../../src/storage/sql.js";

/** The store the suite runs on: SQLite (default) or PostgreSQL (SIDIAN_TEST_STORE=pg). */
export const TEST_STORE: "sqlite" | "pg" = process.env.SIDIAN_TEST_STORE === "pg" ? "pg" : "sqlite";

/** SIDIAN_DB for a test: a temp SQLite file, or a fresh PostgreSQL schema (dropped when `t` ends) on the pg pass. */
export function testDb(t: Test, dir: string): string {
  if (TEST_STORE === "sqlite") return path.join(dir, "sidian.db");
  const u = new URL(TEST_PG);
  u.searchParams.set("schema", pgSchema(t, "st"));
  return u.toString();
}

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
export const ADMIN_ACTOR: Actor = { kind: "system", name: "test" };

export function tempDir(t: Test, prefix = "sidian-test-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function testConfig(t: Test, env: Record<string, string> = {}): Config {
  const dir = tempDir(t);
  return loadConfig({
    SIDIAN_MODE: "test",
    SIDIAN_DB: env.SIDIAN_DB ?? testDb(t, dir),
    SIDIAN_KEYS_DIR: path.join(ROOT, "keys-dev"),
    // Tests commit without fsync (fast); TEST_DB_SYNC=grouped|full runs a suite with the service's own modes.
    SIDIAN_DB_SYNC: process.env.TEST_DB_SYNC ?? "normal",
    ...env,
  }, ROOT);
}

export interface Harness {
  ctx: Context;
  app: App;
  clock: ReturnType<typeof fixedClock>;
  /** Portable SQL straight on the store (either store), outside the service: to inspect or tamper with rows. */
  sql: Sql;
  /** Creates a client and returns a bearer token for it (a consumer's matters must exist; the default M-0001 is created). */
  client(role: Role, opts?: { id?: string; departmentId?: string | null; matters?: string[]; scopes?: string[] }): Promise<{ id: string; secret: string; token: string }>;
  holderToken(code: string, opts?: { codeType?: string; ttlSeconds?: number }): Promise<string>;
  /** A department with a valid USCC made from a counter. */
  department(name?: string): Promise<{ id: string; uscc: string }>;
}

let usccCounter = 0;
export function makeUscc(n: number): string {
  // 18 chars: registry 9, type 1, region 350100, 9-char body, check
  const body = `91350100${String(n).padStart(9, "0")}`;
  const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  const w = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
  let s = 0;
  for (let i = 0; i < 17; i++) s += alphabet.indexOf(body[i]!) * w[i]!;
  const c = 31 - (s % 31);
  return body + alphabet[c === 31 ? 0 : c];
}

export async function build(t: Test, env: Record<string, string> = {}): Promise<Harness> {
  const config = testConfig(t, env);
  const clock = fixedClock(Date.now());
  const ctx = await createContext(config, { clock, autoCheckpoint: false });
  const app = await buildApp(appDeps(ctx, false));
  t.teardown(async () => {
    await app.close();
    await ctx.close();
  });
  const h: Harness = {
    ctx, app, clock, sql: ctx.store.sql,
    async client(role, opts = {}) {
      // A consumer needs a matter that exists: the default one is created on first use (no licence types).
      if (role === "consumer" && !opts.matters && !(await ctx.uow.read.matters.byCode("M-0001"))) {
        await ctx.catalogue.createMatter({ code: "M-0001", name: "测试事项", licenceTypes: [] }, ADMIN_ACTOR);
      }
      const { client, secret } = await ctx.directory.createClient({
        role, name: `${role} test client`,
        ...(opts.id ? { id: opts.id } : {}),
        departmentId: opts.departmentId ?? null,
        matters: opts.matters ?? (role === "consumer" ? ["M-0001"] : []),
        ...(opts.scopes ? { scopes: opts.scopes } : {}),
      }, ADMIN_ACTOR);
      const res = await app.inject({ method: "POST", url: "/oauth/token", payload: { grant_type: "client_credentials", client_id: client.id, client_secret: secret } });
      if (res.statusCode !== 200) throw new Error(`token for ${client.id}: ${res.statusCode} ${res.body}`);
      return { id: client.id, secret, token: res.json().access_token as string };
    },
    async holderToken(code, opts = {}) {
      const m = ctx.material;
      return mintHolderToken({ idpPrivateKey: m.idp.privateKey!, kid: m.idp.kid!, idpIssuer: config.idpIssuer, code, codeType: opts.codeType ?? "111", ttlSeconds: opts.ttlSeconds ?? 600, now: clock.now() });
    },
    async department(name = "测试市市场监督管理局") {
      const uscc = makeUscc(++usccCounter + Math.floor(Math.random() * 1e6) * 100);
      const d = await ctx.directory.createDepartment({ name, uscc, regionCode: "350100" }, ADMIN_ACTOR);
      return { id: d.id, uscc };
    },
  };
  return h;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A TCP port on 127.0.0.1 that was free a moment ago (for spawned servers). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}
