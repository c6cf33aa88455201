import { sql } from "drizzle-orm";
import { sqliteTable, text, integer, index, uniqueIndex, primaryKey } from "drizzle-orm/sqlite-core";

/**
 * 电子证照: one row per licence version (a change adds a row; the old one is kept, marked superseded).
 *
 * Personal data (DESIGN rule 7): the holder is findable only through `holder_hash` (keyed hash of code type +
 * code); the signed licence data (holder name and code, licence number, fields) is stored only as `payload_enc`
 * (AES-256-GCM, AAD = the identifier). The compact JWS is `header(cert_serial).payload.signature`: the protected
 * header is the same for every licence signed by one certificate, so it is stored once (by certificate).
 */
export const licences = sqliteTable(
  "licences",
  {
    identifier: text("identifier").primaryKey(),
    /** typeCode.issuerCode.serial: the same for every version of one licence. */
    lineage: text("lineage").notNull(),
    version: text("version").notNull(),
    typeCode: text("type_code").notNull(),
    departmentId: text("department_id").notNull(),
    holderHash: text("holder_hash").notNull(),
    holderCodeType: text("holder_code_type").notNull(),
    /**
     * Keyed hash of the licence number (证照编号, PiiProtector.lookupHash("licence-number", number)): a number is
     * unique per type and issuing department among current versions (licences_number_idx), and issuers find a
     * licence by it. NULL only on rows stored before migration 0016 until the start-up pass fills it in (README, "Licence numbers").
     */
    numberHash: text("number_hash"),
    payloadEnc: text("payload_enc").notNull(),
    signature: text("signature").notNull(),
    certSerial: text("cert_serial").notNull(),
    jwsSha256: text("jws_sha256").notNull(),
    validFrom: text("valid_from").notNull(),
    validUntil: text("valid_until"),
    status: text("status").notNull(),
    statusAt: integer("status_at", { mode: "timestamp_ms" }).notNull(),
    statusIndex: integer("status_index").notNull(),
    supersedes: text("supersedes"),
    supersededBy: text("superseded_by"),
    logIndex: integer("log_index").notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [
    // The first 16 hex digits (64 bits) of the keyed hash: a quarter of the full hash's index, so the random page
    // every issuance dirties is more often cached. Lookups compare the full hash after the index (holderKeyOf).
    index("licences_holder_key_idx").on(sql`substr(${t.holderHash}, 1, 16)`),
    index("licences_lineage_idx").on(t.lineage),
    uniqueIndex("licences_status_idx").on(t.departmentId, t.statusIndex),
    index("licences_expiry_idx").on(t.status, t.validUntil),
    // A number belongs to one current licence of a type and department whatever its status (a cancelled licence
    // keeps its number); a new version carries it on. Partial: superseded versions, and rows from before the
    // number was stored (number_hash NULL, distinct in a unique index), never collide.
    uniqueIndex("licences_number_idx").on(t.numberHash, t.departmentId, t.typeCode).where(sql`superseded_by IS NULL`),
  ],
);

/**
 * Finds rows by holder hash through a holder-key index (licences_holder_key_idx, access_holder_key_idx): the
 * index's 16-digit prefix first, then the whole hash; bind holderKeyArgs(hash) to its two parameters. The left side
 * must stay the index's expression word for word, or SQLite scans the table.
 */
export const HOLDER_KEY_MATCH = "substr(holder_hash, 1, 16) = ? AND holder_hash = ?";
export const holderKeyArgs = (holderHash: string): [string, string] => [holderHash.slice(0, 16), holderHash];

/** Lifecycle events after issuance (suspend, resume, cancel, deregister, revoke, expire, supersede): signed and logged. */
export const licenceEvents = sqliteTable(
  "licence_events",
  {
    identifier: text("identifier").notNull(),
    seq: integer("seq").notNull(),
    action: text("action").notNull(),
    fromStatus: text("from_status").notNull(),
    toStatus: text("to_status").notNull(),
    reason: text("reason"),
    actor: text("actor").notNull(),
    at: integer("at", { mode: "timestamp_ms" }).notNull(),
    /** Compact JWS of the signed status statement (small: its header references the certificate by kid only). */
    statement: text("statement").notNull(),
    logIndex: integer("log_index").notNull(),
  },
  (t) => [primaryKey({ columns: [t.identifier, t.seq] })],
);

/** Counters for serials (per department + type) and status-list indexes (per department), reserved in blocks. */
export const licenceCounters = sqliteTable("licence_counters", {
  scope: text("scope").primaryKey(),
  next: integer("next").notNull(),
});

/** Idempotency-Key → the licence it created, per client. `request_hash` detects reuse with another body. */
export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    clientId: text("client_id").notNull(),
    key: text("key").notNull(),
    requestHash: text("request_hash").notNull(),
    identifier: text("identifier").notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.clientId, t.key] })],
);
