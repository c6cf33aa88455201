import { sql } from "drizzle-orm";
import { sqliteTable, text, integer, index } from "drizzle-orm/sqlite-core";

/** Holder consents: a holder lets one consumer client fetch their licences for one matter, until `expires_at`. */
export const consents = sqliteTable(
  "consents",
  {
    id: text("id").primaryKey(),
    holderHash: text("holder_hash").notNull(),
    clientId: text("client_id").notNull(),
    matterCode: text("matter_code").notNull(),
    grantedAt: integer("granted_at", { mode: "timestamp_ms" }).notNull(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
    revokedAt: integer("revoked_at", { mode: "timestamp_ms" }),
  },
  (t) => [index("consents_lookup_idx").on(t.holderHash, t.clientId, t.matterCode)],
);

/**
 * 用证记录: every 免证办 fetch (who, which holder, which licences, matter, use cause, when, on which basis).
 * The use cause is stored encrypted (it is free text from the consumer).
 */
export const accessLog = sqliteTable(
  "access_log",
  {
    id: text("id").primaryKey(),
    at: integer("at", { mode: "timestamp_ms" }).notNull(),
    clientId: text("client_id").notNull(),
    matterCode: text("matter_code").notNull(),
    holderHash: text("holder_hash").notNull(),
    identifiers: text("identifiers", { mode: "json" }).$type<string[]>().notNull(),
    causeEnc: text("cause_enc").notNull(),
    basis: text("basis", { enum: ["consent", "exempt"] }).notNull(),
    consentId: text("consent_id"),
    logIndex: integer("log_index").notNull(),
  },
  // Keyed by the first 16 hex digits of the holder hash, as licences_holder_key_idx (every query adds a row here).
  (t) => [index("access_holder_key_idx").on(sql`substr(${t.holderHash}, 1, 16)`, t.at)],
);
