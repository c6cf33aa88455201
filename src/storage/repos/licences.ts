/**
 * Licence repository (port: src/modules/licences/ports.ts) over the portable Sql: constant SQL texts, prepared once
 * per connection (SQLite) or per process (PostgreSQL named statements); the schema lives in ../schema/licences.ts.
 */
import { createReadBatcher } from "../batch.js";
import type { Sql } from "../sql.js";
import { HOLDER_KEY_MATCH, holderKeyArgs } from "../schema/licences.js";
import type { IdempotencyRecord, LicenceEventRecord, LicenceRecord, LicenceRepo, LicenceStatus, LicenceWithLog } from "../../modules/licences/ports.js";

const COLS = "identifier, lineage, version, type_code, department_id, holder_hash, holder_code_type, number_hash, payload_enc, signature, cert_serial, jws_sha256, valid_from, valid_until, status, status_at, status_index, supersedes, superseded_by, log_index, created_at";
const NCOLS = 21;
const CHUNK = 40;

interface Row {
  identifier: string; lineage: string; version: string; type_code: string; department_id: string; holder_hash: string;
  holder_code_type: string; number_hash: string | null; payload_enc: string; signature: string; cert_serial: string; jws_sha256: string;
  valid_from: string; valid_until: string | null; status: string; status_at: number; status_index: number;
  supersedes: string | null; superseded_by: string | null; log_index: number; created_at: number;
}

/** The log columns of byIdWithLog (NULL when the leaf or a covering checkpoint is absent). */
interface LogCols {
  t_idx: number | null; t_leaf_hash: Buffer | null; t_data: string | null; t_type: string | null; t_subject_hash: Buffer | null; t_created_at: number | null;
  c_size: number | null; c_root: Buffer | null; c_note: string | null; c_created_at: number | null;
}

function toRec(r: Row): LicenceRecord {
  return {
    identifier: r.identifier, lineage: r.lineage, version: r.version, typeCode: r.type_code, departmentId: r.department_id,
    holderHash: r.holder_hash, holderCodeType: r.holder_code_type, numberHash: r.number_hash, payloadEnc: r.payload_enc, signature: r.signature,
    certSerial: r.cert_serial, jwsSha256: r.jws_sha256, validFrom: r.valid_from, validUntil: r.valid_until,
    status: r.status as LicenceStatus, statusAt: new Date(r.status_at), statusIndex: r.status_index, supersedes: r.supersedes,
    supersededBy: r.superseded_by, logIndex: r.log_index, createdAt: new Date(r.created_at),
  };
}

function push(args: unknown[], l: LicenceRecord): void {
  args.push(l.identifier, l.lineage, l.version, l.typeCode, l.departmentId, l.holderHash, l.holderCodeType, l.numberHash, l.payloadEnc, l.signature,
    l.certSerial, l.jwsSha256, l.validFrom, l.validUntil, l.status, l.statusAt.getTime(), l.statusIndex, l.supersedes, l.supersededBy,
    l.logIndex, l.createdAt.getTime());
}

function withLog(r: Row & LogCols): LicenceWithLog {
  return {
    rec: toRec(r),
    leaf: r.t_idx === null ? undefined : { index: r.t_idx, leafHash: r.t_leaf_hash!, data: r.t_data!, type: r.t_type!, subjectHash: r.t_subject_hash!, createdAt: new Date(r.t_created_at!) },
    checkpoint: r.c_size === null ? undefined : { size: r.c_size, root: r.c_root!, note: r.c_note!, createdAt: new Date(r.c_created_at!) },
  };
}

/** `batch`: group concurrent verification reads into one statement (PostgreSQL reads through the pool: batch.ts). */
export function createLicenceRepo(sql: Sql, opts: { batch?: boolean } = {}): LicenceRepo {
  const row = `(${Array(NCOLS).fill("?").join(", ")})`;
  const ins1 = `INSERT INTO licences (${COLS}) VALUES ${row}`;
  const insN = `INSERT INTO licences (${COLS}) VALUES ${Array(CHUNK).fill(row).join(", ")}`;
  const byId = `SELECT ${COLS} FROM licences WHERE identifier = ?`;
  // Verification: the record, its log leaf and the smallest checkpoint covering the leaf in one statement (one round
  // trip on PostgreSQL instead of three); both joins by primary key.
  // Verification: the record, its log leaf and the smallest checkpoint covering the leaf in one statement (one round
  // trip on PostgreSQL instead of three); both joins by primary key. Concurrent calls through the pool share one.
  const withLogSelect = `SELECT ${COLS.split(", ").map((c) => `l.${c}`).join(", ")},
      t.idx AS t_idx, t.leaf_hash AS t_leaf_hash, t.data AS t_data, t.type AS t_type, t.subject_hash AS t_subject_hash, t.created_at AS t_created_at,
      c.size AS c_size, c.root AS c_root, c.note AS c_note, c.created_at AS c_created_at
    FROM licences l
    LEFT JOIN tlog_leaves t ON t.idx = l.log_index
    LEFT JOIN tlog_checkpoints c ON c.size = (SELECT MIN(size) FROM tlog_checkpoints WHERE size > l.log_index)`;
  const byIdWithLog = `${withLogSelect} WHERE l.identifier = ?`;
  const byIdsWithLog = `${withLogSelect} WHERE l.identifier = ANY(CAST(? AS TEXT[]))`;
  const withLogBatch = opts.batch && sql.dialect === "pg"
    ? createReadBatcher<string, LicenceWithLog>(async (ids) => new Map((await sql.all<Row & LogCols>(byIdsWithLog, [ids])).map((r) => [r.identifier, withLog(r)])))
    : null;
  const byHolder = `SELECT ${COLS} FROM licences WHERE ${HOLDER_KEY_MATCH} AND (? = 1 OR superseded_by IS NULL)
    AND (CAST(? AS TEXT) IS NULL OR type_code IN (${sql.jsonEach})) AND identifier > ? ORDER BY identifier LIMIT ?`;
  const byDep = `SELECT ${COLS} FROM licences WHERE department_id = ? AND status_index > ?
    AND (CAST(? AS TEXT) IS NULL OR type_code = ?) ORDER BY status_index LIMIT ?`;
  const lineage = `SELECT ${COLS} FROM licences WHERE lineage = ?`;
  const setStatus = "UPDATE licences SET status = ?, status_at = ?, superseded_by = COALESCE(?, superseded_by) WHERE identifier = ? AND status = ?";
  const range = "SELECT status_index, status, valid_until FROM licences WHERE department_id = ? AND status_index >= ? AND status_index < ?";
  const due = `SELECT ${COLS} FROM licences WHERE status IN ('01', '02') AND valid_until IS NOT NULL AND valid_until < ?
    AND department_id NOT IN (${sql.jsonEach}) LIMIT ?`;
  const insEvent = "INSERT INTO licence_events (identifier, seq, action, from_status, to_status, reason, actor, at, statement, log_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  const events = "SELECT identifier, seq, action, from_status, to_status, reason, actor, at, statement, log_index FROM licence_events WHERE identifier = ? ORDER BY seq";
  const lastSeq = "SELECT COALESCE(MAX(seq), 0) AS seq FROM licence_events WHERE identifier = ?";
  const reserve = "INSERT INTO licence_counters (scope, next) VALUES (?, ?) ON CONFLICT (scope) DO UPDATE SET next = licence_counters.next + excluded.next RETURNING next";
  const peek = "SELECT next FROM licence_counters WHERE scope = ?";
  const idem = "SELECT client_id, key, request_hash, identifier, created_at FROM idempotency_keys WHERE client_id = ? AND key = ?";
  const withoutNumber = `SELECT ${COLS} FROM licences WHERE number_hash IS NULL AND identifier > ? ORDER BY identifier LIMIT ?`;
  const setNumber = "UPDATE licences SET number_hash = ? WHERE identifier = ? AND number_hash IS NULL";
  const insIdem = "INSERT INTO idempotency_keys (client_id, key, request_hash, identifier, created_at) VALUES (?, ?, ?, ?, ?)";

  return {
    async insertMany(recs) {
      let i = 0;
      for (; i + CHUNK <= recs.length; i += CHUNK) {
        const args: unknown[] = [];
        for (let k = i; k < i + CHUNK; k++) push(args, recs[k]!);
        await sql.run(insN, args);
      }
      for (; i < recs.length; i++) {
        const args: unknown[] = [];
        push(args, recs[i]!);
        await sql.run(ins1, args);
      }
    },
    async byId(identifier) {
      const r = await sql.get<Row>(byId, [identifier]);
      return r ? toRec(r) : undefined;
    },
    async byIdWithLog(identifier) {
      if (withLogBatch) return (await withLogBatch.load([identifier]))[0];
      const r = await sql.get<Row & LogCols>(byIdWithLog, [identifier]);
      return r ? withLog(r) : undefined;
    },
    async byHolder(holderHash, opts = {}) {
      const types = opts.typeCodes ? JSON.stringify(opts.typeCodes) : null;
      return (await sql.all<Row>(byHolder, [...holderKeyArgs(holderHash), opts.current ? 0 : 1, types, types, opts.after ?? "", opts.limit ?? 500])).map(toRec);
    },
    async byDepartment(departmentId, opts) {
      const after = opts.after !== undefined && /^\d+$/.test(opts.after) ? Number(opts.after) : -1;
      const type = opts.typeCode ?? null;
      return (await sql.all<Row>(byDep, [departmentId, after, type, type, opts.limit])).map(toRec);
    },
    async find(departmentId, q) {
      // The number's unique index (partial: superseded_by IS NULL) or the holder-key index leads; at most 8 texts,
      // each prepared once.
      const where = ["department_id = ?", "superseded_by IS NULL"];
      const args: unknown[] = [departmentId];
      if (q.numberHash !== undefined) {
        where.push("number_hash = ?");
        args.push(q.numberHash);
      }
      if (q.holderHash !== undefined) {
        where.push(HOLDER_KEY_MATCH);
        args.push(...holderKeyArgs(q.holderHash));
      }
      if (q.typeCode !== undefined) {
        where.push("type_code = ?");
        args.push(q.typeCode);
      }
      args.push(q.limit);
      return (await sql.all<Row>(`SELECT ${COLS} FROM licences WHERE ${where.join(" AND ")} ORDER BY identifier LIMIT ?`, args)).map(toRec);
    },
    async withoutNumber(after, limit) {
      return (await sql.all<Row>(withoutNumber, [after, limit])).map(toRec);
    },
    async setNumberHash(identifier, numberHash) {
      await sql.run(setNumber, [numberHash, identifier]);
    },
    async lineage(l) {
      return (await sql.all<Row>(lineage, [l])).map(toRec);
    },
    async setStatus(identifier, from, to, at, supersededBy) {
      return (await sql.run(setStatus, [to, at.getTime(), supersededBy ?? null, identifier, from])) === 1;
    },
    async statusRange(departmentId, from, to) {
      return (await sql.all<{ status_index: number; status: string; valid_until: string | null }>(range, [departmentId, from, to])).map((r) => ({
        statusIndex: r.status_index, status: r.status as LicenceStatus, validUntil: r.valid_until,
      }));
    },
    async dueForExpiry(today, limit, except = []) {
      return (await sql.all<Row>(due, [today, JSON.stringify(except), limit])).map(toRec);
    },
    async insertEvent(e) {
      await sql.run(insEvent, [e.identifier, e.seq, e.action, e.fromStatus, e.toStatus, e.reason, e.actor, e.at.getTime(), e.statement, e.logIndex]);
    },
    async events(identifier) {
      return (await sql.all(events, [identifier])).map((r): LicenceEventRecord => ({
        identifier: r.identifier as string, seq: r.seq as number, action: r.action as LicenceEventRecord["action"],
        fromStatus: r.from_status as LicenceStatus, toStatus: r.to_status as LicenceStatus, reason: r.reason as string | null,
        actor: r.actor as string, at: new Date(r.at as number), statement: r.statement as string, logIndex: r.log_index as number,
      }));
    },
    async lastEventSeq(identifier) {
      return (await sql.value<number>(lastSeq, [identifier])) ?? 0;
    },
    async reserve(scope, n) {
      const next = (await sql.value<number>(reserve, [scope, n]))!;
      return next - n;
    },
    async peek(scope) {
      return (await sql.value<number>(peek, [scope])) ?? 0;
    },
    async idempotency(clientId, key) {
      const r = await sql.get<{ client_id: string; key: string; request_hash: string; identifier: string; created_at: number }>(idem, [clientId, key]);
      return r ? ({ clientId: r.client_id, key: r.key, requestHash: r.request_hash, identifier: r.identifier, createdAt: new Date(r.created_at) } satisfies IdempotencyRecord) : undefined;
    },
    async insertIdempotency(r) {
      await sql.run(insIdem, [r.clientId, r.key, r.requestHash, r.identifier, r.createdAt.getTime()]);
    },
  };
}
