import { sqliteTable, text, integer, index } from "drizzle-orm/sqlite-core";

/**
 * Verification-page scans (扫码记录): who scanned what, when, and the verdict shown — never the token itself.
 * Written in small batches off the request path (see src/modules/qr/scans.ts).
 */
export const scans = sqliteTable(
  "scans",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    at: integer("at", { mode: "timestamp_ms" }).notNull(),
    /** "live" (holder's 亮证 QR) or "static" (printed QR). */
    kind: text("kind", { enum: ["live", "static"] }).notNull(),
    /** The licence identifier, when the code named one. */
    identifier: text("identifier"),
    /** What the page showed: VALID, INVALID, INDETERMINATE, QR_EXPIRED, MALFORMED. */
    outcome: text("outcome").notNull(),
    /** The counter client that scanned, when authenticated; null for the public page. */
    clientId: text("client_id"),
  },
  (t) => [index("scans_identifier_idx").on(t.identifier, t.at)],
);
