/**
 * The one text rule (issue 14 §3) for names given on the command line: `sidian departments create --name`,
 * `clients create --name`, `stamp --reason/--location/--anchor`, and the services they call (the same services HTTP
 * calls, behind an edge that checked already), down to the certificate subjects. Hostile variants are drawn
 * afresh on every run: a random C0/C1 control, a random bidirectional control, a line or paragraph separator, a
 * random lone surrogate, an overlong name, an empty or blank one, and bytes that are not UTF-8 (argv only).
 */
import crypto from "node:crypto";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { needs } from "../helpers/tools.js";
import t from "tap";
import { departmentSubject, personSubject } from "../../src/pki/profiles.js";
import { build, makeUscc, ROOT, tempDir } from "../helpers/app.js";

const pick = <T>(a: readonly T[]): T => a[crypto.randomInt(a.length)]!;
const cp = (n: number) => String.fromCodePoint(n);
const CONTROLS = [...Array.from({ length: 32 }, (_, i) => i).filter((i) => i !== 0), 0x7f, ...Array.from({ length: 32 }, (_, i) => 0x80 + i)];
const BIDI = [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f, 0x061c];
const base = () => pick(["丙局", "市场监督管理局", "Bureau of Tests", "东城区政务服务中心"]);
/** Inserts `bad` at a random place of a plausible name (start, middle or end). */
const inside = (bad: string) => {
  const b = base();
  const at = crypto.randomInt(b.length + 1);
  return b.slice(0, at) + bad + b.slice(at);
};

/** Fresh hostile names: [what, value, survives argv?]. */
function variants(max: number): Array<[string, string, boolean]> {
  const ctl = pick(CONTROLS);
  const bidi = pick(BIDI);
  const sur = 0xd800 + crypto.randomInt(0x800);
  return [
    [`control U+${ctl.toString(16).padStart(4, "0")}`, inside(cp(ctl)), true],
    ["NUL", inside("\u0000"), false], // argv cannot carry NUL at all
    [`bidi U+${bidi.toString(16)}`, inside(cp(bidi)), true],
    ["line separator", inside(pick(["\u2028", "\u2029", "\n", "\r"])), true],
    [`lone surrogate U+${sur.toString(16)}`, inside(String.fromCharCode(sur)), false], // argv turns it into U+FFFD
    ["overlong", "局".repeat(max + 1 + crypto.randomInt(50)), true],
    ["empty", "", true],
    ["blank", pick([" ", "   ", "\u3000"]), true],
  ];
}

t.test("services refuse hostile names whoever calls them (the CLI calls them directly)", async (t) => {
  const h = await build(t);
  const sys = { kind: "system" as const, name: "test" };
  const dir = h.ctx.directory;
  const dept = await dir.createDepartment({ name: "文本规则测试局", uscc: makeUscc(900001), regionCode: "110000" }, sys);
  for (const [what, v] of variants(100)) {
    await t.rejects(dir.createDepartment({ name: v, uscc: makeUscc(900002), regionCode: "110000" }, sys), { code: "VALIDATION_FAILED", details: { field: "name" } }, `department create: ${what}`);
    await t.rejects(dir.updateDepartment(dept.id, { name: v }, sys), { code: "VALIDATION_FAILED" }, `department rename: ${what}`);
    await t.rejects(dir.createClient({ name: v, role: "issuer", departmentId: dept.id }, sys), { code: "VALIDATION_FAILED" }, `client create: ${what}`);
  }
  for (const [what, v] of variants(64)) {
    await t.rejects(h.ctx.seals.createSeal({ departmentId: dept.id, type: "01", name: v } as never, sys), { code: "VALIDATION_FAILED", details: { field: "name" } }, `seal name: ${what}`);
    t.throws(() => departmentSubject({ department: { name: v, uscc: makeUscc(900001) }, profile: "licence-signing" } as never), { code: "CERTIFICATE_PROFILE_INVALID" }, `certificate subject O: ${what}`);
    t.throws(() => personSubject({ name: v, pseudonym: "SD-0123456789ABCDEF" }), { code: "CERTIFICATE_PROFILE_INVALID" }, `person subject CN: ${what}`);
  }
  for (const [what, v] of variants(24)) {
    if (v.trim() === "") continue; // an arc text left out takes the department's name; "" is refused below
    await t.rejects(h.ctx.seals.createSeal({ departmentId: dept.id, type: "01", arcText: v } as never, sys), { code: "VALIDATION_FAILED" }, `seal arc text: ${what}`);
  }
  for (const [what, v] of variants(200)) {
    if (v === "") continue; // no reason given
    await t.rejects(h.ctx.seals.stamp("NO-SUCH-SEAL", { pdf: Buffer.from("%PDF-1.7"), placement: { page: 1, xMm: 10, yMm: 10 }, reason: v }, sys), { code: "VALIDATION_FAILED", details: { field: "reason" } }, `stamp reason: ${what}`);
  }
  // Plausible names still pass, trimmed.
  const ok = await dir.createDepartment({ name: "  东城区 (Dongcheng) 局 · 2  ", uscc: makeUscc(900002), regionCode: "110000" }, sys);
  t.equal(ok.name, "东城区 (Dongcheng) 局 · 2");
  const seal = await h.ctx.seals.createSeal({ departmentId: ok.id, type: "01", name: "东城区局公章" } as never, sys);
  t.equal(seal.name, "东城区局公章");
});

t.test("CLI: hostile names are refused with VALIDATION_FAILED and nothing is stored", async (t) => {
  const dir = tempDir(t);
  const env = { ...process.env, SIDIAN_MODE: "test", SIDIAN_DB: path.join(dir, "cli.db"), SIDIAN_KEYS_DIR: path.join(ROOT, "keys-dev"), SIDIAN_DB_SYNC: "normal", SIDIAN_PUBLIC_URL: "http://127.0.0.1:8080" };
  const main = path.join(ROOT, "src/main.ts");
  const run = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", main, ...args], { encoding: "utf8", env, cwd: ROOT });
  const cases = variants(100).filter(([, , argv]) => argv);
  // Bytes that are not UTF-8 (a name typed in GBK): Node would read them as U+FFFD.
  const gbk = Buffer.from("b1fbbed6", "hex"); // 丙局 in GBK
  const noBash = needs("bash");
  if (noBash) t.comment(`skipped the GBK-bytes case: ${noBash}`);
  else {
  const raw = spawnSync("bash", ["-c", `exec "$0" --import tsx "$1" departments create --name "$(printf '${[...gbk].map((b) => `\\x${b.toString(16)}`).join("")}')" --uscc 91350100M000100Y43 --region 110000`, process.execPath, main], { encoding: "utf8", env, cwd: ROOT });
  t.equal(raw.status, 2, `GBK bytes: refused (${raw.stderr.trim()})`);
  t.match(raw.stderr, /VALIDATION_FAILED: .*not valid UTF-8/);
  }
  for (const [what, v] of cases) {
    const r = run("departments", "create", "--name", v, "--uscc", makeUscc(900002), "--region", "110000");
    t.not(r.status, 0, `departments create ${what}: refused`);
    t.match(r.stderr, /VALIDATION_FAILED|--name is required/, `departments create ${what}: ${r.stderr.trim().slice(0, 120)}`);
    t.notMatch(r.stderr, /\n\s+at /, `${what}: one line, no stack`);
  }
  const s = run("stamp", path.join(ROOT, "package.json"), "--seal", "NO-SUCH", "--reason", inside(cp(pick(BIDI))));
  t.equal(s.status, 1, "stamp --reason with a bidi control: refused");
  t.match(s.stderr, /VALIDATION_FAILED: reason holds a bidirectional/);

  const list = run("departments", "list");
  t.equal(list.status, 0, list.stderr);
  t.equal(list.stdout.trim(), "", "no department was stored");
  const good = run("departments", "create", "--name", "东城区政务服务局", "--uscc", makeUscc(900002), "--region", "110000");
  t.equal(good.status, 0, good.stderr);
  t.match(good.stdout, /东城区政务服务局/);
});
