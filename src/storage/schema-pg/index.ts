/**
 * The PostgreSQL schema, derived from the SQLite schema (../schema/): one definition of every table, two dialects.
 * drizzle-kit reads this file to write migrations/pg/ (`npm run db:generate` writes both dialects).
 *
 * Values are stored the same way in both dialects, so one SQL text serves both in the repositories:
 * - text (also JSON text and enums) → text;
 * - integer, timestamp_ms and boolean integers → bigint (milliseconds since the epoch, 0/1): node-postgres is told
 *   to read int8 as a JS number (pg.ts);
 * - autoincrement integer primary keys → bigserial;
 * - real → double precision; blob (buffer) → bytea (a Buffer both ways).
 * Primary keys, unique columns, foreign keys, composite keys, indexes (also on expressions, partial, unique) carry
 * over. Tables only PostgreSQL needs (coordination between instances) are declared at the end of this file.
 */
import { getTableConfig, type SQLiteColumn, type SQLiteTable } from "drizzle-orm/sqlite-core";
import { is, SQL } from "drizzle-orm";
import {
  bigint, bigserial, customType, doublePrecision, foreignKey, index, integer, pgTable, primaryKey, text, uniqueIndex,
  type PgColumn, type PgColumnBuilderBase, type PgTableWithColumns,
} from "drizzle-orm/pg-core";
import * as sqlite from "../schema/index.js";

export const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => "bytea" });

type AnyPgTable = PgTableWithColumns<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function column(c: SQLiteColumn): PgColumnBuilderBase {
  let b;
  switch (c.columnType) {
    case "SQLiteText":
    case "SQLiteTextJson":
      b = text(c.name);
      break;
    case "SQLiteInteger":
    case "SQLiteTimestamp":
    case "SQLiteBoolean":
      b = (c as unknown as { autoIncrement?: boolean }).autoIncrement ? bigserial(c.name, { mode: "number" }) : bigint(c.name, { mode: "number" });
      break;
    case "SQLiteReal":
      b = doublePrecision(c.name);
      break;
    case "SQLiteBlobBuffer":
      b = bytea(c.name);
      break;
    default:
      throw new Error(`schema-pg: no PostgreSQL type for ${c.columnType} (${c.name}); add it in src/storage/schema-pg/index.ts`);
  }
  if (c.primary) b = b.primaryKey();
  else if (c.notNull) b = b.notNull();
  if (c.isUnique) b = b.unique(c.uniqueName);
  if (c.hasDefault && c.default !== undefined) b = b.default(c.default as never);
  return b;
}

const byName = new Map<string, AnyPgTable>();

function convert(t: SQLiteTable): AnyPgTable {
  const cfg = getTableConfig(t);
  const cols: Record<string, PgColumnBuilderBase> = {};
  const keyOf = new Map<SQLiteColumn, string>();
  for (const [key, c] of Object.entries(t) as Array<[string, unknown]>) {
    if (cfg.columns.includes(c as SQLiteColumn)) {
      cols[key] = column(c as SQLiteColumn);
      keyOf.set(c as SQLiteColumn, key);
    }
  }
  const table = pgTable(cfg.name, cols, (p) => {
    const mine = (c: SQLiteColumn) => p[keyOf.get(c)!] as PgColumn;
    const out = [];
    for (const pk of cfg.primaryKeys) out.push(primaryKey({ columns: pk.columns.map(mine) as [PgColumn, ...PgColumn[]], name: pk.getName() }));
    for (const ix of cfg.indexes) {
      const on = ix.config.columns.map((c) => (is(c, SQL) ? c : mine(c as SQLiteColumn))) as [PgColumn, ...PgColumn[]];
      const b = (ix.config.unique ? uniqueIndex(ix.config.name) : index(ix.config.name)).on(...on);
      out.push(ix.config.where ? b.where(ix.config.where) : b);
    }
    for (const fk of cfg.foreignKeys) {
      const ref = fk.reference();
      const target = byName.get(getTableConfig(ref.foreignTable).name);
      if (!target) throw new Error(`schema-pg: ${cfg.name} references ${getTableConfig(ref.foreignTable).name}, which is not exported before it`);
      const targetKeys = new Map(Object.entries(ref.foreignTable).map(([k, v]) => [v, k]));
      out.push(foreignKey({
        name: fk.getName(),
        columns: ref.columns.map(mine) as [PgColumn, ...PgColumn[]],
        foreignColumns: ref.foreignColumns.map((c) => target[targetKeys.get(c)!] as PgColumn) as [PgColumn, ...PgColumn[]],
      }));
    }
    return out;
  });
  byName.set(cfg.name, table);
  return table;
}

function isSqliteTable(v: unknown): v is SQLiteTable {
  try {
    return typeof v === "object" && v !== null && getTableConfig(v as SQLiteTable).name !== undefined && Object.getOwnPropertySymbols(v).length > 0;
  } catch {
    return false;
  }
}

/** Every SQLite table, as a PostgreSQL table, by the same export name. */
export const tables: Record<string, AnyPgTable> = {};
// Referenced tables first: a table is converted once every table it references is.
{
  const pending = Object.entries(sqlite).filter(([, v]) => isSqliteTable(v)) as Array<[string, SQLiteTable]>;
  while (pending.length) {
    const before = pending.length;
    for (let i = 0; i < pending.length; i++) {
      const [key, t] = pending[i]!;
      const deps = getTableConfig(t).foreignKeys.map((fk) => getTableConfig(fk.reference().foreignTable).name);
      if (deps.every((d) => byName.has(d) || d === getTableConfig(t).name)) {
        tables[key] = convert(t);
        pending.splice(i--, 1);
      }
    }
    if (pending.length === before) throw new Error(`schema-pg: cannot order ${pending.map(([k]) => k).join(", ")} by their references`);
  }
}

// ---- PostgreSQL only ------------------------------------------------------------------------------------------

/**
 * One row (id = 1) that every write transaction locks FOR UPDATE first, in its own transaction: writes from all
 * instances are applied one at a time, as with SQLite's single writer, so the transparency log's sequence (the next
 * leaf index and the Merkle frontier, read from tlog_leaves / tlog_nodes under this lock) is one across instances.
 * `tx` counts committed write transactions (a cheap "has anything changed" mark).
 */
export const storeCoord = pgTable("store_coord", {
  id: integer("id").primaryKey(),
  tx: bigint("tx", { mode: "number" }).notNull().default(0),
});

/** Leases for periodic jobs (one instance at a time; another takes over when the holder stops renewing). */
export const storeLeases = pgTable("store_leases", {
  name: text("name").primaryKey(),
  holder: text("holder").notNull(),
  until: bigint("until", { mode: "number" }).notNull(),
});

/** Drizzle-kit collects exported tables: export each converted table under its SQLite export name. */
export const {
  departments, clients, keys, certificates, crls, registeredKeys, tlogLeaves, tlogNodes, tlogCheckpoints, licenceTypes,
  issuerGrants, matters, licences, licenceEvents, licenceCounters, idempotencyKeys, consents, accessLog, seals,
  sealEvents, stamps, scans, caseAttachments, documentBlobs, documents, signingRequests, signingParticipants, signingDocuments,
  personalKeys, passkeys, webauthnChallenges, signingPrepared, deployment, signingEvents, webhookEndpoints, webhookDeliveries,
  signingSealJobs,
  materialTypes, materials, materialChunks, cases, caseFiles, caseItems, archives, archiveChunks, archiveReceipts, archiveReceiptChunks,
} = tables as Record<string, AnyPgTable>;
