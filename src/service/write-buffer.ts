/**
 * Group commit: every job change is queued here and written with all others of the same turn of the event loop in one
 * transaction (a batch). `write` resolves once the job's latest state is durable, so SubmitJob can answer only after
 * that; `barrier` lets reads see everything written before them.
 *
 * Two kinds of change. An ordered change (the default) may follow from other jobs' changes (a dependency that ended,
 * an array's children): its batch starts only when no other batch is in flight, so it commits after everything
 * queued before it, and nothing else starts while it waits. An independent change follows only from the job's own
 * earlier states (a new job; its attempt starting, running, ending): batches of those commit side by side, up to
 * `lanes` at once, so a store whose commits wait on the disk (PostgreSQL) is not held to one commit at a time; a
 * job's versions still commit in order (a job in a batch in flight waits for it). With one lane everything is written
 * in order.
 *
 * A deferred change (`enqueueDeferred`: a job's RUNNING) is queued only after a short delay, unless the job changes
 * again before (then only the later state is written): a short job's end supersedes its RUNNING, one row write less.
 */
import type { Job } from '../core/types.js';

interface Entry {
  job: Job;
  /** When it was first queued since its last batch (the oldest change of it not yet committed). */
  seq: number;
  ordered: boolean;
}

interface Waiter {
  /** Everything queued up to this point must be committed. */
  upTo: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Batch {
  /** The oldest change in it, and the last one queued when it started. */
  from: number;
  to: number;
  ids: Set<string>;
}

export class WriteBuffer {
  /** In the order first queued, so the first entry is the oldest. */
  private readonly queued = new Map<string, Entry>();
  private orderedQueued = 0;
  private readonly inFlight = new Set<Batch>();
  private waiters: Waiter[] = [];
  private seq = 0;
  private scheduled = false;
  /** Deferred changes not queued yet (see enqueueDeferred). */
  private readonly deferred = new Map<string, Job>();
  private deferTimer: NodeJS.Timeout | undefined;
  /** Called with every batch after it committed (e.g. to drop terminal jobs from memory). */
  onCommitted: (jobs: readonly Job[]) => void = () => {};

  /**
   * `commit` writes one batch in one transaction (e.g. a fenced Store.writeJobs, or Store.insertJobs); `lanes` is how
   * many batches of independent changes may be committing at once (Store.writeLanes).
   */
  constructor(
    private readonly commit: (jobs: readonly Job[]) => Promise<void>,
    private readonly lanes = 1,
    private readonly deferMs = 0,
  ) {}

  /** Queues the job's current state (ordered); resolves when it is committed, and everything queued before it. */
  write(job: Job): Promise<void> {
    this.add(job, true);
    return this.waitForFlush();
  }

  /** As `write`, for a change that follows only from the job's own earlier states (a new job, its attempt). */
  writeIndependent(job: Job): Promise<void> {
    this.add(job, false);
    return this.waitForFlush();
  }

  /** Queues without waiting (the caller does not need to know when it is durable). */
  enqueue(job: Job): void {
    this.add(job, true);
    this.schedule();
  }

  /** As `enqueue`, for a change that follows only from the job's own earlier states. */
  enqueueIndependent(job: Job): void {
    this.add(job, false);
    this.schedule();
  }

  /**
   * As `enqueueIndependent`, queued `deferMs` later (the constructor's) unless the job changes again first: for a
   * change nobody waits for and a later one may soon supersede (RUNNING, which a short job's end follows at once).
   */
  enqueueDeferred(job: Job): void {
    if (this.deferMs <= 0 || this.queued.has(job.jobId)) return this.enqueueIndependent(job);
    this.deferred.set(job.jobId, job);
    if (!this.deferTimer) {
      this.deferTimer = setTimeout(() => this.undefer(), this.deferMs);
      this.deferTimer.unref();
    }
  }

  /** Queues the deferred changes now. */
  private undefer(): void {
    if (this.deferTimer) clearTimeout(this.deferTimer);
    this.deferTimer = undefined;
    for (const job of this.deferred.values()) this.add(job, false);
    this.deferred.clear();
    this.schedule();
  }

  /** Whether a change of the job is deferred, queued or committing (the object it writes must stay the job's). */
  holds(jobId: string): boolean {
    if (this.queued.has(jobId) || this.deferred.has(jobId)) return true;
    for (const b of this.inFlight) if (b.ids.has(jobId)) return true;
    return false;
  }

  /** Resolves once everything queued (or deferred) so far is committed. */
  barrier(): Promise<void> {
    if (this.deferred.size > 0) this.undefer();
    if (this.queued.size === 0 && this.inFlight.size === 0) return Promise.resolve();
    return this.waitForFlush();
  }

  private add(job: Job, ordered: boolean): void {
    this.deferred.delete(job.jobId); // superseded: the batch writes the job's latest state
    const queued = this.queued.get(job.jobId);
    if (!queued) {
      this.queued.set(job.jobId, { job, seq: ++this.seq, ordered });
      if (ordered) this.orderedQueued++;
      return;
    }
    queued.job = job; // the batch writes the job's state as of when it starts
    if (ordered && !queued.ordered) {
      queued.ordered = true;
      this.orderedQueued++;
    }
  }

  private waitForFlush(): Promise<void> {
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ upTo: this.seq, resolve, reject }));
    this.schedule();
    return p;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.start();
    });
  }

  /** Starts what may start now (see the file comment). */
  private start(): void {
    if (this.queued.size === 0) return;
    const from = this.queued.values().next().value!.seq;
    let entries: Entry[];
    if (this.orderedQueued > 0) {
      if (this.inFlight.size > 0) return; // started again when the batches in flight end
      entries = [...this.queued.values()];
      this.queued.clear();
      this.orderedQueued = 0;
    } else {
      if (this.inFlight.size >= this.lanes) return;
      entries = [];
      for (const [id, e] of this.queued) {
        if (this.isInFlight(id)) continue; // its earlier version commits first
        entries.push(e);
        this.queued.delete(id);
      }
      if (entries.length === 0) return;
    }
    const jobs = entries.map((e) => e.job);
    const batch: Batch = { from, to: this.seq, ids: new Set(jobs.map((j) => j.jobId)) };
    this.inFlight.add(batch);
    void this.commit(jobs).then(
      () => {
        this.inFlight.delete(batch);
        this.onCommitted(jobs);
        this.settle();
      },
      (err: unknown) => {
        this.inFlight.delete(batch);
        // Whoever waited for this batch learns that it failed; later waiters wait for their own batches.
        const failed = (w: Waiter) => w.upTo >= batch.from && w.upTo <= batch.to;
        for (const w of this.waiters.filter(failed)) w.reject(err);
        this.waiters = this.waiters.filter((w) => !failed(w));
        this.settle();
      },
    );
    // More may go beside this batch in a later turn.
    if (this.queued.size > 0) this.schedule();
  }

  private isInFlight(jobId: string): boolean {
    for (const b of this.inFlight) if (b.ids.has(jobId)) return true;
    return false;
  }

  /** Resolves the waiters whose changes are all committed, and starts what waited for a free lane. */
  private settle(): void {
    let oldest = this.queued.size > 0 ? this.queued.values().next().value!.seq : Infinity;
    for (const b of this.inFlight) oldest = Math.min(oldest, b.from);
    let n = 0;
    while (n < this.waiters.length && this.waiters[n]!.upTo < oldest) n++;
    const done = this.waiters.splice(0, n);
    for (const w of done) w.resolve();
    this.start();
  }
}
