/**
 * `sidian import file.ndjson --department ID`: bulk import of existing (paper) licences through the same path as
 * POST /licences:batch: each line validated, signed, encrypted and logged; chunks of 500 per transaction.
 *
 * Running an import again issues nothing twice: a line without an `idempotencyKey` is keyed by its type and licence
 * number (证照编号, unique per type and issuer), so the same line is replayed, and another line with the same
 * type and number fails with IDEMPOTENCY_CONFLICT (give each an explicit key if both are meant).
 * A failure that is not the line's fault (INTERNAL: a locked or failing database, say) stops the import after
 * the batch it happened in, since every later line would fail the same way; its cause goes to the log on stderr.
 */
import fs from "node:fs";
import readline from "node:readline";
import type { Context } from "../context.js";
import { AppError } from "../errors.js";
import { parseNdjson } from "../http/routes/licences.js";
import type { BatchResult, IssueInput } from "../modules/licences/index.js";
import { progressBar } from "./progress.js";

export interface ImportSummary {
  lines: number;
  issued: number;
  replayed: number;
  failed: number;
  byCode: Record<string, number>;
  seconds: number;
  /** Set when the import stopped before the end of the file (an INTERNAL failure); the lines after it were not read. */
  stopped?: string;
}

/** Lines as readline splits them: at LF, CRLF or a lone CR. */
async function countLines(file: string): Promise<number> {
  let n = 0;
  let last = 10;
  let cr = false;
  for await (const chunk of fs.createReadStream(file)) {
    const b = chunk as Buffer;
    for (let i = 0; i < b.length; i++) {
      const c = b[i]!;
      if (c === 10 && !cr) n++;
      else if (c === 13) n++;
      cr = c === 13;
    }
    if (b.length) last = b[b.length - 1]!;
  }
  return last === 10 || last === 13 ? n : n + 1;
}

/** The key of a line without one: its type and licence number (see the file comment). */
function implicitKey(item: IssueInput): string {
  return `number:${item.typeCode}:${item.number}`;
}

export async function importFile(ctx: Context, opts: { file: string; departmentId: string; errors?: NodeJS.WritableStream | (() => Promise<NodeJS.WritableStream>); batchLines?: number; progress?: boolean }): Promise<ImportSummary> {
  await ctx.directory.getDepartment(opts.departmentId);
  try {
    if (!fs.statSync(opts.file).isFile()) throw new Error("not a file");
  } catch (e) {
    throw new AppError("VALIDATION_FAILED", `Cannot read ${opts.file}: ${(e as Error).message}`, { cause: e });
  }
  const total = await countLines(opts.file);
  // Opened only now that the department and the file are known good: a failed start leaves an earlier run's list.
  const errors = typeof opts.errors === "function" ? await opts.errors() : opts.errors;
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
    const implicit = items.map((it) => !("error" in it) && it.idempotencyKey === undefined);
    const keyed = items.map((it, i) => (implicit[i] ? { ...(it as IssueInput), idempotencyKey: implicitKey(it as IssueInput) } : it));
    const base = firstLine - 1;
    const results: BatchResult[] = await ctx.licences.issueBatch(keyed, ic, (d) => bar?.set(base + (lineNumbers[d - 1] ?? d)));
    results.forEach((r, i) => {
      summary.lines++;
      if (r.ok) {
        if (r.replay) summary.replayed++;
        else summary.issued++;
      } else {
        summary.failed++;
        summary.byCode[r.code] = (summary.byCode[r.code] ?? 0) + 1;
        const message = r.code === "IDEMPOTENCY_CONFLICT" && implicit[i]
          ? "A different line with this licence type and number was imported before (give each line its own idempotencyKey if both are meant)."
          : r.message;
        errors?.write(JSON.stringify({ line: base + lineNumbers[i]!, code: r.code, message }) + "\n");
        if (r.code === "INTERNAL") summary.stopped ??= `an internal failure at line ${base + lineNumbers[i]!} (the cause is in the log); the lines after this batch were not read`;
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
    if (summary.stopped) break;
  }
  if (!summary.stopped) await flush();
  rl.close();
  summary.seconds = (performance.now() - started) / 1000;
  bar?.done(`imported ${summary.issued}, replayed ${summary.replayed}, failed ${summary.failed} of ${summary.lines} lines in ${summary.seconds.toFixed(1)} s (${Math.round(summary.lines / Math.max(summary.seconds, 1e-9))}/s)${summary.stopped ? `; stopped: ${summary.stopped}` : ""}`);
  return summary;
}
