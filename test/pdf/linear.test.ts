/**
 * Validation is linear in the number of signatures (issue 14 §1: the set of later signatures was rebuilt for each
 * signature, so 20,000 fields took 47 s). A document with as many signature fields as the limit allows is judged
 * within a time bound that quadratic work cannot meet; one over the limit is refused.
 */
import t from "tap";
import { classicPdf } from "../../fixtures/pdf/make-hostile.js";
import { PDF_LIMITS } from "../../src/pdf/limits.js";
import { verifyPdf } from "../../src/pdf/verify.js";

/** `n` signature fields, each with its own (broken: its /ByteRange gap is not its /Contents) signature dictionary. */
function manySignatureFields(n: number): Buffer {
  const objs: Record<number, string> = {
    1: "<< /Type /Catalog /Pages 2 0 R /AcroForm 4 0 R >>",
    2: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
  };
  const fields: string[] = [];
  for (let i = 0; i < n; i++) {
    const f = 5 + 2 * i;
    fields.push(`${f} 0 R`);
    objs[f] = `<< /FT /Sig /T (s${i}) /V ${f + 1} 0 R /Rect [0 0 0 0] >>`;
    objs[f + 1] = `<< /Type /Sig /SubFilter /adbe.pkcs7.detached /ByteRange [0 ${10 + i} ${20 + i} ${30 + i}] /Contents <3000> >>`;
  }
  objs[4] = `<< /Fields [${fields.join(" ")}] /SigFlags 3 >>`;
  return classicPdf(objs);
}

const deps = { anchors: [], now: () => new Date() };

t.test(`${PDF_LIMITS.maxSignatures} signature fields are judged in linear time`, async (t) => {
  const small = manySignatureFields(1000);
  const big = manySignatureFields(PDF_LIMITS.maxSignatures);
  let t0 = performance.now();
  const vs = await verifyPdf(small, deps);
  const tSmall = performance.now() - t0;
  t0 = performance.now();
  const vb = await verifyPdf(big, deps);
  const tBig = performance.now() - t0;
  t.equal(vs.signatures.length, 1000);
  t.equal(vb.signatures.length, PDF_LIMITS.maxSignatures);
  t.equal(vb.result, "INVALID");
  t.ok(vb.signatures.every((s) => s.checks.some((c) => c.id === "byte-range" && c.status === "FAILED")), "each signature judged on its own");
  // Quadratic work: 10× the fields = 100× the time (the old code took 16-100 s here). Linear: ~10×.
  t.ok(tBig < 15_000, `${PDF_LIMITS.maxSignatures} fields in ${tBig.toFixed(0)} ms (1,000 in ${tSmall.toFixed(0)} ms)`);
});

t.test("one signature over the limit is refused", async (t) => {
  await t.rejects(verifyPdf(manySignatureFields(PDF_LIMITS.maxSignatures + 1), deps), { code: "PDF_LIMIT_EXCEEDED", details: { limit: "maxSignatures" } });
});
