/**
 * `sidian stamp in.pdf --seal ID` and `sidian verify file.pdf` (offline, with the trust bundle).
 */
import fs from "node:fs";
import { parseArgs } from "node:util";
import type { Context } from "../context.js";
import { AppError } from "../errors.js";
import type { Actor } from "../modules/kernel.js";
import { offlineVerifyDeps, type Placement } from "../modules/seals/index.js";
import { verifyPdf, type PdfVerdict } from "../pdf/verify.js";
import { parseCertificatesPem, type CertInfo } from "../pki/index.js";
import { evidenceBytes } from "../pki/seal-status.js";
import { formatSigningFacts, signingFactsOffline } from "./signing-facts.js";
import { formatOfflineLicenceVerdict, verifyLicenceOffline } from "../modules/licences/offline.js";

const num = (v: string | undefined, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new AppError("VALIDATION_FAILED", `--${name} must be a number`);
  return n;
};

export async function stampCommand(ctx: Context, args: string[], actor: Actor): Promise<string> {
  const { values: o, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: { seal: { type: "string" }, out: { type: "string" }, page: { type: "string" }, x: { type: "string" }, y: { type: "string" }, anchor: { type: "string" }, reason: { type: "string" }, location: { type: "string" } },
  });
  const input = positionals[0];
  if (!input || !o.seal) throw new AppError("VALIDATION_FAILED", "usage: sidian stamp in.pdf --seal ID [--page N --x MM --y MM | --anchor TEXT] [--out out.pdf]");
  const page = num(o.page, "page");
  const placement: Placement = o.anchor
    ? { anchor: o.anchor, ...(page !== undefined ? { page } : {}) }
    : { page: page ?? 1, xMm: num(o.x, "x") ?? 150, yMm: num(o.y, "y") ?? 230 };
  const r = await ctx.seals.stamp(o.seal, {
    pdf: fs.readFileSync(input), placement, ...(o.reason ? { reason: o.reason } : {}), ...(o.location ? { location: o.location } : {}),
  }, actor);
  const out = o.out ?? input.replace(/\.pdf$/i, "") + ".stamped.pdf";
  fs.writeFileSync(out, r.pdf);
  return `${out}\nstamp ${r.record.id}  seal ${r.record.sealId}  sha256 ${r.record.resultSha256}\n`;
}

export function formatVerdict(v: PdfVerdict): string {
  const lines = [`${v.result}  (${v.document.size} bytes, ${v.document.revisions} revision(s), sha256 ${v.document.sha256})`];
  for (const c of v.checks) lines.push(`  [${c.status}] ${c.id}: ${c.detail}`);
  for (const s of v.signatures) {
    lines.push(`signature #${s.index} ${s.field ?? ""}: ${s.result}${s.sealId ? `  seal ${s.sealId}` : ""}${s.timestampTime ? `  time-stamped ${s.timestampTime}` : ""}${s.coversWholeFile ? "  (covers the whole file)" : ""}`);
    if (s.signer) lines.push(`  signer: ${s.signer}`);
    for (const c of s.checks) lines.push(`  [${c.status}] ${c.id}: ${c.detail}`);
  }
  return lines.join("\n") + "\n";
}

export const VERIFY_USAGE = "usage: sidian verify file.pdf|licence.jws [--trust bundle.pem] [--status evidence.p7s …] [--evidence signing-evidence.json] [--json]";

/** Whether a file is a licence JWS (typ sidian-licence+jws in its protected header): `sidian verify` checks it offline. */
export function isLicenceJwsFile(file: string): boolean {
  try {
    const fd = fs.openSync(file, "r");
    try {
      const head = Buffer.alloc(4096);
      const text = head.subarray(0, fs.readSync(fd, head, 0, 4096, 0)).toString("latin1").trim();
      const h = JSON.parse(Buffer.from(text.slice(0, text.indexOf(".")), "base64url").toString("utf8")) as { typ?: unknown };
      return h.typ === "sidian-licence+jws";
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}

/** Reads a file named on the command line: INPUT_FILE_UNREADABLE (one line, no stack) when it cannot be read. */
export function readInputFile(file: string, what: string): Buffer {
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new Error("not a regular file");
    return fs.readFileSync(file);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as NodeJS.ErrnoException).code === "EACCES" ? "permission denied" : (e as Error).message;
    throw new AppError("INPUT_FILE_UNREADABLE", `${what} ${file} cannot be read: ${why}.`, { details: { file } });
  }
}

/** Certificates of a PEM trust bundle: TRUST_BUNDLE_INVALID when there is none, or one cannot be parsed. */
export function trustBundleOf(pem: string, source: string): CertInfo[] {
  let certs: CertInfo[];
  try {
    certs = parseCertificatesPem(pem);
  } catch (e) {
    throw new AppError("TRUST_BUNDLE_INVALID", `${source} holds a certificate that cannot be read: ${(e as Error).message}.`);
  }
  if (certs.length === 0) throw new AppError("TRUST_BUNDLE_INVALID", `${source} holds no PEM certificate (-----BEGIN CERTIFICATE-----).`);
  if (!certs.some((c) => c.issuer === c.subject)) throw new AppError("TRUST_BUNDLE_INVALID", `${source} holds no self-signed root certificate to trust.`);
  return certs;
}

/**
 * Offline verification with a trust bundle (default: the keys folder's root + issuing CA) and seal-status evidence
 * (what each stamp carries, and `--status` files). Exit code 0 VALID, 1 INVALID, 3 INDETERMINATE; a file that cannot
 * be used is an AppError (INPUT_FILE_UNREADABLE, TRUST_BUNDLE_INVALID, STATUS_EVIDENCE_INVALID) the caller prints
 * as one line and exits 2 for.
 */
export async function verifyCommand(args: string[], defaultBundlePem: () => Promise<string>, logKeyPems: () => Promise<string[]> = async () => []): Promise<{ text: string; code: number }> {
  const { values: o, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: { trust: { type: "string" }, status: { type: "string", multiple: true }, evidence: { type: "string" }, json: { type: "boolean" } },
  });
  const file = positionals[0];
  if (!file || positionals.length > 1) throw new AppError("VALIDATION_FAILED", VERIFY_USAGE);
  const pdf = readInputFile(file, "The PDF");
  const bundle = o.trust ? trustBundleOf(readInputFile(o.trust, "The trust bundle").toString("latin1"), `The trust bundle ${o.trust}`) : trustBundleOf(await defaultBundlePem(), "The keys folder's trust bundle");
  // A licence JWS (either crypto profile) rather than a PDF: the offline licence checks (modules/licences/offline.ts).
  if (!pdf.subarray(0, 1024).includes("%PDF-") && /^\s*[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\s*$/.test(pdf.subarray(0, 64_000).toString("latin1"))) {
    const lv = await verifyLicenceOffline(pdf.toString("latin1"), bundle, new Date());
    return { text: o.json ? JSON.stringify(lv, null, 2) + "\n" : formatOfflineLicenceVerdict(lv), code: lv.result === "VALID" ? 0 : lv.result === "INDETERMINATE" ? 3 : 1 };
  }
  const evidence = (o.status ?? []).map((f) => evidenceBytes(readInputFile(f, "The status evidence"), `The status evidence ${f}`));
  const signingEvidence = o.evidence ? readInputFile(o.evidence, "The signing evidence") : undefined;
  const v = await verifyPdf(pdf, { ...offlineVerifyDeps(bundle), sealStatusEvidence: evidence });
  // A document of a signing request: who signed, roles, times, certificate kinds, completed or not (issue 17 §9).
  const facts = signingFactsOffline(pdf, v, { ...(signingEvidence ? { evidence: signingEvidence, logKeyPems: await logKeyPems() } : {}) });
  if (!facts && signingEvidence) throw new AppError("SIGNING_EVIDENCE_INVALID", "This PDF holds no participant's signature of a signing request.");
  const out = facts ? { ...v, signingRequest: facts } : v;
  const text = o.json ? JSON.stringify(out, null, 2) + "\n" : formatVerdict(v) + (facts ? formatSigningFacts(facts, v) : "");
  return { text, code: v.result === "VALID" ? 0 : v.result === "INDETERMINATE" ? 3 : 1 };
}
