/**
 * `sidian verify x.asice` and `sidian verify receipt.jws --file x.pdf` (issue 18 §5, §6), offline, as a user runs
 * them: a separate process with only the keys folder (or a JWKS file). Exit 0 valid, 1 invalid, 2 unreadable.
 */
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import t from "tap";
import { createZipWriter, openZip } from "../../src/containers/zip/index.js";
import { ROOT } from "../helpers/app.js";
import { HOLDER, bearer, pdfBytes, registerRaw, setup } from "./helpers.js";
import { PassThrough } from "node:stream";

// Each command is a fresh process compiling TypeScript: slow on a loaded machine.
t.setTimeout(900_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sidian-verify-cli-"));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  // File arguments are names in `dir`; the process runs in the project (where tsx resolves).
  const files = args.map((a) => (a.startsWith("--") ? a : path.join(dir, a)));
  return spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "src/main.ts"), "verify", ...files], {
    cwd: ROOT, encoding: "utf8", env: { ...process.env, SIDIAN_KEYS_DIR: path.join(ROOT, "keys-dev"), SIDIAN_DB: path.join(dir, "x.db"), SIDIAN_MODE: "test" },
  });
}

t.test("containers and receipts verify offline; changed bytes, other keys and unreadable files do not", async (t) => {
  const s = await setup(t);
  const { h } = s;
  const file = pdfBytes("cli", 50_000);
  const reg = await registerRaw(h, s.consumer.token, { typeCode: "LEASE", holder: { code: HOLDER, codeType: "111" }, matterCode: "M-A" }, file);
  t.equal(reg.statusCode, 201, reg.body);
  const { material, receipt } = reg.json();
  const asice = (await h.app.inject({ url: `/materials/${material.identifier}/container`, headers: bearer(s.consumer.token) })).rawPayload;
  const jwks = (await h.app.inject({ url: "/.well-known/jwks.json" })).body;
  fs.writeFileSync(path.join(dir, "x.asice"), asice);
  fs.writeFileSync(path.join(dir, "receipt.jws"), receipt);
  fs.writeFileSync(path.join(dir, "x.pdf"), file);
  fs.writeFileSync(path.join(dir, "other.pdf"), pdfBytes("cli", 50_001));
  fs.writeFileSync(path.join(dir, "jwks.json"), jwks);
  const other = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" });
  const kid = JSON.parse(jwks).keys.find((k: { kty: string }) => k.kty === "EC").kid;
  fs.writeFileSync(path.join(dir, "other-jwks.json"), JSON.stringify({ keys: [{ ...other, kid }] }));

  const c = cli("x.asice");
  t.equal(c.status, 0, c.stdout + c.stderr);
  t.match(c.stdout, /^VALID {2}\(ASiC-E container, 5 entries/);
  t.match(c.stdout, `[PASSED] receipt: receipt.jws: ${material.identifier}`);
  t.match(c.stdout, `file "${material.identifier}.pdf"  MATCH`);
  const json = JSON.parse(cli("x.asice", "--json").stdout);
  t.equal(json.result, "VALID");
  t.equal(json.signatures[0].checks.find((x: { id: string }) => x.id === "timestamp").status, "PASSED");

  // A container whose material was replaced (manifest and signature kept): exit 1, data-objects FAILED.
  const z = await openZip(asice);
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (b: Buffer) => chunks.push(b));
  const w = createZipWriter(out);
  for (const e of z.entries) await w.addFile(e.name, e.name.endsWith(".pdf") ? pdfBytes("swapped", 50_000) : await z.readEntry(e), { method: e.method });
  await w.finish();
  fs.writeFileSync(path.join(dir, "swapped.asice"), Buffer.concat(chunks));
  const bad = cli("swapped.asice");
  t.equal(bad.status, 1, bad.stdout);
  t.match(bad.stdout, /^INVALID/);
  t.match(bad.stdout, "[FAILED] data-objects");

  // Receipts: with the keys folder, with the published JWKS, against the file.
  const r = cli("receipt.jws", "--file", "x.pdf");
  t.equal(r.status, 0, r.stdout + r.stderr);
  t.match(r.stdout, `VALID  (material receipt ${material.identifier})`);
  t.match(r.stdout, "[PASSED] bytes");
  t.equal(cli("receipt.jws", "--file", "x.pdf", "--jwks", "jwks.json").status, 0, "with the published JWKS");
  const wrong = cli("receipt.jws", "--file", "other.pdf");
  t.equal(wrong.status, 1);
  t.match(wrong.stdout, "[FAILED] bytes");
  const foreign = cli("receipt.jws", "--jwks", "other-jwks.json");
  t.equal(foreign.status, 1);
  t.match(foreign.stdout, "[FAILED] signature");
  const parts = receipt.split(".");
  fs.writeFileSync(path.join(dir, "forged.jws"), [parts[0], Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(parts[1], "base64url").toString()), size: 1 })).toString("base64url"), parts[2]].join("."));
  t.equal(cli("forged.jws").status, 1, "changed claims");

  // Could not read: exit 2, one line.
  const missing = cli("nope.asice");
  t.equal(missing.status, 2);
  t.match(missing.stderr, /INPUT_FILE_UNREADABLE/);
  const noFile = cli("receipt.jws", "--file", "nope.pdf");
  t.equal(noFile.status, 2);
  t.match(noFile.stderr, /INPUT_FILE_UNREADABLE/);
  t.equal(cli("receipt.jws", "--jwks", "x.pdf").status, 2, "a JWKS that is not JSON");
});
