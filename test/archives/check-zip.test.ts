/**
 * Zip packages (GET /archives/:id/package downloads one): the same checks as a directory, Chinese names surviving
 * the round trip, and hostile zips — `../` entries, symbolic links, zip bombs (by ratio, and by an entry that lies
 * about its size) — caught as failures naming the entry, never extracted or inflated past the limits.
 */
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import t from "tap";
import { tempDir } from "../helpers/app.js";
import { rawZip, unix, type RawEntry } from "../containers/raw-zip.js";
import { buildFixture, type Fixture } from "./fixture.js";
import { checkZip, item, zipDir } from "./check-helpers.js";
import { ITEM_IDS, SourceError } from "../../src/modules/archives/check/index.js";

let f: Fixture;
let entries: RawEntry[];
t.before(async () => {
  f = await buildFixture(tempDir(t, "sidian-arc-zip-"));
  const walk = (rel: string): string[] => fs.readdirSync(path.join(f.dir, rel), { withFileTypes: true }).flatMap((d) => {
    const p = rel ? `${rel}/${d.name}` : d.name;
    return d.isDirectory() ? walk(p) : [p];
  });
  entries = walk("").sort().map((p) => ({ name: `${f.caseNo}/${p}`, content: fs.readFileSync(path.join(f.dir, p)), ...(/[^\x00-\x7f]/.test(p) ? { flags: 0x0800 } : {}) }));
});

t.test("a zipped package passes, non-ASCII names intact", async (t) => {
  const zip = await zipDir(f.dir);
  const r = await checkZip(zip);
  t.equal(r.result, "pass", r.items.filter((i) => i.result === "fail").map((i) => `${i.id}: ${i.found}`).join("\n"));
  t.equal(r.package.source, "zip");
  t.equal(r.package.name, f.caseNo);
  t.equal(r.package.payloadFiles, 8);
  t.same(r.items.map((i) => i.id), ITEM_IDS.map(([p, id]) => `${p}.${id}`), "every item, in order");
  t.same(r.items.map((i) => i.title), ITEM_IDS.map(([, , title]) => title), "the refused-zip report uses the same titles");
  const raw = await checkZip(rawZip(entries));
  t.equal(raw.result, "pass", "the test's raw zip builder makes an equivalent package");
});

t.test("a zip with ../ entries", async (t) => {
  const r = await checkZip(rawZip([...entries, { name: `${f.caseNo}/data/../../etc/cron.d/evil`, content: Buffer.from("* * * * * root sh\n") }]));
  t.equal(r.result, "fail");
  const e = item(r, "security.entries");
  t.equal(e.result, "fail");
  t.match(e.failures[0]!, { subject: `${f.caseNo}/data/../../etc/cron.d/evil`, detail: /ZIP_UNSAFE_ENTRY.*traversal/ });
  t.ok(r.items.filter((i) => i.id !== "security.entries").every((i) => i.result === "not_applicable" && /not checked: the zip was refused/.test(i.found)), "nothing inside was read");
});

t.test("a zip with a symbolic link", async (t) => {
  const r = await checkZip(rawZip([...entries, { name: `${f.caseNo}/data/materials/m1/link.txt`, content: Buffer.from("/etc/shadow"), method: 0, ...unix(0o120777) }]));
  const e = item(r, "security.entries");
  t.equal(e.result, "fail");
  t.match(e.failures[0]!, { subject: `${f.caseNo}/data/materials/m1/link.txt`, detail: /link/ });
});

t.test("a zip bomb", async (t) => {
  await t.test("by its compression ratio: refused when it opens", async (t) => {
    const zeros = Buffer.alloc(64 * 1024 * 1024);
    const r = await checkZip(rawZip([...entries, { name: `${f.caseNo}/data/materials/m9/zeros.txt`, data: zlib.deflateRawSync(zeros, { level: 9 }), usize: zeros.length, crc: zlib.crc32(zeros) }]));
    const e = item(r, "security.entries");
    t.equal(e.result, "fail");
    t.match(e.failures[0]!, { subject: `${f.caseNo}/data/materials/m9/zeros.txt`, detail: /ZIP_LIMIT_EXCEEDED.*maxRatio/ });
  });
  await t.test("an entry that inflates past what it declares: stopped at the declared size", async (t) => {
    const big = Buffer.alloc(8 * 1024 * 1024, 0x41);
    const data = zlib.deflateRawSync(big, { level: 9 });
    const lie: RawEntry = { name: `${f.caseNo}/data/materials/m3/说明.txt`, data, usize: 1000, crc: 0, flags: 0x0800 };
    const r = await checkZip(rawZip(entries.map((e) => (e.name === lie.name ? lie : e))), { limits: { maxCompressionRatio: 1e9 } });
    const fp = item(r, "integrity.files-present");
    t.equal(fp.result, "fail");
    t.ok(fp.failures.some((x) => x.subject === "data/materials/m3/说明.txt" && /ZIP_ENTRY_CORRUPT/.test(x.detail)), JSON.stringify(fp.failures));
  });
  await t.test("over the total size limit", async (t) => {
    const r = await checkZip(await zipDir(f.dir), { limits: { maxTotalBytes: 10_000 } });
    t.equal(item(r, "security.entries").result, "fail");
    t.match(item(r, "security.entries").failures[0]!.detail, /maxTotalSize/);
  });
});

t.test("entries outside the bag's folder, non-NFC names", async (t) => {
  const nfd = "data/materials/m5/e\u0301.txt";
  const r = await checkZip(rawZip([...entries, { name: `${f.caseNo}/${nfd}`, content: Buffer.from("x"), flags: 0x0800 }]));
  t.same(item(r, "security.entries").failures, [{ subject: `${f.caseNo}/${nfd}`, detail: "name not in Unicode NFC" }]);
  const outside = await checkZip(rawZip([...entries, { name: "README.txt", content: Buffer.from("hi") }]));
  t.ok(item(outside, "security.entries").failures.some((x) => /one top-level folder/.test(x.detail)));
});

t.test("what is not a zip cannot be read", async (t) => {
  await t.rejects(checkZip(Buffer.from("%PDF-1.7 not a zip")), SourceError);
});
