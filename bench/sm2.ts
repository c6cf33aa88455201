/**
 * The national profile against P-256 (issue 20 "Performance"), every ratio measured in one run on one core:
 *
 *   - SM2 sign / verify (src/crypto/sm2.ts: sm-crypto-v2 on @noble/curves, SM3 from node:crypto) against node:crypto
 *     ECDSA P-256 sign / verify (OpenSSL, assembly-optimised). Goal: ≥ 20% each.
 *     Verification is measured both for a key seen for the first time and for a key seen before (its precomputed
 *     table cached: the common case, a few CA and department keys verify almost everything).
 *
 * Figures are noisy: the machine's two cores are shared with other work while this runs.
 */
import crypto from "node:crypto";
import { sm2GenerateKey, sm2Sign, sm2Verify } from "../src/crypto/sm2.js";
import { opsPerSecond, type Report } from "./lib.js";

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
}
