import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { needs } from "../helpers/tools.js";
import { bearer, build, makeUscc, ROOT, tempDir } from "../helpers/app.js";

t.test("departments", async (t) => {
  const h = await build(t);
  const admin = await h.client("admin");
  const post = (payload: unknown) => h.app.inject({ method: "POST", url: "/departments", headers: bearer(admin.token), payload: payload as object });
  const uscc = makeUscc(424242);

  const created = await post({ name: "福州市市场监督管理局", uscc, regionCode: "350100" });
  t.equal(created.statusCode, 201, created.body);
  const d = created.json();
  t.equal(d.uscc, uscc);

  t.test("bad input", async (t) => {
    const cases: Array<[string, unknown, string]> = [
      ["USCC with a wrong check character", { name: "某局", uscc: uscc.slice(0, 17) + (uscc.endsWith("0") ? "1" : "0"), regionCode: "350100" }, "USCC_INVALID"],
      ["USCC too short", { name: "某局", uscc: "91350100M000100Y4", regionCode: "350100" }, "VALIDATION_FAILED"],
      ["lower-case USCC", { name: "某局", uscc: "91350100m000100y43", regionCode: "350100" }, "VALIDATION_FAILED"],
      ["region not 6 digits", { name: "某局", uscc: makeUscc(1), regionCode: "35010" }, "VALIDATION_FAILED"],
      ["unknown field", { name: "某局", uscc: makeUscc(2), regionCode: "350100", evil: true }, "VALIDATION_FAILED"],
      ["missing name", { uscc: makeUscc(3), regionCode: "350100" }, "VALIDATION_FAILED"],
      ["duplicate USCC", { name: "重复", uscc, regionCode: "350100" }, "DEPARTMENT_EXISTS"],
    ];
    for (const [name, body, code] of cases) {
      const res = await post(body);
      t.equal(res.json().code, code, name);
    }
    const unknownField = await post({ name: "某局", uscc: makeUscc(2), regionCode: "350100", evil: true });
    t.equal(unknownField.json().details.errors[0].unknown, "evil", "the unknown field is named");
  });

  t.test("a department gets a licence-signing certificate that openssl accepts, logged in the same transaction", { skip: needs("openssl") }, async (t) => {
    const list = await h.app.inject({ url: `/departments/${d.id}/certificates`, headers: bearer(admin.token) });
    const certs = list.json().items;
    t.equal(certs.length, 1);
    t.equal(certs[0].profile, "licence-signing");
    t.match(certs[0].subject, /2\.5\.4\.97|organizationIdentifier/);
    const dir = tempDir(t);
    fs.writeFileSync(path.join(dir, "leaf.pem"), certs[0].pem);
    fs.writeFileSync(path.join(dir, "bundle.pem"), h.ctx.pki.trustBundlePem());
    const out = execFileSync("openssl", ["verify", "-CAfile", path.join(dir, "bundle.pem"), path.join(dir, "leaf.pem")]).toString();
    t.match(out, /OK/);
    // the log has department.created then certificate.issued
    const size = await h.ctx.tlog.size();
    const types: string[] = [];
    for (let i = 0; i < size; i++) types.push((await h.ctx.tlog.getEntry(i)).event.type);
    t.ok(types.includes("department.created") && types.includes("certificate.issued"));
    const issued = (await Promise.all(Array.from({ length: size }, (_, i) => h.ctx.tlog.getEntry(i)))).find((e) => e.event.type === "certificate.issued" && e.event.data.serial === certs[0].serial);
    t.ok(issued, "the certificate's issuance is in the log");
    t.equal(issued!.event.data.certSha256, certs[0].sha256);
  });

  t.test("issuers see their own department only", async (t) => {
    const other = await h.department("另一个局");
    const mine = await h.client("issuer", { departmentId: d.id });
    t.equal((await h.app.inject({ url: `/departments/${d.id}`, headers: bearer(mine.token) })).statusCode, 200);
    const res = await h.app.inject({ url: `/departments/${other.id}`, headers: bearer(mine.token) });
    t.equal(res.statusCode, 403);
    t.equal(res.json().code, "FORBIDDEN_DEPARTMENT");
    const certs = await h.app.inject({ url: `/departments/${other.id}/certificates`, headers: bearer(mine.token) });
    t.equal(certs.json().code, "FORBIDDEN_DEPARTMENT");
  });

  t.test("patch, list and not found", async (t) => {
    const res = await h.app.inject({ method: "PATCH", url: `/departments/${d.id}`, headers: bearer(admin.token), payload: { name: "福州市市场监督管理局（新）" } });
    t.equal(res.json().name, "福州市市场监督管理局（新）");
    t.equal((await h.app.inject({ method: "PATCH", url: `/departments/${d.id}`, headers: bearer(admin.token), payload: {} })).json().code, "VALIDATION_FAILED");
    t.equal((await h.app.inject({ url: "/departments/nope", headers: bearer(admin.token) })).json().code, "DEPARTMENT_NOT_FOUND");
    const page = await h.app.inject({ url: "/departments?limit=1", headers: bearer(admin.token) });
    t.equal(page.json().items.length, 1);
    t.type(page.json().next, "string");
    t.equal((await h.app.inject({ url: "/departments?limit=0", headers: bearer(admin.token) })).json().code, "VALIDATION_FAILED");
  });

  t.test("a failed department creation leaves nothing behind", async (t) => {
    const before = await h.ctx.tlog.size();
    const res = await post({ name: "重复", uscc, regionCode: "350100" });
    t.equal(res.statusCode, 409);
    t.equal(await h.ctx.tlog.size(), before, "no log entry for a failed change");
  });
});

t.test("clients", async (t) => {
  const h = await build(t);
  const admin = await h.client("admin");
  const dept = await h.department();
  const post = (payload: unknown) => h.app.inject({ method: "POST", url: "/clients", headers: bearer(admin.token), payload: payload as object });

  const ok = await post({ id: "issuer-fz-01", name: "福州制证系统", role: "issuer", departmentId: dept.id });
  t.equal(ok.statusCode, 201, ok.body);
  t.equal(ok.headers["cache-control"], "no-store");
  const secret = ok.json().secret;
  t.equal(secret.length, 43);
  t.notOk("secretHash" in ok.json().client, "hash never leaves the service");
  t.same(ok.json().client.scopes, ["licences:issue", "licences:manage", "seals:stamp"]);

  const row = await h.ctx.uow.read.clients.byId("issuer-fz-01");
  t.match(row!.secretHash, /^scrypt\$32768\$8\$1\$/, "stored as an scrypt hash");
  t.notMatch(row!.secretHash, secret);

  const cases: Array<[string, unknown, string]> = [
    ["issuer without department", { name: "x", role: "issuer" }, "CLIENT_BINDING_INVALID"],
    ["consumer without matters", { name: "x", role: "consumer" }, "CLIENT_BINDING_INVALID"],
    ["admin bound to a department", { name: "x", role: "admin", departmentId: dept.id }, "CLIENT_BINDING_INVALID"],
    ["issuer with matters", { name: "x", role: "issuer", departmentId: dept.id, matters: ["M"] }, "CLIENT_BINDING_INVALID"],
    ["scope beyond the role", { name: "x", role: "consumer", matters: ["M"], scopes: ["admin"] }, "INVALID_SCOPE"],
    ["unknown department", { name: "x", role: "issuer", departmentId: "no-such" }, "DEPARTMENT_NOT_FOUND"],
    ["duplicate id", { id: "issuer-fz-01", name: "x", role: "issuer", departmentId: dept.id }, "CLIENT_EXISTS"],
    ["bad id", { id: "Bad Id!", name: "x", role: "counter" }, "VALIDATION_FAILED"],
    ["unknown role", { name: "x", role: "root" }, "VALIDATION_FAILED"],
  ];
  for (const [name, body, code] of cases) t.equal((await post(body)).json().code, code, name);

  const list = await h.app.inject({ url: `/clients?departmentId=${dept.id}`, headers: bearer(admin.token) });
  t.same(list.json().items.map((c: { id: string }) => c.id), ["issuer-fz-01"]);
  t.notMatch(list.body, "scrypt");

  const rot = await h.app.inject({ method: "PATCH", url: "/clients/issuer-fz-01", headers: bearer(admin.token), payload: { rotateSecret: true } });
  t.type(rot.json().secret, "string");
  t.not(rot.json().secret, secret);
  t.equal((await h.app.inject({ url: "/clients/none-such", headers: bearer(admin.token) })).json().code, "CLIENT_NOT_FOUND");
});

t.test("consumer clients are bound only to matters that exist", async (t) => {
  const h = await build(t);
  const admin = await h.client("admin");
  await h.ctx.catalogue.createMatter({ code: "M-KNOWN", name: "已知事项", licenceTypes: [] }, { kind: "system", name: "test" });
  await h.ctx.catalogue.createMatter({ code: "M-OTHER", name: "另一事项", licenceTypes: [] }, { kind: "system", name: "test" });
  const post = (payload: object) => h.app.inject({ method: "POST", url: "/clients", headers: bearer(admin.token), payload });
  const patch = (id: string, payload: object) => h.app.inject({ method: "PATCH", url: `/clients/${id}`, headers: bearer(admin.token), payload });

  const before = await h.ctx.tlog.size();
  const bad = await post({ id: "consumer-bad", name: "审批系统", role: "consumer", matters: ["M-KNOWN", "M-NOPE", "M-GONE", "M-NOPE"] });
  t.equal(bad.statusCode, 404, bad.body);
  t.equal(bad.json().code, "MATTER_NOT_FOUND");
  t.same(bad.json().details.matters, ["M-NOPE", "M-GONE"], "the unknown codes are listed once each, the known one is not");
  t.match(bad.json().message, /M-NOPE, M-GONE/);
  t.equal((await h.app.inject({ url: "/clients/consumer-bad", headers: bearer(admin.token) })).json().code, "CLIENT_NOT_FOUND", "nothing was stored");
  t.equal(await h.ctx.tlog.size(), before, "and nothing logged");

  const ok = await post({ id: "consumer-ok", name: "审批系统", role: "consumer", matters: ["M-KNOWN"] });
  t.equal(ok.statusCode, 201, ok.body);
  t.same(ok.json().client.matters, ["M-KNOWN"]);

  const badPatch = await patch("consumer-ok", { matters: ["M-OTHER", "M-NOPE"] });
  t.equal(badPatch.statusCode, 404);
  t.equal(badPatch.json().code, "MATTER_NOT_FOUND");
  t.same(badPatch.json().details.matters, ["M-NOPE"]);
  t.same((await h.ctx.uow.read.clients.byId("consumer-ok"))!.matters, ["M-KNOWN"], "a rejected update changes nothing");

  const goodPatch = await patch("consumer-ok", { matters: ["M-OTHER", "M-KNOWN"] });
  t.equal(goodPatch.statusCode, 200, goodPatch.body);
  t.same(goodPatch.json().client.matters, ["M-OTHER", "M-KNOWN"]);
  t.equal((await patch("consumer-ok", { name: "审批系统（新）" })).statusCode, 200, "a patch without matters does not re-check them");

  // The bound matter works end to end: a token, then a query for it reaches the consent check (not MATTER_NOT_FOUND).
  const tok = await h.app.inject({ method: "POST", url: "/oauth/token", payload: { grant_type: "client_credentials", client_id: "consumer-ok", client_secret: ok.json().secret } });
  const q = await h.app.inject({
    method: "POST", url: "/holders/licences:query", headers: bearer(tok.json().access_token),
    payload: { holderCode: "11010519491231002X", holderCodeType: "111", matterCode: "M-KNOWN", useCause: "测试" },
  });
  t.equal(q.json().code, "CONSENT_REQUIRED");

  // Service level (the CLI path calls this directly).
  await t.rejects(h.ctx.directory.createClient({ name: "x", role: "consumer", matters: ["M-NOPE"] }, { kind: "system", name: "test" }), { code: "MATTER_NOT_FOUND", details: { matters: ["M-NOPE"] } });
});

t.test("CLI: sidian clients create checks the matters; sidian demo seeds the matter before its consumer", async (t) => {
  const dir = tempDir(t);
  const env = { ...process.env, SIDIAN_MODE: "test", SIDIAN_DB: path.join(dir, "cli.db"), SIDIAN_KEYS_DIR: path.join(ROOT, "keys-dev"), SIDIAN_DB_SYNC: "normal" };
  const run = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "src/main.ts"), ...args], { encoding: "utf8", env, cwd: ROOT });

  const demo = run("demo");
  t.equal(demo.status, 0, demo.stderr);
  t.match(demo.stdout, /consumer\s+client_id=demo-consumer/);
  t.equal(run("demo").status, 0, "re-running the demo works (the same secrets: kept beside the database)");

  const bad = run("clients", "create", "--name", "审批", "--role", "consumer", "--matters", "DEMO-MATTER-0001,NO-SUCH-MATTER");
  t.equal(bad.status, 1);
  t.match(bad.stderr, /MATTER_NOT_FOUND: .*NO-SUCH-MATTER/);
  t.notMatch(bad.stderr, /DEMO-MATTER-0001/, "only the unknown code is named");
  const good = run("clients", "create", "--name", "审批", "--role", "consumer", "--id", "cli-consumer", "--matters", "DEMO-MATTER-0001");
  t.equal(good.status, 0, good.stderr);
  t.match(good.stdout, /client_id=cli-consumer/);
  const list = run("clients", "list");
  t.match(list.stdout, /cli-consumer\s+consumer\s+active\s+dept=-\s+matters=DEMO-MATTER-0001/);
});
