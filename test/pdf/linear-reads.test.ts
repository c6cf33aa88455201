/**
 * Reads that were quadratic although every count was within its limit (issue 14 §1: work is linear in the input),
 * each built fresh from random sizes (fixtures/pdf/make-hostile.ts):
 *   - the repair scan of a damaged file looked for each wrong-length stream's end from its start to the end of the
 *     file (a 2 MB upload to the public POST /verify/pdf took over two minutes);
 *   - content streams whose data overlapped (all running to one `endstream` at the end) made every page's content
 *     the rest of the file, read again for each page by the anchor search (a 780 KB file: 55 s);
 *   - a /ToUnicode CMap was expanded again for each font name that used it (50 names over one 60-byte CMap: 10 s);
 *   - thousands of signatures, each with its own well-formed gap, all signing to the end of one large file: each range
 *     was hashed over the whole file (4 MB, 2,000 signatures: 27 s, stopped only by the time budget).
 * Now: one pass, PDF_INVALID for overlapping stream data, each CMap read once and all of a document's CMaps bounded
 * together (maxCMapEntriesPerDocument).
 */
import t from "tap";
import { cmapManyDistinct, cmapManyFonts, overlappingStreams, rand, repairEndstreamScan, signaturesOfOneRevision } from "../../fixtures/pdf/make-hostile.js";
import { makePdf } from "../../fixtures/pdf/make-pdf.js";
import { PDF_LIMITS } from "../../src/pdf/limits.js";
import { prepareStamp } from "../../src/pdf/stamp.js";
import { verifyPdf } from "../../src/pdf/verify.js";

const deps = { anchors: [], now: () => new Date() };
const appearance = { content: Buffer.from("q Q"), compressed: false, bbox: [0, 0, 10, 10] as const, matrix: [1, 0, 0, 1, 0, 0] as const };
const stampAt = (pdf: Buffer, anchor: string) => prepareStamp(pdf, { placement: { anchor, dx: 0, dy: 0 }, size: 100, appearance, fieldName: "S", signingTime: new Date(), reserve: 8192 });
/** The error `f` throws (or null) and how long it took. */
function timed(f: () => unknown): { ms: number; err: { code?: string; message?: string; details?: Record<string, unknown> } | null } {
  const t0 = performance.now();
  try {
    f();
    return { ms: performance.now() - t0, err: null };
  } catch (e) {
    return { ms: performance.now() - t0, err: e as { code?: string } };
  }
}

t.test("a damaged file with tens of thousands of wrong-length streams is repaired in one pass", async (t) => {
  const pdf = repairEndstreamScan(rand);
  const t0 = performance.now();
  const v = await verifyPdf(pdf, deps);
  const ms = performance.now() - t0;
  t.equal(v.result, "INVALID");
  t.equal(v.checks[0]?.status, "FAILED", "the structure check says the file was repaired");
  // Quadratic: every stream scanned to the end (minutes here). Linear: a few seconds even on a loaded machine.
  t.ok(ms < 20_000, `${pdf.length} bytes repaired and judged in ${ms.toFixed(0)} ms`);
});

t.test("stream data that overlaps other objects is PDF_INVALID, at once", async (t) => {
  for (const explicit of [false, true]) {
    const pdf = overlappingStreams(rand, explicit);
    const r = timed(() => stampAt(pdf, "nowhere"));
    t.equal(r.err?.code, "PDF_INVALID", `${explicit ? "a /Length reaching the last endstream" : "a wrong /Length"}: ${r.err?.message?.slice(0, 120)}`);
    t.match(r.err?.message, /overlaps/);
    t.ok(r.ms < 10_000, `refused in ${r.ms.toFixed(0)} ms`);
  }
  // Real documents are not affected: every page of a many-page document is searched.
  const real = makePdf({ pages: 30, lines: (i) => [`Page ${i + 1}`, i === 29 ? "[[HERE]]" : "text"] });
  const ok = stampAt(real, "[[HERE]]");
  t.equal(ok.pageIndex, 29, "the anchor on the last page is found");
});

t.test("a CMap is read once however many fonts share it; a document's CMaps are bounded together", async (t) => {
  const shared = cmapManyFonts(rand);
  const r = timed(() => stampAt(shared, "nowhere"));
  t.equal(r.err?.code, "PDF_ANCHOR_NOT_FOUND", "searched to the end");
  t.ok(r.ms < 10_000, `thousands of font names over one CMap of 131,072 codes in ${r.ms.toFixed(0)} ms`);
  const distinct = cmapManyDistinct(rand);
  const d = timed(() => stampAt(distinct, "nowhere"));
  t.equal(d.err?.code, "PDF_LIMIT_EXCEEDED");
  t.same(d.err?.details, { limit: "maxCMapEntriesPerDocument", max: PDF_LIMITS.maxCMapEntriesPerDocument });
  t.ok(d.ms < 10_000, `refused in ${d.ms.toFixed(0)} ms`);
});

t.test("many signatures claiming one revision are refused before any of them is hashed", async (t) => {
  // The construction is sound: alone, such a signature passes the byte-range check (and fails later, on its CMS).
  const one = await verifyPdf(signaturesOfOneRevision(1, 1000), deps);
  t.equal(one.signatures[0]?.checks[0]?.status, "PASSED", "one signature of the revision: its range is well formed");
  const n = rand(500, 3000);
  const pdf = signaturesOfOneRevision(n, rand(1 << 20, 3 << 20));
  const t0 = performance.now();
  const v = await verifyPdf(pdf, deps);
  const ms = performance.now() - t0;
  t.equal(v.result, "INVALID");
  t.equal(v.signatures.length, n);
  const contested = v.signatures.filter((s) => s.checks[0]?.id === "byte-range" && s.checks[0].status === "FAILED" && /claim the revision this one signs/.test(s.checks[0].detail));
  t.equal(contested.length, n, `every one of the ${n} signatures is refused as contested (${Math.round(ms)} ms)`);
  // Hashing each range: n × the file's size (gigabytes). Refused up front: about the cost of reading the fields.
  t.ok(ms < 20_000, `bounded time (${Math.round(ms)} ms)`);
});
