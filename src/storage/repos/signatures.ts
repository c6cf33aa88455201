/**
 * SQLite implementation of the e-signature ports (src/modules/signatures/ports.ts). The holder's waiting list
 * (`forHolder`) is one raw prepared join; everything else goes through drizzle.
 */
import type BetterSqlite3 from "better-sqlite3";
import { and, asc, desc, eq, inArray, lt, lte, or } from "drizzle-orm";
import type { Drizzle } from "../db.js";
import { sqliteSql, type Sql } from "../sql.js";
import { passkeys, personalKeys, signingDocuments, signingParticipants, signingPrepared, signingRequests, webauthnChallenges } from "../schema/signatures.js";
import type {
  Participant, ParticipantRepo, SignaturePlacement, SignatureRepos, SigningDocumentRepo, SigningRequest, SigningRequestRepo,
} from "../../modules/signatures/ports.js";

type PRow = typeof signingParticipants.$inferSelect;

function participantOf(r: PRow): Participant {
  return { ...r, placement: r.placement ? (JSON.parse(r.placement) as SignaturePlacement) : null };
}

interface JoinRow {
  p_request_id: string; p_idx: number; p_group_no: number; p_holder_hash: string; p_holder_code_enc: string; p_code_type: string;
  p_name_enc: string; p_role: Participant["role"]; p_acting_for: string | null; p_placement: string | null; p_status: Participant["status"];
  p_viewed_at: number | null; p_acted_at: number | null; p_decline_reason: string | null; p_method: string | null; p_cert_serial: string | null;
  p_log_index: number | null;
  id: string; title: string; matter_code: string | null; case_ref: string | null; initiator_client_id: string; initiator_role: string;
  department_id: string | null; status: SigningRequest["status"]; current_group: number; group_count: number; expires_at: number;
  document_sha256: string | null; current_sha256: string | null; page_count: number | null; status_reason: string | null;
  created_at: number; updated_at: number; completed_at: number | null;
}

const d = (n: number | null) => (n === null ? null : new Date(n));

const EVENT_INSERT = "INSERT INTO signing_events (request_id, log_index, type, created_at) VALUES (?, ?, ?, ?)";
const EVENT_LIST = "SELECT request_id, log_index, type, created_at FROM signing_events WHERE request_id = ? ORDER BY log_index";

/** Portable (SQLite and PostgreSQL, src/storage/sql.ts). */
export function createSigningEventRepo(sql: Sql): SignatureRepos["signingEvents"] {
  return {
    async insert(e) {
      await sql.run(EVENT_INSERT, [e.requestId, e.logIndex, e.type, e.createdAt.getTime()]);
    },
    async ofRequest(requestId) {
      const rows = await sql.all<{ request_id: string; log_index: number; type: string; created_at: number }>(EVENT_LIST, [requestId]);
      return rows.map((r) => ({ requestId: r.request_id, logIndex: Number(r.log_index), type: r.type, createdAt: new Date(Number(r.created_at)) }));
    },
  };
}

export function createSignatureRepos(db: Drizzle, raw: BetterSqlite3.Database): SignatureRepos {
  let forHolderStmt: BetterSqlite3.Statement | undefined;
  const requests: SigningRequestRepo = {
    async insert(r) {
      db.insert(signingRequests).values(r).run();
    },
    async byId(id) {
      return db.select().from(signingRequests).where(eq(signingRequests.id, id)).get() as SigningRequest | undefined;
    },
    async update(id, patch) {
      db.update(signingRequests).set(patch).where(eq(signingRequests.id, id)).run();
    },
    async list({ initiatorClientId, departmentId, status, limit, before }) {
      const conds = [
        initiatorClientId ? eq(signingRequests.initiatorClientId, initiatorClientId) : undefined,
        departmentId ? eq(signingRequests.departmentId, departmentId) : undefined,
        status ? eq(signingRequests.status, status) : undefined,
        before ? or(lt(signingRequests.createdAt, before.at), and(eq(signingRequests.createdAt, before.at), lt(signingRequests.id, before.id))) : undefined,
      ].filter((c) => c !== undefined);
      return db.select().from(signingRequests).where(conds.length ? and(...conds) : undefined)
        .orderBy(desc(signingRequests.createdAt), desc(signingRequests.id)).limit(limit).all() as SigningRequest[];
    },
    async dueForExpiry(at, limit) {
      return db.select().from(signingRequests)
        .where(and(inArray(signingRequests.status, ["draft", "in_progress"]), lte(signingRequests.expiresAt, at)))
        .orderBy(asc(signingRequests.expiresAt)).limit(limit).all() as SigningRequest[];
    },
  };
  const participants: ParticipantRepo = {
    async insert(p) {
      db.insert(signingParticipants).values({ ...p, placement: p.placement ? JSON.stringify(p.placement) : null }).run();
    },
    async ofRequest(requestId) {
      return db.select().from(signingParticipants).where(eq(signingParticipants.requestId, requestId)).orderBy(asc(signingParticipants.idx)).all().map(participantOf);
    },
    async update(requestId, idx, patch) {
      const { placement, ...rest } = patch;
      db.update(signingParticipants).set({ ...rest, ...(placement !== undefined ? { placement: placement ? JSON.stringify(placement) : null } : {}) })
        .where(and(eq(signingParticipants.requestId, requestId), eq(signingParticipants.idx, idx))).run();
    },
    async forHolder(holderHash, { statuses, limit }) {
      forHolderStmt ??= raw.prepare(`SELECT p.request_id p_request_id, p.idx p_idx, p.group_no p_group_no, p.holder_hash p_holder_hash,
        p.holder_code_enc p_holder_code_enc, p.code_type p_code_type, p.name_enc p_name_enc, p.role p_role, p.acting_for p_acting_for,
        p.placement p_placement, p.status p_status, p.viewed_at p_viewed_at, p.acted_at p_acted_at, p.decline_reason p_decline_reason,
        p.method p_method, p.cert_serial p_cert_serial, p.log_index p_log_index, r.*
        FROM signing_participants p JOIN signing_requests r ON r.id = p.request_id
        WHERE p.holder_hash = ? AND (? = '' OR instr(?, ',' || p.status || ',') > 0)
        ORDER BY r.created_at DESC, r.id DESC LIMIT ?`);
      const st = statuses?.length ? `,${statuses.join(",")},` : "";
      const rows = forHolderStmt.all(holderHash, st, st, limit) as JoinRow[];
      return rows.map((r) => ({
        participant: {
          requestId: r.p_request_id, idx: r.p_idx, groupNo: r.p_group_no, holderHash: r.p_holder_hash, holderCodeEnc: r.p_holder_code_enc,
          codeType: r.p_code_type, nameEnc: r.p_name_enc, role: r.p_role, actingFor: r.p_acting_for,
          placement: r.p_placement ? (JSON.parse(r.p_placement) as SignaturePlacement) : null, status: r.p_status, viewedAt: d(r.p_viewed_at),
          actedAt: d(r.p_acted_at), declineReason: r.p_decline_reason, method: r.p_method, certSerial: r.p_cert_serial, logIndex: r.p_log_index,
        },
        request: {
          id: r.id, title: r.title, matterCode: r.matter_code, caseRef: r.case_ref, initiatorClientId: r.initiator_client_id,
          initiatorRole: r.initiator_role, departmentId: r.department_id, status: r.status, currentGroup: r.current_group,
          groupCount: r.group_count, expiresAt: new Date(r.expires_at), documentSha256: r.document_sha256, currentSha256: r.current_sha256,
          pageCount: r.page_count, statusReason: r.status_reason, createdAt: new Date(r.created_at), updatedAt: new Date(r.updated_at),
          completedAt: d(r.completed_at),
        },
      }));
    },
  };
  const documents: SigningDocumentRepo = {
    async insert(doc) {
      db.insert(signingDocuments).values(doc).run();
    },
    async latest(requestId) {
      return db.select().from(signingDocuments).where(eq(signingDocuments.requestId, requestId)).orderBy(desc(signingDocuments.seq)).limit(1).get();
    },
    async get(requestId, seq) {
      return db.select().from(signingDocuments).where(and(eq(signingDocuments.requestId, requestId), eq(signingDocuments.seq, seq))).get();
    },
    async list(requestId) {
      return db.select({ requestId: signingDocuments.requestId, seq: signingDocuments.seq, sha256: signingDocuments.sha256, kind: signingDocuments.kind, createdAt: signingDocuments.createdAt })
        .from(signingDocuments).where(eq(signingDocuments.requestId, requestId)).orderBy(asc(signingDocuments.seq)).all();
    },
  };
  return {
    signingEvents: createSigningEventRepo(sqliteSql(raw)),
    signingRequests: requests, signingParticipants: participants, signingDocuments: documents,
    personalKeys: {
      async get(holderHash) {
        return db.select().from(personalKeys).where(eq(personalKeys.holderHash, holderHash)).get();
      },
      async insert(k) {
        db.insert(personalKeys).values(k).run();
      },
    },
    passkeys: {
      async forHolder(holderHash) {
        return db.select().from(passkeys).where(eq(passkeys.holderHash, holderHash)).orderBy(asc(passkeys.createdAt)).all();
      },
      async get(id) {
        return db.select().from(passkeys).where(eq(passkeys.id, id)).get();
      },
      async insert(p) {
        db.insert(passkeys).values(p).run();
      },
      async used(id, counter, at) {
        db.update(passkeys).set({ counter, lastUsedAt: at }).where(eq(passkeys.id, id)).run();
      },
    },
    webauthnChallenges: {
      async insert(c) {
        db.insert(webauthnChallenges).values(c).run();
      },
      async take(challenge) {
        return db.delete(webauthnChallenges).where(eq(webauthnChallenges.challenge, challenge)).returning().get();
      },
      async purge(before) {
        return db.delete(webauthnChallenges).where(lt(webauthnChallenges.expiresAt, before)).run().changes;
      },
    },
    signingPrepared: {
      async put(p) {
        db.insert(signingPrepared).values(p).onConflictDoUpdate({ target: [signingPrepared.requestId, signingPrepared.idx], set: { baseSeq: p.baseSeq, bytes: p.bytes, state: p.state, createdAt: p.createdAt, expiresAt: p.expiresAt } }).run();
      },
      async get(requestId, idx) {
        return db.select().from(signingPrepared).where(and(eq(signingPrepared.requestId, requestId), eq(signingPrepared.idx, idx))).get();
      },
      async delete(requestId, idx) {
        db.delete(signingPrepared).where(and(eq(signingPrepared.requestId, requestId), eq(signingPrepared.idx, idx))).run();
      },
    },
  };
}
