/**
 * PKCS#11 key store against a real SoftHSM2 token made fresh for this run: the URL form, the token layer (keys
 * generated on the token are sensitive and never extractable; ES256 and Ed25519 sign and verify), a whole service
 * whose issuing CA, TSA, token, log and department keys are on the token, moving file keys onto a token, and the
 * faults (wrong PIN, missing token, token logged out, key deleted).
 */
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import t from "tap";
import { needs } from "../helpers/tools.js";
import { loadConfig } from "../../src/config.js";
import { createContext } from "../../src/context.js";
import { keysInit, loadKeyMaterial, KEY_FILES } from "../../src/pki/index.js";
import { importServiceKeysToToken, tokenServiceKeyGenerator, tokenServiceKeys } from "../../src/pki/pkcs11/keystore.js";
import { keyIdOf, openToken } from "../../src/pki/pkcs11/token.js";
import { parsePkcs11Uri } from "../../src/pki/pkcs11/uri.js";
import { formatVkey, parseVkey, verifyCheckpoint } from "../../src/modules/tlog/checkpoint.js";
import { makePdf } from "../../fixtures/pdf/make-pdf.js";
import { bearer, build, ROOT, tempDir } from "../helpers/app.js";
import { SOFTHSM_SKIP, softhsm } from "../helpers/softhsm.js";
import { issue, issued, personLicence, world } from "../licences/helpers.js";
import { openssl } from "./helpers.js";

t.test("the key-store URL: RFC 7512 form, PIN only from a file, typos refused", async (t) => {
  const ok = parsePkcs11Uri("pkcs11:token=Sidian%20HSM;serial=abc?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/pin&x-sessions=8");
  t.same(ok.problems, []);
  t.match(ok.uri, { token: "Sidian HSM", serial: "abc", modulePath: "/usr/lib/softhsm/libsofthsm2.so", pinFile: "/run/secrets/pin", sessions: 8 });
  t.equal(parsePkcs11Uri("pkcs11:slot-id=3?module-path=/m.so&pin-source=file:///p").uri?.pinFile, "/p", "file:/// form");
  t.equal(parsePkcs11Uri("pkcs11:slot-id=3?module-path=/m.so&pin-source=/p").uri?.slotId, 3);
  const bad: Array<[string, RegExp]> = [
    ["pkcs11:token=a?module-path=/m.so&pin-value=1234", /pin-value is refused/],
    ["pkcs11:token=a?module-path=/m.so&pin-source=file:/p&pin-value=1234", /pin-value is refused/],
    ["pkcs11:token=a?pin-source=file:/p", /module-path is required/],
    ["pkcs11:token=a?module-path=relative.so&pin-source=file:/p", /absolute/],
    ["pkcs11:token=a?module-path=/m.so", /pin-source is required/],
    ["pkcs11:token=a?module-path=/m.so&pin-source=env:PIN", /absolute file path/],
    ["pkcs11:tokn=a?module-path=/m.so&pin-source=file:/p", /unknown path attribute "tokn"/],
    ["pkcs11:token=a?module-path=/m.so&pin-source=file:/p&sessions=4", /unknown query attribute "sessions"/],
    ["pkcs11:token=a?module-path=/m.so&pin-source=file:/p&x-sessions=0", /x-sessions/],
    ["pkcs11:token=a?module-path=/m.so&pin-source=file:/p&x-sessions=99", /x-sessions/],
    ["pkcs11:?module-path=/m.so&pin-source=file:/p", /name the token/],
    ["pkcs11:token=a;token=b?module-path=/m.so&pin-source=file:/p", /given twice/],
    ["pkcs11:token=%ZZ?module-path=/m.so&pin-source=file:/p", /percent-encoded/],
    ["pkcs11:token=a;object=k?module-path=/m.so&pin-source=file:/p", /does not select a token/],
    ["hsm:token=a", /starts with "pkcs11:"/],
  ];
  for (const [u, re] of bad) t.match(parsePkcs11Uri(u).problems.join("; "), re, u);
  t.throws(() => loadConfig({ SIDIAN_KEYSTORE: "pkcs11:token=a?module-path=/m.so&pin-value=1234" }), { code: "CONFIG_INVALID", message: /pin-value is refused/ });
  t.equal(loadConfig({}).keyStore.kind, "file", "file key store by default");
  t.equal(loadConfig({ SIDIAN_KEYSTORE: "file" }).keyStore.kind, "file");
});

t.test("SoftHSM2", { skip: SOFTHSM_SKIP || needs("openssl") }, async (t) => {
  const hsm = softhsm(t);
  // Every token this file uses exists before the module is first initialised (SoftHSM sees only those).
  const main = hsm.token("sidian-main");
  const lab = hsm.token("sidian-lab");
  const moved = hsm.token("sidian-moved");
  const doomed = hsm.token("sidian-doomed");
  const uriOf = (url: string) => parsePkcs11Uri(url).uri!;

  await t.test("the token layer: wrong PIN, unknown token, generated keys sign and cannot be read out", async (t) => {
    const wrongPin = path.join(hsm.dir, "wrong.pin");
    fs.writeFileSync(wrongPin, "000000\n");
    await t.rejects(openToken({ uri: { ...uriOf(lab.url), pinFile: wrongPin } }), { code: "KEYSTORE_LOCKED", message: /^Wrong PIN for PKCS#11 token "sidian-lab"/ });
    await t.rejects(openToken({ uri: { ...uriOf(lab.url), token: "nope" } }), { code: "KEYSTORE_LOCKED", message: /No PKCS#11 token "nope" is present \(tokens seen: .*sidian-lab/ });
    await t.rejects(openToken({ uri: { ...uriOf(lab.url), pinFile: "/nonexistent/pin" } }), { code: "KEYSTORE_LOCKED", message: /PIN file \/nonexistent\/pin cannot be read/ });
    await t.rejects(openToken({ uri: { ...uriOf(lab.url), modulePath: "/nonexistent/lib.so" } }), { code: "KEYSTORE_LOCKED", message: /cannot be loaded/ });

    const tok = await openToken({ uri: uriOf(lab.url), probeSeconds: 0 });
    for (const alg of ["ES256", "Ed25519"] as const) {
      const { spki, id } = await tok.generate(alg, `test-${alg}`);
      t.same(id, keyIdOf(spki), "CKA_ID is the key identifier of the public key");
      const pub = crypto.createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
      const data = crypto.randomBytes(100);
      if (alg === "ES256") {
        const sig = await tok.sign(id, alg, crypto.createHash("sha256").update(data).digest());
        t.ok(crypto.verify("sha256", data, { key: pub, dsaEncoding: "ieee-p1363" }, sig), "ECDSA P-256 from the token verifies");
      } else {
        const sig = await tok.sign(id, alg, data);
        t.ok(crypto.verify(null, data, pub, sig), "Ed25519 (CKM_EDDSA) from the token verifies");
      }
    }
    await tok.close();
    // Read the attributes with pkcs11js directly, as an administrator's tool would.
    const lib = createRequire(import.meta.url)("pkcs11js") as typeof import("pkcs11js");
    const mod = new lib.PKCS11();
    mod.load(hsm.module);
    mod.C_Initialize({ flags: lib.CKF_OS_LOCKING_OK });
    try {
      const slot = mod.C_GetSlotList(true).find((s) => mod.C_GetTokenInfo(s).label.trimEnd() === "sidian-lab")!;
      const s = mod.C_OpenSession(slot, lib.CKF_SERIAL_SESSION);
      mod.C_Login(s, lib.CKU_USER, lab.pin);
      mod.C_FindObjectsInit(s, [{ type: lib.CKA_CLASS, value: lib.CKO_PRIVATE_KEY }]);
      const keys = mod.C_FindObjects(s, 10);
      mod.C_FindObjectsFinal(s);
      t.equal(keys.length, 2);
      for (const k of keys) {
        const [sens, extr, never] = mod.C_GetAttributeValue(s, k, [{ type: lib.CKA_SENSITIVE }, { type: lib.CKA_EXTRACTABLE }, { type: lib.CKA_NEVER_EXTRACTABLE }]);
        t.same([sens!.value, extr!.value, never!.value].map((v) => Buffer.from(v as Buffer)[0]), [1, 0, 1], "sensitive, not extractable, never extractable");
        t.throws(() => mod.C_GetAttributeValue(s, k, [{ type: lib.CKA_VALUE }]), /CKR_ATTRIBUTE_SENSITIVE/, "the private value cannot be read");
      }
      mod.C_CloseSession(s);
    } finally {
      mod.C_Finalize();
    }
  });

  // The keys folder for the service: made by keys init with the service keys generated on the token.
  const keysDir = tempDir(t, "sidian-hsm-keys-");
  {
    const tok = await openToken({ uri: uriOf(main.url), probeSeconds: 0 });
    try {
      const r = await keysInit({ dir: keysDir, dev: true, force: true, publicUrl: "http://127.0.0.1:8080", serviceKeys: tokenServiceKeyGenerator(tok) });
      t.match(r.notes.join("\n"), /generated on the PKCS#11 token/);
    } finally {
      await tok.close();
    }
  }

  await t.test("keys init with a token: no service private key in the folder; it loads only with the token", async (t) => {
    for (const f of [KEY_FILES.issuingKey, KEY_FILES.tsaKey, KEY_FILES.tokenKey, KEY_FILES.logKey]) t.notOk(fs.existsSync(path.join(keysDir, f)), `${f} is not written`);
    t.ok(fs.existsSync(path.join(keysDir, KEY_FILES.rootKey)), "the root CA key is written once, to be kept offline");
    t.equal(JSON.parse(fs.readFileSync(path.join(keysDir, KEY_FILES.manifest), "utf8")).keyStore, "pkcs11");
    await t.rejects(loadKeyMaterial(keysDir), { code: "KEYSTORE_LOCKED", message: /on a PKCS#11 token: set SIDIAN_KEYSTORE/ }, "a file key store is told where the keys are");
    const pub = await loadKeyMaterial(keysDir, { publicOnly: true });
    await t.rejects(pub.tsa.signingKey.sign(Buffer.from("x")), { code: "KEYSTORE_LOCKED" }, "public-only material does not sign");
    // Another token does not have these keys.
    const other = await openToken({ uri: uriOf(lab.url), probeSeconds: 0 });
    await t.rejects(loadKeyMaterial(keysDir, { serviceKeys: tokenServiceKeys(other) }), { code: "KEYSTORE_LOCKED", message: /"sidian-lab" has no private key for issuing-ca/ });
    await other.close();
    const chain = openssl(["verify", "-CAfile", path.join(keysDir, KEY_FILES.rootCert), "-untrusted", path.join(keysDir, KEY_FILES.issuingCert), path.join(keysDir, KEY_FILES.tsaCert)]);
    t.equal(chain.status, 0, `openssl verifies the TSA certificate signed on the token: ${chain.stdout}${chain.stderr}`);
  });

  await t.test("a service on the token: department keys made there, licences, seals, TSA, checkpoints and tokens signed there", async (t) => {
    const w = await world(t, { SIDIAN_KEYS_DIR: keysDir, SIDIAN_KEYSTORE: main.url });
    const { h } = w;
    t.equal(h.ctx.material.keyStore, "pkcs11");
    t.notOk(h.ctx.material.issuingCa.key, "no issuing CA key in this process");
    const keys = await h.ctx.uow.read.keys.list({ departmentId: w.dept.id });
    t.ok(keys.length >= 1);
    for (const k of keys) t.equal(Buffer.from(k.wrappedPrivateKey).subarray(0, 4).toString(), "SKP1", "the key record refers to the token");

    const lic = await issued(w, personLicence(w, 1));
    const v = await h.app.inject({ method: "POST", url: "/verify", payload: { jws: lic.jws } });
    t.equal(v.json().result, "VALID", "a licence signed on the token verifies");

    // Department certificate (signed by the issuing CA on the token) chains in openssl.
    const certs = await h.ctx.uow.read.certificates.listByDepartment(w.dept.id);
    const certFile = path.join(tempDir(t), "dept.pem");
    fs.writeFileSync(certFile, `-----BEGIN CERTIFICATE-----\n${Buffer.from(certs[0]!.der).toString("base64").match(/.{1,64}/g)!.join("\n")}\n-----END CERTIFICATE-----\n`);
    const ov = openssl(["verify", "-CAfile", path.join(keysDir, KEY_FILES.rootCert), "-untrusted", path.join(keysDir, KEY_FILES.issuingCert), certFile]);
    t.equal(ov.status, 0, ov.stdout + ov.stderr);

    // The CRL is signed on the token too.
    const crl = await h.app.inject({ method: "GET", url: "/pki/crl" });
    t.equal(crl.statusCode, 200);

    // A seal on the token stamps a PDF (PAdES B-T with the TSA on the token); the stamp validates.
    const seal = await h.app.inject({ method: "POST", url: "/seals", headers: bearer(w.tokens.admin), payload: { departmentId: w.dept.id, type: "04" } });
    t.equal(seal.statusCode, 201, seal.body);
    const pdf = makePdf({ pages: 1 });
    const st = await h.app.inject({ method: "POST", url: `/seals/${seal.json().id}/stamp?page=1&x=150&y=200`, headers: { ...bearer(w.tokens.issuer), "content-type": "application/pdf" }, payload: pdf });
    t.equal(st.statusCode, 200, st.statusCode === 200 ? "" : st.body);
    const vp = await h.app.inject({ method: "POST", url: "/verify/pdf", headers: { "content-type": "application/pdf" }, payload: st.rawPayload });
    t.equal(vp.json().result, "VALID", "the stamp (seal key and TSA on the token) validates");

    // A checkpoint signed with the log key on the token verifies with log.pub.pem.
    const cp = await h.ctx.tlog.checkpoint();
    const logPub = crypto.createPublicKey(fs.readFileSync(path.join(keysDir, KEY_FILES.logPub), "utf8"));
    const verified = verifyCheckpoint(cp.note, parseVkey(formatVkey(h.ctx.config.logOrigin, logPub)), { origin: h.ctx.config.logOrigin });
    t.equal(verified.size, cp.size, "the checkpoint signed on the token verifies with log.pub.pem");

    // Access tokens are signed with the token key on the token, and verify.
    const me = await h.app.inject({ method: "GET", url: "/me", headers: bearer(w.tokens.issuer) });
    t.equal(me.statusCode, 200);
    t.same(await h.ctx.token!.probe(), { ok: true });
    const ready = await h.app.inject({ method: "GET", url: "/readyz" });
    t.equal(ready.statusCode, 200);
  });

  await t.test("faults: logged out from outside (recovered), key deleted (503, still ready), PIN changed outside (503, /readyz says why, recovers), token removed (503, /readyz says why)", async (t) => {
    const w = await world(t, { SIDIAN_KEYS_DIR: keysDir, SIDIAN_KEYSTORE: main.url });
    const { h } = w;
    await issued(w, personLicence(w, 2));

    // Someone logs the application out of the token: the next signature logs in again and succeeds.
    const lib = createRequire(import.meta.url)("pkcs11js") as typeof import("pkcs11js");
    const mod = new lib.PKCS11();
    mod.load(hsm.module);
    try {
      mod.C_Initialize({ flags: lib.CKF_OS_LOCKING_OK });
    } catch {
      // already initialised in this process by the key store: the same library state is shared
    }
    const slot = mod.C_GetSlotList(true).find((s) => mod.C_GetTokenInfo(s).label.trimEnd() === "sidian-main")!;
    const s = mod.C_OpenSession(slot, lib.CKF_SERIAL_SESSION);
    mod.C_Logout(s);
    mod.C_CloseSession(s);
    const afterLogout = await issue(w, personLicence(w, 3));
    t.equal(afterLogout.statusCode, 201, `signing recovers from a logout: ${afterLogout.body}`);

    // The other department's key is deleted from the token: its signatures fail with 503, the service stays ready.
    const otherKeys = await h.ctx.uow.read.keys.list({ departmentId: w.other.id, purpose: "licence-signing" });
    const ref = Buffer.from(otherKeys[0]!.wrappedPrivateKey).subarray(4);
    t.equal(await h.ctx.token!.destroy(ref), 2, "private and public key objects deleted");
    const orgBody = { typeCode: w.orgType, number: "ORG-1", holder: { name: "某某有限公司", code: "91350100M000100Y43", codeType: "001" }, fields: { legalRep: "李四" } };
    const otherIssuer = await issue(w, orgBody, w.tokens.otherIssuer);
    t.equal(otherIssuer.statusCode, 503, otherIssuer.body);
    t.equal(otherIssuer.json().code, "KEYSTORE_UNAVAILABLE");
    t.equal((await h.app.inject({ method: "GET", url: "/readyz" })).statusCode, 200, "one missing key does not make the service unready");
    t.equal((await issue(w, personLicence(w, 4))).statusCode, 201, "other keys still sign");

    // The token is locked against us: its PIN is changed from outside and the application logged out. Logging in
    // again fails: 503 with the documented code, and /readyz says why. The PIN set back, signing works again.
    {
      const s2 = mod.C_OpenSession(slot, lib.CKF_SERIAL_SESSION | lib.CKF_RW_SESSION);
      try {
        mod.C_Login(s2, lib.CKU_USER, main.pin);
      } catch {
        // already logged in: the login state is the application's, shared with the key store
      }
      mod.C_SetPIN(s2, main.pin, "another-pin-1234");
      mod.C_Logout(s2);
      const lockedOut = await issue(w, personLicence(w, 7));
      t.equal(lockedOut.statusCode, 503, lockedOut.body);
      t.equal(lockedOut.json().code, "KEYSTORE_UNAVAILABLE", "documented code (docs/errors.md)");
      t.match(lockedOut.json().message, /Wrong PIN/);
      const r503 = await h.app.inject({ method: "GET", url: "/readyz" });
      t.equal(r503.statusCode, 503);
      t.match(r503.json().problems.join(" "), /PKCS#11 token: .*Wrong PIN/, "/readyz says why");
      mod.C_Login(s2, lib.CKU_USER, "another-pin-1234");
      mod.C_SetPIN(s2, "another-pin-1234", main.pin);
      mod.C_Logout(s2);
      mod.C_CloseSession(s2);
      t.equal((await h.ctx.token!.probe()).ok, true, "the probe reconnects once the PIN is right again");
      t.equal((await issue(w, personLicence(w, 8))).statusCode, 201, "and signing works again");
    }

    // The token goes away.
    hsm.remove("sidian-main");
    const gone = await issue(w, personLicence(w, 5));
    t.equal(gone.statusCode, 503, gone.body);
    t.equal(gone.json().code, "KEYSTORE_UNAVAILABLE");
    t.match(gone.json().message, /PKCS#11 token "sidian-main" is unavailable/);
    const ready = await h.app.inject({ method: "GET", url: "/readyz" });
    t.equal(ready.statusCode, 503);
    t.equal(ready.json().keys, false);
    t.match(ready.json().problems.join(" "), /PKCS#11 token: .*sidian-main/);
    const fast = await issue(w, personLicence(w, 6));
    t.equal(fast.statusCode, 503, "answers 503 without waiting while the token is away");
    const token = await h.app.inject({ method: "POST", url: "/oauth/token", payload: { grant_type: "client_credentials", client_id: w.consumerId, client_secret: w.consumerSecret } });
    t.equal(token.statusCode, 503, "the token endpoint signs with the token key: 503 too");
    t.equal(token.json().code, "KEYSTORE_UNAVAILABLE");
  });

  await t.test("moving a file keys folder onto a token: old file-wrapped department keys keep signing", async (t) => {
    const dir = tempDir(t, "sidian-hsm-move-");
    await keysInit({ dir, dev: true, force: true, publicUrl: "http://127.0.0.1:8080" });
    const dbDir = tempDir(t);
    const env = { SIDIAN_MODE: "test", SIDIAN_DB: path.join(dbDir, "s.db"), SIDIAN_KEYS_DIR: dir, SIDIAN_DB_SYNC: "normal" };
    // A department made while the keys were files.
    const before = await createContext(loadConfig(env, ROOT), { autoCheckpoint: false });
    const d = await before.directory.createDepartment({ name: "福州市测试局", uscc: "91350100M000100Y43", regionCode: "350100" }, { kind: "system", name: "test" });
    await before.close();

    const tok = await openToken({ uri: uriOf(moved.url), probeSeconds: 0 });
    const r = await importServiceKeysToToken(dir, tok, { deleteFiles: true });
    t.same(r.imported.map((x) => x.role), ["issuing-ca", "tsa", "token", "log"]);
    t.same(r.deleted.length, 4);
    const again = await importServiceKeysToToken(dir, tok).catch((e: Error) => e);
    t.ok(again instanceof Error, "a second run needs the key files, which are gone");
    await tok.close();

    const h = await build(t, { SIDIAN_DB: env.SIDIAN_DB, SIDIAN_KEYS_DIR: dir, SIDIAN_KEYSTORE: moved.url });
    const old = (await h.ctx.uow.read.keys.list({ departmentId: d.id }))[0]!;
    t.equal(Buffer.from(old.wrappedPrivateKey).subarray(0, 4).toString(), "SKW1", "the old department key stays wrapped under the KEK");
    const sig = await h.ctx.pki.keyStore.sign(old.id, Buffer.from("hello"));
    t.ok(crypto.verify("sha256", Buffer.from("hello"), crypto.createPublicKey({ key: Buffer.from(old.publicKeySpki), format: "der", type: "spki" }), sig), "and still signs");
    const nd = await h.department("新部门");
    const fresh = (await h.ctx.uow.read.keys.list({ departmentId: nd.id }))[0]!;
    t.equal(Buffer.from(fresh.wrappedPrivateKey).subarray(0, 4).toString(), "SKP1", "a new department's key is made on the token");
  });

  await t.test("a wrong PIN stops `sidian serve` with one line", async (t) => {
    const wrong = path.join(hsm.dir, "doomed-wrong.pin");
    fs.writeFileSync(wrong, "999999\n");
    const url = doomed.url.replace(doomed.pinFile, wrong);
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "src/main.ts"), "serve"], {
      cwd: ROOT, encoding: "utf8", timeout: 60_000,
      env: { ...process.env, SIDIAN_MODE: "test", SIDIAN_DB: path.join(tempDir(t), "s.db"), SIDIAN_PORT: "0", SIDIAN_KEYS_DIR: keysDir, SIDIAN_KEYSTORE: url, SIDIAN_LOG_LEVEL: "silent" },
    });
    t.equal(r.status, 78, "exit 78 (configuration)");
    const lines = r.stderr.trim().split("\n");
    t.equal(lines.length, 1, `one line: ${r.stderr}`);
    t.match(lines[0], /^sidian: KEYSTORE_LOCKED: Wrong PIN for PKCS#11 token "sidian-doomed"/);
  });
});
