/**
 * What the log engine needs from storage. src/storage/repos/tlog.ts implements it over SQLite.
 *
 * Invariants an implementation MUST keep:
 * - leaves are contiguous from index 0 (`size()` = number of leaves = highest index + 1);
 * - rows are never updated or deleted (append-only); a node or leaf once written never changes;
 * - everything written through a repository bound to a write transaction becomes visible atomically at COMMIT.
 */
import type { NodeId } from "./merkle.js";

export interface LeafRecord {
  readonly index: number;
  readonly leafHash: Buffer;
  /** Canonical JSON of the event; the leaf bytes are its UTF-8 encoding. */
  readonly data: string;
  readonly type: string;
  /** SHA-256 of the event's subject string. */
  readonly subjectHash: Buffer;
  readonly createdAt: Date;
}

/** A complete subtree hash at level ≥ 1 (level 0 are the leaf hashes, kept with the leaves). */
export interface NodeRecord {
  readonly level: number;
  readonly index: number;
  readonly hash: Buffer;
}

export interface CheckpointRecord {
  readonly size: number;
  readonly root: Buffer;
  /** The signed note, exactly as published. */
  readonly note: string;
  readonly createdAt: Date;
}

export interface TlogRepo {
  size(): Promise<number>;
  insertLeaves(leaves: readonly LeafRecord[]): Promise<void>;
  insertNodes(nodes: readonly NodeRecord[]): Promise<void>;
  /** Hashes of perfect nodes in the order asked; level 0 = leaf hashes. MUST throw if one is missing. */
  getNodes(ids: readonly NodeId[]): Promise<Buffer[]>;
  getLeaf(index: number): Promise<LeafRecord | undefined>;
  /** Lowest index whose leaf hash is `leafHash`. */
  findByLeafHash(leafHash: Uint8Array): Promise<number | undefined>;
  latestCheckpoint(): Promise<CheckpointRecord | undefined>;
  getCheckpoint(size: number): Promise<CheckpointRecord | undefined>;
  /** The smallest checkpoint whose size is ≥ `size`. */
  checkpointAtLeast(size: number): Promise<CheckpointRecord | undefined>;
  /** false when a checkpoint for that size already exists (it is left unchanged). */
  insertCheckpoint(cp: CheckpointRecord): Promise<boolean>;
}

/**
 * Synchronous, streaming read access for the audit (a million rows through promises would dominate the run).
 * Implementations read committed data only.
 */
export interface TlogAuditSource {
  leafCount(): number;
  /** Leaves in ascending index order (gaps are reported by the audit, not hidden). */
  leaves(): Iterable<{ index: number; leafHash: Buffer; data: string }>;
  /** Stored nodes of one level with index ≥ from, ascending, at most `limit`. */
  nodesAt(level: number, from: number, limit: number): Array<{ index: number; hash: Buffer }>;
  nodeCount(): number;
  checkpoints(): CheckpointRecord[];
  getNodes(ids: readonly NodeId[]): Buffer[];
}
