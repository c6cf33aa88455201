/** Material types and materials (ports: src/modules/materials/ports.ts) over the portable Sql. */
import type { Sql } from "../sql.js";
import { tableOf } from "../table.js";
import { materials, materialTypes } from "../schema/materials.js";
import type { MaterialRecord, MaterialRepo, MaterialType, MaterialTypeRepo } from "../../modules/materials/ports.js";

const T = tableOf<MaterialType>(materialTypes);
const M = tableOf<MaterialRecord>(materials);

export function createMaterialRepos(sql: Sql): { materialTypes: MaterialTypeRepo; materials: MaterialRepo } {
  const sel = `SELECT ${M.cols} FROM materials`;
  return {
    materialTypes: {
      async insert(t) {
        await sql.run(T.insert, T.args(t));
      },
      async update(t) {
        const { code, createdAt: _c, ...rest } = t;
        const s = T.set(rest);
        if (s.args.length) await sql.run(`UPDATE material_types ${s.text} WHERE code = ?`, [...s.args, code]);
      },
      async byCode(code) {
        return T.maybe(await sql.get(`SELECT ${T.cols} FROM material_types WHERE code = ?`, [code]));
      },
      async all() {
        return (await sql.all(`SELECT ${T.cols} FROM material_types ORDER BY code`)).map(T.from);
      },
    },
    materials: {
      async insert(rec) {
        await sql.run(M.insert, M.args(rec));
      },
      async byId(id) {
        return M.maybe(await sql.get(`${sel} WHERE identifier = ?`, [id]));
      },
      async bySha256(sha256, limit) {
        return (await sql.all(`${sel} WHERE sha256 = ? ORDER BY created_at, identifier LIMIT ?`, [sha256, limit])).map(M.from);
      },
      async byHolder(holderHash, opts) {
        const types = opts.typeCodes ? ` AND type_code IN (${sql.jsonEach})` : "";
        const current = opts.current ? " AND status = 'valid'" : "";
        const args: unknown[] = [holderHash, ...(opts.typeCodes ? [JSON.stringify(opts.typeCodes)] : []), opts.limit];
        return (await sql.all(`${sel} WHERE holder_hash = ?${types}${current} ORDER BY created_at DESC, identifier DESC LIMIT ?`, args)).map(M.from);
      },
      async lineage(lineage) {
        return (await sql.all(`${sel} WHERE lineage = ? ORDER BY version`, [lineage])).map(M.from);
      },
      async setStatus(id, p) {
        const s = M.set({ status: p.status, statusAt: p.statusAt, statusReason: p.statusReason, statusLogIndex: p.statusLogIndex, ...(p.supersededBy !== undefined ? { supersededBy: p.supersededBy } : {}) });
        await sql.run(`UPDATE materials ${s.text} WHERE identifier = ?`, [...s.args, id]);
      },
      async insertChunk(id, seq, bytes) {
        await sql.run("INSERT INTO material_chunks (identifier, seq, bytes) VALUES (?, ?, ?)", [id, seq, bytes]);
      },
      async chunk(id, seq) {
        return (await sql.value<Buffer>("SELECT bytes FROM material_chunks WHERE identifier = ? AND seq = ?", [id, seq])) ?? undefined;
      },
      async deleteChunks(id) {
        return sql.run("DELETE FROM material_chunks WHERE identifier = ?", [id]);
      },
    },
  };
}
