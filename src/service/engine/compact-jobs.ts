/**
 * RUNNABLE jobs the engine holds without their documents (core/compact-runnable.ts): with 1,000,000 queued, a whole
 * Job per queued job cost the leader about 620 bytes of live heap each (its ARN, name, attempts and container, and
 * the garbage of parsing them), about twice that in RSS. A compact record keeps what scheduling, why-waits and the
 * queue snapshot read; the document is read back (`fetch`) before anything changes the job: it starts, is cancelled
 * or terminated, or a queue time limit cancels it. A new leader loads RUNNABLE jobs compactly; a job submitted while
 * more than `hotLimit` jobs are in memory is let go of once it is committed and filed.
 *
 * A compact job is always filed in the RUNNABLE index, and the index's entry for it is its record
 * (engine/runnable-queues.ts): holding a job compactly is filing it with its record, reading it back files it with the
 * whole job instead, so no second map holds the records.
 */
import { compactOf, isCompact, mayBeCompact } from '../../core/compact-runnable.js';
import type { CompactRunnable, Job } from '../../core/types.js';
import type { RunnableQueues } from './runnable-queues.js';

export class CompactJobs {
  /** Reads in flight, by job id: a second caller waits for the same read. */
  private readonly reading = new Map<string, Promise<void>>();

  /**
   * `read` returns stored documents by id; `take` receives each document read back, once, and returns the object the
   * engine holds for it (interned), which the RUNNABLE index then files in the record's place.
   */
  constructor(
    private readonly runnable: RunnableQueues,
    private readonly read: (ids: string[]) => Promise<Job[]>,
    private readonly take: (job: Job) => Job,
  ) {}

  get size(): number {
    return this.runnable.compactSize;
  }

  has(id: string): boolean {
    return isCompact(this.runnable.get(id));
  }

  get(id: string): CompactRunnable | undefined {
    const entry = this.runnable.get(id);
    return isCompact(entry) ? entry : undefined;
  }

  /** Holds `job`, filed in the RUNNABLE index, compactly if it may be (see mayBeCompact); true if it is now held. */
  letGo(job: Job): boolean {
    const filed = this.runnable.get(job.jobId);
    return mayBeCompact(job) && filed !== undefined && !isCompact(filed) && this.runnable.swap(compactOf(job));
  }

  /** Reads back the documents of those of `ids` held compactly; resolves once each was handed to `take`. */
  fetch(ids: Iterable<string>): Promise<void> {
    const waits: Promise<void>[] = [];
    const want: string[] = [];
    for (const id of ids) {
      const inFlight = this.reading.get(id);
      if (inFlight) waits.push(inFlight);
      else if (this.has(id)) want.push(id);
    }
    if (want.length) {
      const p = this.read(want)
        .then((rows) => {
          for (const row of rows) if (this.has(row.jobId)) this.runnable.swap(this.take(row));
        })
        .finally(() => {
          for (const id of want) this.reading.delete(id);
        });
      for (const id of want) this.reading.set(id, p);
      waits.push(p);
    }
    return waits.length ? Promise.all(waits).then(() => {}) : Promise.resolve();
  }
}
