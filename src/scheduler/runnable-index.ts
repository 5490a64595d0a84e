/**
 * Ordered RUNNABLE structures the engine keeps per queue, so a scheduling pass reads jobs in run order without
 * sorting anything (Slurm and Armada keep per-partition and per-queue ordered lists for the same reason):
 * - a FIFO queue: one insertion-ordered map (first in, first out);
 * - a fair-share queue: one ShareRunnable per share identifier, each ordered by schedulingPriority (higher first),
 *   then first in, first out.
 * Insert and delete are O(1) (plus O(distinct priorities) when a priority appears or disappears). Pure: no I/O.
 */

/** Buckets keyed by schedulingPriority, visited highest first (the ordering ShareRunnable and ShareIds share). */
class PriorityBuckets<B extends { readonly size: number }> {
  private readonly buckets = new Map<number, B>();
  /** Distinct priorities present, highest first. */
  private priorities: number[] = [];

  constructor(private readonly make: () => B) {}

  get(priority: number): B | undefined {
    return this.buckets.get(priority);
  }

  /** The bucket of `priority`, made (and placed in order) if it is new. */
  open(priority: number): B {
    let b = this.buckets.get(priority);
    if (!b) {
      this.buckets.set(priority, (b = this.make()));
      let i = 0;
      while (i < this.priorities.length && this.priorities[i]! > priority) i++;
      this.priorities.splice(i, 0, priority);
    }
    return b;
  }

  /** Forgets the bucket of `priority` once it is empty. */
  closeIfEmpty(priority: number): void {
    if (this.buckets.get(priority)?.size !== 0) return;
    this.buckets.delete(priority);
    this.priorities = this.priorities.filter((p) => p !== priority);
  }

  /** The buckets, highest priority first. */
  *inOrder(): Generator<B> {
    for (const p of [...this.priorities]) {
      const b = this.buckets.get(p);
      if (b) yield b;
    }
  }
}

/** One share's RUNNABLE entries: buckets by schedulingPriority, each first in, first out. */
export class ShareRunnable<T> {
  private readonly buckets = new PriorityBuckets(() => new Map<string, T>());
  size = 0;

  add(id: string, priority: number, item: T): void {
    const b = this.buckets.open(priority);
    if (!b.has(id)) this.size++;
    b.set(id, item);
  }

  delete(id: string, priority: number): boolean {
    if (!this.buckets.get(priority)?.delete(id)) return false;
    this.size--;
    this.buckets.closeIfEmpty(priority);
    return true;
  }

  get(id: string, priority: number): T | undefined {
    return this.buckets.get(priority)?.get(id);
  }

  *entries(): Generator<[string, T]> {
    for (const b of this.buckets.inOrder()) yield* b;
  }

  *[Symbol.iterator](): Generator<T> {
    for (const [, v] of this.entries()) yield v;
  }
}

/** One queue's RUNNABLE entries: FIFO, or per share identifier when the queue has a fair-share policy. */
export class QueueRunnable<T> {
  readonly fifo = new Map<string, T>();
  readonly shares = new Map<string, ShareRunnable<T>>();

  get size(): number {
    let n = this.fifo.size;
    for (const s of this.shares.values()) n += s.size;
    return n;
  }

  /** Adds an entry; `share` undefined puts it in the FIFO part (a queue without a policy). */
  add(id: string, item: T, share?: string, priority = 0): void {
    if (share === undefined) {
      this.fifo.set(id, item);
      return;
    }
    let s = this.shares.get(share);
    if (!s) this.shares.set(share, (s = new ShareRunnable()));
    s.add(id, priority, item);
  }

  delete(id: string, share?: string, priority = 0): boolean {
    if (share === undefined) return this.fifo.delete(id);
    const s = this.shares.get(share);
    if (!s?.delete(id, priority)) return false;
    if (s.size === 0) this.shares.delete(share);
    return true;
  }

  get(id: string, share?: string, priority = 0): T | undefined {
    return share === undefined ? this.fifo.get(id) : this.shares.get(share)?.get(id, priority);
  }
}

/**
 * One share's RUNNABLE ids, as ShareRunnable orders them, without an item per id: the engine finds each job by id
 * (its own map), and at 1,000,000 queued the value slot of a map entry per job is 8 MB more to keep.
 */
export class ShareIds {
  private readonly buckets = new PriorityBuckets(() => new Set<string>());
  size = 0;

  add(id: string, priority: number): void {
    const b = this.buckets.open(priority);
    if (b.has(id)) return;
    b.add(id);
    this.size++;
  }

  delete(id: string, priority: number): boolean {
    if (!this.buckets.get(priority)?.delete(id)) return false;
    this.size--;
    this.buckets.closeIfEmpty(priority);
    return true;
  }

  /** The ids in run order: by priority, highest first, then first in, first out. */
  *[Symbol.iterator](): Generator<string> {
    for (const b of this.buckets.inOrder()) yield* b;
  }
}

/** One queue's RUNNABLE ids: FIFO, or per share identifier when the queue has a fair-share policy (as QueueRunnable). */
export class QueueIds {
  readonly fifo = new Set<string>();
  readonly shares = new Map<string, ShareIds>();

  get size(): number {
    let n = this.fifo.size;
    for (const s of this.shares.values()) n += s.size;
    return n;
  }

  /** Adds an id; `share` undefined puts it in the FIFO part (a queue without a policy). */
  add(id: string, share?: string, priority = 0): void {
    if (share === undefined) {
      this.fifo.add(id);
      return;
    }
    let s = this.shares.get(share);
    if (!s) this.shares.set(share, (s = new ShareIds()));
    s.add(id, priority);
  }

  /** Removes an id from the FIFO part, or else from `share` (filed with `priority`). */
  delete(id: string, share: string, priority: number): boolean {
    if (this.fifo.delete(id)) return true;
    const s = this.shares.get(share);
    if (!s?.delete(id, priority)) return false;
    if (s.size === 0) this.shares.delete(share);
    return true;
  }
}
