/**
 * `sidian verify x.asice` (an ASiC-E container) and `sidian verify receipt.jws --file x.pdf` (a material receipt),
 * offline. `sidian verify` looks at the file's first bytes: `PK\x03\x04` is a container, a compact JWS a receipt, and
 * anything else goes to the PDF verifier (cli/seals.ts).
 *
 * Container: verifyAsice against the trust bundle (`--trust`, default the keys folder's root and issuing CA); when the
 * container carries `receipt.jws`, its signature (published keys, as for a receipt) and its digest of the material
 * are checked too (`receipt` check).
 * Receipt: the JWS against the published keys — `--jwks FILE` (the service's /.well-known/jwks.json) or the keys
 * folder's token key(s) — and, with `--file`, the file's SHA-256, SM3 and size against the receipt's claims. Whether
 * the material was revoked since is answered online only (POST /verify/material); a receipt whose `expiresAt` has
 * passed is reported as expired.
 * Exit 0 VALID, 1 INVALID, 3 INDETERMINATE; an unreadable file or bundle is an AppError (the caller exits 2).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import { parseArgs } from "node:util";
import { formatAsicVerdict, verifyAsice, type AsicVerdict } from "../containers/asic/index.js";
import { openZip } from "../containers/zip/index.js";
import { AppError } from "../errors.js";
import { checkReceipt, TYP_RECEIPT, type ReceiptClaims, type ReceiptKey } from "../modules/materials/index.js";
import type { CertInfo } from "../pki/index.js";
import { readInputFile, trustBundleOf } from "./seals.js";

export type VerifyKind = "asice" | "receipt" | "pdf";

const JWS_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Receipts are small; a larger "receipt" file is not one. */
const MAX_RECEIPT_BYTES = 64 * 1024;
const MAX_JWKS_BYTES = 1024 * 1024;

/** What the file named first on the command line is, from its first bytes. */
export function detectKind(file: string): VerifyKind {
  let head: Buffer;
  try {
    const fd = fs.openSync(file, "r");
    try {
      head = Buffer.alloc(64);
      head = head.subarray(0, fs.readSync(fd, head, 0, 64, 0));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return "pdf"; // the PDF path reports the unreadable file (INPUT_FILE_UNREADABLE)
  }
  if (head.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]))) return "asice";
  if (/^\s*eyJ[A-Za-z0-9_-]*(\.|$)/.test(head.toString("latin1"))) return "receipt";
  return "pdf";
}

export interface OfflineKeys {
  bundlePem: () => Promise<string>;
  /** The keys folder's receipt (token) keys, current and previous. */
  receiptKeys: () => Promise<ReceiptKey[]>;
}

/** Receipt keys from a JWKS file (EC P-256 keys with a kid). */
export function keysFromJwks(file: string): ReceiptKey[] {
  const raw = readInputFile(file, "The JWKS");
  if (raw.length > MAX_JWKS_BYTES) throw new AppError("TRUST_BUNDLE_INVALID", `The JWKS ${file} is over ${MAX_JWKS_BYTES} bytes.`);
  let keys: unknown;
  try {
    keys = (JSON.parse(raw.toString("utf8")) as { keys?: unknown }).keys;
  } catch {
    throw new AppError("TRUST_BUNDLE_INVALID", `The JWKS ${file} is not JSON.`);
  }
  if (!Array.isArray(keys)) throw new AppError("TRUST_BUNDLE_INVALID", `The JWKS ${file} has no "keys" array.`);
  const out: ReceiptKey[] = [];
  for (const k of keys.slice(0, 100) as Array<Record<string, unknown>>) {
    if (!k || k.kty !== "EC" || k.crv !== "P-256" || typeof k.kid !== "string") continue;
    try {
      out.push({ kid: k.kid, publicKey: crypto.createPublicKey({ key: { kty: "EC", crv: "P-256", x: String(k.x), y: String(k.y) }, format: "jwk" }) });
    } catch {
      // a key that cannot be imported is skipped
    }
  }
  if (out.length === 0) throw new AppError("TRUST_BUNDLE_INVALID", `The JWKS ${file} holds no P-256 key with a kid.`);
  return out;
}

type Status = "PASSED" | "FAILED" | "INDETERMINATE";
export interface ReceiptVerdict {
  result: "VALID" | "INVALID" | "INDETERMINATE";
  checks: Array<{ id: "format" | "signature" | "bytes" | "status"; status: Status; detail: string }>;
  claims: ReceiptClaims | null;
}

const worst = (s: Status[]): ReceiptVerdict["result"] => (s.includes("FAILED") ? "INVALID" : s.includes("INDETERMINATE") ? "INDETERMINATE" : "VALID");

async function hashFile(file: string): Promise<{ sha256: string; sm3: string; size: number }> {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
    if (!st.isFile()) throw new Error("not a regular file");
  } catch (e) {
    throw new AppError("INPUT_FILE_UNREADABLE", `The file ${file} cannot be read: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}.`, { details: { file } });
  }
  const a = crypto.createHash("sha256");
  const b = crypto.createHash("sm3");
  let size = 0;
  try {
    for await (const c of fs.createReadStream(file)) {
      a.update(c as Buffer);
      b.update(c as Buffer);
      size += (c as Buffer).length;
    }
  } catch (e) {
    throw new AppError("INPUT_FILE_UNREADABLE", `The file ${file} cannot be read: ${(e as Error).message}.`, { details: { file } });
  }
  return { sha256: a.digest("hex"), sm3: b.digest("hex"), size };
}

/** Verifies a receipt JWS (and, given, the file's hashes). Never throws for a bad receipt. */
export function verifyReceipt(jws: string, keys: ReceiptKey[], file: { sha256: string; sm3: string; size: number } | null, now: Date): ReceiptVerdict {
  const checks: ReceiptVerdict["checks"] = [];
  const v: ReceiptVerdict = { result: "INVALID", checks, claims: null };
  const done = () => {
    v.result = worst(checks.map((c) => c.status));
    return v;
  };
  const text = jws.trim();
  if (!JWS_RE.test(text)) {
    checks.push({ id: "format", status: "FAILED", detail: "not a compact JWS" });
    return done();
  }
  const r = checkReceipt(text, keys);
  if ("problem" in r) {
    checks.push({ id: r.stage, status: "FAILED", detail: r.problem });
    return done();
  }
  const c = r.claims;
  v.claims = c;
  checks.push({ id: "format", status: "PASSED", detail: `a material receipt (${TYP_RECEIPT}) for ${c.sub}` });
  checks.push({ id: "signature", status: "PASSED", detail: `ES256 signature by published key ${r.kid}; registered ${c.registeredAt} by a ${c.source} source, log index ${c.logIndex}` });
  if (file) {
    const bad = [c.sha256 !== file.sha256 ? "SHA-256" : "", typeof c.sm3 === "string" && c.sm3 !== file.sm3 ? "SM3" : "", c.size !== file.size ? "size" : ""].filter(Boolean);
    if (bad.length) checks.push({ id: "bytes", status: "FAILED", detail: `the file is not the registered material: its ${bad.join(", ")} differ${bad.length === 1 ? "s" : ""} from the receipt's` });
    else checks.push({ id: "bytes", status: "PASSED", detail: `the file's SHA-256 and SM3 (${file.size} bytes) are the receipt's` });
  }
  if (c.expiresAt && Date.parse(c.expiresAt) <= now.getTime()) checks.push({ id: "status", status: "FAILED", detail: `the material expired at ${c.expiresAt}` });
  else checks.push({ id: "status", status: "PASSED", detail: `not expired${c.expiresAt ? ` (until ${c.expiresAt})` : ""}; whether it was revoked or superseded since is answered online (POST /verify/material)` });
  return done();
}

function formatReceiptVerdict(v: ReceiptVerdict): string {
  const lines = [`${v.result}  (material receipt${v.claims ? ` ${v.claims.sub}` : ""})`];
  if (v.claims) lines.push(`  type ${v.claims.type}  ${v.claims.mediaType}  ${v.claims.size} bytes  sha256 ${v.claims.sha256}`);
  for (const c of v.checks) lines.push(`  [${c.status}] ${c.id}: ${c.detail}`);
  return lines.join("\n") + "\n";
}

const codeOf = (r: string) => (r === "VALID" ? 0 : r === "INDETERMINATE" ? 3 : 1);

export const VERIFY_MATERIAL_USAGE = "usage: sidian verify x.asice [--trust bundle.pem] [--jwks jwks.json] [--json] | sidian verify receipt.jws [--file x.pdf] [--jwks jwks.json] [--json]";

/** `sidian verify` for a container or a receipt (kind from `detectKind`). */
export async function verifyMaterialCommand(kind: "asice" | "receipt", args: string[], keys: OfflineKeys): Promise<{ text: string; code: number }> {
  const { values: o, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: { trust: { type: "string" }, jwks: { type: "string" }, file: { type: "string" }, json: { type: "boolean" } },
  });
  const file = positionals[0];
  if (!file || positionals.length > 1) throw new AppError("VALIDATION_FAILED", VERIFY_MATERIAL_USAGE);
  const now = new Date();
  const receiptKeys = async () => (o.jwks ? keysFromJwks(o.jwks) : keys.receiptKeys());
  if (kind === "receipt") {
    if (o.trust) throw new AppError("VALIDATION_FAILED", "--trust is for containers and PDFs; a receipt is checked against --jwks (or the keys folder's token key).");
    const raw = readInputFile(file, "The receipt");
    const hashed = o.file ? await hashFile(o.file) : null;
    const v = verifyReceipt(raw.length > MAX_RECEIPT_BYTES ? "" : raw.toString("latin1"), await receiptKeys(), hashed, now);
    return { text: o.json ? JSON.stringify(v, null, 2) + "\n" : formatReceiptVerdict(v), code: codeOf(v.result) };
  }
  if (o.file) throw new AppError("VALIDATION_FAILED", "--file is for receipts: a container carries its file.");
  try {
    if (!fs.statSync(file).isFile()) throw new Error("not a regular file");
  } catch (e) {
    throw new AppError("INPUT_FILE_UNREADABLE", `The container ${file} cannot be read: ${(e as Error).message}.`, { details: { file } });
  }
  const bundle: CertInfo[] = o.trust ? trustBundleOf(readInputFile(o.trust, "The trust bundle").toString("latin1"), `The trust bundle ${o.trust}`) : trustBundleOf(await keys.bundlePem(), "The keys folder's trust bundle");
  const v = await verifyAsice(file, { anchors: bundle.filter((c) => c.subject === c.issuer), intermediates: bundle.filter((c) => c.subject !== c.issuer), now: () => now });
  await checkEmbeddedReceipt(file, v, receiptKeys, now);
  return { text: o.json ? JSON.stringify(v, null, 2) + "\n" : formatAsicVerdict(v), code: codeOf(v.result) };
}

/** A container made by Sidian carries the material's receipt: it must be signed by a published key and name the file. */
async function checkEmbeddedReceipt(file: string, v: AsicVerdict, receiptKeys: () => Promise<ReceiptKey[]>, now: Date): Promise<void> {
  const r = v.files.find((f) => f.name === "receipt.jws");
  if (!r || r.status !== "MATCH") return;
  let jws: string;
  const zip = await openZip(file, { maxEntries: 1000 });
  try {
    const e = zip.get("receipt.jws")!;
    jws = (await zip.readEntry(e, MAX_RECEIPT_BYTES)).toString("latin1");
  } catch {
    return;
  } finally {
    await zip.close();
  }
  let keys: ReceiptKey[];
  try {
    keys = await receiptKeys();
  } catch (e) {
    v.checks.push({ id: "receipt", status: "INDETERMINATE", detail: `the receipt's keys cannot be loaded: ${(e as Error).message}` });
    v.result = v.result === "VALID" ? "INDETERMINATE" : v.result;
    return;
  }
  const rv = verifyReceipt(jws, keys, null, now);
  const named = rv.claims ? v.files.find((f) => f.name !== "receipt.jws" && f.sha256 === rv.claims!.sha256 && f.size === rv.claims!.size) : undefined;
  if (rv.result === "INVALID" || !rv.claims) {
    v.checks.push({ id: "receipt", status: "FAILED", detail: `receipt.jws: ${rv.checks.find((c) => c.status !== "PASSED")?.detail ?? "not valid"}` });
  } else if (!named) {
    v.checks.push({ id: "receipt", status: "FAILED", detail: `receipt.jws is for ${rv.claims.sub}, whose SHA-256 is no file of this container` });
  } else {
    v.checks.push({ id: "receipt", status: "PASSED", detail: `receipt.jws: ${rv.claims.sub} (${named.name}) registered ${rv.claims.registeredAt} by a ${rv.claims.source} source, log index ${rv.claims.logIndex}; ${rv.checks.find((c) => c.id === "status")!.detail}` });
  }
  v.result = v.checks.some((c) => c.status === "FAILED") || v.signatures.some((s) => s.result === "INVALID") ? "INVALID" : v.result;
}

