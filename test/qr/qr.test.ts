import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { needs } from "../helpers/tools.js";
import { base32, keyHintFromKid, liveTokenKeyFromJwk, mintLiveToken, qrMatrix, qrPng, qrSvg, unbase32, verifyLiveToken, type LiveTokenKey } from "../../src/modules/qr/index.js";
import { tempDir } from "../helpers/app.js";
import { loadKeyMaterial } from "../../src/pki/index.js";
import { formatLicenceId } from "../../src/codes/index.js";
import { ROOT } from "../helpers/app.js";

const zbar = (file: string) => execFileSync("zbarimg", ["-q", "--raw", file], { stdio: ["ignore", "pipe", "ignore"] }).toString().trim();

t.test("base32 round trip", async (t) => {
  for (const n of [0, 1, 2, 3, 4, 5, 31, 99]) {
    const b = Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff));
    t.same(unbase32(base32(b)), b, `${n} bytes`);
  }
  t.equal(base32(Buffer.from("foobar")), "MZXW6YTBOI", "RFC 4648 §10 vector without padding");
  t.equal(unbase32("abc"), null, "lower case is not base32 here");
});

t.test("QR PNG and SVG decode with zbarimg", { skip: needs("zbarimg") }, async (t) => {
  const dir = tempDir(t);
  for (const text of ["HTTPS://SIDIAN.EXAMPLE/V/ABC234", "https://sidian.example/v/l/1.2.156.3005.2.11100000MB03271699001.91350100M000100Y43.1.001.Q", "中文 mixed text"]) {
    const m = qrMatrix(text);
    const png = path.join(dir, "q.png");
    fs.writeFileSync(png, qrPng(m, 4));
    t.equal(zbar(png), text, `PNG: ${text}`);
    const svg = qrSvg(m, { title: "QR <code>" });
    t.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    t.match(svg, /<title>QR &#60;code&#62;<\/title>/, "title escaped");
  }
  const alnum = qrMatrix("HTTPS://SIDIAN.EXAMPLE/V/" + "A".repeat(159));
  const bytes = qrMatrix("https://sidian.example/v/" + "a".repeat(159));
  t.ok(alnum.version < bytes.version, `alphanumeric mode is smaller (v${alnum.version} < v${bytes.version})`);
});

t.test("live tokens", async (t) => {
  const m = await loadKeyMaterial(path.join(ROOT, "keys-dev"));
  const key: LiveTokenKey = { hint: keyHintFromKid(m.token.kid), privateKey: m.token.privateKey, publicKey: m.token.publicKey };
  const id = formatLicenceId({ typeCode: "11100000MB03271699001", issuerCode: "91350100M000100Y43", serial: "2026000123", version: "001" });
  const now = new Date("2026-11-21T10:00:00Z");
  const { token, claims } = mintLiveToken(key, id, now, 300);
  t.ok(token.length <= 300, `token is ${token.length} chars`);
  t.match(token, /^[0-9A-Z.]+$/, "only QR alphanumeric characters");
  t.equal(claims.identifier, id);

  const v = verifyLiveToken(token, [key], new Date(now.getTime() + 60_000));
  t.equal(v.status, "VALID");
  if (v.status === "VALID") {
    t.equal(v.claims.identifier, id);
    t.equal(v.expiresAt.toISOString(), "2026-11-21T10:05:00.000Z");
  }
  t.equal(verifyLiveToken(token, [key], new Date(now.getTime() + 301_000)).status, "EXPIRED", "replayed after expiry");
  t.equal(verifyLiveToken(token, [key], new Date(now.getTime() - 120_000)).status, "NOT_YET_VALID");

  // offline: only the published JWKS entry
  const offline = liveTokenKeyFromJwk({ ...(m.token.publicJwk as Record<string, unknown>), kid: m.token.kid });
  t.equal(verifyLiveToken(token, [offline], now).status, "VALID", "verifies with the published JWK alone");

  // tampering: flip one character in the payload part and in the signature part
  const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
  const blobAt = token.lastIndexOf(".") + 1;
  t.equal(verifyLiveToken(flip(token, blobAt + 20), [key], now).status, "BAD_SIGNATURE", "payload changed");
  t.equal(verifyLiveToken(flip(token, blobAt + 100), [key], now).status, "BAD_SIGNATURE", "signature changed");
  const other2 = formatLicenceId({ typeCode: "11100000MB03271699001", issuerCode: "91350100M000100Y43", serial: "2026000124", version: "001" });
  const swapped = other2.slice(15) + token.slice(token.lastIndexOf("."));
  t.equal(verifyLiveToken(swapped, [key], now).status, "BAD_SIGNATURE", "token moved to another licence");
  t.equal(verifyLiveToken(token.replace(".2026000123.", ".2026000124."), [key], now).status, "MALFORMED", "identifier check character catches a typo");
  t.equal(verifyLiveToken(token.slice(0, -1), [key], now).status, "MALFORMED");
  t.equal(verifyLiveToken("not a token", [key], now).status, "MALFORMED");
  const other = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const forged = mintLiveToken({ hint: key.hint, privateKey: other.privateKey, publicKey: other.publicKey }, id, now, 300).token;
  t.equal(verifyLiveToken(forged, [key], now).status, "BAD_SIGNATURE", "same key hint, foreign key");
  const stranger = mintLiveToken({ hint: Buffer.from("zzzz"), privateKey: other.privateKey, publicKey: other.publicKey }, id, now, 300).token;
  t.equal(verifyLiveToken(stranger, [key], now).status, "UNKNOWN_KEY");

  // the QR of a live verification URL scans
  const url = `HTTPS://SIDIAN.EXAMPLE/V/${token}`;
  const mtx = qrMatrix(url);
  t.ok(mtx.version <= 10, `live QR is version ${mtx.version} (M): scannable from a phone screen`);
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, "live.png"), qrPng(mtx, 4));
  t.equal(zbar(path.join(dir, "live.png")), url);
});
