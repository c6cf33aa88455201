/**
 * Tables read with a key that comes from input (a part's content type, a file name inside an uploaded package, a
 * route parameter) find nothing for the names of Object.prototype's properties (issue 14 §7): before, the
 * material upload's declared kind for a part typed `__proto__` was Object.prototype itself, and an archive
 * package's file `x.constructor` had the format `function Object()`.
 */
import t from "tap";
import { own } from "../../src/util/lookup.js";
import { declaredKind } from "../../src/modules/materials/index.js";
import { formatOfExtension } from "../../src/modules/archives/check/formats.js";

const KEYS = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf", "__defineGetter__", "propertyIsEnumerable"];

t.test("own: only the table's own keys", async (t) => {
  const table: Record<string, number> = { a: 1, "application/pdf": 2 };
  t.equal(own(table, "a"), 1);
  t.equal(own(table, "application/pdf"), 2);
  for (const k of KEYS) t.equal(own(table, k), undefined, k);
});

t.test("a material's declared kind: Object.prototype's names are 'other', never a kind", async (t) => {
  t.equal(declaredKind("application/pdf", undefined), "pdf");
  t.equal(declaredKind(undefined, "scan.PNG"), "png");
  for (const k of KEYS) {
    t.equal(declaredKind(k, undefined), "other", `content type ${k}`);
    t.equal(declaredKind(k.toLowerCase(), undefined), "other", `content type ${k.toLowerCase()}`);
    // A file name whose extension is one of these says "other" (or nothing, when it is no extension at all).
    t.ok([undefined, "other"].includes(declaredKind(undefined, `lease.${k}`)), `file name lease.${k}`);
    t.ok([undefined, "other"].includes(declaredKind(undefined, `lease.${k.toLowerCase()}`)), `file name lease.${k.toLowerCase()}`);
  }
});

t.test("an archive file's format by extension: none for Object.prototype's names", async (t) => {
  t.equal(formatOfExtension("data/a.pdf"), "application/pdf");
  for (const k of KEYS) {
    t.equal(formatOfExtension(`data/x.${k}`), null, `x.${k}`);
    t.equal(formatOfExtension(`data/x.${k.toLowerCase()}`), null, `x.${k.toLowerCase()}`);
  }
});
