/**
 * Transparency log storage (src/modules/tlog). Three append-only tables:
 *
 * - `tlog_leaves`: one row per entry; `idx` is the leaf index (contiguous from 0), `data` the canonical JSON of the
 *   event (its UTF-8 bytes are the leaf), `leaf_hash` = SHA-256(0x00 || data).
 * - `tlog_nodes`: every *complete* (perfect) subtree hash at level ≥ 1, keyed by one integer
 *   `id = level · 2^47 + index` (see `nodeKey` in repos/tlog.ts). A single INTEGER PRIMARY KEY is SQLite's rowid, so
 *   the table is a clustered B-tree of (key, 32-byte hash) — the same layout as a `(level, idx) WITHOUT ROWID`
 *   table but expressible in drizzle, with level-major order so an audit scans one level after another. Level 0
 *   (leaf hashes) lives in `tlog_leaves`. Nodes never change once written, so any proof for any size is O(log n)
 *   point reads. (Tessera-style 256-wide tiles were considered: they cut rows but make a proof recompute up to
 *   ~255 hashes per tile level, ~0.3–0.8 ms at a million leaves; per-node rows keep proofs at a few µs of reads.)
 * - `tlog_checkpoints`: every signed checkpoint (C2SP note text) ever published, by tree size.
 */
import { sqliteTable, text, integer, blob, index } from "drizzle-orm/sqlite-core";

export const tlogLeaves = sqliteTable(
  "tlog_leaves",
  {
    idx: integer("idx").primaryKey(),
    leafHash: blob("leaf_hash", { mode: "buffer" }).notNull(),
    data: text("data").notNull(),
    type: text("type").notNull(),
    /**
     * SHA-256 of the event's subject (already an opaque id or keyed hash): fixed-size key for "entries about X".
     * Not indexed yet: no route looks entries up by subject, and a second random-key index costs ~30% of append
     * throughput (bench/tlog.ts). Add the index with the first feature that needs it.
     */
    subjectHash: blob("subject_hash", { mode: "buffer" }).notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    /**
     * First 6 bytes of leaf_hash as an integer: the lookup key for "proof by leaf hash" (the full hash is compared
     * after the lookup). An 8-byte integer index is about a third of a 32-byte BLOB index, and appends are faster.
     */
    leafKey: integer("leaf_key").notNull().default(0),
  },
  (t) => [index("tlog_leaves_leaf_key_idx").on(t.leafKey)],
);

export const tlogNodes = sqliteTable("tlog_nodes", {
  id: integer("id").primaryKey(),
  hash: blob("hash", { mode: "buffer" }).notNull(),
});

export const tlogCheckpoints = sqliteTable("tlog_checkpoints", {
  size: integer("size").primaryKey(),
  root: blob("root", { mode: "buffer" }).notNull(),
  note: text("note").notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
});
