/** The documents port (src/modules/documents/ports.ts) over the portable Sql. */
import type { Sql } from "../sql.js";
import type { DocumentRecord, DocumentRepo } from "../../modules/documents/ports.js";

interface Row {
  key: string;
  kind: DocumentRecord["kind"];
  identifier: string;
  sha256: string;
  stamp_id: string;
  created_at: number;
  licence_status: string | null;
  expires_at: number | null;
  bytes: Buffer;
  encrypted: number;
}

export function createDocumentRepo(sql: Sql): DocumentRepo {
  const get = "SELECT d.key, d.kind, d.identifier, d.sha256, d.stamp_id, d.created_at, d.licence_status, d.expires_at, b.bytes, b.encrypted FROM documents d JOIN document_blobs b ON b.sha256 = d.sha256 WHERE d.key = ?";
  const insBlob = "INSERT INTO document_blobs (sha256, bytes, size, created_at, encrypted) VALUES (?, ?, ?, ?, 1) ON CONFLICT DO NOTHING";
  const insDoc = "INSERT INTO documents (key, kind, identifier, sha256, stamp_id, created_at, licence_status, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING";
  const expired = "SELECT key, sha256 FROM documents WHERE expires_at <= ? AND kind = 'copy' LIMIT ?";
  const delDoc = "DELETE FROM documents WHERE key = ?";
  // Content-addressed: a blob goes only when no document (of any kind) refers to it any more.
  const delBlob = "DELETE FROM document_blobs WHERE sha256 = ? AND NOT EXISTS (SELECT 1 FROM documents WHERE sha256 = ?)";
  const clear = "SELECT sha256, bytes FROM document_blobs WHERE encrypted = 0 LIMIT ?";
  const encrypt = "UPDATE document_blobs SET bytes = ?, size = ?, encrypted = 1 WHERE sha256 = ? AND encrypted = 0";
  return {
    async byKey(key) {
      const r = await sql.get<Row>(get, [key]);
      return r ? {
        key: r.key, kind: r.kind, identifier: r.identifier, sha256: r.sha256, stampId: r.stamp_id, createdAt: new Date(r.created_at),
        licenceStatus: r.licence_status, expiresAt: r.expires_at === null ? null : new Date(r.expires_at), bytes: r.bytes, encrypted: r.encrypted === 1,
      } : undefined;
    },
    async insert(rec, bytes) {
      await sql.run(insBlob, [rec.sha256, bytes, bytes.length, rec.createdAt.getTime()]);
      return (await sql.run(insDoc, [rec.key, rec.kind, rec.identifier, rec.sha256, rec.stampId, rec.createdAt.getTime(), rec.licenceStatus, rec.expiresAt?.getTime() ?? null])) === 1;
    },
    async deleteExpiredCopies(now, limit) {
      const rows = await sql.all<{ key: string; sha256: string }>(expired, [now.getTime(), limit]);
      let documents = 0;
      let blobs = 0;
      for (const r of rows) documents += await sql.run(delDoc, [r.key]);
      for (const sha of new Set(rows.map((r) => r.sha256))) blobs += await sql.run(delBlob, [sha, sha]);
      return { documents, blobs };
    },
    async clearBlobs(limit) {
      return sql.all<{ sha256: string; bytes: Buffer }>(clear, [limit]);
    },
    async encryptBlob(sha256, bytes) {
      await sql.run(encrypt, [bytes, bytes.length, sha256]);
    },
  };
}
