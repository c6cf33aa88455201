/**
 * The demo (issue 14 §8): it seeds the department's official seal, so the licence PDF is not 409
 * LICENCE_SEAL_MISSING, and its printed walk-through goes on through the licence PDF, a live QR, the /v/ page and
 * /counter. Each step is run here the way the printed commands run it.
 */
import t from "tap";
import { DEMO_HOLDER, DEMO_TYPE, demoSecretsFile, demoText, seedDemo } from "../../src/demo.js";
import { bearer, build } from "../helpers/app.js";

t.test("the demo seeds a seal; its walk-through works through the PDF, a live QR, /v/ and /counter", async (t) => {
  const h = await build(t);
  const seed = await seedDemo(h.ctx);
  const seal = await h.ctx.seals.officialSeal(seed.departmentId);
  t.ok(seal, "the demo department has an official seal");
  t.equal(seal!.id, seed.sealId);
  const again = await seedDemo(h.ctx);
  t.equal(again.sealId, seed.sealId, "re-running keeps the seal");
  // The secrets are kept in a file beside a SQLite database; a PostgreSQL URL has no "beside", so there every run
  // makes them anew and says so (DemoSeed.rotated) — the walk-through then goes on with the new ones.
  const keeps = demoSecretsFile(h.ctx.config.dbPath) !== null;
  if (keeps) t.same(again.clients, seed.clients, "and the secrets");
  else t.same([...again.rotated].sort(), again.clients.map((c) => c.id).sort(), "no secrets file on this store: every secret made anew, and listed as such");
  const cur = keeps ? seed : again;

  const url = h.ctx.config.publicUrl;
  const text = demoText(cur, url);
  for (const step of ["/licences/$LICENCE/document", "/verify/pdf", "/holders/me/licences/$LICENCE/qr", "/v/l/$LICENCE", `${url}/counter`]) t.match(text, step, `the walk-through shows ${step}`);
  const counter = cur.clients.find((c) => c.role === "counter")!;
  t.match(text, `${counter.id} / ${counter.secret}`, "with the counter's login");

  const secretOf = (role: string) => cur.clients.find((c) => c.role === role)!;
  const tok = await h.app.inject({ method: "POST", url: "/oauth/token", payload: { grant_type: "client_credentials", client_id: secretOf("issuer").id, client_secret: secretOf("issuer").secret } });
  const issuer = tok.json().access_token as string;
  const lic = await h.app.inject({ method: "POST", url: "/licences", headers: bearer(issuer), payload: { typeCode: DEMO_TYPE, number: "JY13501021765000000", holder: { name: "张三", code: DEMO_HOLDER, codeType: "111" }, fields: { scope: "预包装食品销售", approvedOn: "2026-01-05" } } });
  t.equal(lic.statusCode, 201, lic.body);
  const id = lic.json().identifier as string;

  const pdf = await h.app.inject({ method: "GET", url: `/licences/${id}/document`, headers: bearer(issuer) });
  t.equal(pdf.statusCode, 200, `the licence PDF (was 409 LICENCE_SEAL_MISSING): ${pdf.statusCode === 200 ? "" : pdf.body}`);
  t.match(pdf.headers["content-type"], /application\/pdf/);
  const vp = await h.app.inject({ method: "POST", url: "/verify/pdf", headers: { "content-type": "application/pdf" }, payload: pdf.rawPayload });
  t.equal(vp.json().result, "VALID", "the sealed PDF validates");

  const holder = await h.holderToken(DEMO_HOLDER);
  const qr = await h.app.inject({ method: "POST", url: `/holders/me/licences/${id}/qr`, headers: bearer(holder) });
  t.equal(qr.statusCode, 200, qr.body);
  const live = new URL(qr.json().url as string);
  t.equal(live.origin.toLowerCase(), new URL(url).origin.toLowerCase(), "the QR points at the deployment");
  const page = await h.app.inject({ method: "GET", url: live.pathname });
  t.equal(page.statusCode, 200);
  t.match(page.body, /有效/, "the /v/ page says valid");
  const stat = await h.app.inject({ method: "GET", url: `/v/l/${id}` });
  t.equal(stat.statusCode, 200);
  const cp = await h.app.inject({ method: "GET", url: "/counter" });
  t.equal(cp.statusCode, 200);
  const ctok = await h.app.inject({ method: "POST", url: "/oauth/token", payload: { grant_type: "client_credentials", client_id: counter.id, client_secret: counter.secret } });
  const cv = await h.app.inject({ method: "POST", url: "/counter/verify", headers: bearer(ctok.json().access_token), payload: { code: qr.json().url } });
  t.equal(cv.json().code, "VALID", "the counter verifies the live QR");
});
