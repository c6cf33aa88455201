/**
 * SQLite repositories for the catalogue (licence types, issuer grants, matters). Read-mostly: the service keeps a
 * snapshot.
 */
import type BetterSqlite3 from "better-sqlite3";
import { and, asc, eq, isNull, sql } from "drizzle-orm";
import type { Drizzle } from "../db.js";
import { issuerGrants, licenceTypes, matters } from "../schema/catalogue.js";
import type { IssuerGrant, IssuerGrantRepo, LicenceType, LicenceTypeRepo, Matter, MatterRepo } from "../../modules/catalogue/ports.js";

export function createCatalogueRepos(db: Drizzle, raw: BetterSqlite3.Database): { licenceTypes: LicenceTypeRepo; issuerGrants: IssuerGrantRepo; matters: MatterRepo } {
  const grantColumns = { typeCode: issuerGrants.typeCode, departmentId: issuerGrants.departmentId, validFrom: issuerGrants.validFrom, validTo: issuerGrants.validTo };
  const grantOrder = [asc(issuerGrants.typeCode), asc(issuerGrants.departmentId), asc(issuerGrants.validFrom), asc(issuerGrants.id)];
  // Read inside every issuance's storing transaction: prepared once, not built and prepared per call.
  let grantsOfType: { all(args: { typeCode: string }): unknown } | undefined;
  let issuedStmt: BetterSqlite3.Statement | undefined;
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
      async issued(code) {
        // A licence's lineage starts with its type code and a dot: a range of licences_lineage_idx ("/" follows ".").
        issuedStmt ??= raw.prepare("SELECT 1 FROM licences WHERE lineage >= ? AND lineage < ? LIMIT 1");
        return issuedStmt.get(`${code}.`, `${code}/`) !== undefined;
      },
      async all() {
        return db.select().from(licenceTypes).orderBy(asc(licenceTypes.code)).all() as LicenceType[];
      },
    },
    issuerGrants: {
      async all() {
        return db.select(grantColumns).from(issuerGrants).orderBy(...grantOrder).all() as IssuerGrant[];
      },
      async ofType(typeCode) {
        grantsOfType ??= db.select(grantColumns).from(issuerGrants).where(eq(issuerGrants.typeCode, sql.placeholder("typeCode"))).orderBy(...grantOrder).prepare();
        return grantsOfType.all({ typeCode }) as IssuerGrant[];
      },
      async open(typeCode, departmentId, at) {
        db.insert(issuerGrants).values({ typeCode, departmentId, validFrom: at, validTo: null }).run();
      },
      async close(typeCode, departmentId, at) {
        const r = db.update(issuerGrants).set({ validTo: at })
          .where(and(eq(issuerGrants.typeCode, typeCode), eq(issuerGrants.departmentId, departmentId), isNull(issuerGrants.validTo))).run();
        return r.changes > 0;
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
