import fs from "node:fs";
import t from "tap";
import {
  consistencyPlan,
  consistencyProof,
  EMPTY_ROOT,
  floorLog2,
  Frontier,
  inclusionPlan,
  inclusionProof,
  leafHash,
  nodeHash,
  rangeNodes,
  rootFromInclusionProof,
  rootFromNodes,
  verifyConsistency,
  verifyInclusion,
  type NodeId,
} from "../../src/modules/tlog/merkle.js";
import { hex, unhex } from "./helpers.js";

const V = JSON.parse(fs.readFileSync(new URL("../../fixtures/tlog/rfc6962-vectors.json", import.meta.url), "utf8")) as {
  source: string;
  hasher: { emptyRoot: string; emptyLeafHash: string; leaf: { data: string; hash: string }; node: { left: string; right: string; hash: string } };
  leaves: string[];
  roots: string[];
  inclusion: Array<{ index: number; size: number; proof: string[] }>;
  consistency: Array<{ size1: number; size2: number; proof: string[] }>;
};

// ---- naive RFC 6962 §2.1 reference, straight from the definitions --------------------------------------------

function k(n: number): number {
  let p = 1;
  while (p * 2 < n) p *= 2;
  return p;
}
function mth(d: Buffer[]): Buffer {
  if (d.length === 0) return Buffer.from(EMPTY_ROOT);
  if (d.length === 1) return d[0]!;
  const s = k(d.length);
  return nodeHash(mth(d.slice(0, s)), mth(d.slice(s)));
}
function path(m: number, d: Buffer[]): Buffer[] {
  if (d.length <= 1) return [];
  const s = k(d.length);
  return m < s ? [...path(m, d.slice(0, s)), mth(d.slice(s))] : [...path(m - s, d.slice(s)), mth(d.slice(0, s))];
}
function subproof(m: number, d: Buffer[], b: boolean): Buffer[] {
  const n = d.length;
  if (m === n) return b ? [] : [mth(d)];
  const s = k(n);
  return m <= s ? [...subproof(m, d.slice(0, s), b), mth(d.slice(s))] : [...subproof(m - s, d.slice(s), false), mth(d.slice(0, s))];
}
function proof(m: number, d: Buffer[]): Buffer[] {
  return m === 0 || m === d.length ? [] : subproof(m, d, true);
}

/** In-memory node store: every perfect node of the tree over `hashes`. */
function memoryReader(hashes: Buffer[]) {
  return (ids: readonly NodeId[]) =>
    ids.map((id) => {
      const begin = id.index * 2 ** id.level;
      const end = begin + 2 ** id.level;
      if (end > hashes.length) throw new Error(`node (${id.level}, ${id.index}) is not complete`);
      return mth(hashes.slice(begin, end));
    });
}

const vectorLeaves = V.leaves.map((l) => leafHash(unhex(l)));

t.test("fixture cites its source", async (t) => {
  t.match(V.source, /transparency-dev\/merkle/);
});

t.test("RFC 6962 hasher known answers", async (t) => {
  t.equal(hex(EMPTY_ROOT), V.hasher.emptyRoot, "empty tree root");
  t.equal(hex(leafHash(Buffer.alloc(0))), V.hasher.emptyLeafHash, "hash of the empty leaf");
  t.not(hex(leafHash(Buffer.alloc(0))), hex(EMPTY_ROOT), "empty leaf ≠ empty tree");
  t.equal(hex(leafHash(Buffer.from(V.hasher.leaf.data))), V.hasher.leaf.hash, "leaf hash");
  t.equal(hex(nodeHash(Buffer.from(V.hasher.node.left), Buffer.from(V.hasher.node.right))), V.hasher.node.hash, "node hash");
});

t.test("roots of the 8-leaf reference tree, sizes 1..8 (naive, from stored nodes, and incremental)", async (t) => {
  const f = Frontier.empty();
  for (let n = 1; n <= 8; n++) {
    f.append(vectorLeaves[n - 1]!);
    t.equal(hex(mth(vectorLeaves.slice(0, n))), V.roots[n - 1], `naive root of size ${n}`);
    t.equal(hex(await rootFromNodes(n, memoryReader(vectorLeaves))), V.roots[n - 1], `root from nodes, size ${n}`);
    t.equal(hex(f.root()), V.roots[n - 1], `frontier root, size ${n}`);
  }
});

t.test("inclusion proofs: known answers, generation and verification", async (t) => {
  for (const v of V.inclusion) {
    const got = await inclusionProof(v.index, v.size, memoryReader(vectorLeaves));
    t.same(got.map(hex), v.proof, `generated proof for leaf ${v.index} in tree ${v.size}`);
    t.ok(verifyInclusion(v.index, v.size, vectorLeaves[v.index]!, v.proof.map(unhex), unhex(V.roots[v.size - 1]!)), `verifies ${v.index}/${v.size}`);
  }
});

t.test("consistency proofs: known answers, generation and verification", async (t) => {
  for (const v of V.consistency) {
    const got = await consistencyProof(v.size1, v.size2, memoryReader(vectorLeaves));
    t.same(got.map(hex), v.proof, `generated proof ${v.size1} → ${v.size2}`);
    t.ok(verifyConsistency(v.size1, v.size2, v.proof.map(unhex), unhex(V.roots[v.size1 - 1]!), unhex(V.roots[v.size2 - 1]!)), `verifies ${v.size1} → ${v.size2}`);
  }
});

t.test("corrupted inclusion proofs are rejected (probes after transparency-dev verify_test.go)", async (t) => {
  const some = unhex("abacaba000000000000000000000000000000000000000000060061e00123456");
  for (const v of V.inclusion.filter((x) => x.proof.length > 0)) {
    const p = v.proof.map(unhex);
    const root = unhex(V.roots[v.size - 1]!);
    const lh = vectorLeaves[v.index]!;
    const probes: Array<[string, number, number, Buffer, Buffer[], Buffer]> = [
      ["index - 1", v.index - 1, v.size, lh, p, root],
      ["index + 1", v.index + 1, v.size, lh, p, root],
      ["index ^ 2", v.index ^ 2, v.size, lh, p, root],
      ["size * 2", v.index, v.size * 2, lh, p, root],
      ["size / 2", v.index, Math.floor(v.size / 2), lh, p, root],
      ["wrong leaf", v.index, v.size, leafHash(Buffer.from("WrongLeaf")), p, root],
      ["empty root", v.index, v.size, lh, p, Buffer.from(EMPTY_ROOT)],
      ["random root", v.index, v.size, lh, p, some],
      ["trailing root", v.index, v.size, lh, [...p, root], root],
      ["preceding root", v.index, v.size, lh, [root, ...p], root],
      ["removed component", v.index, v.size, lh, p.slice(0, -1), root],
      ["trailing garbage", v.index, v.size, lh, [...p, Buffer.alloc(0)], root],
    ];
    if (p.length > 1) probes.push(["inserted component", v.index, v.size, lh, [p[0]!, some, ...p.slice(1)], root]);
    for (let i = 0; i < p.length; i++) {
      const q = p.map((x) => Buffer.from(x));
      q[i]![0]! ^= 8;
      probes.push([`modified proof[${i}]`, v.index, v.size, lh, q, root]);
    }
    for (const [desc, i, n, l, pr, r] of probes) t.notOk(verifyInclusion(i, n, l, pr, r), `${v.index}/${v.size}: ${desc} rejected`);
  }
});

t.test("corrupted consistency proofs are rejected", async (t) => {
  for (const v of V.consistency.filter((x) => x.proof.length > 0)) {
    const p = v.proof.map(unhex);
    const r1 = unhex(V.roots[v.size1 - 1]!);
    const r2 = unhex(V.roots[v.size2 - 1]!);
    const probes: Array<[string, number, number, Buffer[], Buffer, Buffer]> = [
      ["size1 - 1", v.size1 - 1, v.size2, p, r1, r2],
      ["size1 + 1", v.size1 + 1, v.size2, p, r1, r2],
      ["size1 ^ 2", v.size1 ^ 2, v.size2, p, r1, r2],
      ["size2 * 2", v.size1, v.size2 * 2, p, r1, r2],
      ["size2 / 2", v.size1, Math.floor(v.size2 / 2), p, r1, r2],
      ["swapped roots", v.size1, v.size2, p, r2, r1],
      ["empty proof", v.size1, v.size2, [], r1, r2],
      ["trailing root1", v.size1, v.size2, [...p, r1], r1, r2],
      ["preceding root2", v.size1, v.size2, [r2, ...p], r1, r2],
      ["preceding proof[0]", v.size1, v.size2, [p[0]!, ...p], r1, r2],
      ["truncated", v.size1, v.size2, p.slice(0, -1), r1, r2],
    ];
    for (let i = 0; i < p.length; i++) {
      const q = p.map((x) => Buffer.from(x));
      q[i]![0]! ^= 16;
      probes.push([`modified proof[${i}]`, v.size1, v.size2, q, r1, r2]);
    }
    for (const [desc, a, b, pr, x, y] of probes) t.notOk(verifyConsistency(a, b, pr, x, y), `${v.size1}→${v.size2}: ${desc} rejected`);
  }
  // Trivial cases, as in transparency-dev TestVerifyConsistency.
  const r = Buffer.from(EMPTY_ROOT);
  t.ok(verifyConsistency(0, 5, [], r, unhex(V.roots[4]!)), "size1 = 0 is consistent with anything (empty proof)");
  t.ok(verifyConsistency(3, 3, [], unhex(V.roots[2]!), unhex(V.roots[2]!)), "same size, same root");
  t.notOk(verifyConsistency(3, 3, [], unhex(V.roots[2]!), unhex(V.roots[3]!)), "same size, different roots");
  t.notOk(verifyConsistency(3, 3, [r], unhex(V.roots[2]!), unhex(V.roots[2]!)), "same size with a non-empty proof");
  t.notOk(verifyConsistency(4, 3, [], unhex(V.roots[3]!), unhex(V.roots[2]!)), "time travel");
});

t.test("every size 1..64: roots, all inclusion and consistency proofs match the naive recomputation", async (t) => {
  const leaves = Array.from({ length: 64 }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
  const read = memoryReader(leaves);
  const f = Frontier.empty();
  let proofs = 0;
  for (let n = 1; n <= 64; n++) {
    f.append(leaves[n - 1]!);
    const d = leaves.slice(0, n);
    const root = mth(d);
    const bad: string[] = [];
    if (!f.root().equals(root)) bad.push("frontier root");
    if (!(await rootFromNodes(n, read)).equals(root)) bad.push("root from nodes");
    for (let m = 0; m < n; m++) {
      const want = path(m, d);
      const got = await inclusionProof(m, n, read);
      if (got.map(hex).join() !== want.map(hex).join()) bad.push(`inclusion ${m}`);
      if (!verifyInclusion(m, n, d[m]!, got, root)) bad.push(`verify inclusion ${m}`);
      if (n > 1 && verifyInclusion(m, n, d[(m + 1) % n]!, got, root)) bad.push(`inclusion ${m} accepts another leaf`);
      if (!rootFromInclusionProof(m, n, d[m]!, got)?.equals(root)) bad.push(`root from inclusion ${m}`);
      proofs++;
    }
    for (let m = 0; m <= n; m++) {
      const want = proof(m, d);
      const got = await consistencyProof(m, n, read);
      if (got.map(hex).join() !== want.map(hex).join()) bad.push(`consistency ${m}`);
      if (!verifyConsistency(m, n, got, mth(d.slice(0, m)), root)) bad.push(`verify consistency ${m}`);
      if (m > 0 && m < n && verifyConsistency(m, n, got, mth(leaves.slice(1, m + 1)), root)) bad.push(`consistency ${m} accepts a forked root`);
      proofs++;
    }
    t.same(bad, [], `size ${n}`);
  }
  t.equal(proofs, 64 * 65 / 2 + (64 * 65) / 2 + 64, "checked every (index, size) and (size1, size2) pair");
});

t.test("plans read O(log n) nodes and stay exact beyond 2^32", async (t) => {
  const n = 1_000_000;
  for (const i of [0, 1, 499_999, 999_999]) {
    const reads = inclusionPlan(i, n).flat().length;
    t.ok(reads <= 2 * Math.ceil(Math.log2(n)), `inclusion ${i}/${n} reads ${reads} nodes`);
  }
  t.ok(consistencyPlan(123_457, n).flat().length <= 2 * Math.ceil(Math.log2(n)), "consistency reads O(log n)");
  const big = 2 ** 40 + 12345;
  const nodes = rangeNodes(0, big);
  t.same(nodes.map((x) => x.level), [40, 13, 12, 5, 4, 3, 0], "peaks of a 2^40+12345 tree");
  t.equal(nodes.reduce((s, x) => s + 2 ** x.level, 0), big, "peaks cover the tree exactly");
  t.equal(floorLog2(2 ** 50 - 1), 49, "floorLog2 is exact near powers of two");
  t.equal(floorLog2(2 ** 50), 50);
  t.equal(inclusionPlan(0, big).length, 41, "first leaf of a 2^40+12345 tree: 40 siblings + the right part");
  t.equal(inclusionPlan(big - 1, big).length, 6, "last leaf (a peak itself): the 6 other peaks");
  t.same(inclusionPlan(2 ** 40 + 5, big)[0], [{ level: 0, index: 2 ** 40 + 4 }], "sibling of a leaf above 2^40");
});
