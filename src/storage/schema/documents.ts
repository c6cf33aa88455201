import { sqliteTable, text, integer, blob, index } from "drizzle-orm/sqlite-core";

/** Rendered, sealed documents, content-addressed: one row per distinct byte string. */
export const documentBlobs = sqliteTable("document_blobs", {
  sha256: text("sha256").primaryKey(),
  bytes: blob("bytes", { mode: "buffer" }).notNull(),
  size: integer("size").notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
});

/** Which document serves which purpose (`licence:<identifier>`, `copy:<access id>:<identifier>:<expiry>`). */
export const documents = sqliteTable(
  "documents",
  {
    key: text("key").primaryKey(),
    kind: text("kind", { enum: ["licence", "copy"] }).notNull(),
    identifier: text("identifier").notNull(),
    sha256: text("sha256").notNull().references(() => documentBlobs.sha256),
    stampId: text("stamp_id").notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [index("documents_identifier_idx").on(t.identifier)],
);
