/**
 * Shared set-up for the e-licence tests: two departments, a person and an organisation licence type, matters
 * (one needing consent, one consent-exempt by regulation), and clients of every role.
 */
import type { Test } from "tap";
import { citizenIdCheckChar } from "../../src/codes/index.js";
import { bearer, build, makeUscc, type Harness } from "../helpers/app.js";

let seq = 0;
/** A valid citizen ID number (GB 11643) born 1990-01-01 in 福州市鼓楼区, numbered n. */
export function citizenId(n: number): string {
  const body = `35010219900101${String(n % 1000).padStart(3, "0")}`;
  return body + citizenIdCheckChar(body);
}

export interface World {
  h: Harness;
  dept: { id: string; uscc: string };
  other: { id: string; uscc: string };
  tokens: { admin: string; issuer: string; otherIssuer: string; consumer: string; otherConsumer: string; counter: string };
  consumerId: string;
  consumerSecret: string;
  /** A fresh token for a client (after moving the clock past the token lifetime). */
  token(clientId: string, secret: string): Promise<string>;
  otherConsumerId: string;
  personType: string;
  orgType: string;
  /** needs consent; may use both types */
  matter: string;
  /** consent-exempt by regulation; person type only */
  exemptMatter: string;
  /** a matter the consumer does not serve */
  foreignMatter: string;
}

export async function world(t: Test, env: Record<string, string> = {}): Promise<World> {
  const h = await build(t, env);
  const dept = await h.department("福州市市场监督管理局");
  const other = await h.department("厦门市市场监督管理局");
  const admin = (await h.client("admin")).token;
  const n = ++seq * 10 + Math.floor(Math.random() * 1e5) * 1000;
  const personType = makeUscc(900_000 + n) + "001";
  const orgType = makeUscc(900_001 + n) + "002";
  const post = async (url: string, payload: object) => {
    const r = await h.app.inject({ method: "POST", url, headers: bearer(admin), payload });
    if (r.statusCode !== 201) throw new Error(`${url}: ${r.statusCode} ${r.body}`);
    return r.json();
  };
  await post("/licence-types", {
    code: personType, name: "食品经营许可证（个人）", holderKind: "person", holderCodeTypes: ["111", "411"],
    fields: [
      { name: "scope", label: "经营项目", type: "string", required: true, maxLength: 100 },
      { name: "area", label: "经营面积（平方米）", type: "number", minimum: 0 },
      { name: "category", label: "主体业态", type: "enum", enum: ["食品销售经营者", "餐饮服务经营者"] },
      { name: "approvedOn", label: "核准日期", type: "date" },
    ],
    validityDays: 365 * 5, issuers: [dept.id],
  });
  await post("/licence-types", {
    code: orgType, name: "营业执照", holderKind: "organisation", holderCodeTypes: ["001"],
    fields: [{ name: "legalRep", label: "法定代表人", type: "string", required: true, maxLength: 50 }],
    validityDays: null, issuers: [dept.id, other.id],
  });
  const matter = `M-${n}`;
  const exemptMatter = `MX-${n}`;
  const foreignMatter = `MF-${n}`;
  await post("/matters", { code: matter, name: "食品经营许可变更", licenceTypes: [personType, orgType] });
  await post("/matters", { code: exemptMatter, name: "行政处罚调查", licenceTypes: [personType], consentExempt: true, exemptBasis: "《中华人民共和国行政处罚法》第五十五条" });
  await post("/matters", { code: foreignMatter, name: "其他事项", licenceTypes: [personType, orgType] });
  const consumer = await h.client("consumer", { matters: [matter, exemptMatter] });
  const otherConsumer = await h.client("consumer", { matters: [foreignMatter, matter] });
  return {
    h, dept, other, personType, orgType, matter, exemptMatter, foreignMatter, consumerId: consumer.id, consumerSecret: consumer.secret, otherConsumerId: otherConsumer.id,
    async token(clientId: string, secret: string) {
      const r = await h.app.inject({ method: "POST", url: "/oauth/token", payload: { grant_type: "client_credentials", client_id: clientId, client_secret: secret } });
      return r.json().access_token as string;
    },
    tokens: {
      admin,
      issuer: (await h.client("issuer", { departmentId: dept.id })).token,
      otherIssuer: (await h.client("issuer", { departmentId: other.id })).token,
      consumer: consumer.token,
      otherConsumer: otherConsumer.token,
      counter: (await h.client("counter")).token,
    },
  };
}

export function personLicence(w: World, n: number, extra: Record<string, unknown> = {}) {
  return {
    typeCode: w.personType, number: `JY1350102${String(n).padStart(6, "0")}`,
    holder: { name: "张三丰", code: citizenId(n), codeType: "111" },
    fields: { scope: "预包装食品销售", area: 35.5, category: "食品销售经营者", approvedOn: "2024-03-01" },
    ...extra,
  };
}

export async function issue(w: World, body: object, token = w.tokens.issuer, headers: Record<string, string> = {}) {
  return w.h.app.inject({ method: "POST", url: "/licences", headers: { ...bearer(token), ...headers }, payload: body });
}

export async function issued(w: World, body: object): Promise<{ identifier: string; jws: string; logIndex: number; data: { status: { list: string; index: number }; [k: string]: unknown } }> {
  const r = await issue(w, body);
  if (r.statusCode !== 201) throw new Error(`issue: ${r.statusCode} ${r.body}`);
  return r.json();
}

export { bearer };

/** Revokes every licence-signing certificate of a department (its licences and statements can then not be signed). */
export async function revokeSigningCerts(t: Test, w: World, departmentId: string): Promise<void> {
  const certs = (await w.h.ctx.uow.read.certificates.listByDepartment(departmentId)).filter((c) => c.profile === "licence-signing");
  t.ok(certs.length > 0, "the department has a licence-signing certificate");
  for (const c of certs) {
    const r = await w.h.app.inject({ method: "POST", url: `/pki/certificates/${c.serial}/revoke`, headers: bearer(w.tokens.admin), payload: { reason: "keyCompromise" } });
    t.equal(r.statusCode, 200, r.body);
  }
}
