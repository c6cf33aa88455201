import { sqliteTable, text, integer, real, index } from "drizzle-orm/sqlite-core";

/** E-seals (GB/T 38540): one row per seal; its key and certificate live in keys/certificates. */
export const seals = sqliteTable(
  "seals",
  {
    id: text("id").primaryKey(),
    departmentId: text("department_id").notNull(),
    name: text("name").notNull(),
    type: text("type", { enum: ["01", "02", "03", "04", "05", "99"] }).notNull(),
    arcText: text("arc_text").notNull(),
    typeText: text("type_text").notNull(),
    diameterMm: real("diameter_mm").notNull(),
    certSerial: text("cert_serial").notNull(),
    keyId: text("key_id").notNull(),
    validFrom: integer("valid_from", { mode: "timestamp_ms" }).notNull(),
    validTo: integer("valid_to", { mode: "timestamp_ms" }).notNull(),
    status: text("status", { enum: ["active", "suspended", "revoked"] }).notNull(),
    statusReason: text("status_reason"),
    /** Crypto profile of the seal's key and certificate (DESIGN rule 11). */
    profile: text("profile", { enum: ["p256", "sm2"] }).notNull().default("p256"),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [index("seals_department_idx").on(t.departmentId), index("seals_cert_idx").on(t.certSerial)],
);

/** Status history of each seal (append-only): status at any past time = last event at or before it. */
export const sealEvents = sqliteTable(
  "seal_events",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    sealId: text("seal_id").notNull().references(() => seals.id),
    status: text("status", { enum: ["active", "suspended", "revoked"] }).notNull(),
    reason: text("reason"),
    at: integer("at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [index("seal_events_seal_idx").on(t.sealId, t.at)],
);

/** 用印记录: every stamp (append-only). */
export const stamps = sqliteTable(
  "stamps",
  {
    id: text("id").primaryKey(),
    sealId: text("seal_id").notNull().references(() => seals.id),
    departmentId: text("department_id").notNull(),
    certSerial: text("cert_serial").notNull(),
    signer: text("signer").notNull(),
    documentSha256: text("document_sha256").notNull(),
    resultSha256: text("result_sha256").notNull(),
    pageIndex: integer("page_index").notNull(),
    fieldName: text("field_name").notNull(),
    stampedAt: integer("stamped_at", { mode: "timestamp_ms" }).notNull(),
    timestampAt: integer("timestamp_at", { mode: "timestamp_ms" }).notNull(),
    /** The `seal.stamped` entry's log index (null for stamps recorded before 0021_cases). */
    logIndex: integer("log_index"),
  },
  (t) => [index("stamps_seal_idx").on(t.sealId, t.id), index("stamps_result_idx").on(t.resultSha256)],
);
