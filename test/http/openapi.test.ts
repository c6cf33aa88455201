/**
 * The OpenAPI contract at /docs (issue 21): every registered operation — whoever adds it — has a description, an
 * example of its request body and of its success answer, and names the stable error codes of every error status
 * it documents. Examples come inline (`ex()`, src/http/openapi.ts) or from the recorded run (docs/api-examples.json,
 * scripts/api-examples.ts); the recorded error answers must use codes their operation documents.
 */
import t from "tap";
import { ERROR_TABLE, type ErrorCode } from "../../src/errors.js";
import { loadRecordedExamples } from "../../src/http/openapi.js";
import { build } from "../helpers/app.js";

type Media = { example?: unknown; examples?: Record<string, unknown>; schema?: { $ref?: string } };
type Op = {
  description?: string; requestBody?: { content?: Record<string, Media> };
  responses: Record<string, { description?: string; content?: Record<string, Media>; "x-error-codes"?: string[] }>;
};

const hasExample = (m: Media) => m.example !== undefined || (m.examples !== undefined && Object.keys(m.examples).length > 0);

t.test("every operation has a description, examples and its error codes", async (t) => {
  const h = await build(t);
  await h.app.ready();
  const spec = h.app.swagger() as unknown as { info: { description: string }; paths: Record<string, Record<string, Op>> };
  const problems: string[] = [];
  let n = 0;
  for (const [p, ops] of Object.entries(spec.paths)) {
    for (const [m, op] of Object.entries(ops)) {
      n++;
      const name = `${m.toUpperCase()} ${p}`;
      // The route's own words come first; the "Who may call" line is added to them, never instead of them.
      if (!op.description || op.description.trim().startsWith("**Who may call:**")) problems.push(`${name}: no description (schema.description)`);
      for (const [ct, media] of Object.entries(op.requestBody?.content ?? {})) {
        if (!hasExample(media)) problems.push(`${name}: no request example for ${ct} (ex() on the body schema, or a step in scripts/api-examples.ts)`);
      }
      if ((m === "put" || m === "patch") && !op.requestBody) problems.push(`${name}: no request body documented`);
      const statuses = Object.keys(op.responses);
      const ok = statuses.filter((s) => Number(s) < 400);
      if (ok.length === 0) problems.push(`${name}: no success response`);
      for (const s of ok) {
        const content = op.responses[s]!.content;
        if (s === "204" || s === "304") continue;
        if (!content || Object.keys(content).length === 0) problems.push(`${name}: ${s} has no content`);
        for (const [ct, media] of Object.entries(content ?? {})) if (!hasExample(media)) problems.push(`${name}: no ${s} example for ${ct}`);
      }
      for (const s of statuses.filter((x) => Number(x) >= 400)) {
        const r = op.responses[s]!;
        const isProblem = Object.values(r.content ?? {}).some((c) => c.schema?.$ref?.endsWith("/Problem"));
        const codes = r["x-error-codes"];
        if (!codes?.length) {
          // A non-problem body (the readiness answer) is documented by its own schema and example.
          if (isProblem || !r.content || !Object.values(r.content).every(hasExample)) problems.push(`${name}: ${s} names no error codes (problems("CODE", …))`);
          continue;
        }
        for (const c of codes) {
          const e = ERROR_TABLE[c as ErrorCode];
          if (!e) problems.push(`${name}: ${s} names unknown code ${c}`);
          else if (String(e.status) !== s) problems.push(`${name}: ${c} is ${e.status}, listed under ${s}`);
        }
        for (const media of Object.values(r.content ?? {})) if (!hasExample(media)) problems.push(`${name}: ${s} has no example`);
      }
    }
  }
  t.ok(n >= 70, `${n} operations`);
  t.same(problems, [], "operations that break the contract");
  t.match(spec.info.description, /\/docs\/integration\.md/, "/docs links to the integration guide");
  t.match(spec.info.description, /\/docs\/integration\.zh\.md/);

  // The recorded answers agree with the contract: each names an operation, and each error's code is documented there.
  const rec = loadRecordedExamples();
  t.ok(rec.exchanges.length > 0, "docs/api-examples.json is there");
  const wrong: string[] = [];
  for (const x of rec.exchanges) {
    const [method, path] = x.operation.split(" ") as [string, string];
    const op = spec.paths[path]?.[method.toLowerCase()];
    if (!op) {
      wrong.push(`${x.id}: ${x.operation} is not an operation any more`);
      continue;
    }
    const status = String(x.response.status);
    if (!op.responses[status] && x.response.status !== 304) wrong.push(`${x.id}: ${x.operation} does not document ${status}`);
    const code = (x.response.body as { code?: string } | undefined)?.code;
    if (x.response.status >= 400 && code && !op.responses[status]?.["x-error-codes"]?.includes(code)) wrong.push(`${x.id}: ${x.operation} answered ${code}, not in its documented ${status} codes`);
  }
  t.same(wrong, [], "recorded answers the documentation does not cover");
});

t.test("the guide is served beside /docs", async (t) => {
  const h = await build(t);
  for (const url of ["/docs/integration.md", "/docs/integration.zh.md"]) {
    const r = await h.app.inject({ url });
    t.equal(r.statusCode, 200, url);
    t.match(String(r.headers["content-type"]), /^text\/markdown/);
    t.match(r.body, /POST \/licences/, `${url} shows the calls`);
  }
});
