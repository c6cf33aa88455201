import fs from "node:fs";
import t from "tap";
import { ERROR_TABLE } from "../src/errors.js";

// DESIGN rule 2: every code is documented, with the status it really has.
const doc = fs.readFileSync(new URL("../docs/errors.md", import.meta.url), "utf8");
const rows = new Map<string, number>();
for (const m of doc.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)) rows.set(m[1]!, Number(m[2]));

t.test("every error code is documented with its status", async (t) => {
  for (const [code, { status }] of Object.entries(ERROR_TABLE)) {
    t.equal(rows.get(code), status, `${code} documented as ${status}`);
  }
});

t.test("the doc lists no code that does not exist", async (t) => {
  for (const code of rows.keys()) t.ok(code in ERROR_TABLE, `${code} exists in src/errors.ts`);
});
