import { sqliteTable, text, integer, index } from "drizzle-orm/sqlite-core";

/** A client's webhook endpoint (Standard Webhooks), set by an administrator: one per client. */
export const webhookEndpoints = sqliteTable("webhook_endpoints", {
  clientId: text("client_id").primaryKey(),
  url: text("url").notNull(),
  /** The signing secret (whsec_…), encrypted (PiiProtector, aad `webhook:<clientId>`). */
  secretEnc: text("secret_enc").notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

/** The delivery log: one row per message, queued in the transaction of the event it reports. */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    clientId: text("client_id").notNull(),
    type: text("type").notNull(),
    /** The JSON body, exactly as signed and sent. */
    payload: text("payload").notNull(),
    status: text("status", { enum: ["pending", "delivered", "failed"] }).notNull(),
    attempts: integer("attempts").notNull(),
    nextAttemptAt: integer("next_attempt_at", { mode: "timestamp_ms" }).notNull(),
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    deliveredAt: integer("delivered_at", { mode: "timestamp_ms" }),
  },
  (t) => [
    index("webhook_deliveries_due_idx").on(t.status, t.nextAttemptAt),
    index("webhook_deliveries_client_idx").on(t.clientId, t.createdAt),
  ],
);
