/**
 * The engine's RUNNABLE index: per queue ARN, the ids of RUNNABLE jobs (and of array parents with RUNNABLE children)
 * in run order (scheduler/runnable-index.ts): first in, first out for a queue without a fair-share policy; per share
 * identifier, by schedulingPriority (higher first) then first in, first out, for a fair-share queue. Each id remembers
 * where it was filed, so it is removed in O(1) whatever changed since.
 */
import { QueueRunnable, type ShareRunnable } from '../../scheduler/runnable-index.js';

interface Filed {
  queueArn: string;
  share: string | undefined;
  priority: number;
}

export class RunnableQueues {
  private readonly queues = new Map<string, QueueRunnable<string>>();
  private readonly filed = new Map<string, Filed>();

  /** Whether no queue holds a RUNNABLE entry. */
  get empty(): boolean {
    return this.filed.size === 0;
  }

  /**
   * Files `id` in its queue: under `share` (with `priority`) for a fair-share queue, else first in, first out.
   * Filing an id again keeps its place.
   */
  add(queueArn: string, id: string, share?: string, priority = 0): void {
    if (this.filed.has(id)) return;
    let q = this.queues.get(queueArn);
    if (!q) this.queues.set(queueArn, (q = new QueueRunnable()));
    q.add(id, id, share, priority);
    this.filed.set(id, { queueArn, share, priority });
  }

  delete(id: string): void {
    const f = this.filed.get(id);
    if (!f) return;
    this.filed.delete(id);
    const q = this.queues.get(f.queueArn);
    q?.delete(id, f.share, f.priority);
    if (q && q.size === 0) this.queues.delete(f.queueArn);
  }

  /** The queue's first-in-first-out ids (a queue without a fair-share policy). */
  fifo(queueArn: string): Iterable<string> {
    return this.queues.get(queueArn)?.fifo.values() ?? [];
  }

  /** The queue's shares, each with its ids in run order (a fair-share queue). */
  shares(queueArn: string): ReadonlyMap<string, ShareRunnable<string>> {
    return this.queues.get(queueArn)?.shares ?? new Map<string, ShareRunnable<string>>();
  }

  /** Every id of the queue: the FIFO part, then each share's. */
  *ids(queueArn: string): Generator<string> {
    const q = this.queues.get(queueArn);
    if (!q) return;
    yield* [...q.fifo.keys()];
    for (const s of [...q.shares.values()]) for (const [id] of [...s.entries()]) yield id;
  }

  /** The first `n` ids of every queue's FIFO part and of every share: the jobs a scheduling pass reaches first. */
  *fronts(n: number): Generator<string> {
    for (const q of this.queues.values()) {
      let i = 0;
      for (const id of q.fifo.keys()) {
        if (i++ >= n) break;
        yield id;
      }
      for (const s of q.shares.values()) {
        i = 0;
        for (const [id] of s.entries()) {
          if (i++ >= n) break;
          yield id;
        }
      }
    }
  }

  /** How many entries the queue holds (an array parent is one entry, whatever its children). */
  size(queueArn: string): number {
    return this.queues.get(queueArn)?.size ?? 0;
  }

  /** The queue an id is filed in, if any. */
  queueOf(id: string): string | undefined {
    return this.filed.get(id)?.queueArn;
  }

  /** Whether the queue has RUNNABLE entries. */
  has(queueArn: string): boolean {
    return this.queues.has(queueArn);
  }
}
