import { sqliteTable, text, integer, blob, uniqueIndex, index, primaryKey } from "drizzle-orm/sqlite-core";

/**
 * Packages received at transfer (移交接收, issue 19 §4): `POST /archives:receive` checks a package built elsewhere
 * (DA/T 70 at the transfer stage) and keeps it only when every item passed. The row is written `receiving` while its
 * chunks are stored, then becomes `received` with its `archive.received` log entry in one transaction. One receipt
 * per receiving department and tag manifest (the package's signed content).
 */
export const archiveReceipts = sqliteTable(
  "archive_receipts",
  {
    id: text("id").primaryKey(),
    /** The receiving archive office (the archivist's department). */
    departmentId: text("department_id").notNull(),
    bagName: text("bag_name").notNull(),
    caseNo: text("case_no"),
    /** bag-info.txt Source-Organization and Sidian-Archive-Id of the sender. */
    sourceOrganization: text("source_organization"),
    sourceArchiveId: text("source_archive_id"),
    status: text("status", { enum: ["receiving", "received"] }).notNull(),
    packageSha256: text("package_sha256").notNull(),
    packageSize: integer("package_size").notNull(),
    tagmanifestSha256: text("tagmanifest_sha256").notNull(),
    chunks: integer("chunks"),
    /** The 四性检测 report at receipt (JSON) and the SHA-256 of that JSON text (logged). */
    report: text("report").notNull(),
    reportSha256: text("report_sha256").notNull(),
    receivedBy: text("received_by").notNull(),
    receivedAt: integer("received_at", { mode: "timestamp_ms" }).notNull(),
    logIndex: integer("log_index"),
  },
  (t) => [uniqueIndex("archive_receipts_tagmanifest_idx").on(t.departmentId, t.tagmanifestSha256), index("archive_receipts_received_idx").on(t.receivedAt)],
);

/** The received package, in chunks of at most 1 MiB, each AES-256-GCM (AAD `archive-receipt:<id>:<seq>`). */
export const archiveReceiptChunks = sqliteTable(
  "archive_receipt_chunks",
  {
    receiptId: text("receipt_id").notNull().references(() => archiveReceipts.id),
    seq: integer("seq").notNull(),
    bytes: blob("bytes", { mode: "buffer" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.receiptId, t.seq] })],
);
