/** Scans (ports: src/modules/qr/ports.ts) over the portable Sql. */
import type { Sql } from "../sql.js";
import type { ScanRecord, ScanRepo } from "../../modules/qr/ports.js";

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
