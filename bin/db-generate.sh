#!/usr/bin/env bash
# npm run db:generate: a new migration for each dialect from src/storage/schema/ (SQLite, migrations/sqlite/) and
# its PostgreSQL twin src/storage/schema-pg/ (migrations/pg/). drizzle-kit names the public schema in foreign keys;
# Sidian's tables live in the schema of SIDIAN_DB's search_path (?schema=), so that qualifier is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
npx drizzle-kit generate --config drizzle.config.ts "$@"
npx drizzle-kit generate --config drizzle.pg.config.ts "$@"
sed -i -E 's/REFERENCES "public"\./REFERENCES /g' migrations/pg/*.sql
