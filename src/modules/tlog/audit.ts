/**
 * Full audit of a stored log: recompute the whole tree from the leaves and compare with everything stored.
 *
 * 1. every leaf: index contiguous from 0 (a gap = a deleted leaf), SHA-256(0x00 || data) = stored leaf hash
 *    (a changed leaf);
 * 2. every stored node: equal to the recomputed subtree hash, none missing, none extra (proofs read these);
 * 3. every stored checkpoint: signature by the log key, origin, body = row, root = recomputed root at its size;
 * 4. consecutive checkpoints: a consistency proof built from the stored nodes verifies between their *signed*
 *    roots (what a witness checks: no fork between two published states).
 *
 * One pass over the leaves; memory is O(log n) plus small read buffers.
 */
import { verifyCheckpoint, type NoteVerifier } from "./checkpoint.js";
import { consistencyProof, Frontier, leafHash as hashLeaf, verifyConsistency } from "./merkle.js";
import type { CheckpointRecord, TlogAuditSource } from "./ports.js";

export type AuditProblemKind =
  | "leaf-gap"
  | "leaf-hash"
  | "node-mismatch"
  | "node-missing"
  | "node-extra"
  | "checkpoint-signature"
  | "checkpoint-row"
  | "checkpoint-root"
  | "checkpoint-beyond-log"
  | "checkpoint-inconsistent";

export interface AuditProblem {
  kind: AuditProblemKind;
  detail: string;
}

export interface AuditReport {
  ok: boolean;
  leaves: number;
  nodes: number;
  checkpoints: number;
  consistencyChecks: number;
  /** base64 root of the recomputed tree. */
  root: string;
  problems: AuditProblem[];
  /** All problems found (the list keeps the first `maxProblems`). */
  problemCount: number;
  ms: number;
}

export interface AuditOptions {
  /** The log key, or the log's keys over time (current first, then the ones a rotation replaced). */
  verifier: NoteVerifier | readonly NoteVerifier[];
  origin?: string;
  onProgress?: (done: number, total: number) => void;
  maxProblems?: number;
}

const NODE_PAGE = 4096;

export async function auditLog(src: TlogAuditSource, opts: AuditOptions): Promise<AuditReport> {
  const t0 = performance.now();
  const maxProblems = opts.maxProblems ?? 50;
  const problems: AuditProblem[] = [];
  let problemCount = 0;
  const problem = (kind: AuditProblemKind, detail: string) => {
    problemCount++;
    if (problems.length < maxProblems) problems.push({ kind, detail });
  };

  const verifiers = Array.isArray(opts.verifier) ? (opts.verifier as readonly NoteVerifier[]) : [opts.verifier as NoteVerifier];
  const verifyWithAny = (note: string) => {
    let first: unknown;
    for (const v of verifiers) {
      try {
        return verifyCheckpoint(note, v, opts.origin !== undefined ? { origin: opts.origin } : {});
      } catch (e) {
        first ??= e;
      }
    }
    throw first;
  };
  const total = src.leafCount();
  const cps = src.checkpoints();
  /** Signed roots by checkpoint size, for the consistency pass (only checkpoints whose signature verified). */
  const signed: Array<{ size: number; root: Buffer }> = [];
  let cpPos = 0;
  const tree = Frontier.empty();

  /** Checks the checkpoints up to `size` leaves (the log's position; after a gap, ahead of the recomputed tree). */
  const checkCheckpointsAt = (size: number) => {
    while (cpPos < cps.length && cps[cpPos]!.size <= size) {
      const cp = cps[cpPos++]!;
      checkCheckpoint(cp, cp.size === size ? tree.root() : null);
    }
  };
  const checkCheckpoint = (cp: CheckpointRecord, recomputed: Buffer | null) => {
    let body;
    try {
      body = verifyWithAny(cp.note);
    } catch (e) {
      problem("checkpoint-signature", `checkpoint ${cp.size}: ${(e as Error).message}`);
      return;
    }
    signed.push({ size: body.size, root: body.root });
    if (body.size !== cp.size || !body.root.equals(cp.root)) problem("checkpoint-row", `checkpoint ${cp.size}: the stored row differs from the signed note`);
    if (!recomputed) problem("checkpoint-root", `checkpoint ${cp.size}: covers missing leaves`);
    else if (!body.root.equals(recomputed)) problem("checkpoint-root", `checkpoint ${cp.size}: signed root differs from the root recomputed from the leaves`);
  };

  // Per-level read buffers over the stored nodes, advanced in step with the recomputation.
  const bufs = new Map<number, { rows: Array<{ index: number; hash: Buffer }>; pos: number }>();
  let nodesChecked = 0;
  let compareNodes = true;
  const onNode = (level: number, index: number, hash: Buffer) => {
    if (!compareNodes) return;
    let b = bufs.get(level);
    if (!b || b.pos >= b.rows.length) {
      b = { rows: src.nodesAt(level, index, NODE_PAGE), pos: 0 };
      bufs.set(level, b);
    }
    const row = b.rows[b.pos];
    if (!row || row.index !== index) {
      problem("node-missing", `node (level ${level}, index ${index}) is missing`);
      if (row && row.index < index) b.pos++;
      return;
    }
    b.pos++;
    nodesChecked++;
    if (!row.hash.equals(hash)) problem("node-mismatch", `node (level ${level}, index ${index}) differs from the recomputed hash`);
  };

  checkCheckpointsAt(0);
  let expected = 0;
  for (const l of src.leaves()) {
    if (l.index !== expected) {
      problem("leaf-gap", `leaves ${expected}..${l.index - 1} are missing`);
      compareNodes = false; // positions are shifted from here on: node comparisons would only repeat the gap
      checkCheckpointsAt(l.index);
      expected = l.index;
    }
    const h = hashLeaf(Buffer.from(l.data, "utf8"));
    if (!h.equals(l.leafHash)) problem("leaf-hash", `leaf ${l.index}: content does not match its stored hash`);
    tree.append(h, onNode);
    expected++;
    checkCheckpointsAt(expected);
    if (opts.onProgress && (tree.size & 0x3fff) === 0) opts.onProgress(tree.size, total);
  }
  opts.onProgress?.(tree.size, total);
  for (; cpPos < cps.length; cpPos++) problem("checkpoint-beyond-log", `checkpoint ${cps[cpPos]!.size} is beyond the log's ${tree.size} leaves`);

  // Internal perfect nodes of a tree of n leaves: n − popcount(n).
  const nodeCount = src.nodeCount();
  let pop = 0;
  for (let n = tree.size; n > 0; n = Math.floor(n / 2)) pop += n % 2;
  if (compareNodes && nodeCount > tree.size - pop) problem("node-extra", `${nodeCount - (tree.size - pop)} stored nodes are not part of the tree`);

  // Consistency between consecutive signed checkpoints, from the stored nodes.
  let consistencyChecks = 0;
  const read = (ids: Parameters<TlogAuditSource["getNodes"]>[0]) => src.getNodes(ids);
  for (let i = 1; i < signed.length; i++) {
    const a = signed[i - 1]!;
    const b = signed[i]!;
    if (b.size > tree.size) break;
    consistencyChecks++;
    let ok = false;
    try {
      const proof = await consistencyProof(a.size, b.size, read);
      ok = verifyConsistency(a.size, b.size, proof, a.root, b.root);
    } catch (e) {
      problem("checkpoint-inconsistent", `checkpoints ${a.size} → ${b.size}: ${(e as Error).message}`);
      continue;
    }
    if (!ok) problem("checkpoint-inconsistent", `checkpoints ${a.size} → ${b.size} are not consistent`);
  }

  return {
    ok: problemCount === 0,
    leaves: tree.size,
    nodes: nodesChecked,
    checkpoints: cps.length,
    consistencyChecks,
    root: tree.root().toString("base64"),
    problems,
    problemCount,
    ms: performance.now() - t0,
  };
}
