/**
 * The log engine (see index.ts for the contract), composed of one use case per file —
 *   append.ts   appending events inside the caller's write transaction
 *   publish.ts  publishing signed checkpoints (policy, timers, the lease of several instances)
 *   reads.ts    entries, checkpoints, inclusion and consistency proofs, the evidence bundle of a verdict
 * over model.ts (events, entries, proofs; the leaf and who may see it) and edge.ts (the tree's right edge kept in
 * memory: committed, the tip of an open store transaction, each transaction's private copy).
 */
import { createPublicKey } from "node:crypto";
import type { TrustLog } from "../kernel.js";
import { createAppend } from "./append.js";
import { createAsyncNoteSigner, createNoteSigner, formatVkey, parseVkey, type AsyncNoteSigner, type NoteVerifier } from "./checkpoint.js";
import { createTreeEdge } from "./edge.js";
import { isEntitled, redact, type TlogDeps } from "./model.js";
import type { TlogRepo } from "./ports.js";
import { createPublisher } from "./publish.js";
import { createReads } from "./reads.js";

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

  const edge = createTreeEdge({ uow, log, onCommitted: () => publisher.onCommitted() });
  const publisher = createPublisher({
    uow,
    clock,
    log,
    edge,
    origin,
    noteSigner,
    checkpointIntervalSeconds: deps.checkpointIntervalSeconds,
    checkpointMaxEntries: deps.checkpointMaxEntries,
    auto: deps.autoCheckpoint ?? true,
    checkpointLease: deps.checkpointLease,
  });
  const { append, appendMany } = createAppend({ edge, clock, isClosed: publisher.isClosed });
  const reads = createReads({ uow, publishNow: () => publisher.publish(true) });

  function publicKey(): { origin: string; name: string; keyId: string; vkey: string; publicKeyPem: string } {
    return {
      origin,
      name: deps.signer.name,
      keyId: verifier.keyId.toString("hex"),
      vkey,
      publicKeyPem: deps.signer.publicKey.export({ format: "pem", type: "spki" }).toString(),
    };
  }

  const api = {
    origin,
    verifier,
    append,
    appendMany,
    maybeCheckpoint: publisher.maybeCheckpoint,
    checkpoint: reads.checkpointNow,
    latestCheckpoint: reads.latestCheckpoint,
    checkpointAt: reads.checkpointAt,
    size: reads.size,
    getEntry: reads.getEntry,
    inclusionProof: reads.inclusionProof,
    consistencyProof: reads.consistencyProof,
    evidence: reads.evidence,
    redact,
    isEntitled,
    publicKey,
    close: publisher.close,
  };
  return api satisfies TrustLog<R> & Record<string, unknown>;
}

export type Tlog<R extends { tlog: TlogRepo } = { tlog: TlogRepo }> = ReturnType<typeof createTlog<R>>;
