/** The bounded XML reader under container manifests: what it reads, and the classes of XML it refuses. */
import t from "tap";
import { parseXml, XmlError } from "../../src/containers/xml.js";

const x = (s: string) => parseXml(Buffer.from(s, "utf8"));

t.test("reads namespaces, attributes, text, entities", async (t) => {
  const r = x(`\ufeff<?xml version="1.0" encoding="UTF-8"?>\n<!-- c --><a:r xmlns:a="urn:a" xmlns="urn:d" k="1 &amp; 2"><c a:q="v">t&lt;&#x4e2d;&#25991;<![CDATA[<raw>]]></c><d/></a:r>`);
  t.equal(r.ns, "urn:a");
  t.equal(r.name, "r");
  t.equal(r.attrs.get("k"), "1 & 2");
  t.equal(r.children[0]!.ns, "urn:d", "default namespace");
  t.equal(r.children[0]!.attrs.get("{urn:a}q"), "v");
  t.equal(r.children[0]!.text, "t<中文<raw>");
  t.equal(r.children[1]!.name, "d");
});

t.test("refuses DOCTYPE/entities, PIs, bad nesting, undeclared prefixes, duplicates, over-limit input", async (t) => {
  const bad: Array<[string, string]> = [
    ["billion laughs", `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;">]><r>&b;</r>`],
    ["external entity", `<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>`],
    ["undeclared entity", `<r>&x;</r>`],
    ["processing instruction", `<r><?php echo 1 ?></r>`],
    ["mismatched close", `<a><b></a></b>`],
    ["unclosed", `<a><b></b>`],
    ["undeclared prefix", `<p:a/>`],
    ["duplicate attribute", `<a k="1" k="2"/>`],
    ["duplicate after namespaces", `<a xmlns:p="u" xmlns:q="u" p:k="1" q:k="2"/>`],
    ["two roots", `<a/><b/>`],
    ["text after root", `<a/>x`],
    ["unquoted attribute", `<a k=1/>`],
    ["< in attribute", `<a k="<"/>`],
    ["control character", `<a>\u0001</a>`],
    ["other encoding", `<?xml version="1.0" encoding="ISO-8859-1"?><a/>`],
    ["deep", "<a>".repeat(40) + "</a>".repeat(40)],
    ["many elements", `<r>${"<e/>".repeat(20_001)}</r>`],
    ["bad char ref", `<a>&#0;</a>`],
  ];
  for (const [what, s] of bad) t.throws(() => x(s), XmlError, what);
  t.throws(() => parseXml(Buffer.from([0x3c, 0x61, 0x3e, 0xff, 0x3c, 0x2f, 0x61, 0x3e])), XmlError, "not UTF-8");
  t.throws(() => parseXml(Buffer.alloc(1024 * 1024 + 1, 0x20)), XmlError, "over maxBytes");
});
