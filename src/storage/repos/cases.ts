/** The cases ports (src/modules/cases/ports.ts) over the portable Sql. */
import type { Sql } from "../sql.js";
import { tableOf } from "../table.js";
import { caseFiles, caseItems, cases } from "../schema/cases.js";
import type { CaseFile, CaseFileRepo, CaseItem, CaseItemRepo, CaseRecord, CaseRepo } from "../../modules/cases/ports.js";

const C = tableOf<CaseRecord>(cases);
const I = tableOf<CaseItem>(caseItems);
const F = tableOf<CaseFile>(caseFiles);

export function createCaseRepos(sql: Sql): { cases: CaseRepo; caseItems: CaseItemRepo; caseFiles: CaseFileRepo } {
  const byId = `SELECT ${C.cols} FROM cases WHERE id = ?`;
  const byNo = `SELECT ${C.cols} FROM cases WHERE owner = ? AND case_no = ?`;
  const withNo = `SELECT ${C.cols} FROM cases WHERE case_no = ? ORDER BY opened_at, id LIMIT ?`;
  const list = `SELECT ${C.cols} FROM cases WHERE owner = ? AND opened_at < ? ORDER BY opened_at DESC, id DESC LIMIT ?`;
  const items = `SELECT ${I.cols} FROM case_items WHERE case_id = ? ORDER BY id`;
  const files = "SELECT f.id, f.item_id, f.name, f.media_type, f.sha256, f.size FROM case_files f JOIN case_items i ON i.id = f.item_id WHERE i.case_id = ? ORDER BY f.id";
  const fileBytes = "SELECT bytes FROM case_files WHERE id = ?";
  return {
    cases: {
      async insert(c) {
        await sql.run(C.insert, C.args(c));
      },
      async byId(id) {
        return C.maybe(await sql.get(byId, [id]));
      },
      async byCaseNo(owner, caseNo) {
        return C.maybe(await sql.get(byNo, [owner, caseNo]));
      },
      async withCaseNo(caseNo, limit) {
        return (await sql.all(withNo, [caseNo, limit])).map(C.from);
      },
      async update(id, patch) {
        const p = C.set(patch);
        if (p.args.length) await sql.run(`UPDATE cases ${p.text} WHERE id = ?`, [...p.args, id]);
      },
      async list(owner, { limit, before }) {
        return (await sql.all(list, [owner, before ? before.getTime() : Number.MAX_SAFE_INTEGER, limit])).map(C.from);
      },
    },
    caseItems: {
      async insert(i) {
        const id = await sql.value<number>(`${I.insert} RETURNING id`, I.args(i));
        return Number(id);
      },
      async ofCase(caseId) {
        return (await sql.all(items, [caseId])).map(I.from);
      },
    },
    caseFiles: {
      async insert(f) {
        await sql.run(F.insert, F.args(f));
      },
      async ofCase(caseId) {
        return (await sql.all<{ id: number; item_id: number; name: string; media_type: string; sha256: string; size: number }>(files, [caseId]))
          .map((r) => ({ id: Number(r.id), itemId: Number(r.item_id), name: r.name, mediaType: r.media_type, sha256: r.sha256, size: Number(r.size) }));
      },
      async bytes(id) {
        return (await sql.value<Buffer>(fileBytes, [id])) ?? undefined;
      },
    },
  };
}
