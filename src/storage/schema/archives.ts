import { sqliteTable, text, integer, blob, index, uniqueIndex, primaryKey } from "drizzle-orm/sqlite-core";
import { cases } from "./cases.js";

/**
 * Archival packages (电子档案, issue 19): one per case. Created with its `case.archived` log entry in one transaction
 * (status `building`), then the package (a zip of the BagIt bag) is written in chunks and the row becomes `stored`.
 */
export const archives = sqliteTable(
  "archives",
  {
    id: text("id").primaryKey(),
    caseId: text("case_id").notNull().references(() => cases.id),
    departmentId: text("department_id").notNull(),
    bagName: text("bag_name").notNull(),
    status: text("status", { enum: ["building", "stored"] }).notNull(),
    files: integer("files").notNull(),
    payloadOctets: integer("payload_octets").notNull(),
    /** SHA-256 of manifest-sha256.txt, fixed (and logged) before the package is built. */
    manifestSha256: text("manifest_sha256").notNull(),
    tagmanifestSha256: text("tagmanifest_sha256"),
    packageSha256: text("package_sha256"),
    packageSize: integer("package_size"),
    chunks: integer("chunks"),
    certSerial: text("cert_serial"),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    storedAt: integer("stored_at", { mode: "timestamp_ms" }),
    logIndex: integer("log_index").notNull(),
    /**
     * The build lease (a `building` archive): who builds it now and until when. Taken by compare-and-set, renewed as
     * the build goes on; a build whose lease ran out (its builder crashed) is taken over by the next request.
     */
    buildToken: text("build_token"),
    buildLeaseUntil: integer("build_lease_until", { mode: "timestamp_ms" }),
    /** When the package passed 四性检测 at the archiving stage and was released for download (null: held). */
    releasedAt: integer("released_at", { mode: "timestamp_ms" }),
  },
  (t) => [uniqueIndex("archives_case_idx").on(t.caseId), index("archives_department_idx").on(t.departmentId, t.createdAt)],
);

/** The stored package, in chunks of at most 1 MiB, each AES-256-GCM (AAD `archive:<id>:<seq>`). */
export const archiveChunks = sqliteTable(
  "archive_chunks",
  {
    archiveId: text("archive_id").notNull().references(() => archives.id),
    seq: integer("seq").notNull(),
    bytes: blob("bytes", { mode: "buffer" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.archiveId, t.seq] })],
);
