/**
 * GET /materials/:id/container (issue 18 §6): an ASiC-E container of a registered material and its receipt that
 * verifies with `verifyAsice`, with `openssl cms -verify` over the manifest, and whose manifest digest is the digest
 * registered; the same access rules as the material's bytes.
 */
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { compactVerify, createLocalJWKSet } from "jose";
import t from "tap";
import { verifyAsice } from "../../src/containers/asic/index.js";
import { openZip } from "../../src/containers/zip/index.js";
import { parseCertificatesPem } from "../../src/pki/index.js";
import { needs } from "../helpers/tools.js";
import { HOLDER, OTHER_HOLDER, bearer, pdfBytes, registerRaw, setup } from "./helpers.js";

const sha = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");

t.test("a material's container verifies offline, by openssl, and carries the registered digest and the receipt", async (t) => {
  const s = await setup(t);
  const { h } = s;
  const file = pdfBytes("lease-container", 2_500_000); // more than one stored chunk
  const reg = await registerRaw(h, s.consumer.token, { typeCode: "LEASE", holder: { code: HOLDER, codeType: "111" }, matterCode: "M-A", name: "租赁合同.pdf" }, file);
  t.equal(reg.statusCode, 201, reg.body);
  const id: string = reg.json().material.identifier;

  const res = await h.app.inject({ url: `/materials/${id}/container`, headers: bearer(s.consumer.token) });
  t.equal(res.statusCode, 200, res.body.slice(0, 300));
  t.equal(res.headers["content-type"], "application/vnd.etsi.asic-e+zip");
  t.equal(res.headers["content-disposition"], `attachment; filename="${id}.asice"`);
  t.equal(res.headers["x-material-sha256"], sha(file));
  t.match(String(res.headers["cache-control"]), /no-store/);
  const asice = res.rawPayload;

  const bundle = parseCertificatesPem(h.ctx.material.trustBundlePem);
  const v = await verifyAsice(asice, { anchors: bundle.filter((c) => c.subject === c.issuer), intermediates: bundle, now: () => new Date() });
  t.equal(v.result, "VALID", JSON.stringify(v, null, 1));
  const fileReport = v.files.find((f) => f.name === `${id}.pdf`)!;
  t.same(fileReport, { name: `${id}.pdf`, mediaType: "application/pdf", size: file.length, sha256: sha(file), status: "MATCH" });
  t.equal(v.files.find((f) => f.name === "receipt.jws")?.status, "MATCH");
  t.equal(v.signatures[0]!.signer!.subject, h.ctx.material.token.cert.subject, "signed by the platform (token) key");

  const zip = await openZip(asice);
  t.same(zip.entries.map((e) => e.name), ["mimetype", `${id}.pdf`, "receipt.jws", "META-INF/ASiCManifest.xml", "META-INF/signature.p7s"]);
  t.ok((await zip.readEntry(zip.get(`${id}.pdf`)!)).equals(file), "the bytes as registered");
  const receipt = (await zip.readEntry(zip.get("receipt.jws")!)).toString();
  const jwks = (await h.app.inject({ url: "/.well-known/jwks.json" })).json();
  const claims = JSON.parse(new TextDecoder().decode((await compactVerify(receipt, createLocalJWKSet(jwks))).payload));
  t.match(claims, { sub: id, sha256: sha(file), size: file.length });
  const manifest = await zip.readEntry(zip.get("META-INF/ASiCManifest.xml")!);
  const digest = new RegExp(`URI="${id.replace(/\./g, "\\.")}\\.pdf"[^>]*>\\s*<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>\\s*<ds:DigestValue>([^<]+)<`).exec(manifest.toString());
  t.equal(digest?.[1], crypto.createHash("sha256").update(file).digest("base64"), "the manifest's digest is the file's");

  const skip = needs("openssl");
  if (skip) t.comment(`SKIP openssl cms -verify: ${skip}`);
  else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sidian-mat-asice-"));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.writeFileSync(path.join(dir, "m.xml"), manifest);
    fs.writeFileSync(path.join(dir, "s.p7s"), await zip.readEntry(zip.get("META-INF/signature.p7s")!));
    fs.writeFileSync(path.join(dir, "bundle.pem"), h.ctx.material.trustBundlePem);
    const o = spawnSync("openssl", ["cms", "-verify", "-binary", "-inform", "DER", "-in", "s.p7s", "-content", "m.xml", "-CAfile", "bundle.pem", "-out", "/dev/null"], { cwd: dir, encoding: "utf8" });
    t.equal(o.status, 0, o.stderr);
    t.match(o.stderr, "CMS Verification successful");
    fs.writeFileSync(path.join(dir, "m.xml"), Buffer.from(manifest.toString().replace(sha(file).slice(0, 4), "zzzz") + " "));
    const bad = spawnSync("openssl", ["cms", "-verify", "-binary", "-inform", "DER", "-in", "s.p7s", "-content", "m.xml", "-CAfile", "bundle.pem", "-out", "/dev/null"], { cwd: dir, encoding: "utf8" });
    t.not(bad.status, 0, "a changed manifest fails openssl");
  }
  await zip.close();

  // The same rules as the bytes: the holder and the registrant get it; another holder does not (404); once revoked
  // an approval system does not (409), its registrant's department still does.
  t.equal((await h.app.inject({ url: `/materials/${id}/container`, headers: bearer(s.holder) })).statusCode, 200);
  const other = await h.holderToken(OTHER_HOLDER);
  const o404 = await h.app.inject({ url: `/materials/${id}/container`, headers: bearer(other) });
  t.equal(o404.statusCode, 404);
  t.equal(o404.json().code, "MATERIAL_NOT_FOUND");
  const rv = await h.app.inject({ method: "POST", url: `/materials/${id}/revoke`, headers: bearer(s.consumer.token), payload: { reason: "superseded by the signed original" } });
  t.equal(rv.statusCode, 200, rv.body);
  const r409 = await h.app.inject({ url: `/materials/${id}/container`, headers: bearer(s.consumer.token) });
  t.equal(r409.statusCode, 409);
  t.equal(r409.json().code, "MATERIAL_STATE_INVALID");
  const byAdmin = await h.app.inject({ url: `/materials/${id}/container`, headers: bearer(s.admin.token) });
  t.equal(byAdmin.statusCode, 200, "an administrator still gets the revoked material's container");
});
