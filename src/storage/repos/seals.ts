/**
 * SQLite implementation of the seals ports (src/modules/seals/ports.ts). The stamping hot path (`seals.byId`,
 * `stamps.insert`) uses raw better-sqlite3 prepared statements, prepared once per connection: building the query
 * through drizzle costs more than running it. Everything else goes through drizzle.
 */
import type BetterSqlite3 from "better-sqlite3";
import { and, asc, eq, gt } from "drizzle-orm";
import type { Drizzle } from "../db.js";
import { sealEvents, seals, stamps } from "../schema/seals.js";
import type { Seal, SealEvent, SealRepo, StampRecord, StampRepo } from "../../modules/seals/ports.js";

type Stmt = BetterSqlite3.Statement;

function lazy(raw: BetterSqlite3.Database, sql: string): () => Stmt {
  let s: Stmt | undefined;
  return () => (s ??= raw.prepare(sql));
}

interface SealRow {
  id: string;
  department_id: string;
  name: string;
  type: Seal["type"];
  arc_text: string;
  type_text: string;
  diameter_mm: number;
  cert_serial: string;
  key_id: string;
  valid_from: number;
  valid_to: number;
  status: Seal["status"];
  status_reason: string | null;
  created_at: number;
  updated_at: number;
}

function sealOf(r: SealRow): Seal {
  return {
    id: r.id, departmentId: r.department_id, name: r.name, type: r.type, arcText: r.arc_text, typeText: r.type_text,
    diameterMm: r.diameter_mm, certSerial: r.cert_serial, keyId: r.key_id, validFrom: new Date(r.valid_from),
    validTo: new Date(r.valid_to), status: r.status, statusReason: r.status_reason, createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

export function createSealRepos(db: Drizzle, raw: BetterSqlite3.Database): { seals: SealRepo; stamps: StampRepo } {
  const byId = lazy(raw, "SELECT id, department_id, name, type, arc_text, type_text, diameter_mm, cert_serial, key_id, valid_from, valid_to, status, status_reason, created_at, updated_at FROM seals WHERE id = ?");
  const insStamp = lazy(raw, "INSERT INTO stamps (id, seal_id, department_id, cert_serial, signer, document_sha256, result_sha256, page_index, field_name, stamped_at, timestamp_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  const s: SealRepo = {
    async insert(x) {
      db.insert(seals).values(x).run();
    },
    async update(id, patch) {
      db.update(seals).set(patch).where(eq(seals.id, id)).run();
    },
    async byId(id) {
      const r = byId().get(id) as SealRow | undefined;
      return r ? sealOf(r) : undefined;
    },
    async list({ departmentId, limit, after }) {
      const conds = [departmentId ? eq(seals.departmentId, departmentId) : undefined, after ? gt(seals.id, after) : undefined].filter((c) => c !== undefined);
      return db.select().from(seals).where(conds.length ? and(...conds) : undefined).orderBy(asc(seals.id)).limit(limit).all() as Seal[];
    },
    async insertEvent(e) {
      db.insert(sealEvents).values(e).run();
    },
    async events(sealId) {
      return db.select({ sealId: sealEvents.sealId, status: sealEvents.status, reason: sealEvents.reason, at: sealEvents.at })
        .from(sealEvents).where(eq(sealEvents.sealId, sealId)).orderBy(asc(sealEvents.at), asc(sealEvents.seq)).all() as SealEvent[];
    },
  };
  const st: StampRepo = {
    async insert(r) {
      insStamp().run(r.id, r.sealId, r.departmentId, r.certSerial, r.signer, r.documentSha256, r.resultSha256, r.pageIndex, r.fieldName, r.stampedAt.getTime(), r.timestampAt.getTime());
    },
    async list({ sealId, limit, after }) {
      const conds = [eq(stamps.sealId, sealId), after ? gt(stamps.id, after) : undefined].filter((c) => c !== undefined);
      return db.select().from(stamps).where(and(...conds)).orderBy(asc(stamps.id)).limit(limit).all() as StampRecord[];
    },
  };
  return { seals: s, stamps: st };
}
