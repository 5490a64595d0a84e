/**
 * The engine's RUNNABLE index: per queue ARN, the ids of RUNNABLE jobs (and of array parents with RUNNABLE children)
 * in run order (scheduler/runnable-index.ts): first in, first out for a queue without a fair-share policy; per share
 * identifier, by schedulingPriority (higher first) then first in, first out, for a fair-share queue.
 *
 * Each id is filed with its entry: the whole job, or the compact record of a job held without its document
 * (core/compact-runnable.ts, engine/compact-jobs.ts). The entry says where the id was filed (queue, share, priority:
 * none of them changes while a job is RUNNABLE), so it is removed in O(1), and one map entry per job serves both this
 * index and CompactJobs: at 1,000,000 queued, a separate filing record and map per job cost about 100 bytes each.
 */
import { isCompact } from '../../core/compact-runnable.js';
import type { CompactRunnable, Job } from '../../core/types.js';
import { QueueIds, type ShareIds } from '../../scheduler/runnable-index.js';

/** What an id is filed with: a whole job (or array parent), or a compact record. */
export type RunnableEntry = Job | CompactRunnable;

export class RunnableQueues {
  private readonly queues = new Map<string, QueueIds>();
  private readonly filed = new Map<string, RunnableEntry>();
  private compactCount = 0;

  /** Whether no queue holds a RUNNABLE entry. */
  get empty(): boolean {
    return this.filed.size === 0;
  }

  /** How many entries are compact records. */
  get compactSize(): number {
    return this.compactCount;
  }

  /**
   * Files `entry` in its queue: under its share identifier ('' when it has none) and schedulingPriority (0 when
   * none) if `fair`, else first in, first out. Filing an id again keeps its place and its entry.
   */
  add(entry: RunnableEntry, fair: boolean): void {
    const id = entry.jobId;
    if (this.filed.has(id)) return;
    let q = this.queues.get(entry.jobQueueArn);
    if (!q) this.queues.set(entry.jobQueueArn, (q = new QueueIds()));
    if (fair) q.add(id, entry.shareIdentifier ?? '', entry.schedulingPriority ?? 0);
    else q.add(id);
    this.filed.set(id, entry);
    if (isCompact(entry)) this.compactCount++;
  }

  /** The entry `id` is filed with, if it is filed. */
  get(id: string): RunnableEntry | undefined {
    return this.filed.get(id);
  }

  /**
   * Files the id of `entry` with `entry` instead of what it was filed with, in the same place (a job let go of, or
   * read back whole); false if the id is not filed.
   */
  swap(entry: RunnableEntry): boolean {
    const old = this.filed.get(entry.jobId);
    if (!old) return false;
    this.filed.set(entry.jobId, entry);
    this.compactCount += Number(isCompact(entry)) - Number(isCompact(old));
    return true;
  }

  delete(id: string): void {
    const f = this.filed.get(id);
    if (!f) return;
    this.filed.delete(id);
    if (isCompact(f)) this.compactCount--;
    const q = this.queues.get(f.jobQueueArn);
    q?.delete(id, f.shareIdentifier ?? '', f.schedulingPriority ?? 0);
    if (q && q.size === 0) this.queues.delete(f.jobQueueArn);
  }

  /** The queue's first-in-first-out ids (a queue without a fair-share policy). */
  fifo(queueArn: string): Iterable<string> {
    return this.queues.get(queueArn)?.fifo.values() ?? [];
  }

  /** The queue's shares, each with its ids in run order (a fair-share queue). */
  shares(queueArn: string): ReadonlyMap<string, ShareIds> {
    return this.queues.get(queueArn)?.shares ?? new Map<string, ShareIds>();
  }

  /** Every id of the queue: the FIFO part, then each share's. */
  *ids(queueArn: string): Generator<string> {
    const q = this.queues.get(queueArn);
    if (!q) return;
    yield* [...q.fifo];
    for (const s of [...q.shares.values()]) yield* [...s];
  }

  /**
   * The first `n` ids of every queue's FIFO part and of every share: the jobs a scheduling pass reaches first. With
   * `only`, of the queues it accepts.
   */
  *fronts(n: number, only?: (queueArn: string) => boolean): Generator<string> {
    for (const [arn, q] of this.queues) {
      if (only && !only(arn)) continue;
      let i = 0;
      for (const id of q.fifo) {
        if (i++ >= n) break;
        yield id;
      }
      for (const s of q.shares.values()) {
        i = 0;
        for (const id of s) {
          if (i++ >= n) break;
          yield id;
        }
      }
    }
  }

  /** The queues that hold RUNNABLE entries. */
  queueArns(): IterableIterator<string> {
    return this.queues.keys();
  }

  /** How many entries the queue holds (an array parent is one entry, whatever its children). */
  size(queueArn: string): number {
    return this.queues.get(queueArn)?.size ?? 0;
  }

  /** The queue an id is filed in, if any. */
  queueOf(id: string): string | undefined {
    return this.filed.get(id)?.jobQueueArn;
  }

  /** Whether the queue has RUNNABLE entries. */
  has(queueArn: string): boolean {
    return this.queues.has(queueArn);
  }
}
