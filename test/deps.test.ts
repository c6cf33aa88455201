/**
 * The Node version the README states is true of every dependency (issue 14 §8): `npm ci` warned that cookie@2.0.2
 * (fastify → light-my-request) and pdfjs-dist 6 want Node ≥ 22 while the README said ≥ 20. Every package in the lock
 * file must accept the README's minimum; cookie is held at 1.1.x (package.json overrides), whose
 * `stringifySetCookie` light-my-request uses: checked here through app.inject with cookies.
 */
import fs from "node:fs";
import path from "node:path";
import Fastify from "fastify";
import semver from "semver";
import t from "tap";
import { ROOT } from "./helpers/app.js";

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { engines: { node: string } };
const lock = JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string; engines?: { node?: string } | string[]; dev?: boolean; optional?: boolean }> };

t.test("the README's Node version is package.json's, and every locked package accepts it", async (t) => {
  const min = semver.minVersion(pkg.engines.node)!.version;
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const stated = /\*\*Requirements:\*\* Node ≥ ([0-9.]+)/.exec(readme)?.[1];
  t.ok(stated, "the README states a Node version");
  t.equal(semver.coerce(stated)!.version, min, `README (≥ ${stated}) and package.json engines (${pkg.engines.node}) agree`);
  const refusing: string[] = [];
  let checked = 0;
  for (const [where, p] of Object.entries(lock.packages)) {
    const range = p.engines && !Array.isArray(p.engines) ? p.engines.node : undefined;
    if (!where || !range) continue;
    checked++;
    if (!semver.satisfies(min, range, { includePrerelease: true })) refusing.push(`${where.replace(/^.*node_modules\//, "")}@${p.version} wants node ${range}`);
  }
  t.ok(checked > 20, `${checked} packages state an engine`);
  t.same(refusing, [], `every package accepts Node ${min}`);
});

t.test("light-my-request with cookie 1.1 (the override) sends cookies", async (t) => {
  const app = Fastify();
  app.get("/", async (req) => ({ cookie: req.headers.cookie ?? null }));
  t.teardown(() => app.close());
  const res = await app.inject({ url: "/", cookies: { a: "1", b: "x y" } });
  t.same(res.json(), { cookie: "a=1; b=x%20y" });
});
