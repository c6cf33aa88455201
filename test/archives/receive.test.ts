/**
 * Transfer and receipt (issue 19 §4): POST /archives:receive takes a package built elsewhere only after 四性检测
 * at the transfer stage passes, stores it and logs `archive.received`; a package that fails, a zip that is not one,
 * a hostile zip (`../`, a link, duplicate names, a bomb) and a body over the limit are refused with their codes.
 * Only archivists (scope archives:receive) receive; a receipt is seen by the receiving department only.
 * Runs on SQLite and PostgreSQL (SIDIAN_TEST_STORE=pg).
 */
import { createHash } from "node:crypto";
import http from "node:http";
import zlib from "node:zlib";
import t from "tap";
import { openZip } from "../../src/containers/zip/index.js";
import { rawZip, unix, type RawEntry } from "../containers/raw-zip.js";
import { bearer } from "../licences/helpers.js";
import { builtPackage } from "./built.js";

const hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** The package's entries, as the raw builder takes them (to add hostile ones). */
async function entriesOf(zip: Buffer): Promise<RawEntry[]> {
  const z = await openZip(zip);
  const out: RawEntry[] = [];
  for (const e of z.entries) if (!e.isDirectory) out.push({ name: e.name, content: await z.readEntry(e, 64 * 1024 * 1024), ...(/[^\x00-\x7f]/.test(e.name) ? { flags: 0x0800 } : {}) });
  await z.close();
  return out;
}

t.test("an archive office receives a package that passes, and refuses what does not", async (t) => {
  const { w, api, zip, caseNo, archiveId } = await builtPackage(t);
  const archivist = await w.h.client("archivist", { departmentId: w.other.id });
  const sameDept = (await w.h.client("archivist", { departmentId: w.dept.id })).token;
  const readOnly = (await w.h.client("archivist", { departmentId: w.other.id, scopes: ["archives:read"] })).token;
  const receive = (token: string, body: Buffer, type = "application/zip") => api("POST", "/archives:receive", token, body, type);

  // who may: archivists only, with the scope
  t.equal((await receive(w.tokens.consumer, zip)).json().code, "FORBIDDEN_ROLE", "an approval system does not receive packages");
  t.equal((await receive(w.tokens.admin, zip)).json().code, "FORBIDDEN_ROLE");
  t.equal((await receive(readOnly, zip)).json().code, "FORBIDDEN_SCOPE", "an archivist token without archives:receive");
  t.equal((await w.h.app.inject({ method: "POST", url: "/archives:receive", payload: zip, headers: { "content-type": "application/zip" } })).statusCode, 401);

  // received: checked at the transfer stage, stored, logged
  const r = await receive(archivist.token, zip);
  t.equal(r.statusCode, 201, r.body);
  const body = r.json();
  t.equal(body.report.result, "pass", JSON.stringify(body.report.items.filter((i: { result: string }) => i.result === "fail")));
  t.equal(body.report.stage, "transfer");
  t.ok(body.report.items.every((i: { dat70: string }) => i.dat70.startsWith("YJ-")), "transfer-stage item numbers (YJ)");
  t.match(body.receipt, { departmentId: w.other.id, bagName: caseNo, caseNo, sourceOrganization: "福州市市场监督管理局", sourceArchiveId: archiveId, status: "received", packageSha256: hex(zip), packageSize: zip.length });
  const entry = await w.h.ctx.tlog.getEntry(body.receipt.logIndex);
  t.equal(entry.event.type, "archive.received");
  t.match(entry.event.data, { receiptId: body.receipt.id, packageSha256: hex(zip), tagmanifestSha256: body.report.package.tagManifestSha256, reportSha256: body.receipt.reportSha256 });
  t.equal(hex(Buffer.from(JSON.stringify(body.report))), body.receipt.reportSha256, "the logged digest is the report's");

  const got = await api("GET", `/archive-receipts/${body.receipt.id}`, archivist.token);
  t.equal(got.statusCode, 200);
  t.same(got.json().report.items.map((i: { id: string }) => i.id), body.report.items.map((i: { id: string }) => i.id));
  const pkg = await api("GET", `/archive-receipts/${body.receipt.id}/package`, archivist.token);
  t.equal(pkg.statusCode, 200);
  t.same(pkg.rawPayload, zip, "the package is kept as received");
  t.equal(pkg.headers["x-package-sha256"], hex(zip));
  t.equal((await api("GET", `/archive-receipts/${body.receipt.id}`, sameDept)).json().code, "ARCHIVE_RECEIPT_NOT_FOUND", "another department's archivists do not see it");
  t.equal((await api("GET", `/archive-receipts/${body.receipt.id}/package`, w.tokens.consumer)).statusCode, 403);
  t.equal((await api("GET", "/archive-receipts/nope", archivist.token)).json().code, "ARCHIVE_RECEIPT_NOT_FOUND");

  // the same package again
  const again = await receive(archivist.token, zip);
  t.equal(again.statusCode, 409);
  t.equal(again.json().code, "ARCHIVE_ALREADY_RECEIVED");
  t.equal(again.json().details.receiptId, body.receipt.id);
  // …while another office may receive it too
  t.equal((await receive(sameDept, zip)).statusCode, 201);

  // a changed byte in a payload file (stored, so the byte is in the zip as is): refused, the file named, logged
  const at = zip.indexOf(Buffer.from("/Type /Page"));
  const bad = Buffer.from(zip);
  bad[at + 1] = "t".charCodeAt(0);
  const refused = await receive(archivist.token, bad);
  t.equal(refused.statusCode, 422);
  t.equal(refused.json().code, "ARCHIVE_PACKAGE_REFUSED");
  const d = refused.json().details;
  // (the zip reader's CRC-32 check stops the changed entry: integrity.files-present names it)
  t.ok(d.failed.length > 0, d.failed.join(", "));
  t.ok(d.report.items.some((i: { failures: Array<{ subject: string }> }) => i.failures.some((f) => f.subject.startsWith("data/"))), `the changed payload file is named: ${d.failed.join(", ")}`);
  const logged = await w.h.ctx.tlog.getEntry(d.logIndex);
  t.equal(logged.event.type, "archive.receive-refused");
  t.match(logged.event.data, { departmentId: w.other.id, packageSha256: hex(bad), failed: d.failed });

  // not a zip, empty, the wrong media type
  const notZip = await receive(archivist.token, Buffer.from("%PDF-1.7 this is not a zip"));
  t.equal(notZip.statusCode, 422);
  t.equal(notZip.json().code, "ARCHIVE_PACKAGE_MALFORMED");
  const truncated = await receive(archivist.token, zip.subarray(0, zip.length - 30));
  t.equal(truncated.json().code, "ARCHIVE_PACKAGE_MALFORMED", "a zip cut short (no end record)");
  t.equal((await receive(archivist.token, Buffer.alloc(0))).json().code, "ARCHIVE_PACKAGE_MALFORMED");
  t.equal((await receive(archivist.token, zip, "application/pdf")).statusCode, 415);

  // hostile zips: refused before anything inside is read, the entry named
  const entries = await entriesOf(zip);
  const unsafe = async (name: string, z: Buffer, entry: string, detail: RegExp) => {
    const res = await receive(archivist.token, z);
    t.equal(res.statusCode, 422, `${name}: ${res.body.slice(0, 300)}`);
    t.equal(res.json().code, "ARCHIVE_PACKAGE_UNSAFE", name);
    t.equal(res.json().details.entry, entry, `${name}: the entry is named`);
    t.match(res.json().details.reason, detail, name);
    t.equal(res.json().details.report.result, "fail");
  };
  await unsafe("../ entry", rawZip([...entries, { name: `${caseNo}/data/../../etc/cron.d/evil`, content: Buffer.from("* * * * * root sh\n") }]), `${caseNo}/data/../../etc/cron.d/evil`, /traversal/);
  await unsafe("symbolic link", rawZip([...entries, { name: `${caseNo}/data/link.txt`, content: Buffer.from("/etc/shadow"), method: 0, ...unix(0o120777) }]), `${caseNo}/data/link.txt`, /link/);
  const dup = entries.find((e) => String(e.name).endsWith("bag-info.txt"))!;
  await unsafe("duplicate name", rawZip([...entries, { ...dup, content: Buffer.from("Source-Organization: 冒名\n") }]), String(dup.name), /ZIP_DUPLICATE_ENTRY/);
  const zeros = Buffer.alloc(64 * 1024 * 1024);
  await unsafe("zip bomb", rawZip([...entries, { name: `${caseNo}/data/zeros.txt`, data: zlib.deflateRawSync(zeros, { level: 9 }), usize: zeros.length, crc: zlib.crc32(zeros) }]), `${caseNo}/data/zeros.txt`, /maxRatio/);
  t.equal((await receive(archivist.token, zip)).json().code, "ARCHIVE_ALREADY_RECEIVED", "refusals stored nothing: the receipt is still the first one");
});

t.test("a body over the limit is refused without reading it", async (t) => {
  const { w, zip } = await builtPackage(t, undefined, { SIDIAN_ARCHIVE_RECEIVE_MAX_BYTES: "4096" });
  const archivist = (await w.h.client("archivist", { departmentId: w.other.id })).token;
  t.ok(zip.length > 4096);
  const r = await w.h.app.inject({ method: "POST", url: "/archives:receive", headers: { ...bearer(archivist), "content-type": "application/zip" }, payload: zip });
  t.equal(r.statusCode, 413);
  t.equal(r.json().code, "ARCHIVE_PACKAGE_TOO_LARGE");
  t.equal(r.json().details.limit, 4096);
  // a chunked body (no Content-Length) over a real connection: counted as it streams, answered before it ends
  await w.h.app.listen({ host: "127.0.0.1", port: 0 });
  const port = (w.h.app.server.address() as { port: number }).port;
  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: "/archives:receive", method: "POST", headers: { authorization: `Bearer ${archivist}`, "content-type": "application/zip", "transfer-encoding": "chunked" } });
    let answered = false;
    req.on("error", (e) => void (answered || reject(e)));
    req.on("response", (res) => {
      let b = "";
      res.setEncoding("utf8");
      res.on("data", (x) => (b += x));
      res.on("end", () => ((answered = true), resolve({ status: res.statusCode ?? 0, body: b })));
    });
    let sent = 0;
    const pump = () => {
      // up to 64 MiB unless the server answers first
      while (!answered && sent < 64 * 1024 * 1024) {
        const c = zip.subarray(0, Math.min(zip.length, 2048));
        sent += c.length;
        if (!req.write(c)) return void req.once("drain", pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
  t.equal(answer.status, 413);
  t.equal(JSON.parse(answer.body).code, "ARCHIVE_PACKAGE_TOO_LARGE");
});
