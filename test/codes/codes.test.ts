import t from "tap";
import {
  checkCitizenId, checkUscc, citizenIdCheckChar, formatLicenceId, maskCode, mod3736CheckChar, mod3736Valid, parseLicenceId, usccCheckChar,
} from "../../src/codes/index.js";
import vectors from "../../fixtures/codes/vectors.json" with { type: "json" };

t.test("citizen ID (GB 11643)", async (t) => {
  for (const v of vectors.citizenId.valid) t.same(checkCitizenId(v), { ok: true }, v);
  for (const v of vectors.citizenId.invalid) t.same(checkCitizenId(v.value), { ok: false, problem: v.problem }, v.value);
  t.equal(citizenIdCheckChar("11010519491231002"), "X");
  t.equal(citizenIdCheckChar("1101051949123100A"), null, "non-digits have no check char");
  t.same(checkCitizenId("110101209901011234", new Date("2026-01-01")), { ok: false, problem: "date" }, "birth date in the future");
});

t.test("USCC (GB 32100)", async (t) => {
  for (const v of vectors.uscc.valid) t.same(checkUscc(v), { ok: true }, v);
  for (const v of vectors.uscc.invalid) t.same(checkUscc(v.value), { ok: false, problem: v.problem }, v.value);
  t.equal(usccCheckChar("91350100M000100Y4"), "3");
  t.equal(usccCheckChar("short"), null);
  // every single-character substitution in the check position but the right one fails
  const base = "91350100M000100Y4";
  let wrong = 0;
  for (const c of "0123456789ABCDEFGHJKLMNPQRTUWXY") if (c !== "3" && !checkUscc(base + c).ok) wrong++;
  t.equal(wrong, 30);
});

t.test("ISO/IEC 7064 MOD 37,36", async (t) => {
  for (const [data, check] of vectors.mod3736.vectors) {
    t.equal(mod3736CheckChar(data!), check, data!);
    t.ok(mod3736Valid(data! + check!));
  }
  t.equal(mod3736CheckChar("abc"), null, "lower case is outside the alphabet");
  t.notOk(mod3736Valid("A"));
});

t.test("licence identifier (GB/T 36904)", async (t) => {
  const parts = { typeCode: "11100000MB03271699001", issuerCode: "91350100M000100Y43", serial: "2026000123", version: "001" };
  const id = formatLicenceId(parts);
  t.match(id, /^1\.2\.156\.3005\.2\.11100000MB03271699001\.91350100M000100Y43\.2026000123\.001\.[0-9A-Z]$/);
  t.equal(id.slice(-1), mod3736CheckChar("11100000MB0327169900191350100M000100Y432026000123001"));
  const p = parseLicenceId(id);
  t.ok(p.ok);
  if (p.ok) t.same({ ...p.parts, check: undefined }, { ...parts, check: undefined });

  const flip = id.slice(0, -1) + (id.endsWith("0") ? "1" : "0");
  t.same(parseLicenceId(flip), { ok: false, problem: "check" }, "wrong check character");
  t.same(parseLicenceId(id.replace(".2026000123.", ".2026000124.")), { ok: false, problem: "check" }, "changed serial");
  t.same(parseLicenceId(id.replace("1.2.156.3005.2.", "1.2.156.3005.3.")), { ok: false, problem: "root" });
  t.same(parseLicenceId(id.replace("91350100M000100Y43", "91350100M000100Y44")), { ok: false, problem: "issuerCode" });
  t.same(parseLicenceId(id.replace(".001.", ".01.")), { ok: false, problem: "version" });
  t.same(parseLicenceId("1.2.156.3005.2.x"), { ok: false, problem: "structure" });
  t.same(parseLicenceId("1".repeat(200)), { ok: false, problem: "length" });
  t.throws(() => formatLicenceId({ ...parts, version: "000" }), RangeError);
  t.throws(() => formatLicenceId({ ...parts, typeCode: "11100000MB0327169900" }), RangeError);
});

t.test("masking", async (t) => {
  t.equal(maskCode("11010519491231002X"), "110***********002X");
  t.equal(maskCode("abc"), "***");
  t.equal(maskCode("91350100M000100Y43"), "913***********0Y43", "a USCC keeps 3 + 4");
  // Shorter codes (passports 411-414, permits 511/516, 999) show at most a quarter of their characters.
  t.equal(maskCode("E12345678"), "E*******8", "a 9-character passport number: 2 of 9 shown");
  t.equal(maskCode("H1234567"), "H******7");
  t.equal(maskCode("C12345678901"), "C*********01", "12 characters: 3 shown");
  t.equal(maskCode("JY000000000003", 2, 2), "J***********03", "a licence number asked with 2 + 2 shows 3 of 14");
  t.equal(maskCode("AB12"), "***2");
  t.equal(maskCode("AB1"), "***");
  for (let n = 1; n < 15; n++) {
    const m = maskCode("X".repeat(n));
    t.ok(m.length === n && [...m].filter((c) => c !== "*").length <= Math.floor(n / 4), `length ${n}: at most a quarter shown`);
  }
});
