import { sqliteTable, text, integer } from "drizzle-orm/sqlite-core";

/**
 * 证照类型: licence types. `code` is the 21-char type code (defining authority's USCC + 3 digits).
 * `fields` is the field schema (src/modules/catalogue/fields.ts); `issuers` the department ids allowed to issue.
 */
export const licenceTypes = sqliteTable("licence_types", {
  code: text("code").primaryKey(),
  name: text("name").notNull(),
  holderKind: text("holder_kind", { enum: ["person", "organisation"] }).notNull(),
  holderCodeTypes: text("holder_code_types", { mode: "json" }).$type<string[]>().notNull(),
  fields: text("fields", { mode: "json" }).$type<unknown[]>().notNull(),
  /** Default validity in days; null = long-term (长期). */
  validityDays: integer("validity_days"),
  issuers: text("issuers", { mode: "json" }).$type<string[]>().notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

/** 事项: matters that consumers serve, with the licence types each may use. */
export const matters = sqliteTable("matters", {
  code: text("code").primaryKey(),
  name: text("name").notNull(),
  licenceTypes: text("licence_types", { mode: "json" }).$type<string[]>().notNull(),
  /** Consent-exempt by regulation: the legal basis is required then. */
  consentExempt: integer("consent_exempt", { mode: "boolean" }).notNull(),
  exemptBasis: text("exempt_basis"),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});
