/**
 * `sidian keys rotate` (issue 21 §2): department keys and service keys (TSA, access token, transparency log) are
 * replaced with an overlap — new signatures use the new keys, what the old keys signed keeps verifying (licences,
 * access tokens, checkpoints), the old keys stay published until the overlap ends — with files and on SoftHSM2.
 */
import crypto from "node:crypto";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import t, { type Test } from "tap";
import { buildApp } from "../../src/app.js";
import { rotateDepartmentKeys } from "../../src/cli/keys-rotate.js";
import { loadConfig } from "../../src/config.js";
import { createContext } from "../../src/context.js";
import { fixedClock } from "../../src/modules/kernel.js";
import { logAudit } from "../../src/modules/tlog/cli.js";
import { keysInit, KEY_FILES, loadKeyMaterial } from "../../src/pki/index.js";
import { tokenServiceKeyGenerator, tokenServiceKeys } from "../../src/pki/pkcs11/keystore.js";
import { openToken } from "../../src/pki/pkcs11/token.js";
import { parsePkcs11Uri } from "../../src/pki/pkcs11/uri.js";
import { rotateServiceKeys } from "../../src/pki/rotate.js";
import { appDeps } from "../../src/server.js";
import { ADMIN_ACTOR, bearer, ROOT, tempDir } from "../helpers/app.js";
import { SOFTHSM_SKIP, softhsm } from "../helpers/softhsm.js";
import { issued, personLicence, world } from "../licences/helpers.js";

const DAY = 86_400_000;
const kidOf = (jws: string) => JSON.parse(Buffer.from(jws.split(".")[0]!, "base64url").toString()).kid as string;
const quiet = { write: () => true };

async function departmentRotation(t: Test, env: Record<string, string> = {}) {
  const w = await world(t, env);
  const { h } = w;
  const before = await issued(w, personLicence(w, 1));
  const oldCert = (await h.ctx.uow.read.certificates.listByDepartment(w.dept.id)).find((c) => c.profile === "licence-signing")!;
  t.equal(kidOf(before.jws), oldCert.serial, "signed with the department's first certificate");

  const lines: string[] = [];
  const r = await rotateDepartmentKeys(h.ctx, { departmentId: w.dept.id, actor: ADMIN_ACTOR, progress: (l) => lines.push(l) });
  t.equal(r.length, 1);
  t.same(r[0]!.retiredKeys, [oldCert.keyId], "the old key is retired");
  t.not(r[0]!.newSerial, oldCert.serial);
  t.match(lines[0], /new licence-signing certificate/);
  t.equal((await h.ctx.uow.read.keys.get(oldCert.keyId!))!.status, "retired");
  t.equal((await h.ctx.pki.certificate(oldCert.serial)).status, "valid", "the old certificate stays valid (overlap)");
  await t.rejects(h.ctx.pki.keyStore.sign(oldCert.keyId!, Buffer.from("x")), { code: "CONFLICT" }, "the old key signs nothing more");

  const after = await issued(w, personLicence(w, 2));
  t.equal(kidOf(after.jws), r[0]!.newSerial, "a new licence is signed with the new key");
  for (const [name, jws] of [["old", before.jws], ["new", after.jws]] as const) {
    const v = await h.app.inject({ method: "POST", url: "/verify", payload: { jws } });
    t.equal(v.json().result, "VALID", `the ${name} licence verifies: ${JSON.stringify(v.json().checks?.filter((c: { status: string }) => c.status !== "PASSED"))}`);
  }
  // Both steps are in the transparency log.
  const size = await h.ctx.tlog.size();
  const types: string[] = [];
  for (let i = Math.max(0, size - 12); i < size; i++) types.push(JSON.parse((await h.ctx.tlog.getEntry(i)).leaf).type);
  t.ok(types.includes("key.retired") && types.includes("certificate.issued"), `logged: ${types.join(", ")}`);
  // The other department is untouched; --departments rotates all.
  const otherBefore = (await h.ctx.uow.read.certificates.listByDepartment(w.other.id)).length;
  const all = await rotateDepartmentKeys(h.ctx, { actor: ADMIN_ACTOR });
  t.ok(all.some((d) => d.departmentId === w.other.id), "every department is rotated without --department");
  t.equal((await h.ctx.uow.read.certificates.listByDepartment(w.other.id)).length, otherBefore + 1);
  return w;
}

t.test("department keys, file key store: new licences on the new key, old licences keep verifying", async (t) => {
  await departmentRotation(t);
  const w = await world(t);
  await t.rejects(rotateDepartmentKeys(w.h.ctx, { departmentId: "dept_missing", actor: ADMIN_ACTOR }), { code: "DEPARTMENT_NOT_FOUND" });
});

t.test("service keys, files: TSA, token and log replaced; old tokens and checkpoints verify during the overlap", async (t) => {
  const base = tempDir(t);
  const dir = path.join(base, "keys");
  await keysInit({ dir, dev: true, publicUrl: "http://127.0.0.1:8080" });
  const env = { SIDIAN_MODE: "test", SIDIAN_DB: path.join(base, "s.db"), SIDIAN_KEYS_DIR: dir, SIDIAN_DB_SYNC: "normal" };
  const config = loadConfig(env, ROOT);
  const clock = fixedClock(Date.now());
  const open = async () => {
    const ctx = await createContext(config, { clock, autoCheckpoint: false });
    const app = await buildApp(appDeps(ctx, false));
    return { ctx, app, close: async () => { await app.close(); await ctx.close(); } };
  };

  // Before: an admin client and its access token, and a checkpoint signed with the first log key.
  const a = await open();
  const { client, secret } = await a.ctx.directory.createClient({ role: "admin", name: "admin", departmentId: null, matters: [] }, ADMIN_ACTOR);
  const tok = await a.app.inject({ method: "POST", url: "/oauth/token", payload: { grant_type: "client_credentials", client_id: client.id, client_secret: secret } });
  const oldToken = tok.json().access_token as string;
  const oldKid = kidOf(oldToken);
  await a.ctx.tlog.checkpoint();
  const old = { tsa: a.ctx.material.tsa.cert.sha256, token: a.ctx.material.token.cert.sha256, logPem: a.ctx.material.log.publicKeyPem };
  await a.close();

  const steps: string[] = [];
  const r = await rotateServiceKeys({ dir, roles: ["tsa", "token", "log"], overlapDays: 7, clock, progress: (s) => steps.push(s) });
  t.same(r.rotated.map((x) => x.role), ["tsa", "token", "log"]);
  t.equal(r.rotated.find((x) => x.role === "token")!.kid!.old, oldKid);
  t.match(r.notes.join("\n"), /Restart every instance/);
  t.ok(steps.length >= 4, steps.join(" | "));
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, KEY_FILES.manifest), "utf8"));
  t.equal(manifest.previous.length, 3, "the manifest lists the three old keys");
  for (const p of manifest.previous) t.ok(fs.existsSync(path.join(dir, p.file)), `${p.file} kept`);

  const m = await loadKeyMaterial(dir, { now: clock.now() });
  t.not(m.tsa.cert.sha256, old.tsa, "new TSA certificate");
  t.not(m.token.cert.sha256, old.token, "new token certificate");
  t.not(m.log.publicKeyPem, old.logPem, "new log key");
  t.equal(m.previous.tsa[0]!.cert.sha256, old.tsa);
  t.equal(m.previous.token[0]!.kid, oldKid);
  t.equal(m.previous.log[0]!.publicKeyPem, old.logPem);

  // After the restart: the old access token still works, new tokens use the new key, the JWKS lists both.
  const b = await open();
  t.teardown(() => b.close());
  const me = await b.app.inject({ method: "GET", url: "/me", headers: bearer(oldToken) });
  t.equal(me.statusCode, 200, `a token signed by the old key is accepted during the overlap: ${me.body}`);
  const fresh = await b.app.inject({ method: "POST", url: "/oauth/token", payload: { grant_type: "client_credentials", client_id: client.id, client_secret: secret } });
  const newKid = kidOf(fresh.json().access_token);
  t.not(newKid, oldKid, "new tokens are signed with the new key");
  const kids = () => b.app.inject({ method: "GET", url: "/.well-known/jwks.json" }).then((res) => (res.json().keys as Array<{ kid: string }>).map((k) => k.kid));
  const listed = await kids();
  t.ok(listed.includes(oldKid) && listed.includes(newKid), `both token keys published: ${listed.join(", ")}`);
  t.equal(listed.filter((k) => k.startsWith("log:")).length, 2, "both log keys published");

  // The log: a checkpoint with the new key; the audit accepts both keys, and fails without the old one.
  await b.ctx.tlog.checkpoint();
  const audit = await logAudit({ dbPath: config.dbPath, publicKeyPem: m.log.publicKeyPem, previousPublicKeyPems: m.previous.log.map((l) => l.publicKeyPem), origin: config.logOrigin, out: quiet, err: null });
  t.ok(audit.ok, `log audit across the rotation: ${JSON.stringify(audit.problems)}`);
  const without = await logAudit({ dbPath: config.dbPath, publicKeyPem: m.log.publicKeyPem, origin: config.logOrigin, out: quiet, err: null });
  t.notOk(without.ok, "without the old log key the old checkpoints do not verify (the overlap is what keeps them)");

  // After the overlap: the old token key is no longer published or accepted.
  clock.advance(8 * DAY);
  const later = await kids();
  t.notOk(later.includes(oldKid), "the old token key leaves the JWKS when the overlap ends");
  t.equal(later.filter((k) => k.startsWith("log:")).length, 1);
  t.notOk((await loadKeyMaterial(dir, { now: clock.now() })).previous.token.length, "and the folder no longer offers it");

  // Bad input: unknown roles, zero overlap.
  await t.rejects(rotateServiceKeys({ dir, roles: ["issuing-ca" as "tsa"], overlapDays: 7 }), { code: "CONFIG_INVALID" });
  await t.rejects(rotateServiceKeys({ dir, roles: ["tsa"], overlapDays: 0 }), { code: "CONFIG_INVALID" });
});

t.test("the command: usage errors in one line; rotate --service token prints what changed", async (t) => {
  const base = tempDir(t);
  const dir = path.join(base, "keys");
  await keysInit({ dir, dev: true, publicUrl: "http://127.0.0.1:8080" });
  const run = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "src/main.ts"), "keys", "rotate", ...args], {
    encoding: "utf8", cwd: ROOT, env: { ...process.env, SIDIAN_MODE: "test", SIDIAN_DB: path.join(base, "db.sqlite"), SIDIAN_KEYS_DIR: dir, SIDIAN_KEYSTORE: "file" },
  });
  const none = run([]);
  t.equal(none.status, 2);
  t.match(none.stderr, /^sidian: keys rotate needs --departments/);
  const bad = run(["--service", "root"]);
  t.equal(bad.status, 2);
  t.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
  const ok = run(["--service", "token", "--overlap-days", "3"]);
  t.equal(ok.status, 0, ok.stderr);
  const out = JSON.parse(ok.stdout);
  t.equal(out.service.rotated[0].role, "token");
  const deps = run(["--departments"]);
  t.equal(deps.status, 0, deps.stderr);
  t.same(JSON.parse(deps.stdout).departments, [], "no departments yet: nothing to rotate");
});

t.test("SoftHSM2: service and department keys rotate on the token", { skip: SOFTHSM_SKIP }, async (t) => {
  const hsm = softhsm(t);
  const tok = hsm.token("sidian-rotate");
  const dir = path.join(tempDir(t), "keys");
  let oldIds: string[];
  {
    const token = await openToken({ uri: parsePkcs11Uri(tok.url).uri!, probeSeconds: 0 });
    try {
      await keysInit({ dir, dev: true, publicUrl: "http://127.0.0.1:8080", serviceKeys: tokenServiceKeyGenerator(token) });
      const before = await loadKeyMaterial(dir, { serviceKeys: tokenServiceKeys(token) });
      oldIds = [before.tsa.cert.sha256, before.token.cert.sha256];
      const r = await rotateServiceKeys({ dir, roles: ["tsa", "token", "log"], overlapDays: 30, serviceKeys: tokenServiceKeyGenerator(token) });
      t.match(r.notes.join("\n"), /still on the PKCS#11 token/);
      for (const f of [KEY_FILES.tsaKey, KEY_FILES.tokenKey, KEY_FILES.logKey]) t.notOk(fs.existsSync(path.join(dir, f)), `${f} is not a file: the new key is on the token`);
      const m = await loadKeyMaterial(dir, { serviceKeys: tokenServiceKeys(token) });
      t.equal(m.keyStore, "pkcs11");
      t.notOk(oldIds.includes(m.tsa.cert.sha256) || oldIds.includes(m.token.cert.sha256), "new certificates");
      t.same([m.previous.tsa.length, m.previous.token.length, m.previous.log.length], [1, 1, 1]);
      const data = crypto.randomBytes(32);
      t.ok(crypto.verify(null, data, m.log.publicKey, await m.log.signingKey.sign(data)), "the new log key signs on the token");
    } finally {
      await token.close();
    }
  }
  // A service on the token: department keys rotate there too.
  const w = await departmentRotation(t, { SIDIAN_KEYS_DIR: dir, SIDIAN_KEYSTORE: tok.url });
  const keys = await w.h.ctx.uow.read.keys.list({ departmentId: w.dept.id });
  t.ok(keys.length >= 2);
  for (const k of keys) t.equal(Buffer.from(k.wrappedPrivateKey).subarray(0, 4).toString(), "SKP1", "department keys, old and new, are on the token");
});
