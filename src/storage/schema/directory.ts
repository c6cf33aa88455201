import { sqliteTable, text, integer, index } from "drizzle-orm/sqlite-core";

/** 部门: issuing departments and other bodies that own clients, keys and seals. */
export const departments = sqliteTable("departments", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  uscc: text("uscc").notNull().unique(),
  regionCode: text("region_code").notNull(),
  /** Crypto profile (DESIGN rule 11): of the licence-signing key made with the department, and its seals' default. */
  profile: text("profile", { enum: ["p256", "sm2"] }).notNull().default("p256"),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

/** API clients (OAuth 2.0 client credentials). The secret is stored as an scrypt hash only. */
export const clients = sqliteTable(
  "clients",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    role: text("role", { enum: ["admin", "issuer", "consumer", "counter", "archivist"] }).notNull(),
    departmentId: text("department_id").references(() => departments.id),
    /** JSON array of matter codes (consumer clients). */
    matters: text("matters", { mode: "json" }).$type<string[]>().notNull(),
    /** JSON array of scopes the client may request. */
    scopes: text("scopes", { mode: "json" }).$type<string[]>().notNull(),
    secretHash: text("secret_hash").notNull(),
    status: text("status", { enum: ["active", "disabled"] }).notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [index("clients_department_idx").on(t.departmentId)],
);
