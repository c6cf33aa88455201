/**
 * Offline verification of the log evidence that travels with a verdict (pure: no storage, no network).
 * Needs only the log's vkey (published with the other keys); never throws at the caller (DESIGN rule 4).
 */
import { NoteError, parseNote, parseVkey, verifyCheckpoint, type NoteVerifier } from "./checkpoint.js";
import { HASH_SIZE, leafHash as hashLeaf, verifyConsistency, verifyInclusion } from "./merkle.js";
import type { ConsistencyProof, LogEvidence } from "./model.js";

export type CheckStatus = "VALID" | "INVALID" | "INDETERMINATE";

export interface LogCheck {
  id: "tlog.checkpoint" | "tlog.leaf" | "tlog.inclusion" | "tlog.consistency" | "tlog.witness";
  status: CheckStatus;
  detail: string;
}

export interface LogVerification {
  result: CheckStatus;
  checks: LogCheck[];
}

function decodeHash(s: unknown): Buffer | null {
  if (typeof s !== "string" || !/^[A-Za-z0-9+/]{43}=$/.test(s)) return null;
  const b = Buffer.from(s, "base64");
  return b.length === HASH_SIZE ? b : null;
}

function overall(checks: LogCheck[]): CheckStatus {
  if (checks.some((c) => c.status === "INVALID")) return "INVALID";
  if (checks.some((c) => c.status === "INDETERMINATE")) return "INDETERMINATE";
  return "VALID";
}

function toVerifier(v: NoteVerifier | string): NoteVerifier {
  return typeof v === "string" ? parseVkey(v) : v;
}

export interface VerifyEvidenceOptions {
  /** The log's verifier key (vkey string or parsed). */
  logKey: NoteVerifier | string;
  /** Expected origin line; recommended. */
  origin?: string;
  /**
   * Verify against this checkpoint instead of the bundle's own (e.g. a newer one the verifier already trusts);
   * the proof's tree size must then equal its size.
   */
  checkpoint?: string;
  /** The leaf bytes (or canonical JSON text), to check that the logged leaf is the one the verdict is about. */
  leaf?: Uint8Array | string;
  /** Witness keys; with `minWitnesses`, that many of them must have cosigned the checkpoint. */
  witnesses?: Array<NoteVerifier | string>;
  minWitnesses?: number;
}

/** Checks an inclusion-proof bundle against a signed checkpoint and the log's public key. */
export function verifyLogEvidence(ev: Partial<LogEvidence>, opts: VerifyEvidenceOptions): LogVerification {
  const checks: LogCheck[] = [];
  let logKey: NoteVerifier;
  let witnesses: NoteVerifier[];
  try {
    logKey = toVerifier(opts.logKey);
    witnesses = (opts.witnesses ?? []).map(toVerifier);
  } catch (e) {
    checks.push({ id: "tlog.checkpoint", status: "INDETERMINATE", detail: `unusable key: ${(e as Error).message}` });
    return { result: "INDETERMINATE", checks };
  }

  // 1. The checkpoint: signed by the log key, right origin.
  const note = opts.checkpoint ?? ev.checkpoint;
  let cp: ReturnType<typeof verifyCheckpoint> | null = null;
  if (typeof note !== "string") {
    checks.push({ id: "tlog.checkpoint", status: "INDETERMINATE", detail: "no checkpoint" });
  } else {
    try {
      cp = verifyCheckpoint(note, logKey, { ...(opts.origin !== undefined ? { origin: opts.origin } : {}), witnesses });
      checks.push({ id: "tlog.checkpoint", status: "VALID", detail: `signed by ${logKey.name} (${logKey.keyId.toString("hex")}), origin ${cp.origin}, size ${cp.size}` });
    } catch (e) {
      let detail = (e as Error).message;
      if (e instanceof NoteError) {
        try {
          parseNote(note);
        } catch {
          detail = `malformed checkpoint: ${detail}`;
        }
      }
      checks.push({ id: "tlog.checkpoint", status: "INVALID", detail });
    }
  }

  // 2. Witnesses (optional policy).
  if (cp && (opts.minWitnesses ?? 0) > 0) {
    const names = Object.keys(cp.opened.cosignedAt);
    checks.push({
      id: "tlog.witness",
      status: names.length >= opts.minWitnesses! ? "VALID" : "INVALID",
      detail: `${names.length} of ${opts.minWitnesses} required witness cosignatures${names.length ? `: ${names.join(", ")}` : ""}`,
    });
  }

  // 3. The leaf.
  const lh = decodeHash(ev.leafHash);
  if (!lh) {
    checks.push({ id: "tlog.leaf", status: "INVALID", detail: "leafHash is not a base64 SHA-256 hash" });
  } else if (opts.leaf !== undefined) {
    const bytes = typeof opts.leaf === "string" ? Buffer.from(opts.leaf, "utf8") : opts.leaf;
    const ok = hashLeaf(bytes).equals(lh);
    checks.push({ id: "tlog.leaf", status: ok ? "VALID" : "INVALID", detail: ok ? "leaf matches its hash" : "the leaf does not match leafHash" });
  }

  // 4. Inclusion.
  const index = ev.logIndex;
  const size = ev.treeSize;
  const hashes = Array.isArray(ev.hashes) ? ev.hashes.map(decodeHash) : null;
  if (!cp) {
    checks.push({ id: "tlog.inclusion", status: "INDETERMINATE", detail: "no verified checkpoint to check against" });
  } else if (!lh || typeof index !== "number" || typeof size !== "number" || !hashes || hashes.some((h) => h === null)) {
    checks.push({ id: "tlog.inclusion", status: "INVALID", detail: "malformed proof" });
  } else if (size !== cp.size) {
    checks.push({ id: "tlog.inclusion", status: "INVALID", detail: `proof is for tree size ${size}, checkpoint is ${cp.size}` });
  } else {
    const ok = verifyInclusion(index, size, lh, hashes as Buffer[], cp.root);
    checks.push({
      id: "tlog.inclusion",
      status: ok ? "VALID" : "INVALID",
      detail: ok ? `entry ${index} is in the tree of size ${size}` : `entry ${index} is not proven in the tree of size ${size}`,
    });
  }
  return { result: overall(checks), checks };
}

/** Checks that two signed checkpoints of the same log are consistent (append-only), given a consistency proof. */
export function verifyCheckpointConsistency(
  older: string,
  newer: string,
  proof: Partial<ConsistencyProof>,
  opts: { logKey: NoteVerifier | string; origin?: string },
): LogVerification {
  const checks: LogCheck[] = [];
  try {
    const key = toVerifier(opts.logKey);
    const o = { ...(opts.origin !== undefined ? { origin: opts.origin } : {}) };
    const a = verifyCheckpoint(older, key, o);
    const b = verifyCheckpoint(newer, key, o);
    checks.push({ id: "tlog.checkpoint", status: "VALID", detail: `checkpoints of size ${a.size} and ${b.size} are signed by ${key.name}` });
    const hashes = Array.isArray(proof.hashes) ? proof.hashes.map(decodeHash) : null;
    if (a.origin !== b.origin) {
      checks.push({ id: "tlog.consistency", status: "INVALID", detail: "different origins" });
    } else if (!hashes || hashes.some((h) => h === null) || proof.from !== a.size || proof.to !== b.size) {
      checks.push({ id: "tlog.consistency", status: "INVALID", detail: "the proof does not match the checkpoints' sizes" });
    } else {
      const ok = verifyConsistency(a.size, b.size, hashes as Buffer[], a.root, b.root);
      checks.push({ id: "tlog.consistency", status: ok ? "VALID" : "INVALID", detail: ok ? `tree ${b.size} extends tree ${a.size}` : "the checkpoints are not consistent (fork?)" });
    }
  } catch (e) {
    checks.push({ id: "tlog.checkpoint", status: "INVALID", detail: (e as Error).message });
  }
  return { result: overall(checks), checks };
}
