/** The received-package ports (src/modules/archives/receipt-ports.ts) over the portable Sql. */
import type { Sql } from "../sql.js";
import { tableOf } from "../table.js";
import { archiveReceipts } from "../schema/archive-receipts.js";
import type { ArchiveReceiptRecord, ArchiveReceiptRepos } from "../../modules/archives/receipt-ports.js";

const R = tableOf<ArchiveReceiptRecord>(archiveReceipts);

export function createArchiveReceiptRepos(sql: Sql): ArchiveReceiptRepos {
  const byId = `SELECT ${R.cols} FROM archive_receipts WHERE id = ?`;
  const byTm = `SELECT ${R.cols} FROM archive_receipts WHERE department_id = ? AND tagmanifest_sha256 = ?`;
  return {
    archiveReceipts: {
      async insert(r) {
        await sql.run(R.insert, R.args(r));
      },
      async byId(id) {
        return R.maybe(await sql.get(byId, [id]));
      },
      async byTagmanifest(departmentId, tm) {
        return R.maybe(await sql.get(byTm, [departmentId, tm]));
      },
      async markReceived(id, patch) {
        await sql.run("UPDATE archive_receipts SET status = 'received', chunks = ?, log_index = ? WHERE id = ? AND status = 'receiving'", [patch.chunks, patch.logIndex, id]);
      },
      async discard(id) {
        await sql.run("DELETE FROM archive_receipt_chunks WHERE receipt_id = ?", [id]);
        await sql.run("DELETE FROM archive_receipts WHERE id = ? AND status = 'receiving'", [id]);
      },
      async insertChunk(id, seq, sealed) {
        await sql.run("INSERT INTO archive_receipt_chunks (receipt_id, seq, bytes) VALUES (?, ?, ?)", [id, seq, sealed]);
      },
      async chunk(id, seq) {
        return (await sql.value<Buffer>("SELECT bytes FROM archive_receipt_chunks WHERE receipt_id = ? AND seq = ?", [id, seq])) ?? undefined;
      },
    },
  };
}
