/**
 * Validation is linear in the number of signatures (issue 14 §1: the set of later signatures was rebuilt for each
 * signature, so 20,000 fields took 47 s). A document with as many signature fields as the limit allows is judged
 * within a time bound that quadratic work cannot meet; one over the limit is refused.
 */
import t from "tap";
import { manySignatureFields } from "../../fixtures/pdf/make-hostile.js";
import { PDF_LIMITS } from "../../src/pdf/limits.js";
import { verifyPdf } from "../../src/pdf/verify.js";

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
