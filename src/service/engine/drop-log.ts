/**
 * Which jobs the engine dropped from memory (their terminal state committed) while a read of the store was in flight.
 * Such a read may have started before that commit and still show the job RUNNABLE or SUBMITTED: a job dropped since
 * the read began is not taken from it, so a job recorded SUCCEEDED is never taken up (and run) again.
 *
 * It also remembers the last RECENT jobs dropped, read or not: a job the engine would take up from a signal alone,
 * without reading it (a follower's RUNNABLE job, see ReplicaIntake.fileFromSignal), is read instead if it was dropped lately
 * (taken up another way, e.g. by a rescan or a cancel, and finished before the signal was handled).
 */
const RECENT = 65_536;

export class DropLog {
  private count = 0;
  /** Job id -> the number of its drop, for drops that a read in flight may not have seen. */
  private readonly dropped = new Map<string, number>();
  private readonly order: [number, string][] = [];
  /** Marks of the reads in flight. */
  private readonly reads: number[] = [];

  /** The last RECENT jobs dropped, as a ring (`recentAt` is the next slot). */
  private readonly recent: (string | undefined)[] = [];
  /** Job id -> its latest slot in `recent`. */
  private readonly recentIds = new Map<string, number>();
  private recentAt = 0;

  /** Records that `jobId` left memory (kept while a read is in flight, and among the last RECENT). */
  drop(jobId: string): void {
    const old = this.recent[this.recentAt];
    if (old !== undefined && this.recentIds.get(old) === this.recentAt) this.recentIds.delete(old);
    this.recent[this.recentAt] = jobId;
    this.recentIds.set(jobId, this.recentAt);
    this.recentAt = (this.recentAt + 1) % RECENT;
    if (this.reads.length === 0) return;
    const n = ++this.count;
    this.dropped.set(jobId, n);
    this.order.push([n, jobId]);
  }

  /** Whether `jobId` is among the last RECENT jobs dropped. */
  droppedRecently(jobId: string): boolean {
    return this.recentIds.has(jobId);
  }

  /** Starts a read: returns its mark, to give to `droppedSince` and then `end`. */
  begin(): number {
    this.reads.push(this.count);
    return this.count;
  }

  /** Whether `jobId` was dropped after the read marked `mark` began. */
  droppedSince(jobId: string, mark: number): boolean {
    return (this.dropped.get(jobId) ?? -1) > mark;
  }

  /** Ends the read marked `mark`; forgets the drops no read in flight can miss. */
  end(mark: number): void {
    const i = this.reads.indexOf(mark);
    if (i >= 0) this.reads.splice(i, 1);
    const oldest = this.reads.length ? Math.min(...this.reads) : Infinity;
    let k = 0;
    while (k < this.order.length && this.order[k]![0] <= oldest) {
      const [n, id] = this.order[k]!;
      if (this.dropped.get(id) === n) this.dropped.delete(id);
      k++;
    }
    if (k) this.order.splice(0, k);
  }
}
