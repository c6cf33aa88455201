/** Scans and case attachments (ports: src/modules/qr/ports.ts) over the portable Sql. */
import type { Sql } from "../sql.js";
import type { CaseAttachmentRepo, ScanRecord, ScanRepo } from "../../modules/qr/ports.js";

export function createScanRepo(sql: Sql): ScanRepo {
  // Written on every page view (in batches).
  const ins = "INSERT INTO scans (at, kind, identifier, outcome, client_id) VALUES (?, ?, ?, ?, ?)";
  const byIdentifier = "SELECT at, kind, identifier, outcome, client_id FROM scans WHERE identifier = ? ORDER BY at DESC, id DESC LIMIT ?";
  return {
    async insertMany(rows) {
      for (const r of rows) await sql.run(ins, [r.at.getTime(), r.kind, r.identifier, r.outcome, r.clientId]);
    },
    async byIdentifier(identifier, limit) {
      return (await sql.all<{ at: number; kind: ScanRecord["kind"]; identifier: string | null; outcome: string; client_id: string | null }>(byIdentifier, [identifier, limit]))
        .map((r) => ({ at: new Date(r.at), kind: r.kind, identifier: r.identifier, outcome: r.outcome, clientId: r.client_id }));
    },
  };
}

export function createCaseAttachmentRepo(sql: Sql): CaseAttachmentRepo {
  const ins = "INSERT INTO case_attachments (case_no, identifier, client_id, verdict, log_index, at) VALUES (?, ?, ?, ?, ?, ?)";
  const byCase = "SELECT case_no, identifier, client_id, verdict, log_index, at FROM case_attachments WHERE case_no = ? ORDER BY at, id";
  return {
    async insert(a) {
      await sql.run(ins, [a.caseNo, a.identifier, a.clientId, a.verdict, a.logIndex, a.at.getTime()]);
    },
    async byCase(caseNo) {
      return (await sql.all<{ case_no: string; identifier: string; client_id: string; verdict: string; log_index: number; at: number }>(byCase, [caseNo]))
        .map((r) => ({ caseNo: r.case_no, identifier: r.identifier, clientId: r.client_id, verdict: r.verdict, logIndex: r.log_index, at: new Date(r.at) }));
    },
  };
}
