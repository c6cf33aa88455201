/**
 * The zip library: round trips (through Info-ZIP `unzip` and `zip` too), and hostile archives — each made by
 * test/containers/raw-zip.ts, not by the writer under test.
 */
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough, Readable, Writable } from "node:stream";
import zlib from "node:zlib";
import fc from "fast-check";
import t, { type Test } from "tap";
import { AppError } from "../../src/errors.js";
import { createZipWriter, openZip, ZIP_LIMITS, type ZipArchive } from "../../src/containers/zip/index.js";
import { rawZip, unix } from "./raw-zip.js";
import { gate, needs } from "../helpers/tools.js";

const withInfoZip = gate(t, needs("unzip", "zip"));

async function zipToBuffer(fill: (z: ReturnType<typeof createZipWriter>) => Promise<void>, opts = {}): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  const z = createZipWriter(out, opts);
  await fill(z);
  await z.finish();
  out.end();
  return Buffer.concat(chunks);
}

async function refused(t: Test, p: Promise<unknown>, code: string, check?: string, msg = "") {
  try {
    const r = await p;
    if (r && typeof r === "object" && "close" in r) await (r as ZipArchive).close();
    t.fail(`expected ${code}${check ? `/${check}` : ""}, it opened ${msg}`);
  } catch (e) {
    t.ok(e instanceof AppError, `an AppError ${msg}: ${(e as Error).message}`);
    t.equal((e as AppError).code, code, `${code} ${msg}`);
    if (check) t.equal((e as AppError).details?.check ?? (e as AppError).details?.limit, check, `check ${check} ${msg}`);
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sidian-zip-"));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const NAMES = ["mimetype", "材料/租赁合同.pdf", "Ärzte/Größe – «x».txt", "emoji-📄.json", "META-INF/ASiCManifest.xml"];

withInfoZip("round trip: stored, deflated, streamed entries and non-ASCII names", async (t) => {
  const big = crypto.randomBytes(3 * 1024 * 1024 + 17);
  const text = Buffer.from("租赁合同 lease ".repeat(5000));
  const zip = await zipToBuffer(async (z) => {
    await z.addFile(NAMES[0]!, Buffer.from("application/vnd.etsi.asic-e+zip"), { method: "store" });
    await z.addFile(NAMES[1]!, Readable.from([big.subarray(0, 1000), big.subarray(1000)]));
    await z.addFile(NAMES[2]!, text);
    await z.addFile(NAMES[3]!, Readable.from([text]), { method: "store" });
    await z.addDirectory("META-INF");
    await z.addFile(NAMES[4]!, Buffer.alloc(0));
  }, { mtime: new Date("2026-03-04T05:06:08Z") });
  const a = await openZip(zip);
  t.same(a.entries.map((e) => e.name), [NAMES[0], NAMES[1], NAMES[2], NAMES[3], "META-INF/", NAMES[4]]);
  t.same(a.issues, []);
  t.equal(a.entries[0]!.method, "store");
  t.equal(a.entries[0]!.localHeaderOffset, 0);
  t.equal(a.entries[0]!.dataOffset, 38, "mimetype's bytes start at 38 (30 + 8, no extra field): the ASiC/ODF magic");
  t.equal(zip.subarray(30, 38).toString(), "mimetype");
  t.equal(a.entries[1]!.method, "deflate");
  t.equal(a.entries[2]!.mtime.toISOString(), "2026-03-04T05:06:08.000Z");
  t.equal(a.entries[1]!.mode, 0o644);
  t.ok(a.get("META-INF/")!.isDirectory);
  t.ok((await a.readEntry(a.get(NAMES[1]!)!)).equals(big));
  t.ok((await a.readEntry(a.get(NAMES[2]!)!)).equals(text));
  t.ok((await a.readEntry(a.get(NAMES[3]!)!)).equals(text));
  t.equal((await a.readEntry(a.get(NAMES[0]!)!)).toString(), "application/vnd.etsi.asic-e+zip");
  t.equal((await a.readEntry(a.get(NAMES[4]!)!)).length, 0);
  await refused(t, a.readEntry(a.get(NAMES[1]!)!, 1024), "ZIP_LIMIT_EXCEEDED", "maxReadBytes");
  await a.close();
  // The same archive from a file path.
  const f = path.join(tmp, "rt.zip");
  fs.writeFileSync(f, zip);
  const b = await openZip(f);
  t.ok((await b.readEntry(b.get(NAMES[1]!)!)).equals(big));
  await b.close();
  // Info-ZIP unzip: integrity test, and extraction keeps every non-ASCII name (the EFS flag).
  const test = spawnSync("unzip", ["-t", f], { encoding: "utf8" });
  t.equal(test.status, 0, `unzip -t: ${test.stdout}${test.stderr}`);
  const dir = path.join(tmp, "rt");
  const x = spawnSync("unzip", ["-q", "-o", f, "-d", dir], { encoding: "utf8" });
  t.equal(x.status, 0, `unzip: ${x.stderr}`);
  for (const n of [NAMES[1]!, NAMES[2]!, NAMES[3]!]) t.ok(fs.existsSync(path.join(dir, n)), `unzip wrote ${n} under its own name`);
  t.ok(fs.readFileSync(path.join(dir, NAMES[1]!)).equals(big));
  t.equal(fs.statSync(path.join(dir, NAMES[2]!)).mode & 0o777, 0o644);
});

withInfoZip("reads what Info-ZIP zip writes (deflate, directories, a UTF-8 name)", async (t) => {
  const dir = path.join(tmp, "src");
  fs.mkdirSync(path.join(dir, "子目录"), { recursive: true });
  fs.writeFileSync(path.join(dir, "子目录", "文件.txt"), "内容".repeat(1000));
  fs.writeFileSync(path.join(dir, "a.bin"), crypto.randomBytes(50_000));
  const f = path.join(tmp, "infozip.zip");
  const r = spawnSync("zip", ["-q", "-r", f, "."], { cwd: dir, encoding: "utf8", env: { ...process.env, LC_ALL: "C.UTF-8" } });
  t.equal(r.status, 0, r.stderr);
  const a = await openZip(f);
  const names = a.entries.map((e) => e.name).sort();
  t.same(names, ["a.bin", "子目录/", "子目录/文件.txt"]);
  t.equal((await a.readEntry(a.get("子目录/文件.txt")!)).toString(), "内容".repeat(1000));
  t.ok((await a.readEntry(a.get("a.bin")!)).equals(fs.readFileSync(path.join(dir, "a.bin"))));
  await a.close();
});

withInfoZip("more than 65,535 entries: ZIP64 end records, read back and by unzip", async (t) => {
  const n = 70_000;
  const f = path.join(tmp, "many.zip");
  const out = fs.createWriteStream(f);
  const z = createZipWriter(out);
  for (let i = 0; i < n; i++) void z.addFile(`d/${i}`, Buffer.from(String(i)), { method: "store" });
  const { entries } = await z.finish();
  await new Promise<void>((r) => out.end(r));
  t.equal(entries, n);
  await refused(t, openZip(f), "ZIP_LIMIT_EXCEEDED", "maxEntries", "under the default limit");
  const a = await openZip(f, { maxEntries: 100_000 });
  t.equal(a.entries.length, n);
  t.equal((await a.readEntry(a.get("d/69999")!)).toString(), "69999");
  await a.close();
  const l = spawnSync("unzip", ["-t", "-q", f], { encoding: "utf8" });
  t.equal(l.status, 0, `unzip -t: ${l.stdout.slice(-300)}${l.stderr}`);
});

t.test("the writer refuses unsafe and duplicate names, and a stream of another size than announced", async (t) => {
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  for (const bad of ["../x", "a/../../x", "/etc/passwd", "C:\\x", "c:/x", "a\\b", "a//b", "./a", "a/./b", "x\u0000y", "evil\u202egpj.exe", ""]) {
    await refused(t, createZipWriter(sink).addFile(bad, Buffer.from("x")), "ZIP_UNSAFE_ENTRY", "path", JSON.stringify(bad));
  }
  const z = createZipWriter(sink);
  await z.addFile("caf\u00e9.txt", Buffer.from("1"));
  await refused(t, z.addFile("caf\u00e9.txt", Buffer.from("2")), "ZIP_DUPLICATE_ENTRY", "duplicate");
  await refused(t, z.addFile("cafe\u0301.txt", Buffer.from("2")), "ZIP_DUPLICATE_ENTRY", "duplicate", "(NFD of the same name)");
  const z2 = createZipWriter(sink);
  await refused(t, z2.addFile("a", Readable.from([Buffer.alloc(10)]), { size: 11 }), "ZIP_ENTRY_CORRUPT", "size");
  await refused(t, z2.addFile("b", Buffer.alloc(1)), "ZIP_ENTRY_CORRUPT", "size", "(a writer stays failed after a failed entry)");
});

t.test("hostile names, links and encodings are refused on open", async (t) => {
  const c = Buffer.from("x");
  const cases: Array<[string, Parameters<typeof rawZip>[0], string, string]> = [
    ["../ traversal", [{ name: "../../evil.sh", content: c }], "ZIP_UNSAFE_ENTRY", "path"],
    ["traversal inside", [{ name: "ok/../../evil", content: c }], "ZIP_UNSAFE_ENTRY", "path"],
    ["absolute", [{ name: "/etc/cron.d/x", content: c }], "ZIP_UNSAFE_ENTRY", "path"],
    ["backslash", [{ name: "..\\..\\evil", content: c }], "ZIP_UNSAFE_ENTRY", "path"],
    ["drive letter", [{ name: "C:/Windows/evil", content: c }], "ZIP_UNSAFE_ENTRY", "path"],
    ["NUL", [{ name: "a.pdf\u0000.exe", content: c }], "ZIP_UNSAFE_ENTRY", "path"],
    ["bidi override", [{ name: "invoice\u202efdp.exe", content: c }], "ZIP_UNSAFE_ENTRY", "path"],
    ["symlink", [{ name: "link", content: Buffer.from("/etc/passwd"), method: 0, ...unix(0o120777) }], "ZIP_UNSAFE_ENTRY", "symlink"],
    ["FIFO", [{ name: "fifo", content: c, ...unix(0o010644) }], "ZIP_UNSAFE_ENTRY", "special-file"],
    ["device", [{ name: "dev", content: c, ...unix(0o020644) }], "ZIP_UNSAFE_ENTRY", "special-file"],
    ["directory mode, file name", [{ name: "d", content: Buffer.alloc(0), ...unix(0o040755) }], "ZIP_UNSAFE_ENTRY", "type-mismatch"],
    ["reparse point", [{ name: "j", content: c, madeBy: (10 << 8) | 20, external: 0x400 }], "ZIP_UNSAFE_ENTRY", "symlink"],
    ["not UTF-8", [{ name: Buffer.from([0x61, 0xff, 0xfe]), content: c }], "ZIP_UNSAFE_ENTRY", "name-encoding"],
    ["unicode path names another file", [{ name: "a.txt", content: c, centralExtra: upath("a.txt", "../../b.txt") }], "ZIP_UNSAFE_ENTRY", "unicode-path"],
    ["duplicate", [{ name: "a", content: c }, { name: "a", content: c }], "ZIP_DUPLICATE_ENTRY", "duplicate"],
    ["duplicate after NFC", [{ name: "caf\u00e9", content: c }, { name: "cafe\u0301", content: c }], "ZIP_DUPLICATE_ENTRY", "duplicate-nfc"],
    ["file and directory of one name", [{ name: "a", content: c }, { name: "a/", method: 0 }], "ZIP_DUPLICATE_ENTRY", "duplicate-nfc"],
    ["file used as a directory", [{ name: "a", content: c }, { name: "a/b", content: c }], "ZIP_DUPLICATE_ENTRY", "file-is-directory"],
    ["encrypted", [{ name: "e", content: c, flags: 1 }], "ZIP_ENCRYPTED", "encrypted"],
    ["AES", [{ name: "e", content: c, method: 99 }], "ZIP_ENCRYPTED", "encrypted"],
    ["bzip2", [{ name: "b", content: c, method: 12, data: c }], "ZIP_UNSUPPORTED", "method"],
    ["too deep", [{ name: Array(40).fill("d").join("/"), content: c }], "ZIP_LIMIT_EXCEEDED", "maxPathDepth"],
    ["name too long", [{ name: "n".repeat(2000), content: c }], "ZIP_LIMIT_EXCEEDED", "maxNameBytes"],
  ];
  for (const [what, entries, code, check] of cases) await refused(t, openZip(rawZip(entries)), code, check, what);
  // Names equal but for case are reported, not refused.
  const a = await openZip(rawZip([{ name: "Lease.PDF", content: c }, { name: "lease.pdf", content: c }]));
  t.same(a.issues.map((i) => [i.check, i.entries]), [["case-collision", ["Lease.PDF", "lease.pdf"]]]);
});

function upath(header: string, other: string): Buffer {
  const name = Buffer.from(other);
  const b = Buffer.alloc(9 + name.length);
  b.writeUInt16LE(0x7075, 0);
  b.writeUInt16LE(5 + name.length, 2);
  b[4] = 1;
  b.writeUInt32LE(zlib.crc32(Buffer.from(header)), 5);
  name.copy(b, 9);
  return b;
}

t.test("zip bombs: ratio, declared sizes, many entries, overlapping entries", async (t) => {
  const zeros = Buffer.alloc(50 * 1024 * 1024);
  const bomb = zlib.deflateRawSync(zeros, { level: 9 });
  t.ok(zeros.length / bomb.length > 500, `50 MiB of zeros deflate ${Math.round(zeros.length / bomb.length)}:1`);
  await refused(t, openZip(rawZip([{ name: "bomb", data: bomb, crc: zlib.crc32(zeros), usize: zeros.length }])), "ZIP_LIMIT_EXCEEDED", "maxRatio", "high ratio");
  // The same data declared as 100 KiB (under every limit): reading stops at the declared size.
  const liar = await openZip(rawZip([{ name: "liar", data: bomb, crc: 0, usize: 100 * 1024 }]));
  const before = process.memoryUsage().rss;
  let got = 0;
  try {
    for await (const ch of liar.openEntry(liar.entries[0]!)) got += (ch as Buffer).length;
    t.fail("the lying entry was read to its end");
  } catch (e) {
    t.equal((e as AppError).code, "ZIP_ENTRY_CORRUPT");
  }
  t.ok(got <= 100 * 1024, `delivered ${got} bytes, no more than declared`);
  t.ok(process.memoryUsage().rss - before < 40 * 1024 * 1024, "memory did not grow by the inflated size");
  // Declared sizes over the limits.
  await refused(t, openZip(rawZip([{ name: "huge", data: Buffer.alloc(6 * 1024 * 1024), method: 0, usize: 6 * 1024 * 1024, crc: 0 }]), { maxEntrySize: 5 * 1024 * 1024 }), "ZIP_LIMIT_EXCEEDED", "maxEntrySize");
  const ten = Array.from({ length: 10 }, (_, i) => ({ name: `f${i}`, content: crypto.randomBytes(1024 * 1024), method: 0 }));
  await refused(t, openZip(rawZip(ten), { maxTotalSize: 8 * 1024 * 1024 }), "ZIP_LIMIT_EXCEEDED", "maxTotalSize");
  // Many small entries, each under the ratio floor: the archive's total ratio.
  const kib = zlib.deflateRawSync(Buffer.alloc(512 * 1024));
  const many = Array.from({ length: 400 }, (_, i) => ({ name: `z${i}`, data: kib, usize: 512 * 1024, crc: zlib.crc32(Buffer.alloc(512 * 1024)) }));
  await refused(t, openZip(rawZip(many)), "ZIP_LIMIT_EXCEEDED", "maxRatio", "many entries under the floor");
  await refused(t, openZip(rawZip(Array.from({ length: 11 }, (_, i) => ({ name: `e${i}`, content: c1 }))), { maxEntries: 10 }), "ZIP_LIMIT_EXCEEDED", "maxEntries");
  // An end record that claims more entries than its central directory can hold.
  await refused(t, openZip(rawZip([{ name: "a", content: c1 }], { count: 5000 })), "ZIP_INVALID", "central-directory");
  // Overlapping entries (Fifield's construction): entry B's local header and data lie inside entry A's data.
  const inner = rawZip([{ name: "B", content: Buffer.alloc(1000), method: 0 }]);
  const innerLocal = inner.subarray(0, 30 + 1 + 1000);
  const overlap = rawZip([
    { name: "A", content: innerLocal, method: 0 },
    { name: "B", offset: 30 + 1, content: Buffer.alloc(1000), method: 0 },
  ]);
  await refused(t, openZip(overlap), "ZIP_INVALID", "overlapping-entries");
  // Two central records pointing at one local header.
  const shared = rawZip([{ name: "X", content: c1, method: 0 }, { name: "X", offset: 0, content: c1, method: 0 }]);
  await refused(t, openZip(shared), "ZIP_DUPLICATE_ENTRY", "duplicate");
});
const c1 = Buffer.from("one");

t.test("inconsistent and damaged archives", async (t) => {
  const ok = rawZip([{ name: "a.txt", content: Buffer.from("hello hello hello") }, { name: "b.txt", content: Buffer.from("world") }]);
  const a = await openZip(ok);
  t.equal((await a.readEntry(a.get("b.txt")!)).toString(), "world");
  await refused(t, openZip(rawZip([{ name: "a.txt", localName: "z.txt", content: c1 }])), "ZIP_INVALID", "local-header-mismatch", "local name differs");
  await refused(t, openZip(rawZip([{ name: "a.txt", content: c1, localUsize: 999 }])), "ZIP_INVALID", "local-header-mismatch", "local size differs");
  await refused(t, openZip(rawZip([{ name: "a.txt", content: c1, localCrc: 1 }])), "ZIP_INVALID", "local-header-mismatch", "local CRC differs");
  await refused(t, openZip(rawZip([{ name: "a.txt", content: c1, flags: 8, after: Buffer.alloc(16) }])), "ZIP_INVALID", "descriptor-mismatch");
  await refused(t, openZip(rawZip([{ name: "a", content: c1 }], { cdOffset: 3 })), "ZIP_INVALID", "central-directory");
  await refused(t, openZip(Buffer.concat([ok, Buffer.from("appended")])), "ZIP_INVALID", "eocd", "data after the end record");
  await refused(t, openZip(Buffer.from("%PDF-1.7 not a zip at all, long enough to hold an end record")), "ZIP_INVALID", "eocd");
  await refused(t, openZip(rawZip([{ name: "a", content: c1 }], { comment: Buffer.alloc(5000, 0x41) })), "ZIP_LIMIT_EXCEEDED", "maxCommentBytes");
  // A wrong CRC is found when the entry is read.
  const bad = await openZip(rawZip([{ name: "a", content: Buffer.from("abc"), crc: 12345, localCrc: 12345 }]));
  await refused(t, bad.readEntry(bad.entries[0]!), "ZIP_ENTRY_CORRUPT", "data");
  // Garbage deflate data.
  const junk = await openZip(rawZip([{ name: "a", data: Buffer.from([0xff, 0xff, 0xff, 0xff]), usize: 3, crc: 0 }]));
  await refused(t, junk.readEntry(junk.entries[0]!), "ZIP_ENTRY_CORRUPT", "data");
  // A prepended stub is reported, not refused.
  const stub = rawZip([{ name: "a", content: c1 }], { prefix: Buffer.alloc(100, 0x4d) });
  const s = await openZip(stub);
  t.same(s.issues.map((i) => i.check), ["leading-data"]);
  // Every truncation of a valid archive is ZIP_INVALID, never another kind of failure.
  const codes = new Set<string>();
  for (let n = 0; n < ok.length; n++) {
    try {
      await openZip(ok.subarray(0, n));
      codes.add("opened");
    } catch (e) {
      codes.add(e instanceof AppError ? e.code : `non-AppError ${(e as Error).message}`);
    }
  }
  t.same([...codes], ["ZIP_INVALID"], `each of ${ok.length} truncations`);
});

t.test("fuzz: any corruption either opens (and reads or fails as an AppError) or is refused as an AppError", async (t) => {
  const base = await zipToBuffer(async (z) => {
    await z.addFile("mimetype", Buffer.from("application/vnd.etsi.asic-e+zip"), { method: "store" });
    await z.addFile("doc/文件.txt", Buffer.from("some text ".repeat(50)));
    await z.addFile("s.bin", Readable.from([crypto.randomBytes(300)]));
  });
  const runs = Number(process.env.FUZZ_RUNS ?? 300);
  let opened = 0;
  await fc.assert(fc.asyncProperty(
    fc.array(fc.record({ at: fc.nat({ max: base.length - 1 }), v: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 }),
    async (flips) => {
      const b = Buffer.from(base);
      for (const f of flips) b[f.at] = f.v;
      let a: ZipArchive;
      try {
        a = await openZip(b);
      } catch (e) {
        return e instanceof AppError && e.code.startsWith("ZIP_");
      }
      opened++;
      for (const e of a.entries) {
        try {
          await a.readEntry(e);
        } catch (err) {
          if (!(err instanceof AppError && err.code.startsWith("ZIP_"))) return false;
        }
      }
      return true;
    },
  ), { numRuns: runs });
  t.pass(`${runs} corrupted archives, ${opened} of them still opened`);
});

t.test("limits are documented", async (t) => {
  const readme = fs.readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  for (const k of Object.keys(ZIP_LIMITS)) t.match(readme, `\`${k}\``, `README names ${k}`);
});

t.test("an entry past 4 GiB: ZIP64 sizes and offsets, a 64-bit data descriptor (sparse sink, nothing held)", async (t) => {
  // The writer's output is kept except runs of zeros (the big entry's data), which a virtual source gives back.
  const kept: Array<{ at: number; b: Buffer }> = [];
  let at = 0;
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      if (c !== chunk) kept.push({ at, b: Buffer.from(c) });
      at += c.length;
      cb();
    },
  });
  const big = 4 * 1024 * 1024 * 1024 + 1;
  const chunk = Buffer.alloc(1024 * 1024);
  const z = createZipWriter(sink);
  await z.addFile("small-before", Buffer.from("a"), { method: "store" });
  await z.addFile("big.bin", Readable.from((function* () {
    for (let left = big; left > 0; left -= chunk.length) yield left >= chunk.length ? chunk : Buffer.alloc(left, 0);
  })()), { method: "store" });
  await z.addFile("after-4GiB", Buffer.from("after"), { method: "store" });
  const { size } = await z.finish();
  const source = {
    size,
    async read(o: number, l: number) {
      const out = Buffer.alloc(l);
      for (const k of kept) if (k.at < o + l && k.at + k.b.length > o) k.b.copy(out, Math.max(0, k.at - o), Math.max(0, o - k.at), Math.min(k.b.length, o + l - k.at));
      return out;
    },
    close: async () => undefined,
  };
  const a = await openZip(source, { maxEntrySize: 5 * 1024 ** 3, maxTotalSize: 5 * 1024 ** 3 });
  const e = a.get("big.bin")!;
  t.equal(e.size, big);
  t.equal(e.compressedSize, big);
  const after = a.get("after-4GiB")!;
  t.ok(after.localHeaderOffset > 2 ** 32, `the last entry's local header is at ${after.localHeaderOffset}`);
  t.equal((await a.readEntry(after)).toString(), "after");
  t.equal((await a.readEntry(a.get("small-before")!)).toString(), "a");
});
