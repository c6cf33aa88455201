/**
 * 四性检测 of stored packages (issue 19 §3–4): `POST /archives/:id/checks` and `sidian archive recheck` (and the
 * periodic re-check) run the checker over a stored package and record each run as an `archive.checked` log entry
 * (stage, result, the failed item ids, the tag manifest's and the report's SHA-256), appended and durable before
 * the report is answered (DESIGN rule 5). The package is streamed from storage into a private temporary file (the
 * zip reader needs random access; nothing is held in memory) that is removed afterwards.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { PdfWork } from "../../../pdf/pool.js";
import type { VerifyPdfDeps } from "../../../pdf/verify.js";
import { actorLabel, type Actor, type Clock, type Logger, type TxHooks, type UnitOfWork } from "../../kernel.js";
import { TLOG_EVENTS } from "../../tlog/events.js";
import type { ArchiveRepos } from "../ports.js";
import type { ArchiveService } from "../service.js";
import type { ClamdConfig } from "./clamd.js";
import type { Trust } from "./context.js";
import { checkPackage } from "./index.js";
import { CHECK_LIMITS } from "./limits.js";
import type { CheckReport, Stage } from "./report.js";
import { openZipSource } from "./zip-source.js";

export interface CheckRunLog<RR> {
  append(repos: RR, tx: TxHooks, event: { type: string; subject: string; actor: string; data: Record<string, unknown> }): Promise<{ index: number }>;
}

export interface ArchiveChecksDeps<RR extends ArchiveRepos> {
  uow: UnitOfWork<RR>;
  clock: Clock;
  log: CheckRunLog<RR>;
  archives: Pick<ArchiveService, "get" | "packageStream">;
  trust: Trust;
  pdf: PdfWork;
  pdfDeps: VerifyPdfDeps;
  pdfConcurrency: number;
  clamd: ClamdConfig | null;
  logger: Logger;
  agent: string;
}

export interface CheckRun {
  archiveId: string;
  logIndex: number;
  report: CheckReport;
}

const SYSTEM: Actor = { kind: "system", name: "archive-recheck" };

export function createArchiveChecks<RR extends ArchiveRepos>(deps: ArchiveChecksDeps<RR>) {
  /**
   * Runs in progress, by archive and stage: a caller who may see the archive and asks while one runs joins it (one
   * read and validation of the package, one `archive.checked` entry) instead of starting another.
   */
  const running = new Map<string, Promise<CheckRun>>();

  /** Checks one stored package (visible to `actor`) and logs the run; joins a run of the same archive and stage in progress. */
  async function check(id: string, actor: Actor, stage: Stage): Promise<CheckRun> {
    // Visibility is each caller's own: a caller who may not see the archive never learns a run exists.
    const a = await deps.archives.get(id, actor);
    const key = `${a.id}\u0000${stage}`;
    const joined = running.get(key);
    if (joined) return joined;
    const run = runOnce(a.id, a.bagName, actor, stage).finally(() => running.delete(key));
    running.set(key, run);
    return run;
  }

  async function runOnce(id: string, bagName: string, actor: Actor, stage: Stage): Promise<CheckRun> {
    const a = { id, bagName };
    const p = await deps.archives.packageStream(id, actor);
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "sidian-check-"));
    const file = path.join(dir, "package.zip");
    try {
      await pipeline(p.stream, fs.createWriteStream(file, { mode: 0o600 }));
      const src = await openZipSource(file, a.bagName, CHECK_LIMITS);
      let report: CheckReport;
      try {
        report = await checkPackage(src, {
          trust: deps.trust, pdf: deps.pdf, pdfDeps: deps.pdfDeps, pdfConcurrency: deps.pdfConcurrency, clamd: deps.clamd,
          stage, now: () => deps.clock.now(), agent: deps.agent,
        });
      } finally {
        await src.close();
      }
      const reportSha256 = crypto.createHash("sha256").update(JSON.stringify(report)).digest("hex");
      const { index } = await deps.uow.write((repos, tx) => deps.log.append(repos, tx, {
        type: TLOG_EVENTS.archiveChecked, subject: `archive:${a.id}`, actor: actorLabel(actor),
        data: {
          archiveId: a.id, stage, result: report.result, failed: report.items.filter((i) => i.result === "fail").map((i) => i.id),
          tagmanifestSha256: report.package.tagManifestSha256, packageSha256: p.sha256, reportSha256,
        },
      }));
      return { archiveId: a.id, logIndex: index, report };
    } finally {
      await fs.promises.rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Re-checks every stored package at the long-term preservation stage, oldest first, one at a time (the periodic
   * job and `sidian archive recheck`); a package that cannot be read is reported and the run goes on.
   */
  async function recheckAll(o: { limit?: number; onRun?: (r: CheckRun | { archiveId: string; error: string }) => void } = {}): Promise<{ checked: number; passed: number; failed: number; errors: number }> {
    const out = { checked: 0, passed: 0, failed: 0, errors: 0 };
    let after: string | undefined;
    for (;;) {
      const page = await deps.uow.read.archives.listStored({ limit: 100, ...(after ? { afterId: after } : {}) });
      if (page.length === 0) break;
      for (const a of page) {
        if (o.limit !== undefined && out.checked + out.errors >= o.limit) return out;
        try {
          const r = await check(a.id, SYSTEM, "preservation");
          out.checked++;
          if (r.report.result === "pass") out.passed++;
          else out.failed++;
          o.onRun?.(r);
        } catch (e) {
          out.errors++;
          deps.logger.error({ err: e, archiveId: a.id }, "archive re-check could not run");
          o.onRun?.({ archiveId: a.id, error: (e as Error).message });
        }
      }
      after = page[page.length - 1]!.id;
    }
    return out;
  }

  return { check, recheckAll, inProgress: () => running.size };
}

export type ArchiveChecks = ReturnType<typeof createArchiveChecks>;
