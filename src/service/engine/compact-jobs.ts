/**
 * RUNNABLE jobs the engine holds without their documents (core/compact-runnable.ts): with 1,000,000 queued, a whole
 * Job per queued job cost the leader about 620 bytes of live heap each (its ARN, name, attempts and container, and
 * the garbage of parsing them), about twice that in RSS. A compact record keeps what scheduling, why-waits and the
 * queue snapshot read; the document is read back (`fetch`) before anything changes the job: it starts, is cancelled
 * or terminated, or a queue time limit cancels it. A new leader loads RUNNABLE jobs compactly; a job submitted while
 * more than `hotLimit` jobs are in memory is let go of once it is committed and filed.
 */
import { compactOf, mayBeCompact } from '../../core/compact-runnable.js';
import type { CompactRunnable, Job } from '../../core/types.js';

export class CompactJobs {
  private readonly held = new Map<string, CompactRunnable>();
  /** Reads in flight, by job id: a second caller waits for the same read. */
  private readonly reading = new Map<string, Promise<void>>();

  /**
   * `read` returns stored documents by id; `take` receives each document read back, once (the engine files it as a
   * whole job again).
   */
  constructor(
    private readonly read: (ids: string[]) => Promise<Job[]>,
    private readonly take: (job: Job) => void,
  ) {}

  get size(): number {
    return this.held.size;
  }

  has(id: string): boolean {
    return this.held.has(id);
  }

  get(id: string): CompactRunnable | undefined {
    return this.held.get(id);
  }

  hold(record: CompactRunnable): void {
    this.held.set(record.jobId, record);
  }

  /** Holds `job` compactly if it may be (see mayBeCompact); true if it is now held. */
  letGo(job: Job): boolean {
    if (!mayBeCompact(job)) return false;
    this.held.set(job.jobId, compactOf(job));
    return true;
  }

  /** Reads back the documents of those of `ids` held compactly; resolves once each was handed to `take`. */
  fetch(ids: Iterable<string>): Promise<void> {
    const waits: Promise<void>[] = [];
    const want: string[] = [];
    for (const id of ids) {
      const inFlight = this.reading.get(id);
      if (inFlight) waits.push(inFlight);
      else if (this.held.has(id)) want.push(id);
    }
    if (want.length) {
      const p = this.read(want)
        .then((rows) => {
          for (const row of rows) if (this.held.delete(row.jobId)) this.take(row);
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
