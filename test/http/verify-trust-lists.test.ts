/**
 * Issue 14 §6: `POST /verify/pdf?trust=NAME` judges by a configured trust list (SIDIAN_TRUST_LISTS), `sidian` by
 * default; unknown → 400 TRUST_LIST_UNKNOWN, malformed → 400 VALIDATION_FAILED; the OpenAPI document describes the
 * parameter with an example and its error codes. The document: signed by an outside CA (openssl cms, @signpdf
 * layout), then stamped by Sidian.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { makePdf } from "../../fixtures/pdf/make-pdf.js";
import { loadConfig } from "../../src/config.js";
import { createContext } from "../../src/context.js";
import type { PdfVerdict } from "../../src/pdf/verify.js";
import { KEY_FILES } from "../../src/pki/material.js";
import { build, ROOT, tempDir, testConfig } from "../helpers/app.js";
import { opensslCa, signWithSignpdf } from "../pdf/signpdf.js";
import { stamp, withSeal } from "../seals/helpers.js";

const have = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;

t.test("?trust=NAME chooses the trust list", { skip: !have("openssl") && "needs the openssl package" }, async (t) => {
  const dir = tempDir(t);
  const ext = opensslCa(dir);
  const sidianPem = ["rootCert", "issuingCert"].map((k) => fs.readFileSync(path.join(ROOT, "keys-dev", KEY_FILES[k as "rootCert"]), "utf8")).join("");
  const crl = ext.crlPem();
  const revokedCrl = ext.crlPem({ revokeSigner: true });
  const lists: Record<string, string> = {
    partner: ext.caPem + crl, nocrl: ext.caPem, both: ext.caPem + crl + sidianPem, revoked: ext.caPem + revokedCrl,
  };
  for (const [n, pem] of Object.entries(lists)) fs.writeFileSync(path.join(dir, `${n}.pem`), pem);
  const h = await build(t, { SIDIAN_TRUST_LISTS: Object.keys(lists).map((n) => `${n}=${path.join(dir, `${n}.pem`)}`).join(",") });
  h.clock.advance(120_000); // the harness clock was fixed before openssl made the certificates
  const s = await withSeal(t, { h });
  const signed = await signWithSignpdf(makePdf(), ext.sign, { subFilter: "adbe.pkcs7.detached" });
  const res = await stamp(s, signed);
  t.equal(res.statusCode, 200);
  const pdf = res.rawPayload;
  const post = (q: string) => h.app.inject({ method: "POST", url: `/verify/pdf${q}`, headers: { "content-type": "application/pdf" }, payload: pdf });
  const verdict = async (q: string) => {
    const r = await post(q);
    t.equal(r.statusCode, 200, `${q}: 200`);
    const v = r.json() as PdfVerdict;
    const outside = v.signatures.find((x) => /Outside Signer/.test(x.signer ?? ""))!;
    const seal = v.signatures.find((x) => x !== outside)!;
    const cert = (x: typeof seal) => x.checks.find((c) => c.id === "certificate")!;
    return { v, outside: outside.result, seal: seal.result, outsideCert: cert(outside), sealCert: cert(seal) };
  };

  for (const q of ["", "?trust=sidian"]) {
    const d = await verdict(q);
    t.equal(d.seal, "VALID", `${q || "default"}: the Sidian stamp is VALID`);
    t.equal(d.outside, "INDETERMINATE", `${q || "default"}: the outside signature does not chain to Sidian's root`);
  }
  const partner = await verdict("?trust=partner");
  t.equal(partner.outside, "VALID", `partner: the outside signature is VALID (${partner.outsideCert.detail})`);
  t.equal(partner.seal, "INDETERMINATE", "partner: Sidian's stamp is not under that list");
  const both = await verdict("?trust=both");
  t.equal(both.v.result, "VALID", `both: everything VALID ${JSON.stringify(both.v.signatures.map((x) => x.checks.filter((c) => c.status !== "PASSED")))}`);
  const nocrl = await verdict("?trust=nocrl");
  t.equal(nocrl.outside, "INDETERMINATE", "nocrl: without a CRL the outside certificate's revocation is unknown");
  t.match(nocrl.outsideCert.detail, /no CRL from/);
  const revoked = await verdict("?trust=revoked");
  t.equal(revoked.outside, "INVALID", "revoked: the list's CRL revokes the outside signer");
  t.match(revoked.outsideCert.detail, /revoked/);

  // Unknown and malformed names.
  const unknown = await post("?trust=nope");
  t.equal(unknown.statusCode, 400);
  t.equal(unknown.json().code, "TRUST_LIST_UNKNOWN");
  t.same(unknown.json().details.available.sort(), ["both", "nocrl", "partner", "revoked", "sidian"]);
  for (const q of ["?trust=", "?trust=Partner", "?trust=a%20b", `?trust=${"x".repeat(33)}`, "?trust=partner&trust=both", "?other=1"]) {
    const r = await post(q);
    t.equal(r.statusCode, 400, `${q}: 400`);
    t.equal(r.json().code, "VALIDATION_FAILED", `${q}: VALIDATION_FAILED`);
  }
  // The lists are described.
  const l = await h.app.inject({ url: "/verify/pdf/trust-lists" });
  t.equal(l.statusCode, 200);
  t.same(l.json().items.map((x: { name: string }) => x.name).sort(), ["both", "nocrl", "partner", "revoked", "sidian"]);
  t.equal(l.json().items.find((x: { name: string }) => x.name === "sidian").default, true);
  t.equal(l.json().items.find((x: { name: string }) => x.name === "partner").crls.length, 1);

  // OpenAPI: the parameter, its example and its error codes.
  const doc = h.app.swagger() as unknown as { paths: Record<string, Record<string, { parameters: Array<{ name: string; in: string }>; responses: Record<string, unknown> }>> };
  const op = doc.paths["/verify/pdf"]!.post!;
  const p = op.parameters.find((x: { name: string; in: string }) => x.name === "trust" && x.in === "query");
  t.ok(p, "the trust query parameter is documented");
  t.match(JSON.stringify(p), /sidian/, "with the default as example");
  t.match(JSON.stringify(op.responses["400"]), /TRUST_LIST_UNKNOWN/, "400 lists TRUST_LIST_UNKNOWN");
});

t.test("SIDIAN_TRUST_LISTS: a bad value or file stops the service with CONFIG_INVALID naming it", async (t) => {
  const dir = tempDir(t);
  const garbage = path.join(dir, "garbage.pem");
  fs.writeFileSync(garbage, "hello");
  for (const [v, re] of [["x", /not name=file/], ["Bad=x.pem", /must be 1-32/], ["sidian=x.pem", /built-in/], ["a=x.pem,a=y.pem", /twice/]] as const) {
    t.throws(() => loadConfig({ SIDIAN_MODE: "test", SIDIAN_KEYS_DIR: path.join(ROOT, "keys-dev"), SIDIAN_DB: path.join(dir, "a.db"), SIDIAN_TRUST_LISTS: v }, ROOT), { code: "CONFIG_INVALID", message: re }, v);
  }
  for (const [v, re] of [[`a=${path.join(dir, "missing.pem")}`, /cannot be read/], [`a=${garbage}`, /no PEM block|no self-signed root/]] as const) {
    const e = await createContext(testConfig(t, { SIDIAN_TRUST_LISTS: v }), { autoCheckpoint: false }).then(async (ctx) => {
      await ctx.close();
      return null;
    }, (x: unknown) => x);
    t.match(e, { code: "CONFIG_INVALID", message: re }, v);
  }
});
