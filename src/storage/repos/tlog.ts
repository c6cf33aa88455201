/**
 * Transparency log repository (port: src/modules/tlog/ports.ts). Hot paths use raw better-sqlite3 prepared
 * statements (one `run` per row inside the caller's transaction); the schema lives in ../schema/tlog.ts.
 */
import type BetterSqlite3 from "better-sqlite3";
import { desc, eq, gte, asc } from "drizzle-orm";
import type { Drizzle } from "../db.js";
import { tlogCheckpoints } from "../schema/tlog.js";
import type { CheckpointRecord, LeafRecord, NodeRecord, TlogAuditSource, TlogRepo } from "../../modules/tlog/ports.js";
import type { NodeId } from "../../modules/tlog/merkle.js";

/** Node key: level-major so that one level is one contiguous key range. Exact for level ≤ 63, index < 2^47. */
export const LEVEL_STRIDE = 2 ** 47;
export function nodeKey(level: number, index: number): number {
  return level * LEVEL_STRIDE + index;
}

type Stmt = BetterSqlite3.Statement;

const CHUNK = 64;

function pushLeaf(args: unknown[], l: LeafRecord): void {
  args.push(l.index, l.leafHash, l.data, l.type, l.subjectHash, l.createdAt.getTime(), leafKey(l.leafHash));
}

/** Lookup key of a leaf hash: its first 6 bytes as a (safe) integer. */
export function leafKey(leafHash: Buffer): number {
  return leafHash.readUIntBE(0, 6);
}

function lazy(raw: BetterSqlite3.Database, sql: string, pluck = false): () => Stmt {
  let s: Stmt | undefined;
  return () => {
    if (!s) {
      s = raw.prepare(sql);
      if (pluck) s.pluck();
    }
    return s;
  };
}

function toCheckpoint(r: typeof tlogCheckpoints.$inferSelect): CheckpointRecord {
  return { size: r.size, root: Buffer.from(r.root), note: r.note, createdAt: r.createdAt };
}

export function createTlogRepo(db: Drizzle, raw: BetterSqlite3.Database): TlogRepo {
  const lastIdx = lazy(raw, "SELECT idx FROM tlog_leaves ORDER BY idx DESC LIMIT 1", true);
  const insLeaf = lazy(raw, "INSERT INTO tlog_leaves (idx, leaf_hash, data, type, subject_hash, created_at, leaf_key) VALUES (?, ?, ?, ?, ?, ?, ?)");
  const insNode = lazy(raw, "INSERT INTO tlog_nodes (id, hash) VALUES (?, ?)");
  const insLeafChunk = lazy(raw, `INSERT INTO tlog_leaves (idx, leaf_hash, data, type, subject_hash, created_at, leaf_key) VALUES ${Array(CHUNK).fill("(?, ?, ?, ?, ?, ?, ?)").join(", ")}`);
  const insNodeChunk = lazy(raw, `INSERT INTO tlog_nodes (id, hash) VALUES ${Array(CHUNK).fill("(?, ?)").join(", ")}`);
  const getNode = lazy(raw, "SELECT hash FROM tlog_nodes WHERE id = ?", true);
  const getLeafHash = lazy(raw, "SELECT leaf_hash FROM tlog_leaves WHERE idx = ?", true);
  const getLeaf = lazy(raw, "SELECT idx, leaf_hash, data, type, subject_hash, created_at FROM tlog_leaves WHERE idx = ?");
  const byHash = lazy(raw, "SELECT idx FROM tlog_leaves WHERE leaf_key = ? AND leaf_hash = ? ORDER BY idx LIMIT 1", true);

  return {
    async size() {
      const v = lastIdx().get() as number | undefined;
      return v === undefined ? 0 : v + 1;
    },
    async insertLeaves(leaves: readonly LeafRecord[]) {
      // Multi-row INSERTs of CHUNK rows: one statement call per chunk instead of per row.
      let i = 0;
      for (; i + CHUNK <= leaves.length; i += CHUNK) {
        const args: unknown[] = [];
        for (let k = i; k < i + CHUNK; k++) pushLeaf(args, leaves[k]!);
        insLeafChunk().run(args);
      }
      const s = insLeaf();
      for (; i < leaves.length; i++) {
        const args: unknown[] = [];
        pushLeaf(args, leaves[i]!);
        s.run(args);
      }
    },
    async insertNodes(nodes: readonly NodeRecord[]) {
      let i = 0;
      for (; i + CHUNK <= nodes.length; i += CHUNK) {
        const args: unknown[] = [];
        for (let k = i; k < i + CHUNK; k++) args.push(nodeKey(nodes[k]!.level, nodes[k]!.index), nodes[k]!.hash);
        insNodeChunk().run(args);
      }
      const s = insNode();
      for (; i < nodes.length; i++) s.run(nodeKey(nodes[i]!.level, nodes[i]!.index), nodes[i]!.hash);
    },
    async getNodes(ids: readonly NodeId[]) {
      return readNodes(ids, getNode(), getLeafHash());
    },
    async getLeaf(index: number) {
      const r = getLeaf().get(index) as
        | { idx: number; leaf_hash: Buffer; data: string; type: string; subject_hash: Buffer; created_at: number }
        | undefined;
      if (!r) return undefined;
      return { index: r.idx, leafHash: r.leaf_hash, data: r.data, type: r.type, subjectHash: r.subject_hash, createdAt: new Date(r.created_at) };
    },
    async findByLeafHash(leafHash: Uint8Array) {
      if (leafHash.length !== 32) return undefined;
      const h = Buffer.from(leafHash);
      return byHash().get(leafKey(h), h) as number | undefined;
    },
    async latestCheckpoint() {
      const r = db.select().from(tlogCheckpoints).orderBy(desc(tlogCheckpoints.size)).limit(1).get();
      return r ? toCheckpoint(r) : undefined;
    },
    async getCheckpoint(size: number) {
      const r = db.select().from(tlogCheckpoints).where(eq(tlogCheckpoints.size, size)).get();
      return r ? toCheckpoint(r) : undefined;
    },
    async checkpointAtLeast(size: number) {
      const r = db.select().from(tlogCheckpoints).where(gte(tlogCheckpoints.size, size)).orderBy(asc(tlogCheckpoints.size)).limit(1).get();
      return r ? toCheckpoint(r) : undefined;
    },
    async insertCheckpoint(cp: CheckpointRecord) {
      const res = db
        .insert(tlogCheckpoints)
        .values({ size: cp.size, root: cp.root, note: cp.note, createdAt: cp.createdAt })
        .onConflictDoNothing()
        .run();
      return res.changes === 1;
    },
  };
}

function readNodes(ids: readonly NodeId[], node: Stmt, leaf: Stmt): Buffer[] {
  const out: Buffer[] = [];
  for (const id of ids) {
    const h = (id.level === 0 ? leaf.get(id.index) : node.get(nodeKey(id.level, id.index))) as Buffer | undefined;
    if (!h) throw new Error(`tlog: node (${id.level}, ${id.index}) is missing`);
    out.push(h);
  }
  return out;
}

/** Read-only streaming access for `sidian log audit`. Use a connection nobody writes through meanwhile. */
export function createTlogAuditSource(raw: BetterSqlite3.Database): TlogAuditSource {
  const getNode = raw.prepare("SELECT hash FROM tlog_nodes WHERE id = ?").pluck();
  const getLeafHash = raw.prepare("SELECT leaf_hash FROM tlog_leaves WHERE idx = ?").pluck();
  const nodesAt = raw.prepare("SELECT id, hash FROM tlog_nodes WHERE id >= ? AND id < ? ORDER BY id LIMIT ?").raw();
  return {
    leafCount() {
      return raw.prepare("SELECT count(*) FROM tlog_leaves").pluck().get() as number;
    },
    *leaves() {
      // Pages by primary key rather than one long-lived iterator, so the connection stays usable for node reads.
      const page = raw.prepare("SELECT idx, leaf_hash, data FROM tlog_leaves WHERE idx >= ? ORDER BY idx LIMIT 8192").raw();
      let from = 0;
      for (;;) {
        const rows = page.all(from) as Array<[number, Buffer, string]>;
        for (const r of rows) yield { index: r[0], leafHash: r[1], data: r[2] };
        if (rows.length < 8192) return;
        from = rows[rows.length - 1]![0] + 1;
      }
    },
    nodesAt(level: number, from: number, limit: number) {
      const rows = nodesAt.all(nodeKey(level, from), nodeKey(level + 1, 0), limit) as Array<[number, Buffer]>;
      const base = nodeKey(level, 0);
      return rows.map((r) => ({ index: r[0] - base, hash: r[1] }));
    },
    nodeCount() {
      return raw.prepare("SELECT count(*) FROM tlog_nodes").pluck().get() as number;
    },
    checkpoints() {
      const rows = raw.prepare("SELECT size, root, note, created_at FROM tlog_checkpoints ORDER BY size").all() as Array<{
        size: number; root: Buffer; note: string; created_at: number;
      }>;
      return rows.map((r) => ({ size: r.size, root: r.root, note: r.note, createdAt: new Date(r.created_at) }));
    },
    getNodes(ids: readonly NodeId[]) {
      return readNodes(ids, getNode, getLeafHash);
    },
  };
}
