/**
 * `sidian sign-external`: an own-key signature from the command line, as a UKey driver or a phone app would make
 * it. Two calls to a running Sidian: `…/external/prepare` with the certificate chain (getDataToSign), a local
 * ECDSA P-256 signature over the answer's `dataToSign` with the key file, then `…/external/signature`. The key
 * never leaves this machine.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import { parseArgs } from "node:util";
import { AppError } from "../errors.js";
import { fromPemAll } from "../pki/pem.js";
import type { SignatureMark } from "../modules/signatures/index.js";

export const SIGN_EXTERNAL_USAGE = "usage: sidian sign-external --url URL --request ID --token-file F --key key.pem --cert chain.pem [--mark mark.json]";

/** A plain default mark (a short flourish) when no drawing is given. */
export const DEFAULT_MARK: SignatureMark = { width: 300, height: 100, strokes: [[20, 70, 60, 30, 90, 75, 130, 25, 170, 70, 210, 40, 280, 55]] };

export interface SignExternalInput {
  url: string;
  requestId: string;
  token: string;
  key: crypto.KeyObject;
  /** Signer certificate first, then its CA certificates (DER). */
  chain: Uint8Array[];
  mark?: SignatureMark;
  fetch?: typeof globalThis.fetch;
}

async function call(f: typeof globalThis.fetch, url: string, token: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await f(url, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new AppError("VALIDATION_FAILED", `${url}: ${res.status} ${String(json.code)}: ${String(json.message)}`);
  return json;
}

export async function signExternal(i: SignExternalInput): Promise<{ dataToSignSha256: string; logIndex: number; documentSha256: string; status: string }> {
  const f = i.fetch ?? globalThis.fetch;
  const base = `${i.url.replace(/\/+$/, "")}/signatures/${encodeURIComponent(i.requestId)}`;
  const prep = await call(f, `${base}/external/prepare`, i.token, { certificates: i.chain.map((c) => Buffer.from(c).toString("base64")), mark: i.mark ?? DEFAULT_MARK });
  const data = Buffer.from(String(prep.dataToSign), "base64");
  const signatureValue = crypto.sign("sha256", data, { key: i.key, dsaEncoding: "der" }).toString("base64");
  const done = await call(f, `${base}/external/signature`, i.token, { signatureValue });
  return { dataToSignSha256: crypto.createHash("sha256").update(data).digest("hex"), logIndex: Number(done.logIndex), documentSha256: String(done.documentSha256), status: String(done.status) };
}

export async function signExternalCommand(args: string[]): Promise<string> {
  const { values: o } = parseArgs({
    args, allowPositionals: false, strict: true,
    options: { url: { type: "string" }, request: { type: "string" }, "token-file": { type: "string" }, key: { type: "string" }, cert: { type: "string" }, mark: { type: "string" } },
  });
  if (!o.url || !o.request || !o["token-file"] || !o.key || !o.cert) throw new AppError("VALIDATION_FAILED", SIGN_EXTERNAL_USAGE);
  const chain = fromPemAll(fs.readFileSync(o.cert, "utf8")).filter((b) => b.label === "CERTIFICATE").map((b) => b.der);
  const r = await signExternal({
    url: o.url, requestId: o.request, token: fs.readFileSync(o["token-file"], "utf8").trim(), key: crypto.createPrivateKey(fs.readFileSync(o.key)), chain,
    ...(o.mark ? { mark: JSON.parse(fs.readFileSync(o.mark, "utf8")) as SignatureMark } : {}),
  });
  return `signed: request ${o.request} is ${r.status}; log index ${r.logIndex}; document sha256 ${r.documentSha256}\n`;
}
