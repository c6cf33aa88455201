/**
 * The signer's page in a real browser (Debian chromium driven by playwright-core) against the real server:
 * run 1 — a signer logs in with a holder token (URL fragment), registers a passkey on the holder's page through
 * Chromium's virtual authenticator (CDP WebAuthn), opens the request, sees the whole PDF rendered by the PDF.js
 * Sidian serves, draws a signature and signs: the request's document gains their valid PAdES signature.
 * Run 2 — another signer declines with a reason. Every request the pages make goes to Sidian (no CDN).
 * Screenshots go to test-artifacts/.
 */
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { needs } from "../helpers/tools.js";
import { bearer, freePort, ROOT } from "../helpers/app.js";
import { createRequest, pdfsigTrusting, setup, signer } from "../signatures/helpers.js";

const CHROMIUM = "/usr/bin/chromium";
const ART = path.join(ROOT, "test-artifacts");

if (!fs.existsSync(CHROMIUM)) {
  t.comment(`SKIP: ${CHROMIUM} is not installed (apt-get install chromium); signer page browser test not run`);
  t.pass("skipped: no chromium");
} else {
  t.test("signer's page in Chromium: log in, register a passkey, draw, sign; a second signer declines", { skip: needs("pdfsig", "certutil") }, async (t) => {
    const { chromium } = await import("playwright-core");
    fs.mkdirSync(ART, { recursive: true });
    // WebAuthn needs the page's origin (http://localhost:PORT) known before the service is built.
    const port = await freePort();
    const base = `http://localhost:${port}`;
    const s = await setup(t, 2, await (await import("../helpers/app.js")).build(t, { SIDIAN_PUBLIC_URL: base }));
    const { h, people: [a, b] } = s;
    const id1 = await createRequest(s, [[signer(a!, { placeholder: "[[SIGN1]]", widthMm: 40, heightMm: 20 })]]);
    const id2 = await createRequest(s, [[signer(b!)]]);
    await h.app.listen({ host: "127.0.0.1", port });

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--host-resolver-rules=MAP localhost 127.0.0.1"],
    });
    t.teardown(() => browser.close());

    async function openAs(tokenFor: string) {
      const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
      const page = await context.newPage();
      const errors: string[] = [];
      const foreign: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      page.on("request", (r) => { if (!r.url().startsWith(base) && !r.url().startsWith("data:") && !r.url().startsWith("blob:")) foreign.push(r.url()); });
      const cdp = await context.newCDPSession(page);
      await cdp.send("WebAuthn.enable");
      await cdp.send("WebAuthn.addVirtualAuthenticator", {
        options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
      });
      await page.goto(`${base}/sign#token=${tokenFor}`);
      return { page, errors, foreign };
    }

    // ------------------------------------------------------------------ run 1: register a passkey, draw, sign
    const r1 = await openAs(a!.token);
    const p = r1.page;
    await p.waitForSelector("#home:not([hidden])");
    t.notMatch(p.url(), /token=/, "the token leaves the address bar");
    await p.waitForSelector(`#waiting a[href="/sign/${id1}"]`);
    t.equal(await p.textContent("#home h1"), "待我签署", "Chinese first");
    await p.click("#register");
    await p.waitForSelector("#status:has-text('已添加通行密钥'), #status.error");
    t.equal(await p.textContent("#status"), "已添加通行密钥。", "the passkey is added");
    const listed = await h.app.inject({ method: "GET", url: "/holders/me/passkeys", headers: bearer(a!.token) });
    t.equal(listed.json().items.length, 1, "the passkey is registered with Sidian");

    await p.click(`#waiting a[href="/sign/${id1}"]`);
    await p.waitForSelector("#request:not([hidden])");
    await p.waitForSelector("#pages[data-rendered]", { timeout: 60_000 });
    t.equal(await p.getAttribute("#pages", "data-rendered"), "3", "every page rendered (2 pages and the reserved report page)");
    t.equal(await p.evaluate(`[...document.querySelectorAll(".page canvas")].filter((c) => c.width > 0).length`), 3, "a canvas per page");
    // Dark pixels on the first page: PDF.js drew its text.
    const inked = await p.evaluate<number>(`(() => {
      const cv = document.querySelector(".page canvas");
      const d = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
      let dark = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] < 128) dark++;
      return dark;
    })()`);
    t.ok(inked > 100, "the first page's text is drawn");
    t.ok(await p.isVisible(".box.mine"), "the signer's box is shown on the page (placeholder found with PDF.js)");
    t.equal(await p.textContent("#r-title"), "告知承诺书");
    t.match(await p.textContent("#facts") ?? "", /M-0001/, "the request's facts");
    t.notMatch(await p.content(), a!.code, "no full ID number in the page");
    t.ok(await p.isVisible("#act"), "the signer may act");

    // No drawing yet: refused in the page, nothing sent.
    await p.click("#sign");
    t.equal(await p.textContent("#status"), "请先手写签名。");
    const pad = (await p.$("#pad"))!;
    await pad.scrollIntoViewIfNeeded();
    const bx = (await pad.boundingBox())!;
    const stroke = async (pts: Array<[number, number]>) => {
      await p.mouse.move(bx.x + pts[0]![0] * bx.width, bx.y + pts[0]![1] * bx.height);
      await p.mouse.down();
      for (const [x, y] of pts.slice(1)) await p.mouse.move(bx.x + x * bx.width, bx.y + y * bx.height, { steps: 6 });
      await p.mouse.up();
    };
    await stroke([[0.1, 0.7], [0.25, 0.3], [0.4, 0.75], [0.55, 0.25]]);
    await stroke([[0.6, 0.5], [0.9, 0.5]]);
    await p.check("#save-mark");
    await p.screenshot({ path: path.join(ART, "sign-page-drawn.png"), fullPage: true });
    await p.click("#sign");
    await p.waitForSelector("#result[data-outcome=signed]:not([hidden])", { timeout: 60_000 });
    t.match(await p.textContent("#result") ?? "", /签署成功/);
    await p.screenshot({ path: path.join(ART, "sign-page-signed.png"), fullPage: true });
    t.ok(await p.evaluate(`!!localStorage.getItem("sidian.sign.savedMark")`), "the drawn signature is saved on the device (vector strokes)");

    const after = await h.app.inject({ method: "GET", url: `/signatures/${id1}`, headers: bearer(s.consumer.token) });
    t.equal(after.json().participants[0].status, "signed");
    t.equal(after.json().participants[0].method, "cloud");
    t.equal(after.json().status, "completed", "the only signer signed: the request is complete");
    const doc = await h.app.inject({ method: "GET", url: `/signatures/${id1}/document`, headers: bearer(s.consumer.token) });
    const ps = pdfsigTrusting(t, doc.rawPayload, h.ctx.pki.trustBundlePem());
    t.match(ps, /Signature #1/, "pdfsig finds the signature");
    t.match(ps, /Signature Validation: Signature is Valid\./, "and it is valid");
    t.same(r1.errors, [], "no script errors");
    t.same(r1.foreign, [], "every request went to Sidian (no CDN)");

    // ------------------------------------------------------------------ run 2: decline with a reason
    const r2 = await openAs(b!.token);
    const q = r2.page;
    await q.waitForSelector("#home:not([hidden])");
    await q.click("#lang");
    t.equal(await q.textContent("#home h1"), "Waiting for my signature", "English toggle");
    await q.click("#lang");
    await q.goto(`${base}/sign/${id2}`);
    await q.waitForSelector("#pages[data-rendered]", { timeout: 60_000 });
    t.ok(await q.isVisible(".box.mine"), "the box of a page + mm placement is shown");
    await q.click("#decline-box summary");
    await q.fill("#decline-form textarea[name=reason]", "内容与约定不符");
    await q.click("#decline-form button[type=submit]");
    await q.waitForSelector("#result[data-outcome=declined]:not([hidden])", { timeout: 30_000 });
    t.ok(await q.isHidden("#act"), "nothing more to do");
    await q.screenshot({ path: path.join(ART, "sign-page-declined.png"), fullPage: true });
    const d2 = await h.app.inject({ method: "GET", url: `/signatures/${id2}`, headers: bearer(s.consumer.token) });
    t.equal(d2.json().status, "declined");
    t.equal(d2.json().participants[0].declineReason, "内容与约定不符");
    t.same(r2.errors, [], "no script errors");
    t.same(r2.foreign, [], "every request went to Sidian (no CDN)");

    // Someone else's request: the page shows it does not exist.
    await q.goto(`${base}/sign/${id1}`);
    await q.waitForSelector("#status.error");
    t.match(await q.textContent("#status") ?? "", /找不到此签署请求/, "another holder's request: not found");
    t.ok(await q.isHidden("#act"));
  });
}
