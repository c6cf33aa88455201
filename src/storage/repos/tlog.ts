/**
 * Transparency log repository (port: src/modules/tlog/ports.ts) over the portable Sql: constant statements, one
 * multi-row INSERT per chunk inside the caller's transaction; the schema lives in ../schema/tlog.ts.
 */
import type BetterSqlite3 from "better-sqlite3";
import { createReadBatcher } from "../batch.js";
import type { Sql } from "../sql.js";
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

interface CpRow { size: number; root: Buffer; note: string; created_at: number }
const toCheckpoint = (r: CpRow | undefined): CheckpointRecord | undefined =>
  r ? { size: r.size, root: Buffer.from(r.root), note: r.note, createdAt: new Date(r.created_at) } : undefined;

/** `batch`: group concurrent node reads into one statement (PostgreSQL reads through the pool: batch.ts). */
export function createTlogRepo(sql: Sql, opts: { batch?: boolean } = {}): TlogRepo {
  const lastIdx = "SELECT idx FROM tlog_leaves ORDER BY idx DESC LIMIT 1";
  const insLeaf = "INSERT INTO tlog_leaves (idx, leaf_hash, data, type, subject_hash, created_at, leaf_key) VALUES (?, ?, ?, ?, ?, ?, ?)";
  const insNode = "INSERT INTO tlog_nodes (id, hash) VALUES (?, ?)";
  const insLeafChunk = `INSERT INTO tlog_leaves (idx, leaf_hash, data, type, subject_hash, created_at, leaf_key) VALUES ${Array(CHUNK).fill("(?, ?, ?, ?, ?, ?, ?)").join(", ")}`;
  const insNodeChunk = `INSERT INTO tlog_nodes (id, hash) VALUES ${Array(CHUNK).fill("(?, ?)").join(", ")}`;
  const getNode = "SELECT hash FROM tlog_nodes WHERE id = ?";
  const getLeafHash = "SELECT leaf_hash FROM tlog_leaves WHERE idx = ?";
  // PostgreSQL: one round trip for all the leaves and nodes of a proof or of the tree's edge.
  const getBothAny = `SELECT 1 AS leaf, idx AS id, leaf_hash AS hash FROM tlog_leaves WHERE idx = ANY(CAST(? AS BIGINT[]))
    UNION ALL SELECT 0 AS leaf, id, hash FROM tlog_nodes WHERE id = ANY(CAST(? AS BIGINT[]))`;
  const getLeaf = "SELECT idx, leaf_hash, data, type, subject_hash, created_at FROM tlog_leaves WHERE idx = ?";
  const byHash = "SELECT idx FROM tlog_leaves WHERE leaf_key = ? AND leaf_hash = ? ORDER BY idx LIMIT 1";
  const cpCols = "size, root, note, created_at";
  const latest = `SELECT ${cpCols} FROM tlog_checkpoints ORDER BY size DESC LIMIT 1`;
  const atSize = `SELECT ${cpCols} FROM tlog_checkpoints WHERE size = ?`;
  const atLeast = `SELECT ${cpCols} FROM tlog_checkpoints WHERE size >= ? ORDER BY size LIMIT 1`;
  const insCp = "INSERT INTO tlog_checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING";

  // PostgreSQL: every leaf (every node) of a transaction in one statement, whatever their number (one round trip).
  const insLeavesPg = "INSERT INTO tlog_leaves (idx, leaf_hash, data, type, subject_hash, created_at, leaf_key) SELECT * FROM unnest(CAST(? AS BIGINT[]), CAST(? AS BYTEA[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS BYTEA[]), CAST(? AS BIGINT[]), CAST(? AS BIGINT[]))";
  const insNodesPg = "INSERT INTO tlog_nodes (id, hash) SELECT * FROM unnest(CAST(? AS BIGINT[]), CAST(? AS BYTEA[]))";

  async function fetchNodes(keys: number[]): Promise<Map<number, Buffer>> {
    const leafIdx = keys.filter((k) => k < 0).map((k) => -1 - k);
    const nodeIds = keys.filter((k) => k >= 0);
    const out = new Map<number, Buffer>();
    for (const r of await sql.all<{ leaf: number; id: number; hash: Buffer }>(getBothAny, [leafIdx, nodeIds])) out.set(r.leaf === 1 ? -1 - r.id : r.id, r.hash);
    return out;
  }
  const nodeBatch = opts.batch && sql.dialect === "pg" ? createReadBatcher<number, Buffer>(fetchNodes) : null;

  return {
    async size() {
      const v = await sql.value<number>(lastIdx);
      return v === undefined ? 0 : v + 1;
    },
    async insertLeaves(leaves: readonly LeafRecord[]) {
      if (sql.dialect === "pg") {
        if (!leaves.length) return;
        await sql.run(insLeavesPg, [
          leaves.map((l) => l.index), leaves.map((l) => l.leafHash), leaves.map((l) => l.data), leaves.map((l) => l.type),
          leaves.map((l) => l.subjectHash), leaves.map((l) => l.createdAt.getTime()), leaves.map((l) => leafKey(l.leafHash)),
        ]);
        return;
      }
      // Multi-row INSERTs of CHUNK rows: one statement call per chunk instead of per row.
      let i = 0;
      for (; i + CHUNK <= leaves.length; i += CHUNK) {
        const args: unknown[] = [];
        for (let k = i; k < i + CHUNK; k++) pushLeaf(args, leaves[k]!);
        await sql.run(insLeafChunk, args);
      }
      for (; i < leaves.length; i++) {
        const args: unknown[] = [];
        pushLeaf(args, leaves[i]!);
        await sql.run(insLeaf, args);
      }
    },
    async insertNodes(nodes: readonly NodeRecord[]) {
      if (sql.dialect === "pg") {
        if (!nodes.length) return;
        await sql.run(insNodesPg, [nodes.map((n) => nodeKey(n.level, n.index)), nodes.map((n) => n.hash)]);
        return;
      }
      let i = 0;
      for (; i + CHUNK <= nodes.length; i += CHUNK) {
        const args: unknown[] = [];
        for (let k = i; k < i + CHUNK; k++) args.push(nodeKey(nodes[k]!.level, nodes[k]!.index), nodes[k]!.hash);
        await sql.run(insNodeChunk, args);
      }
      for (; i < nodes.length; i++) await sql.run(insNode, [nodeKey(nodes[i]!.level, nodes[i]!.index), nodes[i]!.hash]);
    },
    async getNodes(ids: readonly NodeId[]) {
      if (sql.dialect === "sqlite") {
        const out: Buffer[] = [];
        for (const id of ids) {
          const h = await (id.level === 0 ? sql.value<Buffer>(getLeafHash, [id.index]) : sql.value<Buffer>(getNode, [nodeKey(id.level, id.index)]));
          if (!h) throw new Error(`tlog: node (${id.level}, ${id.index}) is missing`);
          out.push(h);
        }
        return out;
      }
      // Leaves (keyed -1 - idx) and nodes (keyed nodeKey ≥ 2^47) in one statement, shared by concurrent reads.
      const keys = ids.map((id) => (id.level === 0 ? -1 - id.index : nodeKey(id.level, id.index)));
      const found = nodeBatch ? await nodeBatch.load(keys) : keysOf(keys, await fetchNodes(keys));
      return ids.map((id, i) => {
        const h = found[i];
        if (!h) throw new Error(`tlog: node (${id.level}, ${id.index}) is missing`);
        return h;
      });
    },
    async getLeaf(index: number) {
      const r = await sql.get<{ idx: number; leaf_hash: Buffer; data: string; type: string; subject_hash: Buffer; created_at: number }>(getLeaf, [index]);
      if (!r) return undefined;
      return { index: r.idx, leafHash: r.leaf_hash, data: r.data, type: r.type, subjectHash: r.subject_hash, createdAt: new Date(r.created_at) };
    },
    async findByLeafHash(leafHash: Uint8Array) {
      if (leafHash.length !== 32) return undefined;
      const h = Buffer.from(leafHash);
      return sql.value<number>(byHash, [leafKey(h), h]);
    },
    async latestCheckpoint() {
      return toCheckpoint(await sql.get<CpRow>(latest));
    },
    async getCheckpoint(size: number) {
      return toCheckpoint(await sql.get<CpRow>(atSize, [size]));
    },
    async checkpointAtLeast(size: number) {
      return toCheckpoint(await sql.get<CpRow>(atLeast, [size]));
    },
    async insertCheckpoint(cp: CheckpointRecord) {
      return (await sql.run(insCp, [cp.size, cp.root, cp.note, cp.createdAt.getTime()])) === 1;
    },
  };
}

function keysOf<K, V>(keys: readonly K[], m: Map<K, V>): Array<V | undefined> {
  return keys.map((k) => m.get(k));
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
