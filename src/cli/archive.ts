/**
 * `sidian archive build CASE [--out FILE.zip] [--retention permanent|30y|10y]`: archives a closed case (by id or case
 * number) as the system, as `POST /cases/{id}/archive` does, and writes its stored package (the zip) to FILE. A case
 * archived already is not built again: its stored package is written. The package is streamed to the file.
 */
import fs from "node:fs";
import { pipeline } from "node:stream/promises";
import type { Context } from "../context.js";
import { AppError } from "../errors.js";
import type { Actor } from "../modules/kernel.js";
import type { Retention } from "../modules/archives/index.js";

export async function archiveBuildCommand(ctx: Context, ref: string, opts: { out?: string; retention?: string }, actor: Actor): Promise<string> {
  if (opts.retention !== undefined && !["permanent", "30y", "10y"].includes(opts.retention)) throw new AppError("VALIDATION_FAILED", "--retention must be permanent, 30y or 10y.");
  let c = await ctx.uow.read.cases.byId(ref);
  if (!c) {
    // Case numbers are unique per owner: a number two owners use names no one case.
    const byNo = await ctx.uow.read.cases.withCaseNo(ref, 2);
    if (byNo.length > 1) throw new AppError("VALIDATION_FAILED", `Several cases have the number ${ref} (case numbers are unique per owner): name the case by its id.`, { details: { field: "case" } });
    c = byNo[0];
  }
  if (!c) throw new AppError("CASE_NOT_FOUND", `No case with id or number ${ref}.`);
  const existing = await ctx.uow.read.archives.byCase(c.id);
  const a = existing?.status === "stored" ? await ctx.archives.get(existing.id, actor)
    : await ctx.archives.archive(c.id, actor, opts.retention ? { retention: opts.retention as Retention } : {});
  const out = opts.out ?? `${a.bagName}.zip`;
  const p = await ctx.archives.packageStream(a.id, actor);
  await pipeline(p.stream, fs.createWriteStream(out, { flags: "wx" }));
  return `archive ${a.id} of case ${c.caseNo}: ${a.files} files, ${a.payloadOctets} payload bytes, package ${p.size} bytes, sha256 ${p.sha256}\nwritten to ${out}\n`;
}
