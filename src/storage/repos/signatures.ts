/**
 * The e-signature ports (src/modules/signatures/ports.ts) over the portable Sql. The holder's waiting list
 * (`forHolder`) is one join over the columns it shows.
 */
import type { Sql, Row } from "../sql.js";
import { tableOf } from "../table.js";
import { passkeys, personalKeys, signingDocuments, signingParticipants, signingPrepared, signingRequests, signingSealJobs, webauthnChallenges } from "../schema/signatures.js";
import type {
  Participant, ParticipantRepo, Passkey, SealJob, PersonalKey, PreparedSignature, SignaturePlacement, SignatureRepos, SigningDocument, SigningDocumentRepo,
  SigningRequest, SigningRequestRepo, WebauthnChallenge,
} from "../../modules/signatures/ports.js";

type PRow = Omit<Participant, "placement"> & { placement: string | null };

const RQ = tableOf<SigningRequest>(signingRequests);
const P = tableOf<PRow>(signingParticipants);
const D = tableOf<SigningDocument>(signingDocuments);
const K = tableOf<PersonalKey>(personalKeys);
const PK = tableOf<Passkey>(passkeys);
const W = tableOf<WebauthnChallenge>(webauthnChallenges);
const PR = tableOf<PreparedSignature>(signingPrepared);
const J = tableOf<SealJob>(signingSealJobs);

function participantOf(r: Row): Participant {
  const p = P.from(r);
  return { ...p, placement: p.placement ? (JSON.parse(p.placement) as SignaturePlacement) : null };
}

interface HolderRow {
  id: string;
  title: string;
  matter_code: string | null;
  case_ref: string | null;
  status: SigningRequest["status"];
  expires_at: number;
  created_at: number;
  role: Participant["role"];
  group_no: number;
  my_status: Participant["status"];
  acted_at: number | null;
}

const EVENT_INSERT = "INSERT INTO signing_events (request_id, log_index, type, created_at) VALUES (?, ?, ?, ?)";
const EVENT_LIST = "SELECT request_id, log_index, type, created_at FROM signing_events WHERE request_id = ? ORDER BY log_index";

export function createSignatureRepos(sql: Sql): SignatureRepos {
  const reqById = `SELECT ${RQ.cols} FROM signing_requests WHERE id = ?`;
  const reqList = `SELECT ${RQ.cols} FROM signing_requests
    WHERE (CAST(? AS TEXT) IS NULL OR initiator_client_id = ?) AND (CAST(? AS TEXT) IS NULL OR department_id = ?)
      AND (CAST(? AS TEXT) IS NULL OR status = ?)
      AND (CAST(? AS BIGINT) IS NULL OR created_at < ? OR (created_at = ? AND id < ?))
    ORDER BY created_at DESC, id DESC LIMIT ?`;
  const reqDue = `SELECT ${RQ.cols} FROM signing_requests WHERE status IN ('draft', 'in_progress') AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`;
  const ofRequest = `SELECT ${P.cols} FROM signing_participants WHERE request_id = ? ORDER BY idx`;
  // The holder's list: only the columns it shows (a row of 11 values instead of both tables' 37). CROSS JOIN keeps
  // SQLite's join order (participants first, on signing_participants_holder_idx), so the waiting list never walks
  // every open request of every holder through signing_requests_open_idx; PostgreSQL plans it as a plain join.
  const holderCols = `r.id, r.title, r.matter_code, r.case_ref, r.status, r.expires_at, r.created_at, p.role, p.group_no, p.status AS my_status, p.acted_at`;
  const holderAll = `SELECT ${holderCols} FROM signing_participants p CROSS JOIN signing_requests r
    WHERE r.id = p.request_id AND p.holder_hash = ? ORDER BY r.created_at DESC, r.id DESC, p.idx LIMIT ?`;
  const holderWaiting = `SELECT ${holderCols} FROM signing_participants p CROSS JOIN signing_requests r
    WHERE r.id = p.request_id AND p.holder_hash = ? AND p.status = 'pending' AND r.status = 'in_progress' AND r.expires_at > ?
    ORDER BY r.created_at DESC, r.id DESC, p.idx LIMIT ?`;
  const docLatest = `SELECT ${D.cols} FROM signing_documents WHERE request_id = ? ORDER BY seq DESC LIMIT 1`;
  const docGet = `SELECT ${D.cols} FROM signing_documents WHERE request_id = ? AND seq = ?`;
  const docList = "SELECT request_id, seq, sha256, kind, created_at FROM signing_documents WHERE request_id = ? ORDER BY seq";
  const docBySha = "SELECT request_id, seq, sha256, kind, created_at FROM signing_documents WHERE sha256 = ? ORDER BY created_at DESC, request_id, seq LIMIT 5";
  const preparedPut = `${PR.insert} ON CONFLICT (request_id, idx) DO UPDATE SET base_seq = excluded.base_seq, bytes = excluded.bytes,
    state = excluded.state, created_at = excluded.created_at, expires_at = excluded.expires_at`;

  const requests: SigningRequestRepo = {
    async insert(r) {
      await sql.run(RQ.insert, RQ.args(r));
    },
    async byId(id) {
      return RQ.maybe(await sql.get(reqById, [id]));
    },
    async update(id, patch) {
      const s = RQ.set(patch as Partial<SigningRequest>);
      if (s.args.length) await sql.run(`UPDATE signing_requests ${s.text} WHERE id = ?`, [...s.args, id]);
    },
    async list({ initiatorClientId, departmentId, status, limit, before }) {
      const i = initiatorClientId ?? null;
      const d = departmentId ?? null;
      const st = status ?? null;
      const at = before ? before.at.getTime() : null;
      const bid = before ? before.id : null;
      return (await sql.all(reqList, [i, i, d, d, st, st, at, at, at, bid, limit])).map(RQ.from);
    },
    async dueForExpiry(at, limit) {
      return (await sql.all(reqDue, [at.getTime(), limit])).map(RQ.from);
    },
  };
  const participants: ParticipantRepo = {
    async insert(p) {
      await sql.run(P.insert, P.args({ ...p, placement: p.placement ? JSON.stringify(p.placement) : null }));
    },
    async ofRequest(requestId) {
      return (await sql.all(ofRequest, [requestId])).map(participantOf);
    },
    async update(requestId, idx, patch) {
      const { placement, ...rest } = patch;
      const s = P.set({ ...rest, ...(placement !== undefined ? { placement: placement ? JSON.stringify(placement) : null } : {}) } as Partial<PRow>);
      if (s.args.length) await sql.run(`UPDATE signing_participants ${s.text} WHERE request_id = ? AND idx = ?`, [...s.args, requestId, idx]);
    },
    async forHolder(holderHash, { waitingAt, limit }) {
      const rows = waitingAt
        ? await sql.all<HolderRow>(holderWaiting, [holderHash, waitingAt.getTime(), limit])
        : await sql.all<HolderRow>(holderAll, [holderHash, limit]);
      return rows.map((r) => ({
        id: r.id, title: r.title, matterCode: r.matter_code, caseRef: r.case_ref, status: r.status, expiresAt: new Date(r.expires_at),
        createdAt: new Date(r.created_at), role: r.role, groupNo: r.group_no, myStatus: r.my_status, actedAt: r.acted_at === null ? null : new Date(r.acted_at),
      }));
    },
  };
  const documents: SigningDocumentRepo = {
    async insert(doc) {
      await sql.run(D.insert, D.args(doc));
    },
    async latest(requestId) {
      return D.maybe(await sql.get(docLatest, [requestId]));
    },
    async get(requestId, seq) {
      return D.maybe(await sql.get(docGet, [requestId, seq]));
    },
    async list(requestId) {
      return (await sql.all<{ request_id: string; seq: number; sha256: string; kind: string; created_at: number }>(docList, [requestId]))
        .map((r) => ({ requestId: r.request_id, seq: r.seq, sha256: r.sha256, kind: r.kind, createdAt: new Date(r.created_at) }) as Omit<SigningDocument, "bytes">);
    },
    async bySha256(sha256) {
      return (await sql.all<{ request_id: string; seq: number; sha256: string; kind: string; created_at: number }>(docBySha, [sha256]))
        .map((r) => ({ requestId: r.request_id, seq: Number(r.seq), sha256: r.sha256, kind: r.kind, createdAt: new Date(Number(r.created_at)) }) as Omit<SigningDocument, "bytes">);
    },
  };
  return {
    signingSealJobs: {
      async add(j) {
        await sql.run(`${J.insert} ON CONFLICT (request_id) DO NOTHING`, J.args(j));
      },
      async due(now, limit) {
        return (await sql.all(`SELECT ${J.cols} FROM signing_seal_jobs WHERE next_at <= ? ORDER BY next_at, request_id LIMIT ?`, [now.getTime(), limit])).map(J.from);
      },
      async get(requestId) {
        return J.maybe(await sql.get(`SELECT ${J.cols} FROM signing_seal_jobs WHERE request_id = ?`, [requestId]));
      },
      async claim(requestId, was, until) {
        return (await sql.run("UPDATE signing_seal_jobs SET next_at = ?, attempts = attempts + 1 WHERE request_id = ? AND next_at = ?", [until.getTime(), requestId, was.getTime()])) === 1;
      },
      async reschedule(requestId, nextAt, lastError) {
        await sql.run("UPDATE signing_seal_jobs SET next_at = ?, last_error = ? WHERE request_id = ?", [nextAt.getTime(), lastError.slice(0, 500), requestId]);
      },
      async delete(requestId) {
        await sql.run("DELETE FROM signing_seal_jobs WHERE request_id = ?", [requestId]);
      },
    },
    signingEvents: {
      async insert(e) {
        await sql.run(EVENT_INSERT, [e.requestId, e.logIndex, e.type, e.createdAt.getTime()]);
      },
      async ofRequest(requestId) {
        const rows = await sql.all<{ request_id: string; log_index: number; type: string; created_at: number }>(EVENT_LIST, [requestId]);
        return rows.map((r) => ({ requestId: r.request_id, logIndex: Number(r.log_index), type: r.type, createdAt: new Date(Number(r.created_at)) }));
      },
    },
    signingRequests: requests, signingParticipants: participants, signingDocuments: documents,
    personalKeys: {
      async get(holderHash) {
        return K.maybe(await sql.get(`SELECT ${K.cols} FROM personal_keys WHERE holder_hash = ?`, [holderHash]));
      },
      async insert(k) {
        await sql.run(K.insert, K.args(k));
      },
    },
    passkeys: {
      async forHolder(holderHash) {
        return (await sql.all(`SELECT ${PK.cols} FROM passkeys WHERE holder_hash = ? ORDER BY created_at, id`, [holderHash])).map(PK.from);
      },
      async get(id) {
        return PK.maybe(await sql.get(`SELECT ${PK.cols} FROM passkeys WHERE id = ?`, [id]));
      },
      async insert(p) {
        await sql.run(PK.insert, PK.args(p));
      },
      async used(id, counter, at) {
        await sql.run("UPDATE passkeys SET counter = ?, last_used_at = ? WHERE id = ?", [counter, at.getTime(), id]);
      },
    },
    webauthnChallenges: {
      async insert(c) {
        await sql.run(W.insert, W.args(c));
      },
      async take(challenge) {
        return W.maybe(await sql.get(`DELETE FROM webauthn_challenges WHERE challenge = ? RETURNING ${W.cols}`, [challenge]));
      },
      async purge(before) {
        return sql.run("DELETE FROM webauthn_challenges WHERE expires_at < ?", [before.getTime()]);
      },
    },
    signingPrepared: {
      async put(p) {
        await sql.run(preparedPut, PR.args(p));
      },
      async get(requestId, idx) {
        return PR.maybe(await sql.get(`SELECT ${PR.cols} FROM signing_prepared WHERE request_id = ? AND idx = ?`, [requestId, idx]));
      },
      async delete(requestId, idx) {
        await sql.run("DELETE FROM signing_prepared WHERE request_id = ? AND idx = ?", [requestId, idx]);
      },
    },
  };
}
