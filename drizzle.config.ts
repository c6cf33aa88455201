import { defineConfig } from "drizzle-kit";

// `npm run db:generate` writes a new SQL migration for each dialect: SQLite here (migrations/sqlite/) from the schema
// in src/storage/schema/, PostgreSQL in drizzle.pg.config.ts (migrations/pg/) from the same tables (see
// /work/coord/STORAGE.md or src/storage/schema-pg/index.ts).
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/storage/schema/index.ts",
  out: "./migrations/sqlite",
});
