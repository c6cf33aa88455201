import { sql } from "drizzle-orm";
import { sqliteTable, text, integer, index, uniqueIndex } from "drizzle-orm/sqlite-core";
import { departments } from "./directory.js";

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
  /** Crypto profile its licences are signed with (DESIGN rule 11): p256 = JWS ES256, sm2 = JWS SM2SM3. */
  profile: text("profile", { enum: ["p256", "sm2"] }).notNull().default("p256"),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

/**
 * Issuer grants: when a department was allowed to issue a licence type, [valid_from, valid_to] in ms (valid_to
 * null = still allowed). Kept in step with `licence_types.issuers` in the same write transaction: a department
 * added to a type's issuers gets an open grant, one removed has its open grant closed; rows are never deleted.
 * Verification asks whether the signing department held a grant at the licence's signing time.
 */
export const issuerGrants = sqliteTable(
  "issuer_grants",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    typeCode: text("type_code").notNull().references(() => licenceTypes.code),
    departmentId: text("department_id").notNull().references(() => departments.id),
    validFrom: integer("valid_from", { mode: "timestamp_ms" }).notNull(),
    validTo: integer("valid_to", { mode: "timestamp_ms" }),
  },
  (t) => [
    index("issuer_grants_type_idx").on(t.typeCode, t.departmentId),
    // At most one open grant per type and department.
    uniqueIndex("issuer_grants_open_idx").on(t.typeCode, t.departmentId).where(sql`${t.validTo} IS NULL`),
  ],
);

/** 事项: matters that consumers serve, with the licence types each may use. */
export const matters = sqliteTable("matters", {
  code: text("code").primaryKey(),
  name: text("name").notNull(),
  licenceTypes: text("licence_types", { mode: "json" }).$type<string[]>().notNull(),
  /** Consent-exempt by regulation: the legal basis is required then. */
  consentExempt: integer("consent_exempt", { mode: "boolean" }).notNull(),
  exemptBasis: text("exempt_basis"),
  /** The departments that handle the matter (实施主体), JSON array of ids: a case's department is one of them. */
  departments: text("departments", { mode: "json" }).$type<string[]>().notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});
