/** The archives ports (src/modules/archives/ports.ts) over the portable Sql. */
import type { Sql } from "../sql.js";
import { tableOf } from "../table.js";
import { archives } from "../schema/archives.js";
import type { ArchiveChunkRepo, ArchiveRecord, ArchiveRepo } from "../../modules/archives/ports.js";

const A = tableOf<ArchiveRecord>(archives);

export function createArchiveRepos(sql: Sql): { archives: ArchiveRepo; archiveChunks: ArchiveChunkRepo } {
  const byId = `SELECT ${A.cols} FROM archives WHERE id = ?`;
  const byCase = `SELECT ${A.cols} FROM archives WHERE case_id = ?`;
  const stored = `SELECT ${A.cols} FROM archives WHERE status = 'stored' AND id > ? ORDER BY id LIMIT ?`;
  const insChunk = "INSERT INTO archive_chunks (archive_id, seq, bytes) VALUES (?, ?, ?)";
  const getChunk = "SELECT bytes FROM archive_chunks WHERE archive_id = ? AND seq = ?";
  const clear = "DELETE FROM archive_chunks WHERE archive_id = ?";
  const pending = "SELECT count(DISTINCT ci.case_id) AS n FROM case_items ci LEFT JOIN archives a ON a.case_id = ci.case_id WHERE ci.ref = ? AND ci.kind = ? AND (a.id IS NULL OR a.status <> 'stored')";
  const claim = "UPDATE archives SET build_token = ?, build_lease_until = ? WHERE id = ? AND status = 'building' AND (build_token IS NULL OR build_lease_until IS NULL OR build_lease_until <= ?)";
  const renew = "UPDATE archives SET build_lease_until = ? WHERE id = ? AND status = 'building' AND build_token = ?";
  const release = "UPDATE archives SET build_token = NULL, build_lease_until = NULL WHERE id = ? AND status = 'building' AND build_token = ?";
  return {
    archives: {
      async insert(a) {
        await sql.run(A.insert, A.args(a));
      },
      async byId(id) {
        return A.maybe(await sql.get(byId, [id]));
      },
      async byCase(caseId) {
        return A.maybe(await sql.get(byCase, [caseId]));
      },
      async update(id, patch) {
        const p = A.set(patch);
        if (p.args.length) await sql.run(`UPDATE archives ${p.text} WHERE id = ?`, [...p.args, id]);
      },
      async claimBuild(id, token, until, now) {
        return (await sql.run(claim, [token, until.getTime(), id, now.getTime()])) === 1;
      },
      async renewBuild(id, token, until) {
        return (await sql.run(renew, [until.getTime(), id, token])) === 1;
      },
      async finishBuild(id, token, patch) {
        const p = A.set({ ...patch, status: "stored", buildToken: null, buildLeaseUntil: null });
        return (await sql.run(`UPDATE archives ${p.text} WHERE id = ? AND status = 'building' AND build_token = ?`, [...p.args, id, token])) === 1;
      },
      async releaseBuild(id, token) {
        await sql.run(release, [id, token]);
      },
      async pendingUses(kind, ref) {
        return Number((await sql.value(pending, [ref, kind])) ?? 0);
      },
      async listStored({ limit, afterId }) {
        return (await sql.all(stored, [afterId ?? "", limit])).map(A.from);
      },
    },
    archiveChunks: {
      async insert(archiveId, seq, sealed) {
        await sql.run(insChunk, [archiveId, seq, sealed]);
      },
      async get(archiveId, seq) {
        return (await sql.value<Buffer>(getChunk, [archiveId, seq])) ?? undefined;
      },
      async clear(archiveId) {
        return sql.run(clear, [archiveId]);
      },
    },
  };
}
