import type BetterSqlite3 from "better-sqlite3";
import { desc, eq } from "drizzle-orm";
import type { Drizzle } from "../db.js";
import { caseAttachments, scans } from "../schema/qr.js";
import type { CaseAttachmentRepo, ScanRepo } from "../../modules/qr/ports.js";

export function createScanRepo(db: Drizzle, _raw: BetterSqlite3.Database): ScanRepo {
  return {
    async insertMany(rows) {
      if (rows.length) db.insert(scans).values(rows.map((r) => ({ ...r }))).run();
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
