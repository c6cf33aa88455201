/**
 * The validator against the published PDF signature attacks (fixtures/pdf/make-attacks.ts builds each from a
 * freshly stamped file). Each must come out INVALID with the check that names the attack failing; and pdfsig's
 * own view is shown for contrast where it differs.
 */
import t from "tap";
import { makePdf } from "../../fixtures/pdf/make-pdf.js";
import { ATTACKS, shadowHide } from "../../fixtures/pdf/make-attacks.js";
import { stamp, verify, withSeal } from "../seals/helpers.js";

type Verdict = { result: string; checks: Array<{ id: string; status: string; detail: string }>; signatures: Array<{ result: string; checks: Array<{ id: string; status: string; detail: string }> }> };

const failed = (v: Verdict) => [...v.checks, ...v.signatures.flatMap((s) => s.checks)].filter((c) => c.status === "FAILED");

t.test("published attacks are rejected with the right check", async (t) => {
  const s = await withSeal(t);
  const res = await stamp(s, makePdf({ pages: 2, hiddenText: "HIDDEN: the fee is waived" }));
  t.equal(res.statusCode, 200);
  const signed = res.rawPayload;
  const ok = (await verify(s.h, signed)) as Verdict;
  t.equal(ok.result, "VALID", "the untouched file is valid (the hidden object alone is harmless)");

  const expect: Record<string, [string, RegExp]> = {
    "usf-no-contents": ["contents", /no \/Contents/],
    "usf-zero-contents": ["contents", /zero-filled/],
    "usf-no-byterange": ["byte-range", /no valid \/ByteRange/],
    "usf-zero-byterange": ["byte-range", /does not describe/],
    "isa-content": ["modifications", /\/Contents changed/],
    "isa-raw": ["trailing-data", /after the last %%EOF/],
    swa: ["byte-range", /repeats \/ByteRange|signature wrapping/],
    "shadow-replace": ["modifications", /changed after signing/],
    "evil-annot": ["modifications", /FreeText/],
  };
  for (const [name, make] of Object.entries(ATTACKS)) {
    const v = (await verify(s.h, make(signed))) as Verdict;
    t.equal(v.result, "INVALID", `${name}: INVALID`);
    const [id, re] = expect[name]!;
    const f = failed(v).find((c) => c.id === id);
    t.ok(f, `${name}: check ${id} failed (failed: ${failed(v).map((c) => c.id).join(", ")})`);
    if (f) t.match(f.detail, re, `${name}: ${f.detail}`);
  }
  const hide = (await verify(s.h, shadowHide(signed))) as Verdict;
  t.equal(hide.result, "INVALID", "shadow hide-and-show: INVALID");
  t.match(failed(hide).find((c) => c.id === "modifications")?.detail ?? "", /page object \d+: \/Contents changed/);
});

t.test("not a PDF, truncated, broken xref: a verdict, never an error", async (t) => {
  const s = await withSeal(t);
  const signed = (await stamp(s, makePdf())).rawPayload;
  const cases: Array<[string, Buffer, string]> = [
    ["not a PDF", Buffer.from("GIF89a not a pdf"), "INVALID"],
    ["truncated", signed.subarray(0, Math.floor(signed.length / 2)), "INVALID"],
    ["unsigned", makePdf(), "INDETERMINATE"],
    ["damaged xref", Buffer.from(signed.toString("latin1").replace(/startxref\n(\d+)\n%%EOF\n$/, "startxref\n7\n%%EOF\n"), "latin1"), "INVALID"],
  ];
  for (const [name, body, result] of cases) {
    const v = (await verify(s.h, body)) as Verdict;
    t.equal(v.result, result, `${name}: ${result} (${[...v.checks, ...v.signatures.flatMap((x) => x.checks)].filter((c) => c.status !== "PASSED").map((c) => c.detail).join("; ")})`);
  }
});
