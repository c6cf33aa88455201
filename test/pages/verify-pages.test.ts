/**
 * Live QR (亮证) and the verification pages, through the real app: a holder mints a QR, the page shows 有效; the
 * same token after expiry shows 二维码已过期; a revoked licence shows 已吊销; a tampered token shows 无效.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { gate, needs } from "../helpers/tools.js";
import { tempDir } from "../helpers/app.js";
import { bearer, citizenId, issued, personLicence, world } from "../licences/helpers.js";

/** Skips (with a visible line naming the Debian packages) where these tools are missing. */
const test = gate(t, needs("zbarimg"));

const zbar = (file: string) => execFileSync("zbarimg", ["-q", "--raw", file], { stdio: ["ignore", "pipe", "ignore"] }).toString().trim();

test("live QR and verification pages", async (t) => {
  const w = await world(t);
  const { h } = w;
  await h.ctx.seals.createSeal({ departmentId: w.dept.id, type: "01" }, { kind: "system", name: "test" });
  const n = 4242;
  const lic = await issued(w, personLicence(w, n));
  const holder = await h.holderToken(citizenId(n));
  const stranger = await h.holderToken(citizenId(n + 1));

  const mint = await h.app.inject({ method: "POST", url: `/holders/me/licences/${lic.identifier}/qr`, headers: bearer(holder) });
  t.equal(mint.statusCode, 200, mint.body);
  const q = mint.json();
  t.ok(q.token.length <= 300, `token ${q.token.length} chars`);
  t.ok(q.qrVersion <= 10, `QR version ${q.qrVersion}`);
  t.match(q.url, /^HTTP:\/\/127\.0\.0\.1:8080\/V\/[0-9A-Z.]+$/);
  t.equal(new Date(q.expiresAt).getTime() - h.clock.now().getTime() <= 300_000 + 1000, true, "default lifetime 5 minutes");

  // the PNG scans to the URL
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, "live.png"), Buffer.from(q.png, "base64"));
  t.equal(zbar(path.join(dir, "live.png")), q.url, "zbarimg decodes the live QR PNG");
  const svg = await h.app.inject({ method: "POST", url: `/holders/me/licences/${lic.identifier}/qr?format=svg`, headers: bearer(holder) });
  t.equal(svg.headers["content-type"], "image/svg+xml");

  t.test("only the holder may mint", async (t) => {
    const r = await h.app.inject({ method: "POST", url: `/holders/me/licences/${lic.identifier}/qr`, headers: bearer(stranger) });
    t.equal(r.statusCode, 404);
    t.equal(r.json().code, "LICENCE_NOT_FOUND", "another holder cannot tell whether the licence exists");
    const c = await h.app.inject({ method: "POST", url: `/holders/me/licences/${lic.identifier}/qr`, headers: bearer(w.tokens.counter) });
    t.equal(c.json().code, "FORBIDDEN_ROLE");
    const a = await h.app.inject({ method: "POST", url: `/holders/me/licences/${lic.identifier}/qr` });
    t.equal(a.json().code, "AUTH_REQUIRED");
  });

  const path1 = new URL(q.url).pathname; // /V/<token>
  t.test("valid: the page says 有效 and masks personal data", async (t) => {
    const r = await h.app.inject({ url: path1 });
    t.equal(r.statusCode, 200);
    t.match(r.headers["content-type"], /text\/html/);
    t.match(r.body, /data-verdict="VALID"/);
    t.match(r.body, /<h1>有效<\/h1>/);
    t.notMatch(r.body, citizenId(n), "the full ID number is not shown");
    t.notMatch(r.body, "张三丰", "the full name is not shown");
    t.match(r.body, "张**", "masked name");
    const seal = /<div class="seal"><img src="(\/v\/s\/[^"]+)" alt="[^"]+印章"/.exec(r.body);
    t.ok(seal, "the seal picture is shown, with a text alternative");
    const pic = await h.app.inject({ url: seal![1]! });
    t.equal(pic.statusCode, 200, "the seal picture is public");
    t.match(pic.headers["content-type"], /image\/svg\+xml/);
    t.match(pic.headers["cache-control"], /immutable/, "and cached by the browser");
    t.match(pic.body, "<svg");
    const other = await h.app.inject({ url: "/v/s/NO-SUCH-SEAL" });
    t.equal(other.statusCode, 404, "an unknown seal: 404");
    t.equal(other.json().code, "SEAL_NOT_FOUND");
    const contract = await h.ctx.seals.createSeal({ departmentId: w.dept.id, type: "04" }, { kind: "system", name: "test" });
    const notOfficial = await h.app.inject({ url: `/v/s/${contract.id}` });
    t.equal(notOfficial.statusCode, 404, "a real seal that is not the department's official seal is not served");
    t.notMatch(r.body, /<script/i, "no JavaScript");
    t.match(r.headers["content-security-policy"], /default-src 'none'/);
    t.ok(Buffer.byteLength(r.body) < 100_000, `page weight ${Buffer.byteLength(r.body)} bytes`);
    const en = await h.app.inject({ url: `${path1}?lang=en` });
    t.match(en.body, /<h1>Valid<\/h1>/);
    const lower = await h.app.inject({ url: path1.replace("/V/", "/v/") });
    t.match(lower.body, /data-verdict="VALID"/, "lower-case route and token work too");
  });

  t.test("tampered token: 无效", async (t) => {
    const tok = path1.slice(3);
    const i = tok.length - 10;
    const bad = tok.slice(0, i) + (tok[i] === "A" ? "B" : "A") + tok.slice(i + 1);
    const r = await h.app.inject({ url: `/V/${bad}` });
    t.match(r.body, /data-verdict="INVALID"/);
    t.match(r.body, /<h1>无效<\/h1>/);
    const junk = await h.app.inject({ url: "/v/not-a-token" });
    t.match(junk.body, /data-verdict="INVALID"/);
  });

  t.test("static QR page by identifier", async (t) => {
    const r = await h.app.inject({ url: `/v/l/${lic.identifier}` });
    t.match(r.body, /data-verdict="VALID"/);
    const wrong = lic.identifier.endsWith("0") ? "1" : "0";
    const bad = await h.app.inject({ url: `/v/l/${lic.identifier.slice(0, -1)}${wrong}` });
    t.match(bad.body, /data-verdict="INVALID"/, "wrong check character");
  });

  t.test("a page shown again: the same content, the checked-at time of this scan", async (t) => {
    const checkedAt = (body: string) => /<dt>核验时间<\/dt><dd>([^<]+)<\/dd>/.exec(body)?.[1];
    const a = await h.app.inject({ url: path1 });
    h.clock.advance(2_000);
    const b = await h.app.inject({ url: path1 });
    t.ok(checkedAt(a.body), "the page shows when it was checked");
    t.not(checkedAt(a.body), checkedAt(b.body), "each scan shows its own time");
    t.equal(a.body.replace(checkedAt(a.body)!, ""), b.body.replace(checkedAt(b.body)!, ""), "nothing else differs");
    const en = await h.app.inject({ url: `${path1}?lang=en` });
    t.match(en.body, /<h1>Valid<\/h1>/, "the English page is its own rendering");
  });

  t.test("revoked licence: 已吊销; expired token: 二维码已过期", async (t) => {
    const revoke = await h.app.inject({ method: "POST", url: `/licences/${lic.identifier}/status`, headers: bearer(w.tokens.issuer), payload: { action: "revoke", reason: "测试吊销" } });
    t.equal(revoke.statusCode, 200, revoke.body);
    const now = await h.app.inject({ url: path1 });
    t.match(now.body, /data-verdict="REVOKED"/);
    t.match(now.body, /<h1>已吊销<\/h1>/);
    h.clock.advance(301_000);
    const r = await h.app.inject({ url: path1 });
    t.match(r.body, /data-verdict="QR_EXPIRED"/, "replaying the token after 5 minutes");
    t.match(r.body, /二维码已过期/);
  });

  t.test("scans are recorded without the token", async (t) => {
    await h.ctx.qr.flush();
    const rows = await h.ctx.qr.scans(lic.identifier);
    t.ok(rows.length >= 4, `${rows.length} scans recorded`);
    t.ok(rows.some((r) => r.outcome === "QR_EXPIRED"));
    const raw = (await h.sql.all("SELECT * FROM scans"));
    const blob = path1.slice(path1.lastIndexOf(".") + 1);
    t.notMatch(JSON.stringify(raw), blob.slice(0, 40), "the token's signed part is not stored");
  });
});
