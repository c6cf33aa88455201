/**
 * RFC 6962 / RFC 9162 Merkle tree hashing and proofs. Pure: no storage, no I/O.
 *
 *   leaf hash  = SHA-256(0x00 || leaf)
 *   node hash  = SHA-256(0x01 || left || right)
 *   empty root = SHA-256("")
 *
 * Addressing (as in transparency-dev/merkle "compact ranges"): a *node* `{level, index}` is the root of the perfect
 * subtree over leaves [index·2^level, (index+1)·2^level). Level 0 nodes are leaf hashes. Only such perfect nodes
 * are ever stored: they never change once complete. Every other hash a proof needs (the right edge of a tree whose
 * size is not a power of two) is *ephemeral* and is folded from perfect nodes, so proof generation is a pure plan
 * (`inclusionPlan`, `consistencyPlan` → which nodes to read) followed by one batch read and a fold (`buildProof`).
 * That is at most O(log n) node reads per proof.
 *
 * Numbers are JavaScript numbers: exact up to 2^53, far beyond any tree this service will hold (checked).
 */
import { createHash } from "node:crypto";

export const HASH_SIZE = 32;
/** Trees larger than this are rejected: every index arithmetic below stays exact. */
export const MAX_TREE_SIZE = 2 ** 48;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

export function leafHash(leaf: Uint8Array): Buffer {
  return createHash("sha256").update(LEAF_PREFIX).update(leaf).digest();
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash("sha256").update(NODE_PREFIX).update(left).update(right).digest();
}

/** Root of the empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT: Buffer = createHash("sha256").digest();

export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/** Reads the hashes of perfect nodes, in the order asked. MUST throw if one is missing. */
export type NodeReader = (ids: readonly NodeId[]) => Promise<Uint8Array[]> | Uint8Array[];

// ---- integer helpers that stay exact above 2^32 ---------------------------------------------------------------

const TWO32 = 2 ** 32;

function checkSize(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_TREE_SIZE) throw new RangeError(`${what} out of range: ${n}`);
}

/** floor(log2(x)) for x ≥ 1. */
export function floorLog2(x: number): number {
  let l = Math.floor(Math.log2(x));
  if (2 ** l > x) l--;
  else if (2 ** (l + 1) <= x) l++;
  return l;
}

/** Number of trailing zero bits of x ≥ 1. */
function ctz(x: number): number {
  const lo = x % TWO32;
  if (lo !== 0) return 31 - Math.clz32(lo & -lo);
  return 32 + ctz(Math.floor(x / TWO32));
}

/** Largest power of two strictly smaller than n (n ≥ 2). */
function splitPoint(n: number): number {
  return 2 ** floorLog2(n - 1);
}

const half = (x: number): number => Math.floor(x / 2);
const odd = (x: number): boolean => x % 2 === 1;

// ---- ranges -------------------------------------------------------------------------------------------------

/**
 * The perfect nodes that exactly cover leaves [begin, end), left to right, largest first where alignment allows
 * (the "compact range" of the interval). For begin = 0 these are the peaks of the tree of size `end`.
 */
export function rangeNodes(begin: number, end: number): NodeId[] {
  checkSize(begin, "begin");
  checkSize(end, "end");
  if (begin > end) throw new RangeError(`empty range [${begin}, ${end})`);
  const out: NodeId[] = [];
  while (begin < end) {
    let level = floorLog2(end - begin);
    if (begin !== 0) level = Math.min(level, ctz(begin));
    out.push({ level, index: begin / 2 ** level });
    begin += 2 ** level;
  }
  return out;
}

/**
 * Folds the hashes of consecutive perfect nodes (as returned by `rangeNodes(begin, end)` where `begin` is aligned
 * to a power of two ≥ end − begin, which is always the case inside RFC 6962 proofs) into MTH(D[begin:end]).
 */
export function foldRight(hashes: readonly Uint8Array[]): Buffer {
  if (hashes.length === 0) throw new RangeError("nothing to fold");
  let acc: Buffer = Buffer.from(hashes[hashes.length - 1]!);
  for (let i = hashes.length - 2; i >= 0; i--) acc = nodeHash(hashes[i]!, acc);
  return acc;
}

// ---- proof plans ----------------------------------------------------------------------------------------------

/**
 * RFC 9162 §2.1.3.1 PATH(m, D[n]) as a plan: element i of the proof is the fold of the nodes in plan[i].
 * Proof order is bottom-up (the leaf's sibling first).
 */
export function inclusionPlan(index: number, size: number): NodeId[][] {
  checkSize(size, "tree size");
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
    throw new RangeError(`leaf index ${index} is not in a tree of size ${size}`);
  }
  const out: NodeId[][] = [];
  // Iterative form of the recursion: walk down from [0, size), remember siblings, then reverse (bottom-up).
  let begin = 0;
  let end = size;
  while (end - begin > 1) {
    const k = splitPoint(end - begin);
    if (index < begin + k) {
      out.push(rangeNodes(begin + k, end));
      end = begin + k;
    } else {
      out.push(rangeNodes(begin, begin + k));
      begin = begin + k;
    }
  }
  return out.reverse();
}

/**
 * RFC 9162 §2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true) as a plan. Empty for m = 0 or m = n.
 */
export function consistencyPlan(size1: number, size2: number): NodeId[][] {
  checkSize(size1, "first size");
  checkSize(size2, "second size");
  if (size1 > size2) throw new RangeError(`first size ${size1} exceeds second size ${size2}`);
  if (size1 === 0 || size1 === size2) return [];
  const out: NodeId[][] = [];
  let begin = 0;
  let end = size2;
  let m = size1; // relative to begin
  let b = true;
  for (;;) {
    const n = end - begin;
    if (m === n) {
      if (!b) out.push(rangeNodes(begin, end));
      break;
    }
    const k = splitPoint(n);
    if (m <= k) {
      out.push(rangeNodes(begin + k, end));
      end = begin + k;
    } else {
      out.push(rangeNodes(begin, begin + k));
      begin = begin + k;
      m -= k;
      b = false;
    }
  }
  return out.reverse();
}

/** Reads the nodes a plan needs in one batch and folds them into proof hashes. */
export async function buildProof(plan: readonly NodeId[][], read: NodeReader): Promise<Buffer[]> {
  const ids = plan.flat();
  if (ids.length === 0) return [];
  const hashes = await read(ids);
  if (hashes.length !== ids.length) throw new Error(`node reader returned ${hashes.length} of ${ids.length} nodes`);
  return foldPlan(plan, hashes);
}

/** Folds the nodes of a plan, read in `plan.flat()` order (extra hashes after them are ignored), into proof hashes. */
export function foldPlan(plan: readonly NodeId[][], hashes: readonly Uint8Array[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const group of plan) {
    if (at + group.length > hashes.length) throw new Error(`node reader returned ${hashes.length} nodes, fewer than the plan needs`);
    out.push(foldRight(hashes.slice(at, at + group.length)));
    at += group.length;
  }
  return out;
}

/** MTH(D[0:size]) from stored nodes: popcount(size) reads. */
export async function rootFromNodes(size: number, read: NodeReader): Promise<Buffer> {
  checkSize(size, "tree size");
  if (size === 0) return Buffer.from(EMPTY_ROOT);
  const ids = rangeNodes(0, size);
  return foldRight(await read(ids));
}

export async function inclusionProof(index: number, size: number, read: NodeReader): Promise<Buffer[]> {
  return buildProof(inclusionPlan(index, size), read);
}

export async function consistencyProof(size1: number, size2: number, read: NodeReader): Promise<Buffer[]> {
  return buildProof(consistencyPlan(size1, size2), read);
}

// ---- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) ------------------------------------------------------------

function eq(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function allHashes(proof: readonly Uint8Array[]): boolean {
  return proof.every((p) => p.length === HASH_SIZE);
}

/**
 * Root implied by an inclusion proof (RFC 9162 §2.1.3.2), or null when the proof has the wrong shape for
 * (index, size). Does not compare with any root.
 */
export function rootFromInclusionProof(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
): Buffer | null {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return null;
  if (leaf.length !== HASH_SIZE || !allHashes(proof)) return null;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of proof) {
    if (sn === 0) return null;
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? r : null;
}

export function verifyInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (root.length !== HASH_SIZE) return false;
  const got = rootFromInclusionProof(index, size, leaf, proof);
  return got !== null && eq(got, root);
}

/** RFC 9162 §2.1.4.2, extended like transparency-dev/merkle to the trivial cases size1 = 0 and size1 = size2. */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size2 < size1) return false;
  if (root1.length !== HASH_SIZE || root2.length !== HASH_SIZE || !allHashes(proof)) return false;
  if (size1 === size2) return proof.length === 0 && eq(root1, root2);
  if (size1 === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  const path = [...proof];
  // Step 1: if first is an exact power of two, prepend first_hash.
  if (2 ** floorLog2(size1) === size1) path.unshift(root1);
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr: Buffer = Buffer.from(path[0]!);
  let sr: Buffer = Buffer.from(path[0]!);
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && eq(fr, root1) && eq(sr, root2);
}

// ---- the right edge of a growing tree -------------------------------------------------------------------------

/**
 * The peaks ("frontier", compact range [0, size)) of an append-only tree: enough to append and to compute the
 * root without reading anything. `append` reports every perfect node it completes (level ≥ 1) so the caller can
 * persist it.
 */
export class Frontier {
  private constructor(
    private _size: number,
    private readonly peaks: Array<{ level: number; hash: Buffer }>,
  ) {}

  static empty(): Frontier {
    return new Frontier(0, []);
  }

  /** From the hashes of `rangeNodes(0, size)`, left to right. */
  static fromPeaks(size: number, hashes: readonly Uint8Array[]): Frontier {
    const ids = rangeNodes(0, size);
    if (ids.length !== hashes.length) throw new RangeError(`size ${size} has ${ids.length} peaks, got ${hashes.length}`);
    return new Frontier(size, ids.map((id, i) => ({ level: id.level, hash: Buffer.from(hashes[i]!) })));
  }

  get size(): number {
    return this._size;
  }

  clone(): Frontier {
    return new Frontier(this._size, this.peaks.slice());
  }

  append(leaf: Buffer, onNode?: (level: number, index: number, hash: Buffer) => void): number {
    const index = this._size;
    let level = 0;
    let hash = leaf;
    let pos = index; // index of the node at `level`
    while (this.peaks.length > 0 && this.peaks[this.peaks.length - 1]!.level === level) {
      const left = this.peaks.pop()!;
      hash = nodeHash(left.hash, hash);
      level++;
      pos = Math.floor(pos / 2);
      onNode?.(level, pos, hash);
    }
    this.peaks.push({ level, hash });
    this._size++;
    return index;
  }

  root(): Buffer {
    if (this._size === 0) return Buffer.from(EMPTY_ROOT);
    return foldRight(this.peaks.map((p) => p.hash));
  }
}
