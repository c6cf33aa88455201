import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { bearer, build, makeUscc, tempDir } from "../helpers/app.js";

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

  t.test("a department gets a licence-signing certificate that openssl accepts, logged in the same transaction", async (t) => {
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
