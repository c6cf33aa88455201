/** Departments and clients (ports: src/modules/directory/ports.ts) over the portable Sql (SQLite and PostgreSQL). */
import type { Sql } from "../sql.js";
import { tableOf } from "../table.js";
import { clients, departments } from "../schema/directory.js";
import type { Client, ClientRepo, Department, DepartmentRepo } from "../../modules/directory/ports.js";

const D = tableOf<Department>(departments);
const C = tableOf<Client>(clients);

export function createDirectoryRepos(sql: Sql): { departments: DepartmentRepo; clients: ClientRepo } {
  const depById = `SELECT ${D.cols} FROM departments WHERE id = ?`;
  const depByUscc = `SELECT ${D.cols} FROM departments WHERE uscc = ?`;
  const depList = `SELECT ${D.cols} FROM departments WHERE id > ? ORDER BY id LIMIT ?`;
  // Hot lookup: every authenticated request reads its client.
  const clientById = `SELECT ${C.cols} FROM clients WHERE id = ?`;
  const clientList = `SELECT ${C.cols} FROM clients WHERE id > ? AND (CAST(? AS TEXT) IS NULL OR department_id = ?) ORDER BY id LIMIT ?`;
  const deps: DepartmentRepo = {
    async insert(d) {
      await sql.run(D.insert, D.args(d));
    },
    async update(id, patch) {
      const s = D.set(patch);
      if (s.args.length) await sql.run(`UPDATE departments ${s.text} WHERE id = ?`, [...s.args, id]);
    },
    async byId(id) {
      return D.maybe(await sql.get(depById, [id]));
    },
    async byUscc(uscc) {
      return D.maybe(await sql.get(depByUscc, [uscc]));
    },
    async list({ limit, after }) {
      return (await sql.all(depList, [after ?? "", limit])).map(D.from);
    },
  };
  const cls: ClientRepo = {
    async insert(c) {
      await sql.run(C.insert, C.args(c));
    },
    async update(id, patch) {
      const s = C.set(patch);
      if (s.args.length) await sql.run(`UPDATE clients ${s.text} WHERE id = ?`, [...s.args, id]);
    },
    async byId(id) {
      return C.maybe(await sql.get(clientById, [id]));
    },
    async list({ limit, after, departmentId }) {
      const dep = departmentId ?? null;
      return (await sql.all(clientList, [after ?? "", dep, dep, limit])).map(C.from);
    },
  };
  return { departments: deps, clients: cls };
}
