/** SQLite implementation of the documents port (src/modules/documents/ports.ts): raw prepared statements. */
import type BetterSqlite3 from "better-sqlite3";
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

export function createDocumentRepo(raw: BetterSqlite3.Database): DocumentRepo {
  let get: BetterSqlite3.Statement | undefined;
  let insBlob: BetterSqlite3.Statement | undefined;
  let insDoc: BetterSqlite3.Statement | undefined;
  let expired: BetterSqlite3.Statement | undefined;
  let delDoc: BetterSqlite3.Statement | undefined;
  let delBlob: BetterSqlite3.Statement | undefined;
  let clear: BetterSqlite3.Statement | undefined;
  let encrypt: BetterSqlite3.Statement | undefined;
  return {
    async byKey(key) {
      get ??= raw.prepare("SELECT d.key, d.kind, d.identifier, d.sha256, d.stamp_id, d.created_at, d.licence_status, d.expires_at, b.bytes, b.encrypted FROM documents d JOIN document_blobs b ON b.sha256 = d.sha256 WHERE d.key = ?");
      const r = get.get(key) as Row | undefined;
      return r ? {
        key: r.key, kind: r.kind, identifier: r.identifier, sha256: r.sha256, stampId: r.stamp_id, createdAt: new Date(r.created_at),
        licenceStatus: r.licence_status, expiresAt: r.expires_at === null ? null : new Date(r.expires_at), bytes: r.bytes, encrypted: r.encrypted === 1,
      } : undefined;
    },
    async insert(rec, bytes) {
      insBlob ??= raw.prepare("INSERT OR IGNORE INTO document_blobs (sha256, bytes, size, created_at, encrypted) VALUES (?, ?, ?, ?, 1)");
      insDoc ??= raw.prepare("INSERT OR IGNORE INTO documents (key, kind, identifier, sha256, stamp_id, created_at, licence_status, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
      insBlob.run(rec.sha256, bytes, bytes.length, rec.createdAt.getTime());
      return insDoc.run(rec.key, rec.kind, rec.identifier, rec.sha256, rec.stampId, rec.createdAt.getTime(), rec.licenceStatus, rec.expiresAt?.getTime() ?? null).changes === 1;
    },
    async deleteExpiredCopies(now, limit) {
      expired ??= raw.prepare("SELECT key, sha256 FROM documents WHERE expires_at <= ? AND kind = 'copy' LIMIT ?");
      delDoc ??= raw.prepare("DELETE FROM documents WHERE key = ?");
      // Content-addressed: a blob goes only when no document (of any kind) refers to it any more.
      delBlob ??= raw.prepare("DELETE FROM document_blobs WHERE sha256 = ? AND NOT EXISTS (SELECT 1 FROM documents WHERE sha256 = ?)");
      const rows = expired.all(now.getTime(), limit) as Array<{ key: string; sha256: string }>;
      let documents = 0;
      let blobs = 0;
      for (const r of rows) documents += delDoc.run(r.key).changes;
      for (const sha of new Set(rows.map((r) => r.sha256))) blobs += delBlob.run(sha, sha).changes;
      return { documents, blobs };
    },
    async clearBlobs(limit) {
      clear ??= raw.prepare("SELECT sha256, bytes FROM document_blobs WHERE encrypted = 0 LIMIT ?");
      return clear.all(limit) as Array<{ sha256: string; bytes: Buffer }>;
    },
    async encryptBlob(sha256, bytes) {
      encrypt ??= raw.prepare("UPDATE document_blobs SET bytes = ?, size = ?, encrypted = 1 WHERE sha256 = ? AND encrypted = 0");
      encrypt.run(bytes, bytes.length, sha256);
    },
  };
}
