import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Facts about the deployment kept with its data: `public_url` is written at first start and checked on every later
 * one (what a CLI signs — status-list URLs, CRL distribution points, QR links — must be the deployment's URL).
 */
export const deployment = sqliteTable("deployment", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  setAt: integer("set_at", { mode: "timestamp_ms" }).notNull(),
});
