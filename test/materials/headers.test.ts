/**
 * Header, path and query decoding on the materials and archives routes: every malformed value is a 400 (or the
 * route's 404 for an identifier that cannot exist) with a stable code, never a 500, and nothing is stored or logged.
 * Fresh variants of the x-material-name header (percent-decoded), the x-material-meta header (JSON or base64url),
 * and percent-encoded path segments and query values.
 */
import t from "tap";
import { bearer, metaHeader, pdfBytes, setup } from "./helpers.js";

t.test("malformed headers, paths and queries answer 4xx with a stable code", async (t) => {
  const s = await setup(t);
  const { h } = s;
  const count = async () => [Number(await h.sql.value("SELECT count(*) AS n FROM materials")), Number(await h.sql.value("SELECT count(*) AS n FROM tlog_leaves"))];
  const meta = metaHeader({ typeCode: "LEASE" });
  const post = (headers: Record<string, string>, body = pdfBytes("name test")) =>
    h.app.inject({ method: "POST", url: "/materials", headers: { ...bearer(s.holder), "content-type": "application/pdf", ...headers }, payload: body });

  const before = await count();
  const names: Array<[string, string]> = [
    ["a lone %", "%"], ["%zz", "lease%zz.pdf"], ["a truncated UTF-8 sequence", "%E4%B8"], ["a truncated escape", "lease.pdf%E"],
    ["an overlong encoding of /", "%C0%AF.pdf"], ["an encoded surrogate", "%ED%A0%80.pdf"], ["an encoded NUL", "lease%00.pdf"],
    ["an encoded line feed", "lease%0A.pdf"], ["an encoded escape character", "%1B%5B31m.pdf"], ["a bidi override", "%E2%80%AEfdp.exe"],
    ["an encoded DEL", "a%7F.pdf"], ["a 10 KB name", `${"a".repeat(10 * 1024)}.pdf`], ["a 10 KB encoded name", "%E7%A7%9F".repeat(3400)],
    ["an empty name", ""], ["raw bytes that are not UTF-8", Buffer.from([0x6c, 0xff, 0xfe, 0x2e, 0x70, 0x64, 0x66]).toString("latin1")],
  ];
  for (const [what, name] of names) {
    const r = await post({ "x-material-meta": meta, "x-material-name": name });
    t.equal(r.statusCode, 400, `x-material-name with ${what}: ${r.statusCode}`);
    t.equal(r.json().code, "MATERIAL_UPLOAD_INVALID", what);
    t.equal(r.json().details?.field, "x-material-name", `${what}: names the header`);
  }
  const metas: Array<[string, string]> = [
    ["base64url with foreign characters", "eyJ0eXBlQ29kZSI6IkxFQVNFIn0*"], ["base64url of bytes that are not UTF-8", Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]).toString("base64url")],
    ["raw JSON with bytes that are not UTF-8", Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xe4, 0xb8, 0x22, 0x7d]).toString("latin1")], ["percent signs", "%7B%7D"],
  ];
  for (const [what, m] of metas) {
    const r = await post({ "x-material-meta": m });
    t.equal(r.statusCode, 400, `x-material-meta: ${what}: ${r.statusCode}`);
    t.equal(r.json().code, "MATERIAL_UPLOAD_INVALID", what);
  }
  t.same(await count(), before, "nothing stored, nothing logged");

  // The well-formed forms still work: a UTF-8 name percent-encoded, and raw UTF-8 JSON metadata.
  const ok = await post({ "x-material-meta": meta, "x-material-name": encodeURIComponent("租赁合同.pdf") });
  t.equal(ok.statusCode, 201, ok.json().code);
  const raw = await post({ "x-material-meta": Buffer.from(JSON.stringify({ typeCode: "LEASE", name: "租赁合同" }), "utf8").toString("latin1") }, pdfBytes("raw utf-8 meta"));
  t.equal(raw.statusCode, 201, raw.json().code);
  t.equal(raw.json().material.name, "租赁合同", "raw UTF-8 metadata is read as UTF-8");

  // Paths and queries with malformed percent-encoding on the materials and archives routes.
  const tok = { materials: s.holder, cases: s.consumer.token };
  const urls: Array<[string, string, "GET" | "POST", string]> = [
    ["materials", "/materials/%zz", "GET", ""], ["materials", "/materials/%E4%B8/content", "GET", ""], ["materials", "/materials/%/receipt", "GET", ""],
    ["materials", `/materials/${ok.json().material.identifier}/receipt?format=%zz`, "GET", ""], ["materials", `/materials/${ok.json().material.identifier}/receipt?format=%E4%B8`, "GET", ""],
    ["materials", "/holders/me/materials?limit=%zz", "GET", ""], ["materials", "/holders/me/materials?current=%00", "GET", ""],
    ["materials", "/holders/me/materials/%C0%AF/withdraw", "POST", ""], ["materials", "/material-links/%zz%zz%zz%zz%zz", "GET", ""],
    ["cases", "/archives/%zz", "GET", ""], ["cases", "/archives/%E4%B8/package", "GET", ""], ["cases", "/archives/%/checks", "POST", "{}"],
    ["cases", "/cases/%zz/archive", "POST", "{}"], ["cases", "/archives/%00abc", "GET", ""], ["cases", `/archives/${"%E7%A7%9F".repeat(3000)}`, "GET", ""],
  ];
  for (const [who, url, method, payload] of urls) {
    const token = who === "materials" ? (url.startsWith("/material-links") ? s.consumer.token : tok.materials) : tok.cases;
    const r = await h.app.inject({ method, url, headers: { ...bearer(token), ...(payload ? { "content-type": "application/json" } : {}) }, ...(payload ? { payload } : {}) });
    t.ok(r.statusCode >= 400 && r.statusCode < 500, `${method} ${url.slice(0, 60)} → ${r.statusCode}`);
    t.match(r.json().code, /^[A-Z][A-Z_]+$/, `${url.slice(0, 60)}: a stable code (${r.json().code})`);
  }
});
