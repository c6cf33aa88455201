/**
 * `sidian import file.ndjson --department ID`: bulk import of existing (paper) licences through the same path as
 * POST /licences:batch: each line validated, signed, encrypted and logged; chunks of 500 per transaction; lines
 * with an `idempotencyKey` are never issued twice, so an interrupted import can simply be run again.
 */
import fs from "node:fs";
import readline from "node:readline";
import type { Context } from "../context.js";
import { parseNdjson } from "../http/routes/licences.js";
import type { BatchResult } from "../modules/licences/index.js";
import { progressBar } from "./progress.js";

export interface ImportSummary {
  lines: number;
  issued: number;
  replayed: number;
  failed: number;
  byCode: Record<string, number>;
  seconds: number;
}

async function countLines(file: string): Promise<number> {
  let n = 0;
  let last = 10;
  for await (const chunk of fs.createReadStream(file)) {
    const b = chunk as Buffer;
    for (let i = 0; i < b.length; i++) if (b[i] === 10) n++;
    if (b.length) last = b[b.length - 1]!;
  }
  return last === 10 ? n : n + 1;
}

export async function importFile(ctx: Context, opts: { file: string; departmentId: string; errors?: NodeJS.WritableStream; batchLines?: number; progress?: boolean }): Promise<ImportSummary> {
  await ctx.directory.getDepartment(opts.departmentId);
  const total = await countLines(opts.file);
  const bar = opts.progress === false ? null : progressBar("import", total);
  const ic = { actor: { kind: "system" as const, name: "cli-import" }, departmentId: opts.departmentId, idempotencyScope: `import:${opts.departmentId}` };
  const summary: ImportSummary = { lines: 0, issued: 0, replayed: 0, failed: 0, byCode: {}, seconds: 0 };
  const started = performance.now();
  const size = opts.batchLines ?? 5000;
  let buf: string[] = [];
  let firstLine = 1;
  let lineNo = 0;
  const flush = async () => {
    if (buf.length === 0) return;
    const { items, lineNumbers } = parseNdjson(buf.join("\n"));
    const base = firstLine - 1;
    const results: BatchResult[] = await ctx.licences.issueBatch(items, ic, (d) => bar?.set(base + (lineNumbers[d - 1] ?? d)));
    results.forEach((r, i) => {
      summary.lines++;
      if (r.ok) {
        if (r.replay) summary.replayed++;
        else summary.issued++;
      } else {
        summary.failed++;
        summary.byCode[r.code] = (summary.byCode[r.code] ?? 0) + 1;
        opts.errors?.write(JSON.stringify({ line: base + lineNumbers[i]!, code: r.code, message: r.message }) + "\n");
      }
    });
    bar?.set(base + buf.length);
    firstLine = lineNo + 1;
    buf = [];
  };
  const rl = readline.createInterface({ input: fs.createReadStream(opts.file, { encoding: "utf8" }), crlfDelay: Infinity });
  for await (const line of rl) {
    lineNo++;
    buf.push(line);
    if (buf.length >= size) await flush();
  }
  await flush();
  summary.seconds = (performance.now() - started) / 1000;
  bar?.done(`imported ${summary.issued}, replayed ${summary.replayed}, failed ${summary.failed} of ${summary.lines} lines in ${summary.seconds.toFixed(1)} s (${Math.round(summary.lines / Math.max(summary.seconds, 1e-9))}/s)`);
  return summary;
}
