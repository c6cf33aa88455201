/**
 * E-signature benchmark (issue 17), server time in-process, alternated pairs on the same 10-page PDF:
 *  - a participant's cloud signature (SigningFlow.signOptions + signCloud: passkey check, PAdES B-T revision with
 *    the drawn mark, RFC 3161 token, log entry) against a seal stamp (SealService.stamp) of the same PDF.
 * Goal: signature ≤ 5× the stamp. Figures on the shared 2-core machine are noisy: medians of a short run.
 *
 *   npx tsx bench/signatures.ts   (or npm run bench -- signatures)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { makePdf } from "../fixtures/pdf/make-pdf.js";
import { loadConfig } from "../src/config.js";
import { createContext } from "../src/context.js";
import type { Actor } from "../src/modules/kernel.js";
import { SoftAuthenticator } from "../test/signatures/authenticator.js";
import { Report } from "./lib.js";

const SYSTEM = { kind: "system" as const, name: "bench" };
const MARK = { width: 300, height: 120, strokes: [[20, 80, 60, 40, 100, 90, 140, 30], [160, 60, 260, 60]] };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function citizenId(n: number): string {
  const body = `11010519800101${String(n % 1000).padStart(3, "0")}`;
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  let s = 0;
  for (let i = 0; i < 17; i++) s += Number(body[i]) * w[i]!;
  return body + "10X98765432"[s % 11];
}

export async function run(report: Report): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sidian-bench-sign-"));
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
  const origin = "http://localhost:8080";
  const config = loadConfig({ SIDIAN_MODE: "test", SIDIAN_DB: path.join(dir, "b.db"), SIDIAN_KEYS_DIR: path.join(root, "keys-dev"), SIDIAN_DB_SYNC: "normal", SIDIAN_PUBLIC_URL: origin }, root);
  const ctx = await createContext(config, { autoCheckpoint: false, autoExpire: false } as Parameters<typeof createContext>[1]);
  try {
    const d = await ctx.directory.createDepartment({ name: "福州市市场监督管理局", uscc: "91350100M000100Y43", regionCode: "350100" }, SYSTEM);
    const seal = await ctx.seals.createSeal({ departmentId: d.id, type: "01" }, SYSTEM);
    await ctx.catalogue.createMatter({ code: "M-0001", name: "测试事项", licenceTypes: [] }, SYSTEM);
    const consumer: Actor = { kind: "client", clientId: "bench-consumer", role: "consumer", departmentId: null, matters: ["M-0001"], scopes: [] };
    const code = citizenId(123);
    const holder: Actor = { kind: "holder", subjectHash: ctx.pii.lookupHash("111", code), codeType: "111", scopes: ["holder"], authTime: ctx.clock.now() };
    const auth = new SoftAuthenticator(origin, "localhost");
    const regOpts = await ctx.signing.registrationOptions(holder, "张三");
    await ctx.signing.register(holder, auth.register(regOpts as { challenge: string }) as never);
    const pdf = makePdf({ pages: 10, lines: (i) => [`Page ${i + 1}`, "I promise the facts are true.", "[[SIGN1]]"] });

    async function request(): Promise<string> {
      const v = await ctx.signatures.create({
        title: "告知承诺书", matterCode: "M-0001", expiresAt: new Date(ctx.clock.now().getTime() + 86_400_000),
        groups: [[{ name: "张三", holderCode: code, holderCodeType: "111", role: "signer", placement: { page: 1, xMm: 120, yMm: 200, widthMm: 40, heightMm: 20 } }]],
      }, consumer);
      await ctx.signatures.putDocument(v.request.id, pdf, consumer);
      await ctx.signatures.send(v.request.id, consumer);
      return v.request.id;
    }

    const sign: number[] = [];
    const stamp: number[] = [];
    const N = Number(process.env.BENCH_SIGN_N ?? 9);
    // One warm-up of each, then alternated pairs.
    for (let i = -1; i < N; i++) {
      const id = await request();
      let t0 = performance.now();
      const o = await ctx.signing.signOptions(id, holder);
      await ctx.signing.signCloud(id, holder, { assertion: auth.assert(o.options as { challenge: string }) as never, mark: MARK });
      const s = performance.now() - t0;
      t0 = performance.now();
      await ctx.seals.stamp(seal.id, { pdf, placement: { page: 1, xMm: 100, yMm: 100 } }, SYSTEM);
      const st = performance.now() - t0;
      if (i >= 0) {
        sign.push(s);
        stamp.push(st);
      }
    }
    report.add({ name: "seal stamp, 10-page PDF (median)", value: median(stamp), unit: "ms" });
    report.add({ name: "cloud signature, 10-page PDF (median)", value: median(sign), unit: "ms", baseline: "seal stamp, 10-page PDF (median)", goal: "≤ 5× the stamp" });
  } finally {
    await ctx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  void run(new Report("signatures"));
}
