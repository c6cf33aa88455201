/**
 * Untrusted PDFs over a documented limit (src/pdf/limits.ts, README "PDF limits") are refused quickly with a 4xx
 * and a documented code, on the public validator and on the stamper, without the process growing by hundreds of
 * MB (issue 14 §1). Every run builds fresh variants of each class (fixtures/pdf/make-hostile.ts), plus the two
 * exact files the probe sent.
 */
import t from "tap";
import { classicPdf, HOSTILE, rand, xrefStreamPdf } from "../../fixtures/pdf/make-hostile.js";
import { openPdf } from "../../src/pdf/reader.js";
import { PDF_LIMITS } from "../../src/pdf/limits.js";
import { stamp, withSeal } from "../seals/helpers.js";

/** What each class gets from POST /verify/pdf (200 = a verdict: the validator never reads that part) and from stamping. */
const EXPECT: Record<string, { verify: 200 | "PDF_LIMIT_EXCEEDED"; stamp: string; query?: string }> = {
  "huge-count": { verify: "PDF_LIMIT_EXCEEDED", stamp: "PDF_LIMIT_EXCEEDED" },
  "zero-width-xref": { verify: "PDF_LIMIT_EXCEEDED", stamp: "PDF_LIMIT_EXCEEDED" },
  "huge-index": { verify: "PDF_LIMIT_EXCEEDED", stamp: "PDF_LIMIT_EXCEEDED" },
  "huge-subsection": { verify: "PDF_LIMIT_EXCEEDED", stamp: "PDF_LIMIT_EXCEEDED" },
  "huge-objnum": { verify: "PDF_LIMIT_EXCEEDED", stamp: "PDF_LIMIT_EXCEEDED" },
  "flate-bomb-xref": { verify: "PDF_LIMIT_EXCEEDED", stamp: "PDF_LIMIT_EXCEEDED" },
  "flate-bomb-page": { verify: 200, stamp: "PDF_LIMIT_EXCEEDED", query: "anchor=zz" },
  "deep-nesting": { verify: "PDF_LIMIT_EXCEEDED", stamp: "PDF_LIMIT_EXCEEDED" },
  "deep-page-tree": { verify: "PDF_LIMIT_EXCEEDED", stamp: "PDF_LIMIT_EXCEEDED" },
  "page-tree-cycle": { verify: 200, stamp: "PDF_INVALID" },
  "objstm-huge-n": { verify: "PDF_LIMIT_EXCEEDED", stamp: "PDF_LIMIT_EXCEEDED" },
  "predictor-row": { verify: "PDF_LIMIT_EXCEEDED", stamp: "PDF_LIMIT_EXCEEDED" },
  "cmap-bomb": { verify: 200, stamp: "PDF_LIMIT_EXCEEDED", query: "anchor=zz" },
  "many-annots": { verify: 200, stamp: "PDF_LIMIT_EXCEEDED" },
  "deep-fields": { verify: "PDF_LIMIT_EXCEEDED", stamp: "PDF_LIMIT_EXCEEDED" },
};

const MB = 1024 * 1024;

t.test("every hostile class is refused with a documented code, fast and within memory", async (t) => {
  t.same(Object.keys(EXPECT).sort(), Object.keys(HOSTILE).sort(), "every generated class has an expectation");
  const s = await withSeal(t);
  const rss0 = process.memoryUsage().rss;
  for (const [name, make] of Object.entries(HOSTILE)) {
    const e = EXPECT[name]!;
    for (let v = 0; v < 2; v++) {
      const pdf = make(rand);
      let t0 = Date.now();
      const res = await s.h.app.inject({ method: "POST", url: "/verify/pdf", headers: { "content-type": "application/pdf" }, payload: pdf });
      const tv = Date.now() - t0;
      if (e.verify === 200) t.equal(res.statusCode, 200, `${name}#${v}: verify gives a verdict`);
      else {
        t.equal(res.statusCode, 422, `${name}#${v}: verify 422 (${res.body.slice(0, 160)})`);
        t.equal(res.json().code, e.verify, `${name}#${v}: verify code`);
        t.ok(res.json().requestId, "with a request id");
      }
      t0 = Date.now();
      const st = await stamp(s, pdf, e.query ?? "page=1&x=50&y=50");
      const ts = Date.now() - t0;
      t.equal(st.statusCode, 422, `${name}#${v}: stamp 422 (${st.body.slice(0, 160)})`);
      t.equal(st.json().code, e.stamp, `${name}#${v}: stamp code`);
      t.ok(tv < 3000 && ts < 3000, `${name}#${v}: answered in ${tv} ms and ${ts} ms`);
    }
  }
  const grew = (process.memoryUsage().rss - rss0) / MB;
  t.ok(grew < 400, `RSS grew by ${grew.toFixed(0)} MB over all cases`);
});

t.test("the probe's exact files: /Count 2147483647 on a stamp, /W [0 0 0] /Index [0 16000000] on verify", async (t) => {
  const s = await withSeal(t);
  const count = classicPdf({ 1: "<< /Type /Catalog /Pages 2 0 R >>", 2: "<< /Type /Pages /Kids [3 0 R] /Count 2147483647 >>", 3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>", 4: "<< /Length 0 >>\nstream\n\nendstream" });
  const st = await stamp(s, count, "anchor=%E7%AD%BE%E5%AD%97");
  t.equal(st.statusCode, 422);
  t.equal(st.json().code, "PDF_LIMIT_EXCEEDED");
  t.match(st.json().message, /maxPages/);
  const xref = xrefStreamPdf({ 1: "<< /Type /Catalog /Pages 2 0 R >>", 2: "<< /Type /Pages /Kids [] /Count 0 >>" }, 3, "/W [0 0 0] /Index [0 16000000] /Size 16000000", Buffer.alloc(0));
  t.ok(xref.length < 300, `${xref.length} bytes`);
  const t0 = Date.now();
  const v = await s.h.app.inject({ method: "POST", url: "/verify/pdf", headers: { "content-type": "application/pdf" }, payload: xref });
  t.equal(v.statusCode, 422);
  t.equal(v.json().code, "PDF_LIMIT_EXCEEDED");
  t.ok(Date.now() - t0 < 1000, "at once");
});

t.test("limits leave real documents alone and name themselves", async (t) => {
  // A file just under the entry budget opens; a limit error carries the limit's name and value.
  const objs: Record<number, string> = { 1: "<< /Type /Catalog /Pages 2 0 R >>", 2: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>", 3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>" };
  const ok = openPdf(classicPdf(objs));
  t.equal(ok.pageCount(), 1);
  try {
    openPdf(HOSTILE["huge-count"]!(() => PDF_LIMITS.maxPages + 1)).pageCount();
    t.fail("over the page limit");
  } catch (e) {
    const err = e as { code: string; details: { limit: string; max: number } };
    t.equal(err.code, "PDF_LIMIT_EXCEEDED");
    t.same(err.details, { limit: "maxPages", max: PDF_LIMITS.maxPages });
  }
  t.equal(openPdf(HOSTILE["huge-count"]!(() => PDF_LIMITS.maxPages)).pageCount(), 1, "a /Count at the limit is read (the tree decides the count)");
});
