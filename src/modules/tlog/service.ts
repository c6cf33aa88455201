/**
 * The log engine: appends events inside the caller's write transaction, keeps the right edge of the tree in
 * memory, publishes signed checkpoints, and serves entries and proofs. See index.ts for the contract.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { AppError } from "../../errors.js";
import { canonicalJson } from "../../crypto/canonical.js";
import { sha256 } from "../../crypto/hash.js";
import type { Actor, Clock, Logger, TrustEvent, TrustLog, TxHooks, UnitOfWork } from "../kernel.js";
import {
  createAsyncNoteSigner,
  createNoteSigner,
  formatVkey,
  parseVkey,
  signCheckpointAsync,
  type AsyncNoteSigner,
  type NoteVerifier,
} from "./checkpoint.js";
import {
  consistencyProof as buildConsistency,
  foldPlan,
  Frontier,
  inclusionPlan,
  inclusionProof as buildInclusion,
  leafHash as hashLeaf,
  rangeNodes,
  type NodeId,
} from "./merkle.js";
import type { CheckpointRecord, LeafRecord, NodeRecord, TlogRepo } from "./ports.js";

// ---- public types -------------------------------------------------------------------------------------------

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
/**
 * What a caller already read for `evidence` (one statement with its own row, e.g. LicenceRepo.byIdWithLog): the
 * smallest checkpoint with size > index, and the leaf's hash. Either may be absent; what is absent is read.
 */
export interface KnownEvidence {
  checkpoint?: CheckpointRecord;
  leafHash?: Buffer;
}

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

const TYPE_RE = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$/;
const MAX_SUBJECT = 512;

const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64");

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

// ---- the service --------------------------------------------------------------------------------------------

interface TxState {
  frontier: Frontier;
  broken: boolean;
}

export function createTlog<R extends { tlog: TlogRepo }>(deps: TlogDeps<R>) {
  const { uow, clock, log } = deps;
  const origin = deps.origin ?? deps.signer.name;
  if (!Number.isInteger(deps.checkpointIntervalSeconds) || deps.checkpointIntervalSeconds < 1) {
    throw new RangeError("checkpointIntervalSeconds must be a whole number ≥ 1");
  }
  if (!Number.isInteger(deps.checkpointMaxEntries) || deps.checkpointMaxEntries < 1) {
    throw new RangeError("checkpointMaxEntries must be a whole number ≥ 1");
  }
  const { sign: signFn, privateKey } = deps.signer;
  if (!signFn && !privateKey) throw new RangeError("the log signer needs a private key or a sign function");
  const noteSigner: AsyncNoteSigner = signFn
    ? createAsyncNoteSigner(deps.signer.name, deps.signer.publicKey, signFn)
    : createNoteSigner(deps.signer.name, privateKey!, deps.signer.publicKey);
  if (!signFn && !createPublicKey(privateKey!).equals(deps.signer.publicKey)) {
    throw new RangeError("the log's public key does not match its private key");
  }
  const vkey = formatVkey(deps.signer.name, deps.signer.publicKey);
  const verifier: NoteVerifier = parseVkey(vkey);
  const auto = deps.autoCheckpoint ?? true;

  /** The tree as of the last COMMIT this process saw (null until first needed). */
  let committed: Frontier | null = null;
  /**
   * The tree as of the last unit of work kept in the store transaction still open (PostgreSQL groups units into
   * one transaction: the next unit continues from here); null when no group is open or after any rollback.
   */
  let tip: Frontier | null = null;
  const pending = new WeakMap<TxHooks, Promise<TxState>>();
  /** Last published checkpoint (size and time); undefined until loaded. */
  let last: { size: number; at: number } | undefined;
  /** uow.changeMark() when `last` was loaded (another instance may publish checkpoints too). */
  let seenMark: number | undefined;
  let timer: NodeJS.Timeout | null = null;
  let publishing: Promise<CheckpointInfo | null> = Promise.resolve(null);
  let closed = false;

  async function loadFrontier(repo: TlogRepo, size: number): Promise<Frontier> {
    if (size === 0) return Frontier.empty();
    return Frontier.fromPeaks(size, await repo.getNodes(rangeNodes(0, size)));
  }

  function stateFor(repos: R, tx: TxHooks): Promise<TxState> {
    let p = pending.get(tx);
    if (p) return p;
    p = (async () => {
      let base: Frontier;
      // Inside a group the coordination row is held from the first unit to COMMIT: nobody else can have appended
      // since the last kept unit, and its tip is the edge (a tip lives only until its group commits or rolls back).
      if (tip) base = tip;
      else {
        const dbSize = await repos.tlog.size();
        if (!committed || committed.size !== dbSize) {
          if (committed) log.debug({ memory: committed.size, db: dbSize }, "tlog: another writer appended; reloading the tree edge");
          committed = await loadFrontier(repos.tlog, dbSize);
        }
        base = committed;
      }
      const st: TxState = { frontier: base.clone(), broken: false };
      tx.afterKept?.(() => {
        tip = st.broken ? null : st.frontier;
      });
      tx.afterCommit(() => {
        tip = null;
        if (st.broken) {
          // The caller swallowed an append error and committed anyway: trust the database, not memory.
          log.error({}, "tlog: a transaction committed after a failed append; the log must be audited");
          committed = null;
          return;
        }
        committed = st.frontier;
        onCommitted();
      });
      // The transaction's frontier is a private copy that is simply dropped; a tip built on a group that is rolled
      // back (or on a unit rolled back to its savepoint) is dropped too, and the next unit reads the edge again.
      tx.afterRollback(() => {
        tip = null;
      });
      return st;
    })();
    pending.set(tx, p);
    return p;
  }

  async function appendMany(repos: R, tx: TxHooks, events: readonly TlogEvent[]): Promise<AppendResult[]> {
    if (closed) throw new AppError("NOT_READY", "The transparency log is closed.");
    const st = await stateFor(repos, tx);
    if (st.broken) throw new Error("tlog: an earlier append in this transaction failed; roll it back");
    const now = clock.now();
    const leaves: LeafRecord[] = [];
    const nodes: NodeRecord[] = [];
    const out: AppendResult[] = [];
    const onNode = (level: number, index: number, hash: Buffer) => nodes.push({ level, index, hash });
    // Build everything first (may throw on a bad event without touching the frontier)…
    const built = events.map((ev) => {
      const { leaf, event } = leafFor(ev, now);
      return { leaf, event, hash: hashLeaf(Buffer.from(leaf, "utf8")) };
    });
    // …then extend the private frontier synchronously, so concurrent appends in one transaction cannot interleave.
    for (const b of built) {
      const index = st.frontier.append(b.hash, onNode);
      leaves.push({ index, leafHash: b.hash, data: b.leaf, type: b.event.type, subjectHash: sha256(b.event.subject), createdAt: now });
      out.push({ index, leafHash: b64(b.hash) });
    }
    try {
      await repos.tlog.insertLeaves(leaves);
      await repos.tlog.insertNodes(nodes);
    } catch (e) {
      st.broken = true;
      throw e;
    }
    return out;
  }

  async function append(repos: R, tx: TxHooks, event: TlogEvent): Promise<AppendResult> {
    return (await appendMany(repos, tx, [event]))[0]!;
  }

  // ---- checkpoints ----

  async function lastCheckpoint(): Promise<{ size: number; at: number }> {
    if (!last) {
      const cp = await uow.read.tlog.latestCheckpoint();
      last = cp ? { size: cp.size, at: cp.createdAt.getTime() } : { size: -1, at: 0 };
    }
    return last;
  }

  async function committedFrontier(): Promise<Frontier> {
    if (committed) return committed;
    // Load under the write lock so the size and the nodes come from one committed state.
    return uow.write(async (repos) => {
      if (!committed) committed = await loadFrontier(repos.tlog, await repos.tlog.size());
      return committed;
    });
  }

  /** The committed tree as the database holds it now (another instance may have appended since our last commit). */
  async function databaseFrontier(): Promise<Frontier> {
    const size = await uow.read.tlog.size();
    if (committed && committed.size === size) return committed;
    // Leaves and nodes are never changed once written: the peaks of `size` read after `size` are those of `size`.
    return loadFrontier(uow.read.tlog, size);
  }

  function onCommitted(): void {
    if (closed || !auto) return;
    if (last && committed && committed.size - Math.max(last.size, 0) >= deps.checkpointMaxEntries) {
      setImmediate(() => void maybeCheckpoint().catch((e) => log.error({ err: e }, "tlog: checkpoint failed")));
      return;
    }
    if (!timer) {
      const wait = last ? Math.max(0, last.at + deps.checkpointIntervalSeconds * 1000 - clock.now().getTime()) : 0;
      timer = setTimeout(() => {
        timer = null;
        maybeCheckpoint().then(
          () => {
            // Entries may still be waiting (the interval had not elapsed on the clock): look again later.
            if (!closed && committed && last && committed.size > last.size && !timer) onCommitted();
          },
          // No retry loop on failure: the next commit schedules again.
          (e) => log.error({ err: e }, "tlog: checkpoint failed"),
        );
      }, wait);
      timer.unref();
    }
  }

  function publish(force: boolean): Promise<CheckpointInfo | null> {
    const run = async (): Promise<CheckpointInfo | null> => {
      if (!force && deps.checkpointLease && !(await deps.checkpointLease())) return null;
      // Several instances may share the log (PostgreSQL): the last checkpoint and the tree are read from the
      // database when another writer committed since (changeMark moved), not only from this process's memory.
      const mark = uow.changeMark?.();
      if (mark !== undefined && mark !== seenMark) {
        last = undefined;
        seenMark = mark;
      }
      const prev = await lastCheckpoint();
      const tree = mark !== undefined ? await databaseFrontier() : await committedFrontier();
      const size = tree.size;
      const now = clock.now();
      if (size <= prev.size) return null;
      if (!force) {
        const due = size - Math.max(prev.size, 0) >= deps.checkpointMaxEntries || now.getTime() - prev.at >= deps.checkpointIntervalSeconds * 1000;
        if (!due || size === 0) return null;
      }
      const root = tree.root();
      // Sign outside the write transaction (kernel rule: no slow work while holding the write lock).
      const note = await signCheckpointAsync({ origin, size, root }, noteSigner);
      const rec: CheckpointRecord = { size, root, note, createdAt: now };
      // Checkpoints are strictly increasing in the order they are stored: one signed meanwhile (by another
      // instance) for this size or a larger one makes this one pointless, and it is dropped.
      const stored = await uow.write(async (repos) => {
        const latest = await repos.tlog.latestCheckpoint();
        if (latest && latest.size >= size) return latest;
        await repos.tlog.insertCheckpoint(rec);
        return null;
      });
      if (stored) {
        last = { size: stored.size, at: stored.createdAt.getTime() };
        return null;
      }
      last = { size, at: now.getTime() };
      log.info({ size }, "tlog: checkpoint published");
      return { size, root: b64(root), note, createdAt: now };
    };
    const p = publishing.then(run, run);
    publishing = p.catch(() => null);
    return p;
  }

  /** Publishes a checkpoint if the policy says one is due (N seconds since the last one, or M new entries). */
  function maybeCheckpoint(): Promise<CheckpointInfo | null> {
    return publish(false);
  }

  /** Publishes a checkpoint now (on demand) unless the latest one already covers the whole log; returns the latest. */
  async function checkpointNow(): Promise<CheckpointInfo> {
    await publish(true);
    return latestCheckpoint();
  }

  // ---- reads ----

  async function latestCheckpoint(): Promise<CheckpointInfo> {
    const cp = await uow.read.tlog.latestCheckpoint();
    if (!cp) throw new AppError("LOG_CHECKPOINT_NOT_FOUND");
    return { size: cp.size, root: b64(cp.root), note: cp.note, createdAt: cp.createdAt };
  }

  async function checkpointAt(size: number): Promise<CheckpointInfo> {
    const cp = await uow.read.tlog.getCheckpoint(size);
    if (!cp) throw new AppError("LOG_CHECKPOINT_NOT_FOUND", "No checkpoint was published at that tree size.");
    return { size: cp.size, root: b64(cp.root), note: cp.note, createdAt: cp.createdAt };
  }

  async function size(): Promise<number> {
    return uow.read.tlog.size();
  }

  async function getEntry(index: number): Promise<LogEntry> {
    if (!Number.isSafeInteger(index) || index < 0) throw new AppError("LOG_RANGE_INVALID");
    const r = await uow.read.tlog.getLeaf(index);
    if (!r) throw new AppError("LOG_ENTRY_NOT_FOUND");
    return entryOf(r);
  }

  const reader = (ids: readonly NodeId[]) => uow.read.tlog.getNodes(ids);

  async function resolveSize(treeSize: number | undefined): Promise<number> {
    const current = await uow.read.tlog.size();
    if (treeSize === undefined) return current;
    if (!Number.isSafeInteger(treeSize) || treeSize < 0 || treeSize > current) {
      throw new AppError("LOG_RANGE_INVALID", `The tree size must be between 0 and ${current}.`, { details: { treeSize: current } });
    }
    return treeSize;
  }

  /** Inclusion proof of the leaf at `index` (or with `leafHash`, base64) in the tree of `treeSize` (default: current). */
  async function inclusionProof(q: { index?: number; leafHash?: string; treeSize?: number }): Promise<InclusionProof> {
    let index = q.index;
    if (index === undefined) {
      if (q.leafHash === undefined) throw new AppError("LOG_RANGE_INVALID", "Give an index or a leaf hash.");
      const h = Buffer.from(q.leafHash, "base64");
      if (h.length !== 32) throw new AppError("LOG_RANGE_INVALID", "The leaf hash must be 32 bytes, base64.");
      index = await uow.read.tlog.findByLeafHash(h);
      if (index === undefined) throw new AppError("LOG_ENTRY_NOT_FOUND", "No log entry has that leaf hash.");
    }
    const treeSize = await resolveSize(q.treeSize);
    if (!Number.isSafeInteger(index) || index < 0 || index >= treeSize) {
      throw new AppError("LOG_RANGE_INVALID", "The index must be below the tree size.", { details: { treeSize } });
    }
    const [leaf] = await uow.read.tlog.getNodes([{ level: 0, index }]);
    const hashes = await buildInclusion(index, treeSize, reader);
    return { index, treeSize, leafHash: b64(leaf!), hashes: hashes.map(b64) };
  }

  async function consistencyProof(from: number, to: number): Promise<ConsistencyProof> {
    const t = await resolveSize(to);
    if (!Number.isSafeInteger(from) || from < 0 || from > t) {
      throw new AppError("LOG_RANGE_INVALID", "`from` must be between 0 and `to`.");
    }
    const hashes = await buildConsistency(from, t, reader);
    return { from, to: t, hashes: hashes.map(b64) };
  }

  /**
   * The evidence bundle for a verdict: inclusion of `index` in the smallest published checkpoint that covers it,
   * publishing one on demand if none does yet. MUST NOT be called inside `uow.write` (it may take the write lock).
   */
  async function evidence(index: number, opts: { includeLeaf?: boolean; known?: KnownEvidence } = {}): Promise<LogEvidence> {
    if (!Number.isSafeInteger(index) || index < 0) throw new AppError("LOG_RANGE_INVALID");
    // A checkpoint the caller read with the leaf (the smallest with size > index, see KnownEvidence) is used as is.
    let cp = opts.known?.checkpoint && opts.known.checkpoint.size > index ? opts.known.checkpoint : await uow.read.tlog.checkpointAtLeast(index + 1);
    if (!cp) {
      await publish(true);
      cp = await uow.read.tlog.checkpointAtLeast(index + 1);
      if (!cp) throw new AppError("LOG_ENTRY_NOT_FOUND");
    }
    // The proof's nodes and the leaf hash (unless known) in one read. A stored checkpoint never exceeds the stored
    // tree (it is signed over committed leaves), so index < cp.size is the only range to check.
    const plan = inclusionPlan(index, cp.size);
    const known = opts.known?.leafHash;
    const ids = plan.flat();
    const read = await uow.read.tlog.getNodes(known ? ids : [...ids, { level: 0, index }]);
    const ev: LogEvidence = {
      logIndex: index,
      leafHash: b64(known ?? read[ids.length]!),
      treeSize: cp.size,
      rootHash: b64(cp.root),
      hashes: foldPlan(plan, read).map(b64),
      checkpoint: cp.note,
    };
    if (opts.includeLeaf) ev.leaf = (await getEntry(index)).leaf;
    return ev;
  }

  function publicKey(): { origin: string; name: string; keyId: string; vkey: string; publicKeyPem: string } {
    return {
      origin,
      name: deps.signer.name,
      keyId: verifier.keyId.toString("hex"),
      vkey,
      publicKeyPem: deps.signer.publicKey.export({ format: "pem", type: "spki" }).toString(),
    };
  }

  /** Stops the checkpoint timer and waits for a publication in flight. */
  // With a lease: every instance looks every interval (the holder signs, the others renew their claim).
  const leaseTimer = auto && deps.checkpointLease
    ? setInterval(() => void maybeCheckpoint().catch((e) => log.error({ err: e }, "tlog: checkpoint failed")), deps.checkpointIntervalSeconds * 1000)
    : null;
  leaseTimer?.unref();

  async function close(): Promise<void> {
    closed = true;
    if (timer) clearTimeout(timer);
    timer = null;
    if (leaseTimer) clearInterval(leaseTimer);
    await publishing;
  }

  // Load the last checkpoint time early so the first commits can schedule correctly.
  void lastCheckpoint().catch((e) => log.error({ err: e }, "tlog: cannot read the last checkpoint"));

  const api = {
    origin,
    verifier,
    append,
    appendMany,
    maybeCheckpoint,
    checkpoint: checkpointNow,
    latestCheckpoint,
    checkpointAt,
    size,
    getEntry,
    inclusionProof,
    consistencyProof,
    evidence,
    redact,
    isEntitled,
    publicKey,
    close,
  };
  return api satisfies TrustLog<R> & Record<string, unknown>;
}

export type Tlog<R extends { tlog: TlogRepo } = { tlog: TlogRepo }> = ReturnType<typeof createTlog<R>>;
