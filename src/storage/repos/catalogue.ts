/** SQLite repositories for the catalogue (licence types, matters). Read-mostly: the service keeps a snapshot. */
import type BetterSqlite3 from "better-sqlite3";
import { asc, eq } from "drizzle-orm";
import type { Drizzle } from "../db.js";
import { licenceTypes, matters } from "../schema/catalogue.js";
import type { LicenceType, LicenceTypeRepo, Matter, MatterRepo } from "../../modules/catalogue/ports.js";

export function createCatalogueRepos(db: Drizzle, _raw: BetterSqlite3.Database): { licenceTypes: LicenceTypeRepo; matters: MatterRepo } {
  return {
    licenceTypes: {
      async insert(t) {
        db.insert(licenceTypes).values(t).run();
      },
      async update(t) {
        const { code, createdAt: _c, ...rest } = t;
        db.update(licenceTypes).set(rest).where(eq(licenceTypes.code, code)).run();
      },
      async byCode(code) {
        return db.select().from(licenceTypes).where(eq(licenceTypes.code, code)).get() as LicenceType | undefined;
      },
      async all() {
        return db.select().from(licenceTypes).orderBy(asc(licenceTypes.code)).all() as LicenceType[];
      },
    },
    matters: {
      async insert(m) {
        db.insert(matters).values(m).run();
      },
      async update(m) {
        const { code, createdAt: _c, ...rest } = m;
        db.update(matters).set(rest).where(eq(matters.code, code)).run();
      },
      async byCode(code) {
        return db.select().from(matters).where(eq(matters.code, code)).get() as Matter | undefined;
      },
      async all() {
        return db.select().from(matters).orderBy(asc(matters.code)).all() as Matter[];
      },
    },
  };
}
