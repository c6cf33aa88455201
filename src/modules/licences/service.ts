/**
 * E-licences (电子证照): the licence service, composed of one use case per file —
 *   issue.ts          single issuance (validate, number, sign, store with its log entry; group commit)
 *   issue-batch.ts    bulk issuance (POST /licences:batch, `sidian import`): the same steps, pipelined
 *   lifecycle.ts      status transitions, change (new version), automatic expiry, numbering old licences
 *   issuer-reads.ts   an issuer's reads: one licence, its history, the list, search by number or holder code
 *   holder-access.ts  a holder's licences: the 免证办 answer and the holder's own list
 *   status-lists.ts   online status and signed status lists
 *   verify.ts         verification (apart: createVerifier)
 * over core.ts (dependencies, departments, number reservation, reading a stored licence) and read-model.ts (the one
 * place anything about licences is kept in memory: one freshness rule, one invalidation path, a memory bound).
 */
import { createLicenceCore } from "./core.js";
import { createHolderAccess } from "./holder-access.js";
import { createIssuance } from "./issue.js";
import { createBatchIssuance } from "./issue-batch.js";
import { createIssuerReads } from "./issuer-reads.js";
import { createLifecycle } from "./lifecycle.js";
import type { LicencesDeps } from "./model.js";
import type { LicenceRepos } from "./ports.js";
import { createStatusLists } from "./status-lists.js";

export * from "./model.js";
export { answerBody, type AnswerItem } from "./holder-access.js";
export type { LicenceChange } from "./read-model.js";

export function createLicenceService<R extends LicenceRepos>(deps: LicencesDeps<R>) {
  const core = createLicenceCore(deps);
  const issuance = createIssuance(core);
  const { issueBatch } = createBatchIssuance(core, issuance);
  const lifecycle = createLifecycle(core, issuance);
  const reads = createIssuerReads(core);
  const holders = createHolderAccess(core);
  const status = createStatusLists(core);
  return {
    issue: issuance.issue,
    issueBatch,
    transition: lifecycle.transition,
    change: lifecycle.change,
    expireDue: lifecycle.expireDue,
    numberStoredLicences: lifecycle.numberStoredLicences,
    get: reads.get,
    history: reads.history,
    list: reads.list,
    find: reads.find,
    forHolder: holders.forHolder,
    answersForHolder: holders.answersForHolder,
    status: status.status,
    statusList: status.statusList,
    record: core.record,
    currentRecord: core.currentRecord,
    currentRecordWithLog: core.currentRecordWithLog,
    view: core.view,
    openPayload: core.openPayload,
    jwsOf: core.jwsOf,
    department: core.department,
  };
}

export type LicenceService = ReturnType<typeof createLicenceService>;
