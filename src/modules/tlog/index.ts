/**
 * Transparency log (issue 3): an RFC 6962 / RFC 9162 Merkle tree log with C2SP signed checkpoints.
 *
 * ## Append contract
 *
 *     const { index, leafHash } = await uow.write(async (repos, tx) => {
 *       await repos.licences.insert(licence);
 *       return tlog.append(repos, tx, { type: "licence.issued", subject: `licence:${id}`, actor, data: { sha256 } });
 *     });
 *
 * - Callers MUST call `append` / `appendMany` only inside `uow.write`, with that transaction's own `repos` and
 *   `tx`, in the same transaction as the change the event records (DESIGN rule 5): the entry and the change
 *   commit together or not at all.
 * - The index is durable only when `uow.write` has resolved (COMMIT done). Callers MUST NOT hand the index, the
 *   leaf hash or anything derived from them to anyone outside the transaction before `write` resolves; if the
 *   transaction rolls back, the same index will be given to another entry.
 * - If `append` throws, the caller MUST let the transaction fail (rethrow). Committing after a failed append is
 *   detected and logged, and `sidian log audit` will flag the damage.
 * - `subject` MUST be an opaque id or a keyed hash; `data` MUST hold only hashes and non-personal facts; an event
 *   about a holder MUST carry the holder's keyed hash in `holder` so readers can be filtered (`redact`).
 * - Callers MUST NOT call `checkpoint`, `evidence` or `maybeCheckpoint` inside `uow.write` (they take the write
 *   lock themselves and would deadlock).
 * - Entries are never changed or deleted. Durability across power loss needs `SIDIAN_DB_SYNC=grouped` (the default) or `full`.
 *
 * ## Engine guarantees
 *
 * - Indexes are contiguous from 0, in commit order. Writers are serialised by the unit of work; within a
 *   transaction the engine extends a private copy of the tree's right edge (O(log n) hashes in memory) and
 *   publishes it only in `afterCommit`; a rollback drops the copy, so memory and database never disagree. At the
 *   start of every write transaction the engine checks the stored size and reloads the edge if it moved.
 * - Leaves, and every complete subtree hash, are stored; root, inclusion and consistency proofs for any size are
 *   O(log n) point reads.
 * - A checkpoint is published when `checkpointMaxEntries` entries wait, or `checkpointIntervalSeconds` after the
 *   previous one when any entry waits, and on demand (`checkpoint()`, `evidence()`). Signing happens outside the
 *   write transaction.
 */
export { createTlog, type Tlog } from "./service.js";
export {
  entryOf,
  isEntitled,
  leafFor,
  namesHolder,
  redact,
  type AppendResult,
  type CheckpointInfo,
  type ConsistencyProof,
  type InclusionProof,
  type KnownEvidence,
  type LeafEvent,
  type LogEntry,
  type LogEvidence,
  type RedactedEntry,
  type TlogDeps,
  type TlogEvent,
  type TlogSigner,
} from "./model.js";
export type { TlogRepo, TlogAuditSource, LeafRecord, NodeRecord, CheckpointRecord } from "./ports.js";
export {
  formatVkey,
  parseVkey,
  verifyCheckpoint,
  parseCheckpointText,
  NoteError,
  type NoteVerifier,
  type Checkpoint,
} from "./checkpoint.js";
export { verifyLogEvidence, verifyCheckpointConsistency, type LogCheck, type LogVerification, type VerifyEvidenceOptions } from "./verify.js";
export { auditLog, type AuditReport, type AuditProblem } from "./audit.js";
export { TLOG_EVENTS, type TlogEventType } from "./events.js";
