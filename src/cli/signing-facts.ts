/**
 * `sidian verify` on a PDF from a signing request (issue 17 §9, offline): who signed (masked), in which role, when,
 * with which kind of certificate, and whether the request completed — as POST /verify/pdf says online, but from
 * what the PDF carries (field names Signature-N / Seal-ID, each signature's /Reason, its certificate, its
 * time-stamp, the completion report sealed last) and, with `--evidence FILE`, from the request's evidence bundle
 * (GET /signatures/ID/evidence). The evidence is used only when it checks out: this PDF is one of its documents,
 * its log key is one of the keys folder's log keys, and every trust event's inclusion proof verifies against its
 * signed checkpoint (else SIGNING_EVIDENCE_INVALID).
 */
import crypto from "node:crypto";
import { AppError } from "../errors.js";
import { maskName } from "../modules/licences/holder.js";
import type { LogEvidence } from "../modules/tlog/index.js";
import { verifyLogEvidence } from "../modules/tlog/verify.js";
import { PdfString } from "../pdf/objects.js";
import { openPdf } from "../pdf/reader.js";
import { findSignatures, type PdfVerdict } from "../pdf/verify.js";

export interface SigningFact {
  participant?: number;
  group?: number | null;
  role: string;
  signer: string | null;
  signedAt: string | null;
  certificateKind: string;
  logIndex?: number | null;
}

export interface OfflineSigningRequest {
  requestId: string | null;
  title: string | null;
  status: string | null;
  /** true / false, or null when the PDF alone cannot tell (no completion seal, no evidence). */
  completed: boolean | null;
  sealed: boolean;
  revision: number | null;
  isFinal: boolean | null;
  source: "pdf" | "pdf+evidence";
  evidence?: { events: number; proofs: "VALID" };
}

interface Evidence {
  format?: string;
  request?: { id?: string; title?: string; status?: string; sealed?: boolean };
  participants?: Array<{ idx: number; group: number; role: string; method: string | null; logIndex: number | null; actedAt: string | null }>;
  documents?: Array<{ seq: number; kind: string; sha256: string }>;
  events?: Array<Partial<LogEvidence> & { type?: string }>;
  log?: { vkey?: string; publicKeyPem?: string };
}

const CLOUD = "personal-signing (Sidian CA, cloud key confirmed with a passkey)";
const EXTERNAL = "external (own key, trusted outside CA)";
const SEAL = "department seal (Sidian CA)";
const bad = (msg: string) => new AppError("SIGNING_EVIDENCE_INVALID", msg);
const cn = (subject: string | null) => (subject ? (/(?:^|, )CN=((?:\\.|[^,\\])+)/.exec(subject)?.[1]?.replace(/\\(.)/g, "$1") ?? null) : null);

/** Checks an evidence bundle against this PDF and the log keys; returns it, or throws SIGNING_EVIDENCE_INVALID. */
function checkedEvidence(raw: Buffer, sha256: string, logKeyPems: readonly string[]): Evidence & { proofs: number } {
  let ev: Evidence;
  try {
    ev = JSON.parse(raw.toString("utf8")) as Evidence;
  } catch {
    throw bad("The evidence is not JSON (save the answer of GET /signatures/ID/evidence).");
  }
  if (ev?.format !== "sidian-signing-evidence/1" || !Array.isArray(ev.documents) || !Array.isArray(ev.events) || !Array.isArray(ev.participants)) {
    throw bad("The evidence is not a Sidian signing evidence bundle (format sidian-signing-evidence/1).");
  }
  if (!ev.documents.some((d) => d.sha256 === sha256)) throw bad(`This PDF (sha256 ${sha256}) is none of the documents of request ${String(ev.request?.id)}.`);
  const norm = (p: string) => p.replace(/\s+/g, "");
  if (!ev.log?.publicKeyPem || !ev.log.vkey || !logKeyPems.some((k) => norm(k) === norm(ev.log!.publicKeyPem!))) {
    throw bad("The evidence's log key is not a log key of this keys folder: its events cannot be checked.");
  }
  for (const e of ev.events) {
    const v = verifyLogEvidence(e, { logKey: ev.log.vkey, ...(e.leaf !== undefined ? { leaf: e.leaf } : {}) });
    if (v.result !== "VALID") throw bad(`The ${String(e.type)} event (log index ${String(e.logIndex)}) does not verify: ${v.checks.filter((c) => c.status !== "VALID").map((c) => c.detail).join("; ")}.`);
    // The leaf must be the request's: its subject names the request.
    if (typeof e.leaf !== "string" || !e.leaf.includes(`"signing:${String(ev.request?.id)}"`)) throw bad(`The event at log index ${String(e.logIndex)} is not about this request.`);
  }
  return { ...ev, proofs: ev.events.length };
}

/**
 * The signing-request facts of `pdf` (null when it holds no participant's signature: not from a signing request).
 * Adds `signing` to each of the verdict's signatures it describes.
 */
export function signingFactsOffline(pdf: Buffer, verdict: PdfVerdict, opts: { evidence?: Buffer; logKeyPems?: readonly string[] } = {}): OfflineSigningRequest | null {
  let dicts;
  try {
    dicts = findSignatures(openPdf(pdf));
  } catch {
    return null;
  }
  const reasonOf = new Map(dicts.map((d) => [d.field, d.dict.get("Reason") instanceof PdfString ? (d.dict.get("Reason") as PdfString).text() : null]));
  if (!verdict.signatures.some((s) => s.field && /^Signature-\d+$/.test(s.field))) return null;
  const sha256 = crypto.createHash("sha256").update(pdf).digest("hex");
  const ev = opts.evidence ? checkedEvidence(opts.evidence, sha256, opts.logKeyPems ?? []) : null;
  let sealed = false;
  const sigs = verdict.signatures as Array<PdfVerdict["signatures"][number] & { signing?: SigningFact }>;
  for (const s of sigs) {
    const m = s.field ? /^Signature-(\d+)$/.exec(s.field) : null;
    const reason = s.field ? reasonOf.get(s.field) ?? null : null;
    const at = s.timestampTime ?? s.claimedTime;
    if (m) {
      const n = Number(m[1]);
      const p = ev?.participants?.find((x) => x.idx === n - 1);
      // A Sidian personal-signing certificate names the person by a pseudonym (SD-…), never by an ID number.
      const cloud = p ? p.method === "cloud" : /(?:^|, )(?:pseudonym|2\.5\.4\.65)=SD-/.test(s.signer ?? "");
      const name = cn(s.signer);
      s.signing = {
        participant: n, ...(p ? { group: p.group } : {}),
        role: p?.role ?? (reason === "同意" ? "approver" : reason === "签署" ? "signer" : "signer"),
        signer: name ? maskName(name) : null, signedAt: at, certificateKind: cloud ? CLOUD : EXTERNAL,
        ...(p ? { logIndex: p.logIndex } : {}),
      };
    } else if (s.field?.startsWith("Seal-") && reason !== null && /签署完成|Signing completed/.test(reason)) {
      // The completion report's seal: the last revision, over the whole file, and valid.
      if (s.coversWholeFile && s.result !== "INVALID") sealed = true;
      s.signing = { role: "seal", signer: null, signedAt: at, certificateKind: SEAL };
    }
  }
  const doc = ev?.documents?.find((d) => d.sha256 === sha256);
  const status = ev?.request?.status ?? (sealed ? "completed" : null);
  return {
    requestId: ev?.request?.id ?? null, title: ev?.request?.title ?? null, status,
    completed: status === null ? null : status === "completed", sealed, revision: doc ? doc.seq : null, isFinal: doc ? doc.kind === "completed" : sealed ? true : null,
    source: ev ? "pdf+evidence" : "pdf", ...(ev ? { evidence: { events: ev.proofs, proofs: "VALID" as const } } : {}),
  };
}

export function formatSigningFacts(r: OfflineSigningRequest, v: PdfVerdict): string {
  const yes = (b: boolean | null) => (b === null ? "unknown from the PDF alone (give --evidence)" : b ? "yes" : "no");
  const lines = [
    `signing request ${r.requestId ?? "(id: see --evidence)"}${r.title ? ` "${r.title}"` : ""}: status ${r.status ?? "unknown"}, completed ${yes(r.completed)}, sealed ${r.sealed ? "yes" : "no"}` +
      `${r.revision !== null ? `, revision ${r.revision}${r.isFinal ? " (final)" : ""}` : ""}${r.evidence ? `  [evidence: ${r.evidence.events} trust events, inclusion proofs ${r.evidence.proofs}]` : "  [from the PDF]"}`,
  ];
  for (const s of v.signatures as Array<PdfVerdict["signatures"][number] & { signing?: SigningFact }>) {
    const f = s.signing;
    if (!f) continue;
    lines.push(`  #${s.index} ${s.field}: ${f.role}${f.participant ? ` (participant ${f.participant}${f.group ? `, group ${f.group}` : ""})` : ""}  ${f.signer ?? ""}  ${f.signedAt ?? ""}  ${f.certificateKind}${f.logIndex != null ? `  log ${f.logIndex}` : ""}`);
  }
  return lines.join("\n") + "\n";
}
