import { defineConfig } from "drizzle-kit";

// `npm run db:generate` writes a new SQL migration into migrations/ from the schema in src/storage/schema/.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/storage/schema/index.ts",
  out: "./migrations",
});
