import t from "tap";
import { canonicalJson, CanonicalJsonError } from "../../src/crypto/canonical.js";

t.test("RFC 8785 canonical JSON", async (t) => {
  t.equal(canonicalJson({ b: 1, a: [true, null, "x"], c: { z: 1, y: 2 } }), '{"a":[true,null,"x"],"b":1,"c":{"y":2,"z":1}}', "members sorted, no whitespace");
  // RFC 8785 §3.2.3: sorting by UTF-16 code units ("\u20ac" € sorts before "\ud83d\ude00" 😀, and "\r" first).
  t.equal(canonicalJson({ "\u20ac": "Euro Sign", "\r": "Carriage Return", "\ud83d\ude00": "Smiley", "1": "One", "\u00f6": "Latin Small Letter O With Diaeresis" }),
    '{"\\r":"Carriage Return","1":"One","ö":"Latin Small Letter O With Diaeresis","€":"Euro Sign","😀":"Smiley"}', "RFC 8785 §3.2.3 sort example");
  // RFC 8785 §3.2.2.3 number examples (ES6 serialisation).
  t.equal(canonicalJson([1e21, 1e-7, -0, 0.000001, Number("333333333.33333329"), 1e23, 9007199254740992]), "[1e+21,1e-7,0,0.000001,333333333.3333333,1e+23,9007199254740992]");
  t.equal(canonicalJson({ a: undefined, b: 1 }), '{"b":1}', "undefined members omitted");
  t.equal(canonicalJson("\u2028\u0007"), '"\u2028\\u0007"', "control characters escaped, U+2028 kept");
  t.throws(() => canonicalJson({ a: NaN }), CanonicalJsonError);
  t.throws(() => canonicalJson({ a: Infinity }), CanonicalJsonError);
  t.throws(() => canonicalJson([undefined]), CanonicalJsonError);
  t.throws(() => canonicalJson({ d: new Date(0) }), CanonicalJsonError, "no class instances");
  t.throws(() => canonicalJson("\ud800"), CanonicalJsonError, "lone surrogate");
  t.throws(() => canonicalJson(1n), CanonicalJsonError, "bigint");
});
