/** Consents and the access log (ports: src/modules/access/ports.ts) over the portable Sql. */
import type { Sql } from "../sql.js";
import { HOLDER_KEY_MATCH, holderKeyArgs } from "../schema/licences.js";
import type { AccessLogRepo, AccessRecord, ConsentRecord, ConsentRepo } from "../../modules/access/ports.js";

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

export function createAccessRepos(sql: Sql): { consents: ConsentRepo; accessLog: AccessLogRepo } {
  const insC = "INSERT INTO consents (id, holder_hash, client_id, matter_code, granted_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)";
  const byIdC = "SELECT id, holder_hash, client_id, matter_code, granted_at, expires_at, revoked_at FROM consents WHERE id = ?";
  const forHolderC = "SELECT id, holder_hash, client_id, matter_code, granted_at, expires_at, revoked_at FROM consents WHERE holder_hash = ? ORDER BY granted_at DESC LIMIT 500";
  const activeC = "SELECT id, holder_hash, client_id, matter_code, granted_at, expires_at, revoked_at FROM consents WHERE holder_hash = ? AND client_id = ? AND matter_code = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY expires_at DESC LIMIT 1";
  const revokeC = "UPDATE consents SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL";
  const insA = "INSERT INTO access_log (id, at, client_id, matter_code, holder_hash, identifiers, cause_enc, basis, consent_id, log_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  const byIdA = "SELECT id, at, client_id, matter_code, holder_hash, identifiers, cause_enc, basis, consent_id, log_index FROM access_log WHERE id = ?";
  const forHolderA = `SELECT id, at, client_id, matter_code, holder_hash, identifiers, cause_enc, basis, consent_id, log_index FROM access_log WHERE ${HOLDER_KEY_MATCH} AND at < ? ORDER BY at DESC LIMIT ?`;
  return {
    consents: {
      async insert(c) {
        await sql.run(insC, [c.id, c.holderHash, c.clientId, c.matterCode, c.grantedAt.getTime(), c.expiresAt.getTime(), c.revokedAt?.getTime() ?? null]);
      },
      async byId(id) {
        const r = await sql.get<ConsentRow>(byIdC, [id]);
        return r ? consent(r) : undefined;
      },
      async forHolder(h) {
        return (await sql.all<ConsentRow>(forHolderC, [h])).map(consent);
      },
      async active(h, clientId, matterCode, now) {
        const r = await sql.get<ConsentRow>(activeC, [h, clientId, matterCode, now.getTime()]);
        return r ? consent(r) : undefined;
      },
      async revoke(id, at) {
        return (await sql.run(revokeC, [at.getTime(), id])) === 1;
      },
    },
    accessLog: {
      async insertMany(recs) {
        for (const r of recs) await sql.run(insA, [r.id, r.at.getTime(), r.clientId, r.matterCode, r.holderHash, JSON.stringify(r.identifiers), r.causeEnc, r.basis, r.consentId, r.logIndex]);
      },
      async byId(id) {
        const r = await sql.get<AccessRow>(byIdA, [id]);
        return r ? access(r) : undefined;
      },
      async forHolder(h, opts) {
        return (await sql.all<AccessRow>(forHolderA, [...holderKeyArgs(h), (opts.before ?? new Date(8.64e15)).getTime(), opts.limit])).map(access);
      },
    },
  };
}
