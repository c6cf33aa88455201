/**
 * Bulk issuance (POST /licences:batch, `sidian import`): up to MAX_BATCH_LINES licences, each all or nothing, in
 * chunks of CHUNK per transaction, through the same prepare / stage / store as single issuance (issue.ts).
 */
import { AppError } from "../../errors.js";
import type { LicenceCore } from "./core.js";
import type { Issuance, Prepared, Built } from "./issue.js";
import { MAX_BATCH_LINES, type BatchResult, type IssueInput, type IssuerContext } from "./model.js";
import type { LicenceRepos } from "./ports.js";
import { appErr, inCommitOrder } from "./rules.js";

/** Lines per transaction. */
const CHUNK = 500;
/** Bulk-import chunks being signed at once (on the seal worker) while this thread validates and stores. */
const SIGN_AHEAD = 2;

export function createBatchIssuance<R extends LicenceRepos>(core: LicenceCore<R>, issuance: Issuance<R>) {
  const { deps, uow, today } = core;
  const { prepare, priorIssue, stage, store } = issuance;

  /**
   * Issues a batch (1 to MAX_BATCH_LINES); returns one result per input, in order. Each licence is all or nothing
   * (row + log entry in one transaction); chunks of CHUNK share a transaction. Idempotency keys are honoured.
   *
   * Pipelined: while chunks k+1 and k+2 are signed and encrypted (on the seal worker), this thread validates the
   * next and stores chunk k. A key repeated across chunks is caught by the re-check inside the storing transaction.
   */
  async function issueBatch(inputs: ReadonlyArray<IssueInput | { error: AppError }>, ic: IssuerContext, onProgress?: (done: number) => void): Promise<BatchResult[]> {
    if (inputs.length > MAX_BATCH_LINES) throw new AppError("BATCH_TOO_LARGE", undefined, { details: { maxLines: MAX_BATCH_LINES } });
    const results: BatchResult[] = new Array(inputs.length);
    let reported = 0;
    const fail = (line: number, e: unknown) => {
      const a = appErr(e);
      if (a.code === "INTERNAL") deps.log?.error({ err: e }, "licence issuance failed");
      results[line] = { line: line + 1, ok: false, code: a.code, message: a.message, ...(a.details ? { details: a.details } : {}) };
    };

    interface Chunk {
      end: number;
      prepared: Prepared[];
      seenKeys: Map<string, Prepared>;
      dupes: Array<{ line: number; key: string; hash: string }>;
    }
    async function prep(start: number): Promise<Chunk> {
      const end = Math.min(inputs.length, start + CHUNK);
      const t = today();
      const c: Chunk = { end, prepared: [], seenKeys: new Map(), dupes: [] };
      for (let i = start; i < end; i++) {
        const item = inputs[i]!;
        if ("error" in item) {
          fail(i, item.error);
          continue;
        }
        try {
          const key = item.idempotencyKey;
          if (key !== undefined) {
            // A key already used: answered as before, whatever the catalogue says now (see priorIssue).
            const prior = await priorIssue(item, ic);
            if (prior) {
              results[i] = { line: i + 1, ok: true, identifier: prior.identifier, replay: true };
              continue;
            }
          }
          const p = await prepare(i, item, ic, t);
          if (key !== undefined) {
            const first = c.seenKeys.get(key);
            if (first) {
              c.dupes.push({ line: i, key, hash: p.requestHash });
              continue;
            }
            c.seenKeys.set(key, p);
          }
          c.prepared.push(p);
        } catch (e) {
          fail(i, e);
        }
      }
      return c;
    }
    type Staged = { ok: true; built: Built[] } | { ok: false; e: unknown } | null;
    const stageOf = (c: Chunk): Promise<Staged> =>
      c.prepared.length === 0 ? Promise.resolve(null) : stage(c.prepared).then((built) => ({ ok: true as const, built }), (e: unknown) => ({ ok: false as const, e }));
    async function finishChunk(c: Chunk, st: Staged, onCommit: () => void): Promise<void> {
      if (st) {
        try {
          if (!st.ok) throw st.e;
          await store(st.built, results, undefined, onCommit);
        } catch (e) {
          for (const p of c.prepared) fail(p.line, e);
        }
      }
      for (const d of c.dupes) {
        try {
          const prior = await uow.read.licences.idempotency(ic.idempotencyScope, d.key);
          if (!prior) fail(d.line, results[c.seenKeys.get(d.key)!.line]?.ok === false ? new AppError("CONFLICT", "The first line with this Idempotency-Key failed.") : new AppError("INTERNAL"));
          else if (prior.requestHash !== d.hash) fail(d.line, new AppError("IDEMPOTENCY_CONFLICT"));
          else results[d.line] = { line: d.line + 1, ok: true, identifier: prior.identifier, replay: true };
        } catch (e) {
          fail(d.line, e);
        }
      }
      if (c.end > reported) onProgress?.((reported = c.end));
    }

    if (inputs.length === 0) return results;
    // Up to SIGN_AHEAD chunks are being signed while this thread validates the next and stores the oldest signed
    // one. A chunk's store starts once the one before has committed (or failed); it need not wait until that one
    // is durable, and this thread validates meanwhile. The batch returns when every chunk is durable.
    const signing: Array<{ c: Chunk; st: Promise<Staged> }> = [];
    const finishing: Array<Promise<void>> = [];
    let lastCommitted: Promise<void> = Promise.resolve();
    let pos = 0;
    while (pos < inputs.length || signing.length > 0) {
      while (pos < inputs.length && signing.length < SIGN_AHEAD) {
        const c = await prep(pos);
        pos = c.end;
        signing.push({ c, st: stageOf(c) });
      }
      const { c, st } = signing.shift()!;
      const staged = await st;
      const { done, committed } = inCommitOrder(lastCommitted, (onCommit) => finishChunk(c, staged, onCommit));
      lastCommitted = committed;
      finishing.push(done);
    }
    await Promise.all(finishing);
    // Replays were answered from what was read: those earlier commits must be durable too.
    await uow.durable?.();
    return results;
  }

  return { issueBatch };
}
