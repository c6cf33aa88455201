/**
 * Counter page fixes (issue 14 §8) that do not need a browser (test/pages/browser.test.ts drives the rest in
 * Chromium): the case-number pattern is a valid regular expression under the `v` flag browsers compile `pattern`
 * with, and accepts what the route accepts; a wrong secret sent in the form gets a 401 without a Basic challenge
 * (which makes browsers open their own prompt), while a client that used Basic keeps it (RFC 6749 §5.2).
 */
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { build, ROOT } from "../helpers/app.js";

t.test("the case-number pattern compiles under the v flag and matches the route's rule", async (t) => {
  const html = fs.readFileSync(path.join(ROOT, "assets/counter/index.html"), "utf8");
  const pattern = /id="case-no"[^>]*\spattern="([^"]+)"/.exec(html)?.[1];
  t.ok(pattern, "the input has a pattern");
  // HTML: the pattern is compiled as ^(?:pattern)$ with the v flag (HTML Living Standard, 2023).
  let re: RegExp | null = null;
  t.doesNotThrow(() => (re = new RegExp(`^(?:${pattern})$`, "v")), "valid with the v flag");
  const route = /^[0-9A-Za-z_-]+$/;
  for (const s of ["CASE-2026-0001", "a_b", "Z9", "-", "_"]) t.equal(re!.test(s), route.test(s), `${s}: same as the route`);
  for (const s of ["CASE 1", "案件1", "a/b", "", "a.b"]) t.equal(re!.test(s), false, `${JSON.stringify(s)} refused like the route`);
});

t.test("a wrong secret: 401 INVALID_CLIENT, Basic challenge only for Basic clients", async (t) => {
  const h = await build(t);
  const c = await h.client("counter");
  const form = await h.app.inject({ method: "POST", url: "/oauth/token", headers: { "content-type": "application/x-www-form-urlencoded" }, payload: `grant_type=client_credentials&client_id=${c.id}&client_secret=wrong` });
  t.equal(form.statusCode, 401);
  t.equal(form.json().code, "INVALID_CLIENT");
  t.equal(form.headers["www-authenticate"], undefined, "no challenge: the page shows 登录失败 itself, no browser prompt");
  const basic = await h.app.inject({ method: "POST", url: "/oauth/token", headers: { authorization: `Basic ${Buffer.from(`${c.id}:wrong`).toString("base64")}`, "content-type": "application/x-www-form-urlencoded" }, payload: "grant_type=client_credentials" });
  t.equal(basic.statusCode, 401);
  t.match(basic.headers["www-authenticate"], /^Basic /, "a client that used Basic is challenged with Basic (RFC 6749 §5.2)");
  const js = fs.readFileSync(path.join(ROOT, "assets/counter/app.js"), "utf8");
  t.match(js, /登录失败/, "the page says 登录失败 on a failed login");
});
