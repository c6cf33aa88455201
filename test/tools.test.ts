/**
 * Outside tools (issue 14 §8): every tool a test runs has its Debian package in test/helpers/tools.ts, the README
 * lists every such package, .ci/run installs them, and every test file that runs one (directly or through a
 * helper) skips with a visible line where it is missing instead of failing with `spawnSync … ENOENT`.
 */
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { ROOT } from "./helpers/app.js";
import { needs, TOOL_PACKAGES } from "./helpers/tools.js";

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? (e.name === "node_modules" ? [] : files(p)) : p.endsWith(".ts") ? [p] : [];
  });
}

const CALL = /\b(?:spawnSync|execFileSync|execFile|spawn|execSync)\(\s*"([a-z0-9_.-]+)"/g;
/** Helper functions that run a tool, by the module that exports them. */
const HELPERS: Array<{ module: RegExp; call: RegExp }> = [
  { module: /seals\/helpers\.js"/, call: /\b(pdfsig|qpdfCheck|opensslCmsVerify)\(/ },
  { module: /signatures\/helpers\.js"/, call: /\bpdfsigTrusting\(/ },
  { module: /pki\/helpers\.js"/, call: /\bopenssl\(/ },
  { module: /make-pdf\.js"/, call: /\b(variants\.|qpdf\()/ },
  { module: /pdf\/signpdf\.js"/, call: /\bopensslCa\(/ },
];
const GATED = /\bneeds\(|\bhave\(|SOFTHSM_SKIP|hasOpenssl|existsSync\(CHROMIUM\)|spawnSync\("[a-z0-9-]+", \["--version"\]\)\.status (?:!==|===) 0/;

const all = [...files(path.join(ROOT, "test")), ...files(path.join(ROOT, "fixtures"))];

t.test("every tool a test runs has its Debian package listed", async (t) => {
  const seen = new Set<string>();
  for (const f of all) for (const m of fs.readFileSync(f, "utf8").matchAll(CALL)) if (m[1] !== "sh" && m[1] !== process.execPath) seen.add(m[1]!);
  t.ok(seen.size >= 5, `tools found: ${[...seen].join(", ")}`);
  for (const tool of seen) t.ok(tool in TOOL_PACKAGES, `${tool} has a Debian package in test/helpers/tools.ts`);
});

t.test("the README and .ci/run name every package", async (t) => {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const ci = fs.readFileSync(path.join(ROOT, ".ci/run"), "utf8");
  for (const pkg of new Set(Object.values(TOOL_PACKAGES))) {
    t.match(readme, new RegExp(`\`${pkg}\``), `README lists ${pkg}`);
    t.match(ci, new RegExp(`:${pkg}\\b`), `.ci/run installs ${pkg}`);
  }
});

t.test("every test file that runs a tool skips where it is missing", async (t) => {
  for (const f of all.filter((x) => x.endsWith(".test.ts"))) {
    const text = fs.readFileSync(f, "utf8");
    const direct = [...text.matchAll(CALL)].some((m) => m[1] !== "sh");
    const viaHelper = HELPERS.some((h) => h.module.test(text) && h.call.test(text));
    if (!direct && !viaHelper) continue;
    t.match(text, GATED, `${path.relative(ROOT, f)} runs an outside tool and skips without it`);
  }
});

t.test("a missing tool gives a skip reason naming its package", async (t) => {
  const fake = "sidian-no-such-tool" as keyof typeof TOOL_PACKAGES;
  (TOOL_PACKAGES as Record<string, string>)[fake] = "sidian-test-package";
  t.teardown(() => void delete (TOOL_PACKAGES as Record<string, string>)[fake]);
  t.match(needs(fake), /sidian-no-such-tool not installed \(apt-get install sidian-test-package\)/);
});
