/**
 * Appending events inside the caller's write transaction (the append contract is in index.ts): leaves and the
 * complete subtree hashes they finish are stored in that transaction; the edge copy is published after COMMIT.
 */
import { AppError } from "../../errors.js";
import { sha256 } from "../../crypto/hash.js";
import type { Clock, TxHooks } from "../kernel.js";
import type { TreeEdge } from "./edge.js";
import { leafHash as hashLeaf } from "./merkle.js";
import { b64, leafFor, type AppendResult, type TlogEvent } from "./model.js";
import type { LeafRecord, NodeRecord, TlogRepo } from "./ports.js";

export interface AppendDeps<R extends { tlog: TlogRepo }> {
  edge: TreeEdge<R>;
  clock: Clock;
  /** True once the log is closed: appends are refused. */
  isClosed: () => boolean;
}

export function createAppend<R extends { tlog: TlogRepo }>(deps: AppendDeps<R>) {
  const { edge, clock } = deps;

  async function appendMany(repos: R, tx: TxHooks, events: readonly TlogEvent[]): Promise<AppendResult[]> {
    if (deps.isClosed()) throw new AppError("NOT_READY", "The transparency log is closed.");
    const st = await edge.stateFor(repos, tx);
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

  return { append, appendMany };
}
