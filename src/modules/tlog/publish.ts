/**
 * Publishing signed checkpoints: when `checkpointMaxEntries` entries wait, or `checkpointIntervalSeconds` after the
 * previous one when any entry waits (a timer armed by commits; with a lease, every instance looks every interval),
 * and on demand. Signing happens outside the write transaction; checkpoints are stored strictly increasing.
 */
import type { Clock, Logger, UnitOfWork } from "../kernel.js";
import { signCheckpointAsync, type AsyncNoteSigner } from "./checkpoint.js";
import type { TreeEdge } from "./edge.js";
import { b64, type CheckpointInfo } from "./model.js";
import type { CheckpointRecord, TlogRepo } from "./ports.js";

export interface PublishDeps<R extends { tlog: TlogRepo }> {
  uow: UnitOfWork<R>;
  clock: Clock;
  log: Logger;
  edge: TreeEdge<R>;
  origin: string;
  noteSigner: AsyncNoteSigner;
  checkpointIntervalSeconds: number;
  checkpointMaxEntries: number;
  /** Arm the background timers. */
  auto: boolean;
  checkpointLease?: () => Promise<boolean>;
}

export function createPublisher<R extends { tlog: TlogRepo }>(deps: PublishDeps<R>) {
  const { uow, clock, log, edge, auto } = deps;
  /** Last published checkpoint (size and time); undefined until loaded. */
  let last: { size: number; at: number } | undefined;
  /** uow.changeMark() when `last` was loaded (another instance may publish checkpoints too). */
  let seenMark: number | undefined;
  let timer: NodeJS.Timeout | null = null;
  let publishing: Promise<CheckpointInfo | null> = Promise.resolve(null);
  let closed = false;

  async function lastCheckpoint(): Promise<{ size: number; at: number }> {
    if (!last) {
      const cp = await uow.read.tlog.latestCheckpoint();
      last = cp ? { size: cp.size, at: cp.createdAt.getTime() } : { size: -1, at: 0 };
    }
    return last;
  }

  /** After each COMMIT: publish at once when enough entries wait, else arm the interval timer. */
  function onCommitted(): void {
    if (closed || !auto) return;
    const committed = edge.committedSize();
    if (last && committed !== undefined && committed - Math.max(last.size, 0) >= deps.checkpointMaxEntries) {
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
            const size = edge.committedSize();
            if (!closed && size !== undefined && last && size > last.size && !timer) onCommitted();
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
      const tree = mark !== undefined ? await edge.databaseFrontier() : await edge.committedFrontier();
      const size = tree.size;
      const now = clock.now();
      if (size <= prev.size) return null;
      if (!force) {
        const due = size - Math.max(prev.size, 0) >= deps.checkpointMaxEntries || now.getTime() - prev.at >= deps.checkpointIntervalSeconds * 1000;
        if (!due || size === 0) return null;
      }
      const root = tree.root();
      // Sign outside the write transaction (kernel rule: no slow work while holding the write lock).
      const note = await signCheckpointAsync({ origin: deps.origin, size, root }, deps.noteSigner);
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

  // With a lease: every instance looks every interval (the holder signs, the others renew their claim).
  const leaseTimer = auto && deps.checkpointLease
    ? setInterval(() => void maybeCheckpoint().catch((e) => log.error({ err: e }, "tlog: checkpoint failed")), deps.checkpointIntervalSeconds * 1000)
    : null;
  leaseTimer?.unref();

  /** Stops the checkpoint timer and waits for a publication in flight. */
  async function close(): Promise<void> {
    closed = true;
    if (timer) clearTimeout(timer);
    timer = null;
    if (leaseTimer) clearInterval(leaseTimer);
    await publishing;
  }

  // Load the last checkpoint time early so the first commits can schedule correctly.
  void lastCheckpoint().catch((e) => log.error({ err: e }, "tlog: cannot read the last checkpoint"));

  return { publish, maybeCheckpoint, onCommitted, close, isClosed: () => closed };
}
