/**
 * The recorded examples (docs/api-examples.json) and the integration guides' example blocks stay true: the same
 * flows run against the service as it is now must give the same calls, statuses, error codes and fields, and every
 * guide block must be the rendering of its recorded exchange. When this fails after a deliberate change, run
 * `npx tsx scripts/api-examples.ts` and commit what it writes.
 */
import fs from "node:fs";
import t from "tap";
import { loadRecordedExamples } from "../../src/http/openapi.js";
import { GUIDES, refreshGuide, runFlows } from "../../scripts/api-examples.js";

function shape(body: unknown): string {
  if (body && typeof body === "object" && !Array.isArray(body)) {
    const code = (body as { code?: unknown }).code;
    return `{${Object.keys(body).sort().join(",")}}${typeof code === "string" && /^[A-Z_]+$/.test(code) ? ` ${code}` : ""}`;
  }
  return typeof body;
}

t.test("a fresh run says what the recording says", async (t) => {
  const run = await runFlows();
  t.teardown(() => run.close());
  const rec = loadRecordedExamples();
  const now = run.exchanges.map((x) => `${x.id} ${x.operation} ${x.response.status} ${shape(x.response.body)}`);
  const then = rec.exchanges.map((x) => `${x.id} ${x.operation} ${x.response.status} ${shape(x.response.body)}`);
  t.same(now, then, "run `npx tsx scripts/api-examples.ts` to re-record");
});

t.test("every guide block is its recorded exchange", async (t) => {
  const rec = loadRecordedExamples();
  for (const g of GUIDES) {
    const text = fs.readFileSync(g, "utf8");
    const r = refreshGuide(text, rec);
    t.same(r.missing, [], `${g}: example ids with no recorded exchange`);
    t.ok(r.text === text, `${g} is up to date (run npx tsx scripts/api-examples.ts)`);
    t.ok((text.match(/<!-- example:/g) ?? []).length >= 20, `${g} shows real exchanges`);
  }
});
