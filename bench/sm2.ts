/**
 * The national profile against P-256 (issue 20 "Performance"), every ratio measured in one run on one core:
 *
 *   - SM2 sign / verify (src/crypto/sm2.ts: sm-crypto-v2 on @noble/curves, SM3 from node:crypto) against node:crypto
 *     ECDSA P-256 sign / verify (OpenSSL, assembly-optimised). Goal: ≥ 20% each.
 *     Verification is measured both for a key seen for the first time and for a key seen before (its precomputed
 *     table cached: the common case, a few CA and department keys verify almost everything).
 *
 *   - Bulk import of licences of an sm2 licence type (JWS GmSM2, the department's SM2 key) against a p256 type (JWS
 *     ES256) through LicenceService.issueBatch, signed + encrypted + logged, the two alternated in one context.
 *     Goal: ≥ 50%.
 *
 *   - An SM2 stamp (SM3/SM2 CMS, SM2 chain, SM2 time-stamp: SealService.stamp with a seal of the sm2 profile, stamp
 *     record and log entry included) on a 200-page PDF against pdf-lib + @signpdf's P-256 signature of the same
 *     file (invisible, no time-stamp, the key store signing). Goal: ≥ 5× faster.
 *
 * Figures are noisy: the machine's two cores are shared with other work while this runs.
 */
import crypto from "node:crypto";
import { citizenIdCheckChar } from "../src/codes/index.js";
import { makePdf } from "../fixtures/pdf/make-pdf.js";
import { sm2GenerateKey, sm2Sign, sm2Verify } from "../src/crypto/sm2.js";
import type { Context } from "../src/context.js";
import type { CryptoProfile } from "../src/modules/kernel.js";
import { latencies, opsPerSecond, type Report } from "./lib.js";
import { BENCH_ACTOR as ACTOR, signpdfStamper, withBenchContext } from "./stamping.js";

const BULK_N = Number(process.env.BENCH_SM2_BULK ?? 2000);
const CHUNK = 500;

async function stamps(ctx: Context, departmentId: string, r: Report): Promise<void> {
  const p256Seal = await ctx.seals.createSeal({ departmentId, type: "04" }, ACTOR);
  const sm2Seal = await ctx.seals.createSeal({ departmentId, type: "02", crypto: "sm2" }, ACTOR);
  const stack = await signpdfStamper(ctx, p256Seal);
  const pdf = makePdf({ pages: 200, lines: (i) => Array.from({ length: 40 }, (_, j) => `Page ${i + 1} line ${j + 1}: the department approves the application as filed.`) });
  const n = 20;
  // Warm-up (JIT, PDF worker start) so the order of the series does not decide the figures.
  for (let i = 0; i < 3; i++) {
    await stack(pdf);
    await ctx.seals.stamp(p256Seal.id, { pdf, placement: { page: 1, xMm: 150, yMm: 230 } }, ACTOR);
    await ctx.seals.stamp(sm2Seal.id, { pdf, placement: { page: 1, xMm: 150, yMm: 230 } }, ACTOR);
  }
  const base = await latencies(() => stack(pdf), n);
  r.add({ name: "pdf-lib + @signpdf P-256, 200 pages (median)", value: base.median, unit: "ms", note: `${(pdf.length / 1024).toFixed(0)} KiB input; invisible, no time-stamp` });
  const p256 = await latencies(async () => (await ctx.seals.stamp(p256Seal.id, { pdf, placement: { page: 1, xMm: 150, yMm: 230 } }, ACTOR)).pdf, n);
  r.add({ name: "P-256 stamp B-T visible seal, 200 pages (median)", value: p256.median, unit: "ms", note: "the same path with a P-256 seal, for comparison" });
  const ours = await latencies(async () => (await ctx.seals.stamp(sm2Seal.id, { pdf, placement: { page: 1, xMm: 150, yMm: 230 } }, ACTOR)).pdf, n);
  r.add({ name: "SM2 stamp B-T visible seal, 200 pages (median)", value: ours.median, unit: "ms", note: `p99 ${ours.p99.toFixed(1)} ms; SM3/SM2 CMS + SM2 time-stamp, stamp record and log entry` });
  console.log(`    → the SM2 stamp is ${(base.median / ours.median).toFixed(1)}× as fast as pdf-lib + @signpdf (goal ≥ 5×)`);
}

function citizenId(n: number): string {
  const body = `350102199001${String(1 + (Math.floor(n / 1000) % 28)).padStart(2, "0")}${String(n % 1000).padStart(3, "0")}`;
  return body + citizenIdCheckChar(body);
}

/** Bulk import of licences of a p256 and an sm2 type (one department holding a licence-signing key of each). */
async function bulk(ctx: Context, departmentId: string, r: Report): Promise<void> {
  await ctx.uow.write(async (repos, tx) => {
    const d = (await repos.departments.byId(departmentId))!;
    await ctx.issueCertificate(repos, tx, { department: d, profile: "licence-signing", crypto: "sm2" }, ACTOR);
  });
  const types: Record<CryptoProfile, string> = { p256: "91350100M000100Y43001", sm2: "91350100M000100Y43002" };
  for (const profile of ["p256", "sm2"] as const) {
    await ctx.catalogue.createType({
      code: types[profile], name: `食品经营许可证 (${profile})`, holderKind: "person", holderCodeTypes: ["111"],
      fields: [{ name: "scope", label: "经营项目", type: "string", required: true, maxLength: 100 }], validityDays: 365 * 5, issuers: [departmentId], profile,
    }, ACTOR);
  }
  const ic = { actor: ACTOR, departmentId, idempotencyScope: "bench" };
  let next = 0;
  const timed = async (profile: CryptoProfile, n: number) => {
    const t0 = performance.now();
    for (let start = 0; start < n; start += CHUNK) {
      const items = Array.from({ length: Math.min(CHUNK, n - start) }, () => {
        const i = next++;
        return { typeCode: types[profile], number: `JY${String(i).padStart(12, "0")}`, holder: { name: "张三丰", code: citizenId(i), codeType: "111" }, fields: { scope: "预包装食品销售" } };
      });
      const res = await ctx.licences.issueBatch(items, ic);
      const bad = res.find((x) => !x.ok);
      if (bad) throw new Error(`bulk import failed: ${JSON.stringify(bad)}`);
    }
    return n / ((performance.now() - t0) / 1000);
  };
  await timed("p256", CHUNK);
  await timed("sm2", CHUNK);
  const rates: Record<CryptoProfile, number[]> = { p256: [], sm2: [] };
  for (const p of ["p256", "sm2", "p256", "sm2"] as const) rates[p].push(await timed(p, BULK_N / 2));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  r.add({ name: "bulk import, p256 type (JWS ES256)", value: mean(rates.p256), unit: "licences/s", note: `runs of ${BULK_N / 2}: ${rates.p256.map(Math.round).join(", ")}; signed + encrypted + logged, seal worker ${ctx.config.sealWorker}` });
  r.add({ name: "bulk import, sm2 type (JWS GmSM2)", value: mean(rates.sm2), unit: "licences/s", baseline: "bulk import, p256 type (JWS ES256)", goal: "≥ 50%", note: `runs of ${BULK_N / 2}: ${rates.sm2.map(Math.round).join(", ")}; alternated p256, sm2, p256, sm2` });
}

export async function run(r: Report): Promise<void> {
  const msg = crypto.randomBytes(256);
  const p256 = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const p256Sig = crypto.sign("sha256", msg, { key: p256.privateKey, dsaEncoding: "der" });
  r.add({ name: "P-256 sign (node:crypto)", value: await opsPerSecond(() => crypto.sign("sha256", msg, { key: p256.privateKey, dsaEncoding: "der" })), unit: "ops/s" });
  r.add({ name: "P-256 verify (node:crypto)", value: await opsPerSecond(() => crypto.verify("sha256", msg, { key: p256.publicKey, dsaEncoding: "der" }, p256Sig)), unit: "ops/s" });

  const sm2 = sm2GenerateKey();
  const sm2Sig = sm2Sign(sm2, msg);
  r.add({ name: "SM2 sign (sm-crypto-v2)", value: await opsPerSecond(() => sm2Sign(sm2, msg)), unit: "ops/s", baseline: "P-256 sign (node:crypto)", goal: "≥ 20%" });
  r.add({ name: "SM2 verify, known key (sm-crypto-v2)", value: await opsPerSecond(() => sm2Verify(sm2.publicKey, msg, sm2Sig)), unit: "ops/s", baseline: "P-256 verify (node:crypto)", goal: "≥ 20%" });
  // Keys never seen before (each verified once): the path without a precomputed table.
  const fresh = Array.from({ length: 300 }, () => {
    const k = sm2GenerateKey();
    return { k, sig: sm2Sign(k, msg) };
  });
  const t0 = performance.now();
  for (const f of fresh) if (!sm2Verify(f.k.publicKey, msg, f.sig)) throw new Error("SM2 verify failed");
  r.add({ name: "SM2 verify, new key each time (sm-crypto-v2)", value: fresh.length / ((performance.now() - t0) / 1000), unit: "ops/s", baseline: "P-256 verify (node:crypto)" });
  // Per-core CPU time as well (the machine is shared: wall-clock rates move with the load, CPU time much less).
  const cpu = (f: () => unknown, n: number) => {
    const c = process.cpuUsage();
    for (let i = 0; i < n; i++) f();
    const d = process.cpuUsage(c);
    return 1e6 / ((d.user + d.system) / n);
  };
  const p256Cpu = { sign: cpu(() => crypto.sign("sha256", msg, { key: p256.privateKey, dsaEncoding: "der" }), 2000), verify: cpu(() => crypto.verify("sha256", msg, { key: p256.publicKey, dsaEncoding: "der" }, p256Sig), 2000) };
  const sm2Cpu = { sign: cpu(() => sm2Sign(sm2, msg), 300), verify: cpu(() => sm2Verify(sm2.publicKey, msg, sm2Sig), 300) };
  r.add({ name: "P-256 sign, per CPU second", value: p256Cpu.sign, unit: "ops/s" });
  r.add({ name: "SM2 sign, per CPU second", value: sm2Cpu.sign, unit: "ops/s", baseline: "P-256 sign, per CPU second", goal: "≥ 20%" });
  r.add({ name: "P-256 verify, per CPU second", value: p256Cpu.verify, unit: "ops/s" });
  r.add({ name: "SM2 verify known key, per CPU second", value: sm2Cpu.verify, unit: "ops/s", baseline: "P-256 verify, per CPU second", goal: "≥ 20%" });
  await withBenchContext("sm2", async (ctx, dept) => {
    await bulk(ctx, dept.id, r);
    if (process.env.BENCH_SM2_STAMPS !== "0") await stamps(ctx, dept.id, r);
  });
}
