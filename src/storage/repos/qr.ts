import type BetterSqlite3 from "better-sqlite3";
import { desc, eq } from "drizzle-orm";
import type { Drizzle } from "../db.js";
import { caseAttachments, scans } from "../schema/qr.js";
import type { CaseAttachmentRepo, ScanRepo } from "../../modules/qr/ports.js";

export function createScanRepo(db: Drizzle, raw: BetterSqlite3.Database): ScanRepo {
  // Written on every page view (in batches): a raw prepared statement, not a query built each time.
  let ins: BetterSqlite3.Statement | undefined;
  return {
    async insertMany(rows) {
      ins ??= raw.prepare("INSERT INTO scans (at, kind, identifier, outcome, client_id) VALUES (?, ?, ?, ?, ?)");
      for (const r of rows) ins.run(r.at.getTime(), r.kind, r.identifier, r.outcome, r.clientId);
    },
    async byIdentifier(identifier, limit) {
      return db.select({ at: scans.at, kind: scans.kind, identifier: scans.identifier, outcome: scans.outcome, clientId: scans.clientId })
        .from(scans).where(eq(scans.identifier, identifier)).orderBy(desc(scans.at)).limit(limit).all();
    },
  };
}

export function createCaseAttachmentRepo(db: Drizzle): CaseAttachmentRepo {
  return {
    async insert(a) {
      db.insert(caseAttachments).values(a).run();
    },
    async byCase(caseNo) {
      return db.select({ caseNo: caseAttachments.caseNo, identifier: caseAttachments.identifier, clientId: caseAttachments.clientId, verdict: caseAttachments.verdict, logIndex: caseAttachments.logIndex, at: caseAttachments.at })
        .from(caseAttachments).where(eq(caseAttachments.caseNo, caseNo)).orderBy(caseAttachments.at).all();
    },
  };
}
