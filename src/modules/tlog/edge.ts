/**
 * The right edge of the tree (O(log n) peaks) as this process knows it: the committed edge, the tip of a store
 * transaction still open (PostgreSQL groups units of work), and each write transaction's private copy, published
 * only after COMMIT. Appends extend the copy; checkpoints read the committed edge.
 */
import type { Logger, TxHooks, UnitOfWork } from "../kernel.js";
import { Frontier, rangeNodes } from "./merkle.js";
import type { TlogRepo } from "./ports.js";

/** A write transaction's private copy of the edge; `broken` once an append in it failed. */
export interface TxState {
  frontier: Frontier;
  broken: boolean;
}

export async function loadFrontier(repo: TlogRepo, size: number): Promise<Frontier> {
  if (size === 0) return Frontier.empty();
  return Frontier.fromPeaks(size, await repo.getNodes(rangeNodes(0, size)));
}

export interface TreeEdgeDeps<R extends { tlog: TlogRepo }> {
  uow: UnitOfWork<R>;
  log: Logger;
  /** Called after every COMMIT that moved the committed edge. */
  onCommitted: () => void;
}

export function createTreeEdge<R extends { tlog: TlogRepo }>(deps: TreeEdgeDeps<R>) {
  const { uow, log } = deps;
  /** The tree as of the last COMMIT this process saw (null until first needed). */
  let committed: Frontier | null = null;
  /**
   * The tree as of the last unit of work kept in the store transaction still open (PostgreSQL groups units into
   * one transaction: the next unit continues from here); null when no group is open or after any rollback.
   */
  let tip: Frontier | null = null;
  const pending = new WeakMap<TxHooks, Promise<TxState>>();

  /** The private copy of the edge for this write transaction (made on its first append). */
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
        deps.onCommitted();
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

  /** The committed edge this process knows, loaded once under the write lock. */
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

  return {
    stateFor,
    committedFrontier,
    databaseFrontier,
    /** Size of the committed edge in memory, if any. */
    committedSize: (): number | undefined => committed?.size,
  };
}

export type TreeEdge<R extends { tlog: TlogRepo }> = ReturnType<typeof createTreeEdge<R>>;
