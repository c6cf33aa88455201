import { sqliteTable, text, integer, blob, index, primaryKey } from "drizzle-orm/sqlite-core";

/**
 * 材料目录: material types (issue 18). `matters` are the matters (事项) that accept materials of the type (an
 * approval system may register and reuse them only for those); `media_types` the accepted kinds, as sniffed from
 * the bytes (pdf, jpeg, png, ofd, json); `max_bytes` the upload limit; `validity_days` the default validity of a
 * material of a type that expires (`expires` 1), null otherwise.
 */
export const materialTypes = sqliteTable("material_types", {
  code: text("code").primaryKey(),
  name: text("name").notNull(),
  matters: text("matters", { mode: "json" }).$type<string[]>().notNull(),
  mediaTypes: text("media_types", { mode: "json" }).$type<string[]>().notNull(),
  maxBytes: integer("max_bytes").notNull(),
  expires: integer("expires", { mode: "boolean" }).notNull(),
  validityDays: integer("validity_days"),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

/**
 * 电子材料: one row per registered material version. The holder is findable only through `holder_hash` (keyed hash
 * of code type + code, as for licences); the holder code itself and the declared file name are stored encrypted.
 * The bytes are in `material_chunks`, encrypted with a per-material data key; `dek_enc` is that key wrapped with
 * the personal-data key, bound (AAD) to the identifier and the SHA-256 of the plaintext. The row, its chunks and
 * the `material.registered` log entry are written in one transaction.
 */
export const materials = sqliteTable(
  "materials",
  {
    identifier: text("identifier").primaryKey(),
    /** typeCode.serial: the same for every version of one material. */
    lineage: text("lineage").notNull(),
    version: text("version").notNull(),
    typeCode: text("type_code").notNull(),
    holderHash: text("holder_hash").notNull(),
    holderCodeType: text("holder_code_type").notNull(),
    /** The holder code, encrypted (AAD material-holder:<identifier>); null when the holder registered it (the token names only its keyed hash). */
    holderEnc: text("holder_enc"),
    nameEnc: text("name_enc"),
    mediaType: text("media_type").notNull(),
    size: integer("size").notNull(),
    sha256: text("sha256").notNull(),
    sm3: text("sm3").notNull(),
    /** approval | counter | holder | department */
    source: text("source").notNull(),
    /** Actor label of the registrant (client:<id>, holder:<hash prefix>). */
    registrant: text("registrant").notNull(),
    matterCode: text("matter_code"),
    departmentId: text("department_id"),
    /** Counter registrations: {operator, device, checkedAgainstOriginal} (the operator's name encrypted). */
    attestation: text("attestation", { mode: "json" }).$type<Record<string, unknown>>(),
    /** valid | superseded | revoked | withdrawn (expired is derived from expires_at). */
    status: text("status").notNull(),
    statusAt: integer("status_at", { mode: "timestamp_ms" }).notNull(),
    statusReason: text("status_reason"),
    statusLogIndex: integer("status_log_index"),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }),
    supersedes: text("supersedes"),
    supersededBy: text("superseded_by"),
    derivedFrom: text("derived_from"),
    derivation: text("derivation"),
    dekEnc: text("dek_enc").notNull(),
    chunks: integer("chunks").notNull(),
    logIndex: integer("log_index").notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [
    index("materials_holder_idx").on(t.holderHash, t.typeCode),
    index("materials_sha256_idx").on(t.sha256),
    index("materials_lineage_idx").on(t.lineage),
  ],
);

/** The encrypted bytes of a material, in chunks of up to 1 MiB of plaintext (AES-256-GCM each, nonce = seq). */
export const materialChunks = sqliteTable(
  "material_chunks",
  {
    identifier: text("identifier").notNull(),
    seq: integer("seq").notNull(),
    bytes: blob("bytes", { mode: "buffer" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.identifier, t.seq] })],
);
