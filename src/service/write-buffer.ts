/**
 * Group commit: every job change is queued here and written with all others of the same turn of the event loop in one
 * transaction. `write` resolves once the job's latest state is durable, so SubmitJob can answer only after that;
 * `barrier` lets reads see everything written before them.
 */
import type { Store } from '../core/ports.js';
import type { Job } from '../core/types.js';

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class WriteBuffer {
  private pending = new Map<string, Job>();
  private waiters: Waiter[] = [];
  private scheduled = false;
  private inFlight: Promise<void> = Promise.resolve();
  /** Called with every batch after it committed (e.g. to drop terminal jobs from memory). */
  onCommitted: (jobs: readonly Job[]) => void = () => {};

  constructor(private readonly store: Store) {}

  /** Queues the job's current state; resolves when it is committed. */
  write(job: Job): Promise<void> {
    this.pending.set(job.jobId, job);
    return this.waitForFlush();
  }

  /** Queues without waiting (the caller does not need to know when it is durable). */
  enqueue(job: Job): void {
    this.pending.set(job.jobId, job);
    this.schedule();
  }

  /** Resolves once everything queued so far is committed. */
  barrier(): Promise<void> {
    if (this.pending.size === 0) return this.inFlight;
    return this.waitForFlush();
  }

  private waitForFlush(): Promise<void> {
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.schedule();
    return p;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.inFlight = this.inFlight.then(() => this.flush());
    });
  }

  private async flush(): Promise<void> {
    if (this.pending.size === 0 && this.waiters.length === 0) return;
    const batch = [...this.pending.values()];
    const waiters = this.waiters;
    this.pending = new Map();
    this.waiters = [];
    try {
      await this.store.writeJobs(batch);
      this.onCommitted(batch);
      for (const w of waiters) w.resolve();
    } catch (err) {
      for (const w of waiters) w.reject(err);
    }
  }
}
