/**
 * Licence documents benchmark (issue 6): render a licence as an A4 PDF (CJK TrueType subset, vector QR) and seal
 * it with the department's official seal (PAdES B-T, incremental, stamp record + log entry), as
 * DocumentService does on a cache miss. Also: the render alone, and a cache hit (stored bytes).
 * Goal: render + seal ≤ 60 ms median.
 *
 *   npx tsx bench/run.ts documents
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../src/config.js";
import { createContext } from "../src/context.js";
import { renderLicenceSheet } from "../src/pdf/licence.js";
import { latencies, Report } from "./lib.js";

const ACTOR = { kind: "system" as const, name: "bench" };

export async function run(report: Report): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sidian-bench-docs-"));
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
  const config = loadConfig({ SIDIAN_MODE: "test", SIDIAN_DB: path.join(dir, "b.db"), SIDIAN_KEYS_DIR: path.join(root, "keys-dev"), SIDIAN_DB_SYNC: "normal" }, root);
  const ctx = await createContext(config, { autoCheckpoint: false, autoExpire: false });
  try {
    const d = await ctx.directory.createDepartment({ name: "福州市市场监督管理局", uscc: "91350100M000100Y43", regionCode: "350100" }, ACTOR);
    await ctx.seals.createSeal({ departmentId: d.id, type: "01" }, ACTOR);
    const typeCode = "11100000MB03271699001";
    await ctx.catalogue.createType({
      code: typeCode, name: "食品经营许可证", holderKind: "organisation", holderCodeTypes: ["001"],
      fields: [
        { name: "legalRep", label: "法定代表人", type: "string", required: true, maxLength: 50 },
        { name: "address", label: "经营场所", type: "string", maxLength: 200 },
        { name: "scope", label: "经营项目", type: "string", maxLength: 200 },
      ],
      validityDays: 365 * 5, issuers: [d.id],
    }, ACTOR);
    const ic = { actor: ACTOR, departmentId: d.id, idempotencyScope: "bench" };
    const n = 120;
    const ids: string[] = [];
    for (let i = 0; i < n + 20; i++) {
      const r = await ctx.licences.issue({
        typeCode, number: `JY13501020${String(i).padStart(5, "0")}`, holder: { name: `福州市鼓楼区某某食品商行${i}`, code: "91350100M000100Y43", codeType: "001" },
        fields: { legalRep: "张三丰", address: "福建省福州市鼓楼区五四路100号", scope: "预包装食品销售（含冷藏冷冻食品），散装食品销售" },
      }, ic);
      ids.push(r.licence.identifier);
    }
    const views = await Promise.all(ids.map(async (id) => ctx.licences.view(await ctx.licences.record(id))));
    // Warm-up (font parse, JIT) on the first 20 licences.
    for (let i = 0; i < 20; i++) await ctx.documents.licenceDocument(ids[i]!, ACTOR);

    const sheetOf = (i: number) => ({
      title: views[i]!.data.name, rows: [{ label: "持证主体", value: views[i]!.data.holder.name }], issuer: "福州市市场监督管理局", issueDate: "2026年1月1日",
      identifier: ids[i]!, qr: { size: 21, modules: new Uint8Array(441), text: "x" }, createdAt: new Date(),
    });
    const render = await latencies((i) => renderLicenceSheet(sheetOf(i)), 100);
    report.add({ name: "render licence PDF only, minimal sheet (median)", value: render.median, unit: "ms", note: `p99 ${render.p99.toFixed(2)} ms` });

    const full = await latencies((i) => ctx.documents.licenceDocument(ids[20 + i]!, ACTOR), n);
    report.add({
      name: "licence PDF: render + seal B-T + store (median)", value: full.median, unit: "ms", goal: "≤ 60 ms",
      note: `p99 ${full.p99.toFixed(2)} ms; one A4 page, CJK subset, vector QR, official seal, stamp record + log entry + document row in one transaction (SQLite NORMAL)`,
    });
    const hit = await latencies((i) => ctx.documents.licenceDocument(ids[20 + (i % n)]!, ACTOR), 500);
    report.add({ name: "licence PDF: stored (second request) (median)", value: hit.median, unit: "ms", note: `p99 ${hit.p99.toFixed(3)} ms` });
  } finally {
    await ctx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
