/**
 * Issue 2 benchmarks: the bare Fastify route (baseline), the token endpoint, JWKS, an authenticated route, and
 * raw ES256 signing/verification (node:crypto and jose) in the same run.
 */
import { generateKeyPairSync, sign, verify } from "node:crypto";
import { SignJWT, jwtVerify } from "jose";
import { latencies, load, opsPerSecond, startServer, type Report } from "./lib.js";

export async function run(report: Report): Promise<void> {
  const bare = await startServer("bare");
  try {
    const r = await load({ url: `http://127.0.0.1:${bare.port}/bare` });
    report.add({ name: "bare Fastify route (baseline)", value: r.rps, unit: "req/s", note: `p99 ${r.p99} ms` });
  } finally {
    await bare.stop();
  }

  const s = await startServer("sidian");
  try {
    const base = `http://127.0.0.1:${s.port}`;
    const basic = "Basic " + Buffer.from(`${s.info.clientId}:${s.info.secret}`).toString("base64");
    const tokenReq = () => fetch(`${base}/oauth/token`, { method: "POST", headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" }, body: "grant_type=client_credentials" });
    // First token: pays scrypt (N=2^15, r=8).
    const first = await latencies(async () => {
      const res = await tokenReq();
      if (res.status !== 200) throw new Error(`token: ${res.status}`);
    }, 1);
    report.add({ name: "token endpoint, first call (scrypt check)", value: first.median, unit: "ms" });
    const token = ((await (await tokenReq()).json()) as { access_token: string }).access_token;

    const tok = await load({ url: `${base}/oauth/token`, method: "POST", headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" }, body: "grant_type=client_credentials" });
    if (tok.non2xx) throw new Error(`token endpoint: ${tok.non2xx} non-2xx`);
    report.add({ name: "token endpoint (ES256 JWT issued)", value: tok.rps, unit: "req/s", baseline: "bare Fastify route (baseline)", note: `p99 ${tok.p99} ms` });

    const jw = await load({ url: `${base}/.well-known/jwks.json` });
    report.add({ name: "GET /.well-known/jwks.json", value: jw.rps, unit: "req/s", baseline: "bare Fastify route (baseline)", note: `p99 ${jw.p99} ms` });

    const me = await load({ url: `${base}/me`, headers: { authorization: `Bearer ${token}` } });
    if (me.non2xx) throw new Error(`/me: ${me.non2xx} non-2xx`);
    report.add({ name: "GET /me (JWT verify + client lookup)", value: me.rps, unit: "req/s", baseline: "bare Fastify route (baseline)", note: `p99 ${me.p99} ms` });

    const health = await load({ url: `${base}/healthz` });
    report.add({ name: "GET /healthz (full middleware stack)", value: health.rps, unit: "req/s", baseline: "bare Fastify route (baseline)", note: `p99 ${health.p99} ms` });
  } finally {
    await s.stop();
  }

  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const msg = Buffer.alloc(200, 7);
  const sig = sign("sha256", msg, { key: privateKey, dsaEncoding: "ieee-p1363" });
  report.add({ name: "raw ES256 sign (node:crypto)", value: await opsPerSecond(() => sign("sha256", msg, { key: privateKey, dsaEncoding: "ieee-p1363" })), unit: "ops/s" });
  report.add({ name: "raw ES256 verify (node:crypto)", value: await opsPerSecond(() => verify("sha256", msg, { key: publicKey, dsaEncoding: "ieee-p1363" }, sig)), unit: "ops/s" });
  const jwt = await new SignJWT({ a: 1 }).setProtectedHeader({ alg: "ES256" }).setIssuedAt().setExpirationTime("1h").sign(privateKey);
  report.add({ name: "jose SignJWT ES256", value: await opsPerSecond(() => new SignJWT({ a: 1 }).setProtectedHeader({ alg: "ES256" }).setIssuedAt().setExpirationTime("1h").sign(privateKey)), unit: "ops/s", baseline: "raw ES256 sign (node:crypto)" });
  report.add({ name: "jose jwtVerify ES256", value: await opsPerSecond(() => jwtVerify(jwt, publicKey, { algorithms: ["ES256"] })), unit: "ops/s", baseline: "raw ES256 verify (node:crypto)" });
}
