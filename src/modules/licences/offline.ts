/**
 * Offline verification of a licence JWS (`sidian verify licence.jws`): what a verifier can know with the trust
 * bundle only — no registry, no log, no network. Both crypto profiles: the algorithm is the header's `alg`, checked
 * against the allow-list and the key of x5c[0] (jws.ts: ES256 with a P-256 certificate, GmSM2 with an SM2 one), the
 * chain against the bundle's roots of either profile at the payload's signing time. Checks:
 *   format     a compact JWS of a Sidian licence (typ, x5c, identifier with a valid check character)
 *   signature  the JWS signature verifies with x5c[0]
 *   chain      x5c[0] chains to a root of the bundle and was valid at `signedAt` (revocation not checked offline)
 *   validity   today (China time) is inside the validity period
 * The current status (revoked, superseded…) cannot be known offline: the answer says so; POST /verify knows it.
 * Never throws.
 */
import crypto from "node:crypto";
import { parseLicenceId } from "../../codes/index.js";
import { verifyChain } from "../../pki/chain.js";
import type { CertInfo } from "../../pki/reader.js";
import { chinaDate } from "./dates.js";
import { isJwsAlg, parseCompact, sm2PointOf, verifyJwsSignature } from "./jws.js";
import type { LicencePayload } from "./service.js";
import { TYP_LICENCE } from "./signing.js";
import type { Check } from "./verify.js";

export interface OfflineLicenceVerdict {
  result: "VALID" | "INVALID" | "INDETERMINATE";
  alg: string | null;
  identifier: string | null;
  checks: Check[];
  note: string;
}

const NOTE = "offline: the licence's current status (suspended, revoked, superseded) and its log entry are not checked; POST /verify or the QR page checks them";

export async function verifyLicenceOffline(jws: string, bundle: readonly CertInfo[], now: Date): Promise<OfflineLicenceVerdict> {
  const checks: Check[] = [];
  const add = (id: Check["id"], status: Check["status"], detail: string) => checks.push({ id, status, detail });
  const done = (alg: string | null, identifier: string | null): OfflineLicenceVerdict => ({
    result: checks.some((c) => c.status === "FAILED") ? "INVALID" : checks.some((c) => c.status === "INDETERMINATE") ? "INDETERMINATE" : "VALID",
    alg, identifier, checks, note: NOTE,
  });
  const p = parseCompact(jws.trim());
  if (typeof p === "string") {
    add("format", "FAILED", p);
    return done(null, null);
  }
  const h = p.header;
  const payload = p.payload as Partial<LicencePayload> | null;
  const x5c = Array.isArray(h.x5c) && h.x5c.length >= 1 && h.x5c.length <= 4 && h.x5c.every((c) => typeof c === "string") ? (h.x5c as string[]) : null;
  const problem = !isJwsAlg(h.alg) ? `algorithm ${String(h.alg)} is not allowed (ES256 or GmSM2 only)`
    : h.typ !== TYP_LICENCE ? `not a licence (typ ${String(h.typ)})`
    : !x5c ? "the x5c certificate chain is missing"
    : !payload || typeof payload !== "object" || typeof payload.id !== "string" || !parseLicenceId(payload.id).ok ? "the payload has no valid licence identifier"
    : null;
  if (problem) {
    add("format", "FAILED", problem);
    return done(typeof h.alg === "string" ? h.alg : null, typeof payload?.id === "string" ? payload.id : null);
  }
  add("format", "PASSED", `a licence JWS (${String(h.alg)})`);
  const id = payload!.id!;
  let leaf: Buffer;
  let key: crypto.KeyObject;
  try {
    leaf = Buffer.from(x5c![0]!, "base64");
    key = new crypto.X509Certificate(leaf).publicKey;
  } catch {
    add("signature", "FAILED", "x5c[0] is not a certificate");
    return done(String(h.alg), id);
  }
  const sigOk = verifyJwsSignature(h.alg, key, sm2PointOf(key), p.signingInput, p.signature);
  add("signature", sigOk ? "PASSED" : "FAILED", sigOk ? `${String(h.alg)} signature verifies with x5c[0]` : "the signature does not verify: the licence was altered, signed with another key, or its alg does not fit the key of x5c[0]");

  const signedAt = new Date(typeof payload!.signedAt === "string" ? payload!.signedAt : NaN);
  if (Number.isNaN(signedAt.getTime())) add("chain", "INDETERMINATE", "no signing time in the payload");
  else {
    const anchors = bundle.filter((c) => c.issuer === c.subject);
    const ch = await verifyChain({
      leaf, intermediates: [...x5c!.slice(1).map((c) => Buffer.from(c, "base64")), ...bundle.filter((c) => c.issuer !== c.subject)], anchors, at: signedAt, keyUsage: ["digitalSignature"],
    });
    const bad = ch.checks.find((c) => c.status !== "PASSED");
    add("chain", ch.result === "VALID" ? "PASSED" : ch.result === "INVALID" ? "FAILED" : "INDETERMINATE",
      ch.result === "VALID" ? `chains to ${ch.path[ch.path.length - 1]!.subject}; valid at ${signedAt.toISOString()} (revocation not checked offline)` : bad?.detail ?? ch.result);
  }

  const today = chinaDate(now);
  const from = payload!.validFrom;
  const until = payload!.validUntil;
  if (typeof from !== "string") add("validity", "FAILED", "the payload has no validFrom");
  else if (today < from) add("validity", "FAILED", `not valid before ${from}`);
  else if (typeof until === "string" && today > until) add("validity", "FAILED", `expired on ${until}`);
  else add("validity", "PASSED", until ? `valid ${from} to ${until}` : `valid from ${from} (long-term)`);
  return done(String(h.alg), id);
}

export function formatOfflineLicenceVerdict(v: OfflineLicenceVerdict): string {
  const lines = [`${v.result}  licence ${v.identifier ?? "?"}${v.alg ? `  (${v.alg})` : ""}`];
  for (const c of v.checks) lines.push(`  [${c.status}] ${c.id}: ${c.detail}`);
  lines.push(`  note: ${v.note}`);
  return lines.join("\n") + "\n";
}
