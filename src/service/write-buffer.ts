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
 *
 * A failed batch rejects whoever waited for it, and its changes are dropped (inserts: SubmitJob answers the client
 * with the error). Where `retryFailed` says so (the engine's writes: the change already happened in memory, and a
 * store left behind it would show a job RUNNING forever), its changes are queued again in their place instead and
 * written once the store answers again (after 100 ms, doubling up to 2 s while it keeps failing); whoever waited for
 * them waits on.
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
  entries: Entry[];
}

const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 2000;

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
  /** Failed batches in a row, and the wait before the next batch starts (set after a failure that is retried). */
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
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
    private readonly retryFailed: (err: unknown) => boolean = () => false,
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

  /**
   * Resolves once the changes of `ids` queued (or deferred) so far are committed: a read of those jobs then sees
   * them, without waiting for the rest of the queue (as `barrier` does) when none of them has a change pending.
   */
  barrierFor(ids: Iterable<string>): Promise<void> {
    let upTo = -1;
    for (const id of ids) {
      if (this.deferred.has(id)) this.undefer();
      const q = this.queued.get(id);
      if (q) upTo = Math.max(upTo, q.seq);
      for (const b of this.inFlight) if (b.ids.has(id)) upTo = Math.max(upTo, b.from);
    }
    return this.waitUpTo(upTo);
  }

  /** As `barrierFor`, for the jobs `matches` picks (e.g. those of one queue, for a listing of it). */
  barrierWhere(matches: (job: Job) => boolean): Promise<void> {
    for (const job of this.deferred.values())
      if (matches(job)) {
        this.undefer();
        break;
      }
    let upTo = -1;
    for (const e of this.queued.values()) if (matches(e.job)) upTo = Math.max(upTo, e.seq);
    for (const b of this.inFlight) if (b.entries.some((e) => matches(e.job))) upTo = Math.max(upTo, b.from);
    return this.waitUpTo(upTo);
  }

  /** Resolves once every change queued up to `upTo` is committed (at once for -1: nothing to wait for). */
  private waitUpTo(upTo: number): Promise<void> {
    if (upTo < 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      // Kept in order of upTo (settle resolves a prefix): this one usually goes near the end.
      let i = this.waiters.length;
      while (i > 0 && this.waiters[i - 1]!.upTo > upTo) i--;
      this.waiters.splice(i, 0, { upTo, resolve, reject });
      this.schedule();
    });
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
    if (this.queued.size === 0 || this.retryTimer) return;
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
    const batch: Batch = { from, to: this.seq, ids: new Set(jobs.map((j) => j.jobId)), entries };
    this.inFlight.add(batch);
    void this.commit(jobs).then(
      () => {
        this.inFlight.delete(batch);
        this.failures = 0;
        this.onCommitted(jobs);
        this.settle();
      },
      (err: unknown) => {
        this.inFlight.delete(batch);
        if (this.retryFailed(err)) {
          this.requeue(batch.entries); // its waiters wait on for the batch that writes it
          return;
        }
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

  /**
   * Queues a failed batch's changes again where they were, in the order first queued (a job changed again
   * meanwhile is written once, in its latest state, as old as its oldest change not yet committed), and holds every
   * batch back for a while.
   */
  private requeue(failed: readonly Entry[]): void {
    const entries = new Map<string, Entry>();
    for (const e of failed) {
      const later = this.queued.get(e.job.jobId);
      this.queued.delete(e.job.jobId);
      entries.set(e.job.jobId, later ? { job: later.job, seq: e.seq, ordered: e.ordered || later.ordered } : e);
    }
    const all = [...entries.values(), ...this.queued.values()].sort((a, b) => a.seq - b.seq);
    this.queued.clear();
    for (const e of all) this.queued.set(e.job.jobId, e); // the first entry stays the oldest
    this.orderedQueued = 0;
    for (const e of this.queued.values()) if (e.ordered) this.orderedQueued++;
    this.failures++;
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        this.start();
      },
      Math.min(RETRY_FIRST_MS * 2 ** (this.failures - 1), RETRY_MAX_MS),
    );
    this.retryTimer.unref();
  }

  private isInFlight(jobId: string): boolean {
    for (const b of this.inFlight) if (b.ids.has(jobId)) return true;
    return false;
  }

  /**
   * Resolves the waiters whose changes are all committed, and schedules what waited for a free lane. Scheduled, not
   * started: a commit can land in the middle of a turn (Store.deliverCommitted), and the next batch then takes what
   * the rest of the turn queues, as one commit, instead of the few changes queued so far (decision 0018).
   */
  private settle(): void {
    let oldest = this.queued.size > 0 ? this.queued.values().next().value!.seq : Infinity;
    for (const b of this.inFlight) oldest = Math.min(oldest, b.from);
    let n = 0;
    while (n < this.waiters.length && this.waiters[n]!.upTo < oldest) n++;
    const done = this.waiters.splice(0, n);
    for (const w of done) w.resolve();
    this.schedule();
  }
}
