/** SQLite implementation of the seals ports (src/modules/seals/ports.ts). */
import type BetterSqlite3 from "better-sqlite3";
import { and, asc, eq, gt } from "drizzle-orm";
import type { Drizzle } from "../db.js";
import { sealEvents, seals, stamps } from "../schema/seals.js";
import type { Seal, SealEvent, SealRepo, StampRecord, StampRepo } from "../../modules/seals/ports.js";

export function createSealRepos(db: Drizzle, _raw: BetterSqlite3.Database): { seals: SealRepo; stamps: StampRepo } {
  const s: SealRepo = {
    async insert(x) {
      db.insert(seals).values(x).run();
    },
    async update(id, patch) {
      db.update(seals).set(patch).where(eq(seals.id, id)).run();
    },
    async byId(id) {
      return db.select().from(seals).where(eq(seals.id, id)).get() as Seal | undefined;
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
      db.insert(stamps).values(r).run();
    },
    async list({ sealId, limit, after }) {
      const conds = [eq(stamps.sealId, sealId), after ? gt(stamps.id, after) : undefined].filter((c) => c !== undefined);
      return db.select().from(stamps).where(and(...conds)).orderBy(asc(stamps.id)).limit(limit).all() as StampRecord[];
    },
  };
  return { seals: s, stamps: st };
}
