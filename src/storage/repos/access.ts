/** SQLite repositories for consents and the access log (ports: src/modules/access/ports.ts). */
import type BetterSqlite3 from "better-sqlite3";
import type { Drizzle } from "../db.js";
import { HOLDER_KEY_MATCH, holderKeyArgs } from "../schema/licences.js";
import type { AccessLogRepo, AccessRecord, ConsentRecord, ConsentRepo } from "../../modules/access/ports.js";

function lazy(raw: BetterSqlite3.Database, sql: string): () => BetterSqlite3.Statement {
  let s: BetterSqlite3.Statement | undefined;
  return () => (s ??= raw.prepare(sql));
}

interface ConsentRow { id: string; holder_hash: string; client_id: string; matter_code: string; granted_at: number; expires_at: number; revoked_at: number | null }
interface AccessRow { id: string; at: number; client_id: string; matter_code: string; holder_hash: string; identifiers: string; cause_enc: string; basis: string; consent_id: string | null; log_index: number }

const consent = (r: ConsentRow): ConsentRecord => ({
  id: r.id, holderHash: r.holder_hash, clientId: r.client_id, matterCode: r.matter_code, grantedAt: new Date(r.granted_at),
  expiresAt: new Date(r.expires_at), revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at),
});
const access = (r: AccessRow): AccessRecord => ({
  id: r.id, at: new Date(r.at), clientId: r.client_id, matterCode: r.matter_code, holderHash: r.holder_hash,
  identifiers: JSON.parse(r.identifiers) as string[], causeEnc: r.cause_enc, basis: r.basis as AccessRecord["basis"], consentId: r.consent_id, logIndex: r.log_index,
});

export function createAccessRepos(_db: Drizzle, raw: BetterSqlite3.Database): { consents: ConsentRepo; accessLog: AccessLogRepo } {
  const insC = lazy(raw, "INSERT INTO consents (id, holder_hash, client_id, matter_code, granted_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
  const byIdC = lazy(raw, "SELECT * FROM consents WHERE id = ?");
  const forHolderC = lazy(raw, "SELECT * FROM consents WHERE holder_hash = ? ORDER BY granted_at DESC LIMIT 500");
  const activeC = lazy(raw, "SELECT * FROM consents WHERE holder_hash = ? AND client_id = ? AND matter_code = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY expires_at DESC LIMIT 1");
  const revokeC = lazy(raw, "UPDATE consents SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL");
  const insA = lazy(raw, "INSERT INTO access_log (id, at, client_id, matter_code, holder_hash, identifiers, cause_enc, basis, consent_id, log_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  const byIdA = lazy(raw, "SELECT * FROM access_log WHERE id = ?");
  const forHolderA = lazy(raw, `SELECT * FROM access_log WHERE ${HOLDER_KEY_MATCH} AND at < ? ORDER BY at DESC LIMIT ?`);
  return {
    consents: {
      async insert(c) {
        insC().run(c.id, c.holderHash, c.clientId, c.matterCode, c.grantedAt.getTime(), c.expiresAt.getTime(), c.revokedAt?.getTime() ?? null);
      },
      async byId(id) {
        const r = byIdC().get(id) as ConsentRow | undefined;
        return r ? consent(r) : undefined;
      },
      async forHolder(h) {
        return (forHolderC().all(h) as ConsentRow[]).map(consent);
      },
      async active(h, clientId, matterCode, now) {
        const r = activeC().get(h, clientId, matterCode, now.getTime()) as ConsentRow | undefined;
        return r ? consent(r) : undefined;
      },
      async revoke(id, at) {
        return revokeC().run(at.getTime(), id).changes === 1;
      },
    },
    accessLog: {
      async insertMany(recs) {
        const s = insA();
        for (const r of recs) s.run(r.id, r.at.getTime(), r.clientId, r.matterCode, r.holderHash, JSON.stringify(r.identifiers), r.causeEnc, r.basis, r.consentId, r.logIndex);
      },
      async byId(id) {
        const r = byIdA().get(id) as AccessRow | undefined;
        return r ? access(r) : undefined;
      },
      async forHolder(h, opts) {
        return (forHolderA().all(...holderKeyArgs(h), (opts.before ?? new Date(8.64e15)).getTime(), opts.limit) as AccessRow[]).map(access);
      },
    },
  };
}
