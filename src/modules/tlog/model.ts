/**
 * The log's model: what an event, an entry, a checkpoint and a proof are, what the engine depends on, and the
 * rules about an entry itself (its leaf, whether it names a holder, who may see it in full).
 */
import type { KeyObject } from "node:crypto";
import { canonicalJson } from "../../crypto/canonical.js";
import type { Actor, Clock, Logger, TrustEvent, UnitOfWork } from "../kernel.js";
import type { CheckpointRecord, LeafRecord, TlogRepo } from "./ports.js";

/**
 * An event to log. `subject` MUST be an opaque id (`licence:<uuid>`, `key:<kid>`) or a keyed hash, never personal
 * data in clear; `data` MUST hold only hashes and non-personal facts. When the change is about a holder (citizen
 * or company), put the holder's keyed hash (the same value as `Actor.subjectHash` of that holder) in `holder`:
 * the entry is then shown in full only to entitled callers.
 */
export interface TlogEvent extends TrustEvent {
  holder?: string;
  /** Defaults to the service clock. */
  at?: Date;
}

/** What the leaf holds (its canonical JSON is the leaf). */
export interface LeafEvent {
  v: 1;
  type: string;
  at: string;
  subject: string;
  actor: string;
  data: Record<string, unknown>;
  holder?: string;
}

export interface AppendResult {
  index: number;
  /** base64 SHA-256(0x00 || leaf). */
  leafHash: string;
}

export interface CheckpointInfo {
  size: number;
  /** base64 root hash. */
  root: string;
  /** The signed note (C2SP checkpoint). */
  note: string;
  createdAt: Date;
}

export interface LogEntry {
  index: number;
  leafHash: string;
  /** The leaf bytes as text (canonical JSON): SHA-256(0x00 || UTF-8(leaf)) = leafHash. */
  leaf: string;
  event: LeafEvent;
  createdAt: Date;
}

/** What an unentitled caller sees of an entry that names a holder. */
export interface RedactedEntry {
  index: number;
  leafHash: string;
  redacted: true;
  event: { type: string; at: string };
}

export interface InclusionProof {
  index: number;
  treeSize: number;
  leafHash: string;
  /** base64 hashes, bottom-up (RFC 9162 §2.1.3). */
  hashes: string[];
}

export interface ConsistencyProof {
  from: number;
  to: number;
  hashes: string[];
}

/**
 * The proof bundle that travels with a verdict (issue 3 §4): enough for an offline verifier holding the log's
 * vkey to check that the entry is in the log the checkpoint commits to.
 */
export interface LogEvidence {
  logIndex: number;
  leafHash: string;
  treeSize: number;
  rootHash: string;
  hashes: string[];
  checkpoint: string;
  /** The leaf (canonical JSON) when the caller may see it; lets a verifier recompute leafHash. */
  leaf?: string;
}

/**
 * What a caller already read for `evidence` (one statement with its own row, e.g. LicenceRepo.byIdWithLog): the
 * smallest checkpoint with size > index, and the leaf's hash. Either may be absent; what is absent is read.
 */
export interface KnownEvidence {
  checkpoint?: CheckpointRecord;
  leafHash?: Buffer;
}

export interface TlogSigner {
  name: string;
  publicKey: KeyObject;
  /** The private key in this process, or… */
  privateKey?: KeyObject;
  /** …a signing function (the key on a PKCS#11 token). One of the two is required; `sign` wins. */
  sign?: (msg: Uint8Array) => Promise<Uint8Array>;
}

export interface TlogDeps<R extends { tlog: TlogRepo }> {
  uow: UnitOfWork<R>;
  clock: Clock;
  /** The dedicated Ed25519 log key. `name` is the key name in signature lines (and the default origin). */
  signer: TlogSigner;
  /** Checkpoint origin line; defaults to signer.name (they are normally equal: config.logOrigin). */
  origin?: string;
  checkpointIntervalSeconds: number;
  checkpointMaxEntries: number;
  log: Logger;
  /** Start the background checkpoint timer (default true). Tests drive `maybeCheckpoint()` by hand. */
  autoCheckpoint?: boolean;
  /**
   * Several instances on one log (PostgreSQL): takes or renews the lease of checkpoint signing, true while this
   * instance holds it. Given, only the holder signs checkpoints on its own (on demand, `checkpoint()`, any instance
   * still may: the storing transaction keeps them strictly increasing), and every instance looks every interval —
   * the holder signs what any instance appended, another takes over once the holder stops renewing.
   */
  checkpointLease?: () => Promise<boolean>;
}

// ---- entries ------------------------------------------------------------------------------------------------

const TYPE_RE = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$/;
const MAX_SUBJECT = 512;

/** Does this leaf name a holder (and so need an entitled caller to be shown)? */
export function namesHolder(e: LeafEvent): boolean {
  return e.holder !== undefined || e.actor.startsWith("holder:");
}

/**
 * Default entitlement rule: administrators, and the holder the entry is about. Other roles see the entry's
 * type and time only. The HTTP layer may apply a stricter or broader rule.
 */
export function isEntitled(actor: Actor, e: LeafEvent): boolean {
  if (!namesHolder(e)) return true;
  if (actor.kind === "client" && actor.role === "admin") return true;
  if (actor.kind === "holder") return e.holder !== undefined && e.holder === actor.subjectHash;
  return false;
}

/** The entry of a stored leaf. */
export function entryOf(r: LeafRecord): LogEntry {
  return { index: r.index, leafHash: b64(r.leafHash), leaf: r.data, event: JSON.parse(r.data) as LeafEvent, createdAt: r.createdAt };
}

export function redact(entry: LogEntry, entitled: boolean): LogEntry | RedactedEntry {
  if (entitled || !namesHolder(entry.event)) return entry;
  return { index: entry.index, leafHash: entry.leafHash, redacted: true, event: { type: entry.event.type, at: entry.event.at } };
}

/** Builds the leaf (canonical JSON text) for an event. Throws TypeError on a malformed event (a caller bug). */
export function leafFor(ev: TlogEvent, now: Date): { leaf: string; event: LeafEvent } {
  if (!TYPE_RE.test(ev.type) || ev.type.length > 64) throw new TypeError(`tlog: bad event type ${JSON.stringify(ev.type)}`);
  if (!ev.subject || ev.subject.length > MAX_SUBJECT || /[\u0000-\u001f]/.test(ev.subject)) {
    throw new TypeError("tlog: the subject must be a short opaque id or keyed hash");
  }
  if (!ev.actor || ev.actor.length > 200) throw new TypeError("tlog: the actor label is required");
  const at = ev.at ?? now;
  const event: LeafEvent = {
    v: 1,
    type: ev.type,
    at: at.toISOString(),
    subject: ev.subject,
    actor: ev.actor,
    data: ev.data ?? {},
    ...(ev.holder !== undefined ? { holder: ev.holder } : {}),
  };
  return { leaf: canonicalJson(event), event };
}

/** base64 of hashes as the log's API gives them. */
export const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64");
