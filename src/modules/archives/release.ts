/**
 * Check-before-release (issue 19 §4, DA/T 70 at the archiving stage): a package is built and stored held
 * (`releasedAt` null: `GET /archives/{id}/package` answers ARCHIVE_NOT_RELEASED), then checked with 四性检测 at the
 * archiving stage; a run that passes releases it in the transaction that logs the run (`archive.checked`, then
 * `archive.released`: check/runs.ts). A package that fails stays held with its report; once the cause is fixed (a
 * virus scanner that did not answer, a revocation answer missing), `POST /archives/{id}/checks` with
 * `{stage: "archiving"}` checks it again and releases it when it passes.
 */
import type { Actor } from "../kernel.js";
import type { ArchiveChecks, CheckRun } from "./check/runs.js";
import type { ArchiveService, ArchiveView } from "./service.js";
import type { Retention } from "./metadata.js";

export interface Archived {
  archive: ArchiveView;
  /** The archiving-stage run (its log entry, its report, and whether it released the package). */
  check: CheckRun;
}

export async function archiveAndRelease(
  archives: Pick<ArchiveService, "archive" | "get">,
  checks: Pick<ArchiveChecks, "check">,
  caseId: string,
  actor: Actor,
  opts: { retention?: Retention } = {},
): Promise<Archived> {
  const built = await archives.archive(caseId, actor, opts);
  const check = await checks.check(built.id, actor, "archiving");
  return { archive: await archives.get(built.id, actor), check };
}
