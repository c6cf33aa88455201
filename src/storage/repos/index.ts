/**
 * All repositories over one `Sql` (sql.ts): SQLite and PostgreSQL run the same repository code. `createUnitOfWork`
 * binds one set to the reader connection (reads) and one to the writer connection (used only inside a write
 * transaction); `createPgUnitOfWork` binds one set to the pool (reads) and one to the client of the write
 * transaction in progress. Domain code sees only the port interfaces.
 */
import type { SqliteHandle } from "../db.js";
import type { PgHandle } from "../pg.js";
import { sqliteSql, type Sql } from "../sql.js";
import type { UnitOfWork } from "../../modules/kernel.js";
import { createDirectoryRepos } from "./directory.js";
import { createPkiRepos, createRegisteredKeyRepo } from "./pki.js";
import { createSealRepos } from "./seals.js";
import { createTlogRepo } from "./tlog.js";
import { createCatalogueRepos } from "./catalogue.js";
import { createLicenceRepo } from "./licences.js";
import { createAccessRepos } from "./access.js";
import { createScanRepo } from "./qr.js";
import { createCaseRepos } from "./cases.js";
import { createArchiveRepos } from "./archives.js";
import { createArchiveReceiptRepos } from "./archive-receipts.js";
import { createDocumentRepo } from "./documents.js";
import { createSignatureRepos } from "./signatures.js";
import { createWebhookRepos } from "./webhooks.js";
import { createMaterialRepos } from "./materials.js";

/** `batch`: concurrent verification reads share statements (PostgreSQL reads through the pool only: batch.ts). */
export function makeRepos(sql: Sql, opts: { batch?: boolean } = {}) {
  return {
    ...createDirectoryRepos(sql),
    ...createPkiRepos(sql),
    registeredKeys: createRegisteredKeyRepo(sql),
    ...createSealRepos(sql),
    tlog: createTlogRepo(sql, opts),
    ...createCatalogueRepos(sql),
    licences: createLicenceRepo(sql, opts),
    ...createAccessRepos(sql),
    scans: createScanRepo(sql),
    documents: createDocumentRepo(sql),
    ...createSignatureRepos(sql),
    ...createWebhookRepos(sql),
    ...createCaseRepos(sql),
    ...createArchiveRepos(sql),
    ...createArchiveReceiptRepos(sql),
    ...createMaterialRepos(sql),
  };
}

export type Repos = ReturnType<typeof makeRepos>;

/**
 * Reads run on the writer connection whenever it is between transactions, and on the reader connection while a
 * write transaction is open (so a read never sees uncommitted changes). Why: in WAL mode SQLite drops a
 * connection's whole page cache whenever another connection has committed, so under a steady stream of commits
 * (access records, scans) the reader re-reads every page from the OS, while the writer's own cache stays warm
 * (measured: the holder look-up went from ~300 µs to ~20 µs). Each statement still reads the last committed state.
 */
/** How often UnitOfWork.changeMark reads SQLite's data_version at most (so how long it may lag). */
export const CHANGE_MARK_MS = 20;

export function createUnitOfWork(h: SqliteHandle): UnitOfWork<Repos> {
  const readerRepos = makeRepos(sqliteSql(h.reader));
  const writeRepos = h.reader === h.writer ? readerRepos : makeRepos(sqliteSql(h.writer));
  const shared = h.reader === h.writer;
  const dataVersion = h.writer.prepare("PRAGMA data_version").pluck();
  let mark = { at: -Infinity, v: 0 };
  return {
    get read() {
      return shared || h.writer.inTransaction ? readerRepos : writeRepos;
    },
    write: (fn, opts) => h.transaction((tx) => fn(writeRepos, tx), opts),
    durable: () => h.durable(),
    // SQLite's data_version on the writer: changes when any other connection commits, never for the writer's own.
    // Reading it opens a read transaction (a lock on the shared-memory file, ~6 µs), so it is read at most every
    // CHANGE_MARK_MS and may lag by that much.
    changeMark: shared ? undefined : () => {
      const now = Date.now();
      if (now - mark.at >= CHANGE_MARK_MS || now < mark.at) mark = { at: now, v: dataVersion.get() as number };
      return mark.v;
    },
  };
}

/**
 * PostgreSQL: reads on any pool connection (last committed state); writes on the client of the transaction in
 * progress (pg.ts: one write transaction at a time per process, one at a time across instances through the
 * coordination row). `changeMark` moves when another instance commits (LISTEN/NOTIFY).
 */
export function createPgUnitOfWork(h: PgHandle): UnitOfWork<Repos> {
  const readerRepos = makeRepos(h.r, { batch: true });
  const writeRepos = makeRepos(h.w);
  return {
    read: readerRepos,
    write: (fn, opts) => h.transaction((tx) => fn(writeRepos, tx), opts),
    durable: () => h.durable(),
    changeMark: () => h.changeMark(),
  };
}
