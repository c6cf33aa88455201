import { defineConfig } from "drizzle-kit";

// PostgreSQL migrations (migrations/pg/) from src/storage/schema-pg/index.ts, which derives every table from the
// SQLite schema. `npm run db:generate` runs this after drizzle.config.ts.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/storage/schema-pg/index.ts",
  out: "./migrations/pg",
});
