/**
 * Outside tools the tests use, and the Debian package of each. A test that needs one it cannot find skips with a
 * visible line naming the package (`# SKIP … apt-get install …`); the README's list of packages is checked against
 * this table (test/tools.test.ts), and `.ci/run` installs them.
 */
import { spawnSync } from "node:child_process";
import type { Test } from "tap";

export const TOOL_PACKAGES = {
  openssl: "openssl",
  pdfsig: "poppler-utils",
  pdftoppm: "poppler-utils",
  pdftotext: "poppler-utils",
  pdfinfo: "poppler-utils",
  qpdf: "qpdf",
  certutil: "libnss3-tools",
  pk12util: "libnss3-tools",
  zbarimg: "zbar-tools",
  chromium: "chromium",
  "softhsm2-util": "softhsm2",
  "redis-server": "redis-server",
  unzip: "unzip",
  zip: "zip",
  bash: "bash",
} as const;

export type Tool = keyof typeof TOOL_PACKAGES;

const found = new Map<string, boolean>();
const said = new Set<string>();

export function haveTool(tool: Tool): boolean {
  let ok = found.get(tool);
  if (ok === undefined) {
    ok = spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status === 0;
    found.set(tool, ok);
  }
  return ok;
}

/** False when every tool is installed; otherwise the skip reason naming the Debian packages (printed once). */
export function needs(...tools: Tool[]): string | false {
  const missing = tools.filter((x) => !haveTool(x));
  if (missing.length === 0) return false;
  const pkgs = [...new Set(missing.map((x) => TOOL_PACKAGES[x]))];
  const reason = `${missing.join(", ")} not installed (apt-get install ${pkgs.join(" ")})`;
  if (!said.has(reason)) {
    said.add(reason);
    process.stdout.write(`# SKIP ${reason}: the tests that need it are skipped\n`);
  }
  return reason;
}

type Fn = (t: Test) => unknown;
/**
 * `t.test` whose tests skip when the file's tools are missing: `const test = gate(t, needs("pdfsig", "qpdf"))`,
 * then `test(name, fn)` or `test(name, options, fn)` as with `t.test`.
 */
export function gate(t: Test, reason: string | false) {
  return (name: string, a: Fn | { skip?: string | boolean; [k: string]: unknown }, b?: Fn) => {
    const opts = typeof a === "function" ? {} : a;
    const fn = (typeof a === "function" ? a : b)!;
    return t.test(name, { ...opts, skip: opts.skip || reason }, fn);
  };
}
