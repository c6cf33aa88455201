/**
 * Key-store benchmark (issue 21 §1): signing through a PKCS#11 token (SoftHSM2, made fresh in a temp dir) against
 * the file key store, in the same run.
 *
 *   - raw signatures/s of one department key: file (node:crypto), token with one session, token with the session
 *     pool (4 sessions, signatures in flight at once);
 *   - bulk import (the in-process path of `sidian import`, chunks of 10,000) of BENCH_HSM_N licences (default
 *     20,000) with file keys (seal worker on: the default) and with every key on the token, alternated
 *     file, token, file, token on databases of their own. Goal: token ≥ 30% of the file-key rate.
 *
 * Where the time goes is printed beside the figures: the token's signature rate at the pool's concurrency bounds the
 * import (one ES256 signature per licence), the rest is the same work as with file keys (validation, AES-GCM, the
 * log, SQLite) on the main thread, which with file keys shares the signing with the seal worker's core.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { usccCheckChar, citizenIdCheckChar } from "../src/codes/index.js";
import { loadConfig } from "../src/config.js";
import { createContext, type Context } from "../src/context.js";
import type { Actor } from "../src/modules/kernel.js";
import type { IssueInput } from "../src/modules/licences/index.js";
import { keysInit } from "../src/pki/index.js";
import { tokenServiceKeyGenerator } from "../src/pki/pkcs11/keystore.js";
import { openToken } from "../src/pki/pkcs11/token.js";
import { parsePkcs11Uri } from "../src/pki/pkcs11/uri.js";
import { SOFTHSM_SKIP, softhsm } from "../test/helpers/softhsm.js";
import type { Report } from "./lib.js";

const N = Number(process.env.BENCH_HSM_N ?? 20_000);
const CHUNK = 10_000;
const SYSTEM: Actor = { kind: "system", name: "bench" };
const FILE_IMPORT = "bulk import, file keys (seal worker on)";
const FILE_SIGN = "ES256 signatures, file key (node:crypto)";

function uscc(n: number): string {
  const body = `91350100${String(n).padStart(9, "0")}`;
  return body + usccCheckChar(body);
}

function citizenId(n: number): string {
  const day = new Date(Date.UTC(1950, 0, 1) + Math.floor(n / 1000) * 86_400_000);
  const body = `350102${day.toISOString().slice(0, 10).replace(/-/g, "")}${String(n % 1000).padStart(3, "0")}`;
  return body + citizenIdCheckChar(body);
}

function licence(typeCode: string, n: number): IssueInput {
  return {
    typeCode, number: `JY${String(n).padStart(12, "0")}`,
    holder: { name: "张三丰", code: citizenId(n), codeType: "111" },
    fields: { scope: "预包装食品销售（含冷藏冷冻食品）", area: 35.5 },
    validFrom: "2024-01-01", validUntil: "2029-12-31",
  };
}

async function setUp(ctx: Context): Promise<{ departmentId: string; typeCode: string }> {
  const dept = await ctx.directory.createDepartment({ name: "福州市市场监督管理局", uscc: uscc(4242), regionCode: "350100" }, SYSTEM);
  const typeCode = uscc(7777) + "001";
  await ctx.catalogue.createType({
    code: typeCode, name: "食品经营许可证", holderKind: "person", holderCodeTypes: ["111"],
    fields: [{ name: "scope", label: "经营项目", type: "string", required: true, maxLength: 200 }, { name: "area", label: "经营面积", type: "number", minimum: 0 }],
    validityDays: 1825, issuers: [dept.id],
  }, SYSTEM);
  return { departmentId: dept.id, typeCode };
}

async function importRate(ctx: Context, w: { departmentId: string; typeCode: string }, from: number): Promise<number> {
  const ic = { actor: SYSTEM, departmentId: w.departmentId, idempotencyScope: "bench" };
  const t0 = performance.now();
  for (let start = 0; start < N; start += CHUNK) {
    const items = Array.from({ length: Math.min(CHUNK, N - start) }, (_, k) => licence(w.typeCode, from + start + k));
    const res = await ctx.licences.issueBatch(items, ic);
    const bad = res.find((r) => !r.ok);
    if (bad) throw new Error(`bulk import failed: ${JSON.stringify(bad)}`);
  }
  return N / ((performance.now() - t0) / 1000);
}

/** Signatures per second with `inflight` signatures in flight, for about `ms`. */
async function signRate(sign: () => Promise<unknown>, inflight: number, ms = 1500): Promise<number> {
  for (let i = 0; i < 50; i++) await sign();
  let n = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inflight }, async () => {
    while (performance.now() - t0 < ms) {
      await sign();
      n++;
    }
  }));
  return n / ((performance.now() - t0) / 1000);
}

export async function run(report: Report): Promise<void> {
  if (SOFTHSM_SKIP) {
    console.log(`  skipped: ${SOFTHSM_SKIP}`);
    return;
  }
  const cleanups: Array<() => void> = [];
  const hsm = softhsm({ teardown: (fn) => cleanups.push(fn) });
  const tokPool = hsm.token("bench-pool");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sidian-bench-hsm-"));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  try {
    // Key folders: file keys, and keys made on the pooled token.
    const fileKeys = path.join(dir, "keys-file");
    await keysInit({ dir: fileKeys, dev: true, publicUrl: "http://127.0.0.1:8080" });
    const tokenKeys = path.join(dir, "keys-token");
    {
      const t = await openToken({ uri: parsePkcs11Uri(tokPool.url).uri!, probeSeconds: 0 });
      await keysInit({ dir: tokenKeys, dev: true, publicUrl: "http://127.0.0.1:8080", serviceKeys: tokenServiceKeyGenerator(t) });
      await t.close();
    }
    const env = (name: string, keys: string, keystore?: string) => loadConfig({
      ...process.env, SIDIAN_MODE: "test", SIDIAN_DB: path.join(dir, `${name}.db`), SIDIAN_KEYS_DIR: keys, SIDIAN_LOG_LEVEL: "silent",
      SIDIAN_KEYSTORE: keystore ?? "file",
    });

    // ---- raw signatures ----
    const data = crypto.randomBytes(200);
    {
      const f = await createContext(env("raw-file", fileKeys), { autoCheckpoint: false, autoExpire: false });
      const d = await f.directory.createDepartment({ name: "测试局", uscc: uscc(1), regionCode: "350100" }, SYSTEM);
      const k = (await f.uow.read.keys.list({ departmentId: d.id }))[0]!;
      report.add({ name: FILE_SIGN, value: await signRate(() => f.pki.keyStore.sign(k.id, data, { encoding: "p1363" }), 1), unit: "sig/s" });
      await f.close();
    }
    const one = await createContext(env("raw-one", tokenKeys, tokPool.url.replace("pin-source", "x-sessions=1&pin-source")), { autoCheckpoint: false, autoExpire: false });
    const d1 = await one.directory.createDepartment({ name: "测试局", uscc: uscc(2), regionCode: "350100" }, SYSTEM);
    const k1 = (await one.uow.read.keys.list({ departmentId: d1.id }))[0]!;
    const oneRate = await signRate(() => one.pki.keyStore.sign(k1.id, data, { encoding: "p1363" }), 8);
    report.add({ name: "ES256 signatures, SoftHSM2, 1 session", value: oneRate, unit: "sig/s", baseline: FILE_SIGN, note: "8 in flight, queued on the one session" });
    await one.close();
    const pool = await createContext(env("raw-pool", tokenKeys, tokPool.url), { autoCheckpoint: false, autoExpire: false });
    const d2 = await pool.directory.createDepartment({ name: "测试局", uscc: uscc(3), regionCode: "350100" }, SYSTEM);
    const k2 = (await pool.uow.read.keys.list({ departmentId: d2.id }))[0]!;
    const poolRate = await signRate(() => pool.pki.keyStore.sign(k2.id, data, { encoding: "p1363" }), 8);
    report.add({ name: "ES256 signatures, SoftHSM2, pool of 4 sessions", value: poolRate, unit: "sig/s", baseline: FILE_SIGN, note: "8 in flight; C_Sign on libuv's thread pool" });
    const edKey = await pool.pki.keyStore.generate({ alg: "Ed25519", purpose: "bench", label: "bench" });
    report.add({ name: "Ed25519 signatures, SoftHSM2, pool of 4 sessions", value: await signRate(() => pool.pki.keyStore.sign(edKey.keyId, data), 8), unit: "sig/s", note: "the log key's algorithm (CKM_EDDSA)" });
    await pool.close();

    // ---- bulk import: file keys vs token keys, alternated ----
    const fileCtx = await createContext(env("import-file", fileKeys), { autoCheckpoint: false, autoExpire: false });
    const tokenCtx = await createContext(env("import-token", tokenKeys, tokPool.url), { autoCheckpoint: false, autoExpire: false });
    try {
      const wf = await setUp(fileCtx);
      const wt = await setUp(tokenCtx);
      const rates = { file: [] as number[], token: [] as number[] };
      let next = 0;
      for (let round = 0; round < 2; round++) {
        rates.file.push(await importRate(fileCtx, wf, next));
        rates.token.push(await importRate(tokenCtx, wt, next));
        next += N;
      }
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      report.add({ name: FILE_IMPORT, value: mean(rates.file), unit: "licences/s", note: `runs of ${N}: ${rates.file.map(Math.round).join(", ")}` });
      const tokenRate = mean(rates.token);
      report.add({
        name: "bulk import, every key on SoftHSM2 (pool of 4)", value: tokenRate, unit: "licences/s", baseline: FILE_IMPORT, goal: "≥ 30% of file keys",
        note: `runs of ${N}: ${rates.token.map(Math.round).join(", ")}; one token signature per licence, the token's ceiling at this concurrency ${Math.round(poolRate)} sig/s ` +
          `(${(1e6 / poolRate).toFixed(0)} µs each): the token is busy ~${((tokenRate / poolRate) * 100).toFixed(0)}% of the import's time`,
      });
    } finally {
      await fileCtx.close();
      await tokenCtx.close();
    }
  } finally {
    for (const fn of cleanups.reverse()) fn();
  }
}
