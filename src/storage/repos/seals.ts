/**
 * The seals ports (src/modules/seals/ports.ts) over the portable Sql. The stamping hot path (`seals.byId`,
 * `stamps.insert`) runs constant statements, prepared once.
 */
import type { Sql } from "../sql.js";
import { tableOf } from "../table.js";
import { sealEvents, seals, stamps } from "../schema/seals.js";
import type { Seal, SealEvent, SealRepo, StampRecord, StampRepo } from "../../modules/seals/ports.js";

const S = tableOf<Seal>(seals);
const E = tableOf<SealEvent & { seq: number }>(sealEvents);
const T = tableOf<StampRecord>(stamps);

export function createSealRepos(sql: Sql): { seals: SealRepo; stamps: StampRepo } {
  const byId = `SELECT ${S.cols} FROM seals WHERE id = ?`;
  const list = `SELECT ${S.cols} FROM seals WHERE (CAST(? AS TEXT) IS NULL OR department_id = ?) AND id > ? ORDER BY id LIMIT ?`;
  const events = "SELECT seal_id, status, reason, at FROM seal_events WHERE seal_id = ? ORDER BY at, seq";
  const stampList = `SELECT ${T.cols} FROM stamps WHERE seal_id = ? AND id > ? ORDER BY id LIMIT ?`;
  const stampByResult = `SELECT ${T.cols} FROM stamps WHERE result_sha256 = ? ORDER BY stamped_at, id LIMIT 16`;
  const s: SealRepo = {
    async insert(x) {
      await sql.run(S.insert, S.args(x));
    },
    async update(id, patch) {
      const p = S.set(patch);
      if (p.args.length) await sql.run(`UPDATE seals ${p.text} WHERE id = ?`, [...p.args, id]);
    },
    async byId(id) {
      return S.maybe(await sql.get(byId, [id]));
    },
    async list({ departmentId, limit, after }) {
      const dep = departmentId ?? null;
      return (await sql.all(list, [dep, dep, after ?? "", limit])).map(S.from);
    },
    async insertEvent(e) {
      await sql.run(E.insert, E.args(e));
    },
    async events(sealId) {
      return (await sql.all<{ seal_id: string; status: SealEvent["status"]; reason: string | null; at: number }>(events, [sealId]))
        .map((r) => ({ sealId: r.seal_id, status: r.status, reason: r.reason, at: new Date(r.at) }));
    },
  };
  const st: StampRepo = {
    async insert(r) {
      await sql.run(T.insert, T.args(r));
    },
    async list({ sealId, limit, after }) {
      return (await sql.all(stampList, [sealId, after ?? "", limit])).map(T.from);
    },
    async byResult(sha) {
      return (await sql.all(stampByResult, [sha])).map(T.from);
    },
  };
  return { seals: s, stamps: st };
}
