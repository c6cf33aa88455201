/**
 * Holder access: a holder's current licences for the 免证办 answer (an approval system's query) and for the holder's
 * own list, read from the store on each call (nothing per holder is kept: read-model.ts says why); and the 免证办
 * answer's JSON, assembled here (the HTTP layer only sends the bytes).
 */
import type { LicenceCore } from "./core.js";
import { HOLDER_ANSWER_MAX, effectiveStatus, type LicenceView } from "./model.js";
import type { LicenceRecord, LicenceRepos, LicenceStatus } from "./ports.js";
import { STATUS_TEXT } from "./ports.js";

/** One licence of a 免证办 answer: its JSON without the closing brace (see answerJson), and its copy link. */
export interface AnswerItem {
  identifier: string;
  json: Buffer;
  copy: { url: string; expiresAt: Date };
}

/**
 * The 免证办 answer as UTF-8 JSON: `{accessId, basis, truncated, items: [{identifier, typeCode, name, version, status,
 * statusText, validFrom, validUntil, data, jws, copy: {url, expiresAt}}]}` — what POST /holders/licences:query's
 * response schema describes (test/licences/answer.test.ts checks it). Joined from each licence's JSON.
 */
export function answerBody(r: { accessId: string; basis: string; truncated: boolean; items: readonly AnswerItem[] }): Buffer {
  const parts: Buffer[] = [Buffer.from(`{"accessId":${JSON.stringify(r.accessId)},"basis":${JSON.stringify(r.basis)},"truncated":${r.truncated},"items":[`)];
  r.items.forEach((i, k) => {
    parts.push(i.json, Buffer.from(`,"copy":{"url":${JSON.stringify(i.copy.url)},"expiresAt":"${i.copy.expiresAt.toISOString()}"}}${k < r.items.length - 1 ? "," : ""}`));
  });
  parts.push(Buffer.from("]}"));
  return Buffer.concat(parts);
}

export function createHolderAccess<R extends LicenceRepos>(core: LicenceCore<R>) {
  const { uow, today, openPayload, jwsOf, view } = core;

  /** A holder's current records as asked (types, page), at most `limit`, and whether there are more. */
  async function holderPage(holderHash: string, opts: { typeCodes?: readonly string[]; after?: string; limit?: number }): Promise<{ recs: LicenceRecord[]; truncated: boolean }> {
    const limit = Math.min(opts.limit ?? HOLDER_ANSWER_MAX, HOLDER_ANSWER_MAX);
    const recs = await uow.read.licences.byHolder(holderHash, {
      current: true, limit: limit + 1, ...(opts.after !== undefined ? { after: opts.after } : {}), ...(opts.typeCodes ? { typeCodes: opts.typeCodes } : {}),
    });
    return { recs: recs.length > limit ? recs.slice(0, limit) : recs, truncated: recs.length > limit };
  }

  /**
   * A holder's current licences (of `typeCodes` when given), decrypted, in identifier order: for the holder themself
   * or an entitled consumer. At most `limit` (≤ HOLDER_ANSWER_MAX); `truncated` says there are more, and the holder
   * asks for them `after` the last identifier listed.
   */
  async function forHolder(holderHash: string, opts: { typeCodes?: readonly string[]; after?: string; limit?: number } = {}): Promise<{ items: LicenceView[]; truncated: boolean }> {
    const { recs, truncated } = await holderPage(holderHash, opts);
    return { items: await Promise.all(recs.map((r) => view(r))), truncated };
  }

  /**
   * A licence of the 免证办 answer as UTF-8 JSON: `{identifier, typeCode, name, version, status, statusText, validFrom,
   * validUntil, data, jws` without its closing brace (answerBody adds the copy link). `data` is the signed payload's
   * text as decrypted, not parsed and written again.
   */
  async function answerJson(rec: LicenceRecord, st: LicenceStatus): Promise<Buffer> {
    const { json, payload } = openPayload(rec);
    const q = JSON.stringify;
    const text = `{"identifier":${q(rec.identifier)},"typeCode":${q(rec.typeCode)},"name":${q(payload.name)},"version":${q(rec.version)},"status":${q(st)},"statusText":${q(STATUS_TEXT[st])},`
      + `"validFrom":${q(rec.validFrom)},"validUntil":${q(rec.validUntil)},"data":${json},"jws":${q(await jwsOf(rec, json))}`;
    return Buffer.from(text, "utf8");
  }

  /** The 免证办 answer's licences (of `typeCodes`) as JSON (see answerJson), at most HOLDER_ANSWER_MAX. */
  async function answersForHolder(holderHash: string, typeCodes: readonly string[]): Promise<{ items: Array<{ identifier: string; json: Buffer }>; truncated: boolean }> {
    const { recs, truncated } = await holderPage(holderHash, { typeCodes });
    const t = today();
    const items: Array<{ identifier: string; json: Buffer }> = [];
    for (const r of recs) items.push({ identifier: r.identifier, json: await answerJson(r, effectiveStatus(r, t)) });
    return { items, truncated };
  }

  return { forHolder, answersForHolder };
}
