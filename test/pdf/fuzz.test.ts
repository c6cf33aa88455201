/**
 * Property-based fuzzing of the two routes that read untrusted PDFs (issue 14 §1), with fast-check: real PDFs —
 * ours (stamped once and twice, a sealed licence sheet with CJK fonts) and other tools' (pdf-lib with object
 * streams, pdf-lib with a signature placeholder, qpdf-rewritten with object streams and linearised, the repo's
 * own generator) — are mutated (byte flips, truncation, deletion, duplication, splices within and across files,
 * numbers in dictionaries inflated or negated, keywords broken) and sent to POST /verify/pdf and POST
 * /seals/:id/stamp through app.inject; half the cases get a fresh cross-reference section indexing what is left, so
 * mutations reach the object parser, page tree, form fields, text search and writer, not only the xref reader. Properties: never a 5xx, never a crash; a refusal is a documented PDF code;
 * every answer within the time bound; whatever gets stamped carries a signature our validator checks as intact;
 * the process's memory stays bounded.
 *
 * `npm test` runs FUZZ_RUNS (default 25) cases; `npm run fuzz` runs 1,000 (or FUZZ_RUNS). The seed is printed;
 * FUZZ_SEED=<seed> (and FUZZ_PATH=<path> from a failure report) replays a run.
 */
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { PDFDocument, StandardFonts } from "pdf-lib";
import { pdflibAddPlaceholder } from "@signpdf/placeholder-pdf-lib";
import t, { type Test } from "tap";
import { makePdf, variants } from "../../fixtures/pdf/make-pdf.js";
import { ERROR_TABLE } from "../../src/errors.js";
import { renderLicenceSheet } from "../../src/pdf/licence.js";
import { qrMatrix } from "../../src/modules/qr/render.js";
import { build, ROOT } from "../helpers/app.js";
import { stamp, withSeal, type SealSetup } from "../seals/helpers.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
/** One request may take this long at most (the service's time budget is set above it, so a slow case fails here). */
const TIME_BOUND_MS = Number(process.env.FUZZ_TIME_BOUND_MS ?? 5000);
const MB = 1024 * 1024;

/** The codes a refused PDF may get (documented in docs/errors.md; never INTERNAL). */
const PDF_REFUSALS = new Set(["PDF_INVALID", "PDF_ENCRYPTED", "PDF_UNSUPPORTED", "PDF_PAGE_NOT_FOUND", "PDF_ANCHOR_NOT_FOUND", "PDF_CHANGES_NOT_ALLOWED", "PDF_LIMIT_EXCEEDED"]);

async function corpus(t: Test, s: SealSetup): Promise<Array<{ name: string; pdf: Buffer }>> {
  const out: Array<{ name: string; pdf: Buffer }> = [];
  const stamped = async (pdf: Buffer, q = "page=1&x=60&y=60") => {
    const r = await stamp(s, pdf, q);
    if (r.statusCode !== 200) throw new Error(`corpus stamp: ${r.statusCode} ${r.body.slice(0, 200)}`);
    return r.rawPayload;
  };
  const plain = makePdf({ pages: 2 });
  out.push({ name: "generator (classic xref)", pdf: plain });
  const once = await stamped(plain);
  out.push({ name: "sidian stamp", pdf: once });
  out.push({ name: "sidian stamp twice", pdf: await stamped(once, "anchor=Seal") });
  const m = qrMatrix("https://sidian.example/v/l/1.2.156.3005.2.fuzz", "M");
  const sheet = await renderLicenceSheet({
    title: "食品经营许可证", rows: [{ label: "经营者名称", value: "福州市鼓楼区测试餐饮店" }, { label: "许可证编号", value: "JY13501020000001" }],
    issuer: "福州市市场监督管理局", issueDate: "2026年12月7日", identifier: "1.2.156.3005.2.fuzz",
    qr: { size: m.size, modules: m.modules, text: "https://sidian.example/v/l/1.2.156.3005.2.fuzz" }, createdAt: new Date(),
  });
  out.push({ name: "sidian licence sheet, sealed", pdf: await stamped(sheet.pdf, `page=1&x=${sheet.seal.xMm}&y=${sheet.seal.yMm}`) });

  const lib = await PDFDocument.create();
  const font = await lib.embedFont(StandardFonts.Helvetica);
  for (let i = 0; i < 2; i++) lib.addPage([595, 842]).drawText(`pdf-lib page ${i + 1}. Seal here:`, { x: 72, y: 700, size: 12, font });
  out.push({ name: "pdf-lib (object streams)", pdf: Buffer.from(await lib.save()) });
  const withPlaceholder = await PDFDocument.load(plain);
  pdflibAddPlaceholder({ pdfDoc: withPlaceholder, reason: "fuzz", contactInfo: "", name: "fuzz", location: "", signatureLength: 2048 });
  out.push({ name: "pdf-lib + @signpdf placeholder", pdf: Buffer.from(await withPlaceholder.save({ useObjectStreams: false })) });

  if (spawnSync("qpdf", ["--version"]).status === 0) {
    out.push({ name: "qpdf --object-streams=generate (of a stamp)", pdf: variants.objectStreams(once) });
    out.push({ name: "qpdf --linearize", pdf: variants.linearized(plain) });
  } else {
    t.comment("SKIP the qpdf-rewritten seeds: qpdf not found (Debian package: qpdf)");
  }
  return out;
}

interface Verdict {
  result: string;
  checks: Array<{ id: string; status: string }>;
  signatures: Array<{ field: string | null; checks: Array<{ id: string; status: string }> }>;
}
const listed = (v: Verdict) => !v.checks.some((c) => c.id === "signatures" && c.status === "FAILED");

type Mutation =
  | { op: "flip"; at: number; byte: number }
  | { op: "truncate"; at: number }
  | { op: "delete"; at: number; len: number }
  | { op: "duplicate"; at: number; len: number }
  | { op: "splice"; src: number; from: number; len: number; to: number }
  | { op: "number"; which: number; value: string }
  | { op: "keyword"; which: number; repl: string };

const NUMBERS = ["0", "-1", "1", "2147483647", "2147483648", "-2147483648", "4294967296", "9007199254740993", "99999999999999999999", "1e308", "3.5", "-0", "65535", "8388607", "8388608", "100001"];
const KEYWORDS = ["obj", "endobj", "stream", "endstream", "xref", "trailer", "startxref", "%%EOF", "/Type", "/Root", "/Pages", "/Kids", "/Length", "/Filter", "/ByteRange", "/Contents", "<<", ">>", "R"];

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 4096 }) }),
  fc.record({ op: fc.constant("duplicate" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 4096 }) }),
  fc.record({ op: fc.constant("splice" as const), src: fc.nat(), from: fc.nat(), len: fc.integer({ min: 1, max: 8192 }), to: fc.nat() }),
  fc.record({ op: fc.constant("number" as const), which: fc.nat(), value: fc.oneof(fc.constantFrom(...NUMBERS), fc.integer().map(String)) }),
  fc.record({ op: fc.constant("keyword" as const), which: fc.nat(), repl: fc.constantFrom("", " ", "x", "obj", "endobj", "<<", ">>", "[", "(", "stream\n", "99999 0 R") }),
);

/** Numbers in the file that follow a space, a bracket or a name (dictionary values, array items, xref fields). */
function numberSpans(b: Buffer): Array<[number, number]> {
  const s = b.toString("latin1");
  const out: Array<[number, number]> = [];
  for (const m of s.matchAll(/(?<=[\s[/A-Za-z])[-+]?\d+(?:\.\d+)?(?=[\s\]>/])/g)) {
    out.push([m.index!, m.index! + m[0].length]);
    if (out.length >= 20_000) break;
  }
  return out;
}

function keywordSpans(b: Buffer): Array<[number, number]> {
  const s = b.toString("latin1");
  const out: Array<[number, number]> = [];
  for (const k of KEYWORDS) {
    let i = s.indexOf(k);
    while (i >= 0 && out.length < 20_000) {
      out.push([i, i + k.length]);
      i = s.indexOf(k, i + k.length);
    }
  }
  return out;
}

function apply(input: Buffer, muts: readonly Mutation[], seeds: readonly Buffer[]): Buffer {
  let b = input;
  for (const m of muts) {
    const n = b.length;
    if (n === 0) break;
    switch (m.op) {
      case "flip": {
        b = Buffer.from(b);
        b[m.at % n] = m.byte;
        break;
      }
      case "truncate":
        b = b.subarray(0, m.at % n);
        break;
      case "delete": {
        const at = m.at % n;
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
        break;
      }
      case "duplicate": {
        const at = m.at % n;
        b = Buffer.concat([b.subarray(0, at + m.len), b.subarray(at)]);
        break;
      }
      case "splice": {
        const src = seeds[m.src % seeds.length]!;
        const from = m.from % src.length;
        const to = m.to % n;
        b = Buffer.concat([b.subarray(0, to), src.subarray(from, from + m.len), b.subarray(to)]);
        break;
      }
      case "number": {
        const spans = numberSpans(b);
        if (spans.length === 0) break;
        const [s, e] = spans[m.which % spans.length]!;
        b = Buffer.concat([b.subarray(0, s), Buffer.from(m.value, "latin1"), b.subarray(e)]);
        break;
      }
      case "keyword": {
        const spans = keywordSpans(b);
        if (spans.length === 0) break;
        const [s, e] = spans[m.which % spans.length]!;
        b = Buffer.concat([b.subarray(0, s), Buffer.from(m.repl, "latin1"), b.subarray(e)]);
        break;
      }
    }
  }
  return b;
}

/** Keeps a case's input under test-artifacts/fuzz/ (not committed) and names it: the seeds differ per run (times, serials). */
function keep(pdf: Buffer): string {
  const dir = path.join(ROOT, "test-artifacts", "fuzz");
  fs.mkdirSync(dir, { recursive: true });
  const f = path.join(dir, `${crypto.createHash("sha256").update(pdf).digest("hex").slice(0, 16)}.pdf`);
  fs.writeFileSync(f, pdf);
  return path.relative(ROOT, f);
}

/**
 * Appends a cross-reference section that indexes every "n g obj" header found (the last one of each number wins)
 * and names the last /Root, so a mutated file is still opened through its xref and the mutation reaches the
 * object parser, the page tree, the form fields, the text search and the writer rather than stopping at the
 * first broken offset.
 */
function reindex(b: Buffer): Buffer {
  const s = b.toString("latin1");
  const offs = new Map<number, [number, number]>();
  for (const m of s.matchAll(/(?<![0-9])(\d{1,7}) (\d{1,5}) obj\b/g)) offs.set(Number(m[1]), [m.index!, Number(m[2])]);
  const root = [...s.matchAll(/\/Root\s+(\d+)\s+(\d+)\s+R/g)].pop();
  if (!root || offs.size === 0) return b;
  const max = Math.max(...offs.keys());
  if (max > 200_000) return b;
  const rows = ["0000000000 65535 f\r\n"];
  for (let n = 1; n <= max; n++) {
    const o = offs.get(n);
    rows.push(o ? `${String(o[0]).padStart(10, "0")} ${String(o[1]).padStart(5, "0")} n\r\n` : "0000000000 00000 f\r\n");
  }
  const tail = `\nxref\n0 ${max + 1}\n${rows.join("")}trailer\n<< /Size ${max + 1} /Root ${root[1]} ${root[2]} R >>\nstartxref\n${b.length + 1}\n%%EOF\n`;
  return Buffer.concat([b, Buffer.from(tail, "latin1")]);
}

t.test(`mutated real PDFs never get a 5xx, are answered in time and within memory (${RUNS} cases)`, async (t) => {
  t.comment(`fuzz seed ${SEED}, ${RUNS} runs (replay: FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS} npx tap test/pdf/fuzz.test.ts)`);
  // The service's own budget sits above the test's bound: a case that needs it is a failure here, not a 422.
  const s = await withSeal(t, { h: await build(t, { SIDIAN_PDF_TIME_BUDGET_MS: String(TIME_BOUND_MS * 2) }) });
  fs.rmSync(path.join(ROOT, "test-artifacts", "fuzz"), { recursive: true, force: true });
  const seeds = await corpus(t, s);
  t.ok(seeds.length >= 6, `seeds: ${seeds.map((x) => `${x.name} (${x.pdf.length} B)`).join("; ")}`);
  const seedBytes = seeds.map((x) => x.pdf);
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const tally = { verify: new Map<string, number>(), stamp: new Map<string, number>() };
  const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

  const property = fc.asyncProperty(
    fc.nat(seeds.length - 1), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), fc.boolean(),
    async (which, muts, reindexed, byAnchor) => {
      const mutated = apply(seedBytes[which]!, muts, seedBytes);
      const pdf = reindexed ? reindex(mutated) : mutated;
      const label = `${seeds[which]!.name} + ${JSON.stringify(muts)}${reindexed ? " + reindexed" : ""}`;
      try {
        await check(pdf, label, byAnchor);
      } catch (e) {
        throw new Error(`${(e as Error).message} (input kept as ${keep(pdf)})`);
      }
    },
  );
  async function check(pdf: Buffer, label: string, byAnchor: boolean): Promise<void> {

      let t0 = performance.now();
      const v = await s.h.app.inject({ method: "POST", url: "/verify/pdf", headers: { "content-type": "application/pdf" }, payload: pdf });
      const tv = performance.now() - t0;
      if (v.statusCode !== 200 && v.statusCode !== 422) throw new Error(`verify answered ${v.statusCode} ${v.body.slice(0, 300)} for ${label}`);
      if (v.statusCode === 422 && v.json().code !== "PDF_LIMIT_EXCEEDED") throw new Error(`verify refused with ${v.json().code} for ${label}`);
      if (tv > TIME_BOUND_MS) throw new Error(`verify took ${tv.toFixed(0)} ms for ${label}`);
      count(tally.verify, v.statusCode === 200 ? (v.json() as { result: string }).result : v.json().code);

      t0 = performance.now();
      const st = await stamp(s, pdf, byAnchor ? "anchor=Seal" : "page=1&x=40&y=40");
      const ts = performance.now() - t0;
      if (ts > TIME_BOUND_MS) throw new Error(`stamp took ${ts.toFixed(0)} ms for ${label}`);
      if (st.statusCode === 200) {
        // What we stamp carries our signature intact whenever the validator can list the document's signatures
        // (a signature dictionary broken by the mutation makes it refuse the whole form: then never VALID).
        const out = await s.h.app.inject({ method: "POST", url: "/verify/pdf", headers: { "content-type": "application/pdf" }, payload: st.rawPayload });
        if (out.statusCode !== 200) throw new Error(`verify of our own output answered ${out.statusCode} for ${label}`);
        const verdict = out.json() as Verdict;
        const ours = verdict.signatures.filter((x) => x.field?.startsWith(`Seal-${s.sealId}`)).pop();
        if (!listed(verdict)) {
          if (verdict.result === "VALID") throw new Error(`a form that cannot be read was judged VALID for ${label} (output kept as ${keep(st.rawPayload)})`);
          count(tally.stamp, "stamped (form unreadable to the validator)");
          return;
        }
        if (!ours) throw new Error(`our stamp is not found in the output for ${label} (output kept as ${keep(st.rawPayload)}): ${JSON.stringify(verdict.signatures.map((x) => x.field))}`);
        for (const id of ["digest", "signature"]) {
          const c = ours.checks.find((x) => x.id === id);
          if (c?.status !== "PASSED") throw new Error(`our stamp's ${id} check is ${c?.status} for ${label} (output kept as ${keep(st.rawPayload)})`);
        }
        count(tally.stamp, "stamped, our signature intact");
      } else {
        if (st.statusCode !== 422) throw new Error(`stamp answered ${st.statusCode} ${st.body.slice(0, 300)} for ${label}`);
        const code = st.json().code as string;
        if (!PDF_REFUSALS.has(code) || !(code in ERROR_TABLE)) throw new Error(`stamp refused with ${code} for ${label}`);
        count(tally.stamp, code);
      }
      peak = Math.max(peak, process.memoryUsage().rss);
  }
  await fc.assert(property, {
    numRuns: RUNS, seed: SEED, ...(process.env.FUZZ_PATH ? { path: process.env.FUZZ_PATH } : {}),
    // Shrinking a failure over HTTP is slow: bounded, the report still names the seed and path.
    interruptAfterTimeLimit: Math.max(60_000, RUNS * 2000),
  });
  const grew = (peak - rss0) / MB;
  t.ok(grew < 768, `RSS (with the workers) grew by ${grew.toFixed(0)} MB at most`);
  t.comment(`verify: ${JSON.stringify(Object.fromEntries(tally.verify))}; stamp: ${JSON.stringify(Object.fromEntries(tally.stamp))}`);
  if (!process.env.FUZZ_PATH) t.equal([...tally.verify.values()].reduce((a, b) => a + b, 0), RUNS, "every case was sent (none cut off by the time limit)");
});
