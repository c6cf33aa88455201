import type BetterSqlite3 from "better-sqlite3";
import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { Drizzle } from "../db.js";
import { clients, departments } from "../schema/directory.js";
import type { Client, ClientRepo, Department, DepartmentRepo } from "../../modules/directory/ports.js";

export function createDirectoryRepos(db: Drizzle, _raw: BetterSqlite3.Database): { departments: DepartmentRepo; clients: ClientRepo } {
  // Hot lookups (every authenticated request reads its client) use prepared statements.
  const clientById = db.select().from(clients).where(eq(clients.id, sql.placeholder("id"))).prepare();
  const departmentById = db.select().from(departments).where(eq(departments.id, sql.placeholder("id"))).prepare();
  const deps: DepartmentRepo = {
    async insert(d) {
      db.insert(departments).values(d).run();
    },
    async update(id, patch) {
      db.update(departments).set(patch).where(eq(departments.id, id)).run();
    },
    async byId(id) {
      return departmentById.get({ id }) as Department | undefined;
    },
    async byUscc(uscc) {
      return db.select().from(departments).where(eq(departments.uscc, uscc)).get() as Department | undefined;
    },
    async list({ limit, after }) {
      return db.select().from(departments).where(after ? gt(departments.id, after) : undefined)
        .orderBy(asc(departments.id)).limit(limit).all() as Department[];
    },
  };
  const cls: ClientRepo = {
    async insert(c) {
      db.insert(clients).values(c).run();
    },
    async update(id, patch) {
      db.update(clients).set(patch).where(eq(clients.id, id)).run();
    },
    async byId(id) {
      return clientById.get({ id }) as Client | undefined;
    },
    async list({ limit, after, departmentId }) {
      const conds = [after ? gt(clients.id, after) : undefined, departmentId ? eq(clients.departmentId, departmentId) : undefined]
        .filter((c) => c !== undefined);
      return db.select().from(clients).where(conds.length ? and(...conds) : undefined)
        .orderBy(asc(clients.id)).limit(limit).all() as Client[];
    },
  };
  return { departments: deps, clients: cls };
}
