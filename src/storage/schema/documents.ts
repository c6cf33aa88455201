import { sql } from "drizzle-orm";
import { sqliteTable, text, integer, blob, index } from "drizzle-orm/sqlite-core";

/**
 * Rendered, sealed documents, content-addressed (SHA-256 of the PDF): one row per distinct byte string. `bytes` are
 * encrypted (AES-256-GCM, see modules/documents) where `encrypted` is 1; rows stored in the clear before that (0)
 * are encrypted at the next start, found through the partial index.
 */
export const documentBlobs = sqliteTable("document_blobs", {
  sha256: text("sha256").primaryKey(),
  bytes: blob("bytes", { mode: "buffer" }).notNull(),
  size: integer("size").notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  encrypted: integer("encrypted").notNull().default(0),
}, (t) => [index("document_blobs_clear_idx").on(t.sha256).where(sql`${t.encrypted} = 0`)]);

/**
 * Which document serves which purpose: `licence:<identifier>` (rendered while valid), `licence:<identifier>:<status>`
 * (rendered with the status banner of a licence that is no longer valid), `copy:<access id>:<identifier>:<expiry>`
 * (+ `:<status>` when not valid). Copies are deleted (row and blob) by the sweep once `expires_at` has passed.
 */
export const documents = sqliteTable(
  "documents",
  {
    key: text("key").primaryKey(),
    kind: text("kind", { enum: ["licence", "copy"] }).notNull(),
    identifier: text("identifier").notNull(),
    sha256: text("sha256").notNull().references(() => documentBlobs.sha256),
    stampId: text("stamp_id").notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    /** The licence's effective status the document was rendered for (null: before this was recorded, rendered as valid). */
    licenceStatus: text("licence_status"),
    /** Copies (加注件): when the copy link expires; null for licence documents. */
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }),
  },
  (t) => [index("documents_identifier_idx").on(t.identifier), index("documents_expires_idx").on(t.expiresAt)],
);
