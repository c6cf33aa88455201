/**
 * Reading the log: entries, checkpoints, inclusion and consistency proofs, and the evidence bundle that travels
 * with a verdict (publishing a checkpoint on demand when none covers the entry yet).
 */
import { AppError } from "../../errors.js";
import type { UnitOfWork } from "../kernel.js";
import { consistencyProof as buildConsistency, foldPlan, inclusionPlan, inclusionProof as buildInclusion, type NodeId } from "./merkle.js";
import { b64, entryOf, type CheckpointInfo, type ConsistencyProof, type InclusionProof, type KnownEvidence, type LogEntry, type LogEvidence } from "./model.js";
import type { CheckpointRecord, TlogRepo } from "./ports.js";

export interface ReadsDeps<R extends { tlog: TlogRepo }> {
  uow: UnitOfWork<R>;
  /** Publishes a checkpoint now unless the latest one covers the whole log (publish.ts). */
  publishNow: () => Promise<unknown>;
}

const info = (cp: CheckpointRecord): CheckpointInfo => ({ size: cp.size, root: b64(cp.root), note: cp.note, createdAt: cp.createdAt });

export function createReads<R extends { tlog: TlogRepo }>(deps: ReadsDeps<R>) {
  const { uow } = deps;

  async function latestCheckpoint(): Promise<CheckpointInfo> {
    const cp = await uow.read.tlog.latestCheckpoint();
    if (!cp) throw new AppError("LOG_CHECKPOINT_NOT_FOUND");
    return info(cp);
  }

  /** Publishes a checkpoint now (on demand) unless the latest one already covers the whole log; returns the latest. */
  async function checkpointNow(): Promise<CheckpointInfo> {
    await deps.publishNow();
    return latestCheckpoint();
  }

  async function checkpointAt(size: number): Promise<CheckpointInfo> {
    const cp = await uow.read.tlog.getCheckpoint(size);
    if (!cp) throw new AppError("LOG_CHECKPOINT_NOT_FOUND", "No checkpoint was published at that tree size.");
    return info(cp);
  }

  async function size(): Promise<number> {
    return uow.read.tlog.size();
  }

  async function getEntry(index: number): Promise<LogEntry> {
    if (!Number.isSafeInteger(index) || index < 0) throw new AppError("LOG_RANGE_INVALID");
    const r = await uow.read.tlog.getLeaf(index);
    if (!r) throw new AppError("LOG_ENTRY_NOT_FOUND");
    return entryOf(r);
  }

  const reader = (ids: readonly NodeId[]) => uow.read.tlog.getNodes(ids);

  async function resolveSize(treeSize: number | undefined): Promise<number> {
    const current = await uow.read.tlog.size();
    if (treeSize === undefined) return current;
    if (!Number.isSafeInteger(treeSize) || treeSize < 0 || treeSize > current) {
      throw new AppError("LOG_RANGE_INVALID", `The tree size must be between 0 and ${current}.`, { details: { treeSize: current } });
    }
    return treeSize;
  }

  /** Inclusion proof of the leaf at `index` (or with `leafHash`, base64) in the tree of `treeSize` (default: current). */
  async function inclusionProof(q: { index?: number; leafHash?: string; treeSize?: number }): Promise<InclusionProof> {
    let index = q.index;
    if (index === undefined) {
      if (q.leafHash === undefined) throw new AppError("LOG_RANGE_INVALID", "Give an index or a leaf hash.");
      const h = Buffer.from(q.leafHash, "base64");
      if (h.length !== 32) throw new AppError("LOG_RANGE_INVALID", "The leaf hash must be 32 bytes, base64.");
      index = await uow.read.tlog.findByLeafHash(h);
      if (index === undefined) throw new AppError("LOG_ENTRY_NOT_FOUND", "No log entry has that leaf hash.");
    }
    const treeSize = await resolveSize(q.treeSize);
    if (!Number.isSafeInteger(index) || index < 0 || index >= treeSize) {
      throw new AppError("LOG_RANGE_INVALID", "The index must be below the tree size.", { details: { treeSize } });
    }
    const [leaf] = await uow.read.tlog.getNodes([{ level: 0, index }]);
    const hashes = await buildInclusion(index, treeSize, reader);
    return { index, treeSize, leafHash: b64(leaf!), hashes: hashes.map(b64) };
  }

  async function consistencyProof(from: number, to: number): Promise<ConsistencyProof> {
    const t = await resolveSize(to);
    if (!Number.isSafeInteger(from) || from < 0 || from > t) {
      throw new AppError("LOG_RANGE_INVALID", "`from` must be between 0 and `to`.");
    }
    const hashes = await buildConsistency(from, t, reader);
    return { from, to: t, hashes: hashes.map(b64) };
  }

  /**
   * The evidence bundle for a verdict: inclusion of `index` in the smallest published checkpoint that covers it,
   * publishing one on demand if none does yet. MUST NOT be called inside `uow.write` (it may take the write lock).
   */
  async function evidence(index: number, opts: { includeLeaf?: boolean; known?: KnownEvidence } = {}): Promise<LogEvidence> {
    if (!Number.isSafeInteger(index) || index < 0) throw new AppError("LOG_RANGE_INVALID");
    // A checkpoint the caller read with the leaf (the smallest with size > index, see KnownEvidence) is used as is.
    let cp = opts.known?.checkpoint && opts.known.checkpoint.size > index ? opts.known.checkpoint : await uow.read.tlog.checkpointAtLeast(index + 1);
    if (!cp) {
      await deps.publishNow();
      cp = await uow.read.tlog.checkpointAtLeast(index + 1);
      if (!cp) throw new AppError("LOG_ENTRY_NOT_FOUND");
    }
    // The proof's nodes and the leaf hash (unless known) in one read. A stored checkpoint never exceeds the stored
    // tree (it is signed over committed leaves), so index < cp.size is the only range to check.
    const plan = inclusionPlan(index, cp.size);
    const known = opts.known?.leafHash;
    const ids = plan.flat();
    const read = await uow.read.tlog.getNodes(known ? ids : [...ids, { level: 0, index }]);
    const ev: LogEvidence = {
      logIndex: index,
      leafHash: b64(known ?? read[ids.length]!),
      treeSize: cp.size,
      rootHash: b64(cp.root),
      hashes: foldPlan(plan, read).map(b64),
      checkpoint: cp.note,
    };
    if (opts.includeLeaf) ev.leaf = (await getEntry(index)).leaf;
    return ev;
  }

  return { latestCheckpoint, checkpointNow, checkpointAt, size, getEntry, inclusionProof, consistencyProof, evidence };
}
