/**
 * Catalogue repositories (licence types, issuer grants, matters) over the portable Sql. Read-mostly: the service
 * keeps a snapshot.
 */
import type { Sql } from "../sql.js";
import { tableOf } from "../table.js";
import { issuerGrants, licenceTypes, matters } from "../schema/catalogue.js";
import type { IssuerGrant, IssuerGrantRepo, LicenceType, LicenceTypeRepo, Matter, MatterRepo } from "../../modules/catalogue/ports.js";

const T = tableOf<LicenceType>(licenceTypes);
const G = tableOf<IssuerGrant & { id: number }>(issuerGrants);
const M = tableOf<Matter>(matters);

const grant = (r: Record<string, unknown>): IssuerGrant => {
  const g = G.from(r);
  return { typeCode: g.typeCode, departmentId: g.departmentId, validFrom: g.validFrom, validTo: g.validTo };
};

export function createCatalogueRepos(sql: Sql): { licenceTypes: LicenceTypeRepo; issuerGrants: IssuerGrantRepo; matters: MatterRepo } {
  const grantCols = "type_code, department_id, valid_from, valid_to";
  const grantOrder = "ORDER BY type_code, department_id, valid_from, id";
  return {
    licenceTypes: {
      async insert(t) {
        await sql.run(T.insert, T.args(t));
      },
      async update(t) {
        const { code, createdAt: _c, ...rest } = t;
        const s = T.set(rest);
        if (s.args.length) await sql.run(`UPDATE licence_types ${s.text} WHERE code = ?`, [...s.args, code]);
      },
      async byCode(code) {
        return T.maybe(await sql.get(`SELECT ${T.cols} FROM licence_types WHERE code = ?`, [code]));
      },
      async issued(code) {
        // A licence's lineage starts with its type code and a dot: a range of licences_lineage_idx ("/" follows ".").
        return (await sql.get("SELECT 1 AS x FROM licences WHERE lineage >= ? AND lineage < ? LIMIT 1", [`${code}.`, `${code}/`])) !== undefined;
      },
      async all() {
        return (await sql.all(`SELECT ${T.cols} FROM licence_types ORDER BY code`)).map(T.from);
      },
    },
    issuerGrants: {
      async all() {
        return (await sql.all(`SELECT ${grantCols} FROM issuer_grants ${grantOrder}`)).map(grant);
      },
      // Read inside every issuance's storing transaction.
      async ofType(typeCode) {
        return (await sql.all(`SELECT ${grantCols} FROM issuer_grants WHERE type_code = ? ${grantOrder}`, [typeCode])).map(grant);
      },
      async open(typeCode, departmentId, at) {
        await sql.run("INSERT INTO issuer_grants (type_code, department_id, valid_from, valid_to) VALUES (?, ?, ?, NULL)", [typeCode, departmentId, at.getTime()]);
      },
      async close(typeCode, departmentId, at) {
        return (await sql.run("UPDATE issuer_grants SET valid_to = ? WHERE type_code = ? AND department_id = ? AND valid_to IS NULL", [at.getTime(), typeCode, departmentId])) > 0;
      },
    },
    matters: {
      async insert(m) {
        await sql.run(M.insert, M.args(m));
      },
      async update(m) {
        const { code, createdAt: _c, ...rest } = m;
        const s = M.set(rest);
        if (s.args.length) await sql.run(`UPDATE matters ${s.text} WHERE code = ?`, [...s.args, code]);
      },
      async byCode(code) {
        return M.maybe(await sql.get(`SELECT ${M.cols} FROM matters WHERE code = ?`, [code]));
      },
      async all() {
        return (await sql.all(`SELECT ${M.cols} FROM matters ORDER BY code`)).map(M.from);
      },
    },
  };
}
