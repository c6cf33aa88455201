/**
 * A package from the real builder, for the receipt, release, renewal and report tests: a case of an approval
 * system with a licence, the 加注件 it fetched and a stamped decision, closed and archived through the API, and the
 * zip downloaded (GET /archives/:id/package). Not a test file (no .test.ts).
 */
import type { Test } from "tap";
import { makePdf } from "../../fixtures/pdf/make-pdf.js";
import { ADMIN_ACTOR } from "../helpers/app.js";
import { bearer, citizenId, issued, personLicence, world, type World } from "../licences/helpers.js";

import type { LightMyRequestResponse } from "fastify";

export type Api = (method: "GET" | "POST", url: string, token: string, payload?: object | Buffer, type?: string) => Promise<LightMyRequestResponse>;

export interface Built {
  w: World;
  api: Api;
  archiveId: string;
  caseNo: string;
  zip: Buffer;
}

export function apiOf(w: World): Api {
  return (method, url, token, payload, type) =>
    w.h.app.inject({ method, url, headers: { ...bearer(token), ...(type ? { "content-type": type } : {}) }, ...(payload ? { payload } : {}) });
}

/** Builds (and downloads) one archived case in `w` (a new world when none is given). */
export async function builtPackage(t: Test, given?: World, env: Record<string, string> = {}): Promise<Built> {
  const w = given ?? (await world(t, env));
  const api = apiOf(w);
  const n = 60_000 + Math.floor(Math.random() * 30_000);
  const code = citizenId(n);
  const seal = await api("POST", "/seals", w.tokens.admin, { departmentId: w.dept.id, type: "01" });
  if (seal.statusCode !== 201) throw new Error(seal.body);
  const lic = await issued(w, personLicence(w, n));
  const caseNo = `RC${n}`;
  // the matter is handled by the department (实施主体): the case is opened, and archived, in its name
  await w.h.ctx.catalogue.updateMatter(w.exemptMatter, { departments: [w.dept.id] }, ADMIN_ACTOR);
  const c = (await api("POST", "/cases", w.tokens.consumer, {
    caseNo, matterCode: w.exemptMatter, title: "食品经营许可（新办）", departmentId: w.dept.id,
    applicant: { name: "张三丰", codeType: "111", code }, staff: { name: "李四", id: "A0231" },
  })).json();
  const ok = (r: { statusCode: number; body: string }, s: number) => {
    if (r.statusCode !== s) throw new Error(`${r.statusCode} ${r.body}`);
  };
  // the licence and the 加注件 the 免证办 query handed over for the case's matter
  const q = await api("POST", "/holders/licences:query", w.tokens.consumer, { holderCode: code, holderCodeType: "111", matterCode: w.exemptMatter, useCause: "核验经营资格" });
  ok(await api("POST", `/cases/${c.id}/items`, w.tokens.consumer, { kind: "licence", identifier: lic.identifier }), 201);
  ok(await api("POST", `/cases/${c.id}/items`, w.tokens.consumer, { kind: "licence-copy", copy: q.json().items[0].copy.url }), 201);
  const st = await api("POST", `/seals/${seal.json().id}/stamp?page=1&x=150&y=200`, w.tokens.issuer, makePdf({ pages: 1 }), "application/pdf");
  ok(await api("POST", `/cases/${c.id}/documents`, w.tokens.consumer, st.rawPayload, "application/pdf"), 201);
  ok(await api("POST", `/cases/${c.id}/close`, w.tokens.consumer, { result: "approved" }), 200);
  const ar = await api("POST", `/cases/${c.id}/archive`, w.tokens.consumer, { retention: "permanent" });
  ok(ar, 201);
  const a = ar.json();
  const pkg = await api("GET", `/archives/${a.id}/package`, w.tokens.consumer);
  ok(pkg, 200);
  return { w, api, archiveId: a.id, caseNo, zip: pkg.rawPayload };
}
