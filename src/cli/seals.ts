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
import { parseCertificatesPem } from "../pki/index.js";

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

/** Offline verification with a trust bundle (default: the keys folder's root + issuing CA). Exit code 0 only for VALID. */
export async function verifyCommand(args: string[], defaultBundlePem: () => Promise<string>): Promise<{ text: string; code: number }> {
  const { values: o, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { trust: { type: "string" }, json: { type: "boolean" } } });
  const file = positionals[0];
  if (!file) throw new AppError("VALIDATION_FAILED", "usage: sidian verify file.pdf [--trust bundle.pem] [--json]");
  const bundle = parseCertificatesPem(o.trust ? fs.readFileSync(o.trust, "utf8") : await defaultBundlePem());
  const v = await verifyPdf(fs.readFileSync(file), offlineVerifyDeps(bundle));
  return { text: o.json ? JSON.stringify(v, null, 2) + "\n" : formatVerdict(v), code: v.result === "VALID" ? 0 : v.result === "INDETERMINATE" ? 3 : 1 };
}
