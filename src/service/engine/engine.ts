/**
 * The engine: the one place where jobs move through their lifecycle (see core/job-states.ts). It runs only on the
 * replica that holds the leader lease, and every write it makes carries the lease's epoch (a fenced write), so a
 * leader that was paused or cut off and comes back can change nothing.
 *
 * It keeps the active jobs in memory with the scheduling indexes (RUNNABLE per queue, dependents, arrays, what
 * running attempts hold), rebuilt from the store when it starts leading. It learns of work from the store: jobs
 * SUBMITTED on any replica (a `jobs-submitted` signal, and polling as a fallback: ReplicaIntake) and cancel/terminate
 * intents (`job-intents`: StopRequests). On the leader's own replica SubmitJob hands the job over directly
 * (submitLocal), so a single server commits a job RUNNABLE in its first write. Array children are ArrayJobs' part,
 * and the record of an attempt's end is attempt-record.ts'.
 *
 * It publishes what followers need to answer like the leader: the capacity in use and the front of each queue
 * (engine state, for why-waits) and batches of status changes (`job-changes`, for dashboards).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { jobDefinitionNameOfArn, type ArnContext } from '../../core/arn.js';
import { FencedError } from '../../core/errors.js';
import { checkTransition } from '../../core/job-states.js';
import type {
  AttemptExtras,
  Clock,
  ExitReport,
  Fence,
  JobChange,
  LogSink,
  Runtime,
  RuntimeEvents,
  Store,
} from '../../core/ports.js';
import { shouldRetry } from '../../core/retry.js';
import { isTerminal, type CompactRunnable, type HostCapacity, type Job, type JobStatus } from '../../core/types.js';
import { explainWait, neverFits } from '../../scheduler/explain.js';
import type { FairsharePolicy } from '../../scheduler/fair-share.js';
import { placeable, schedule, type Snapshot } from '../../scheduler/schedule.js';
import { ArrayJobs } from './array-jobs.js';
import type { ResourceRegistry } from '../resources.js';
import { WriteBuffer } from '../write-buffer.js';
import { Capacity, type Allocation } from './capacity.js';
import { DropLog } from './drop-log.js';
import { ActivityHistory, HISTORY_SAMPLE_MS } from './activity-history.js';
import { attemptEnvironment } from './attempt-environment.js';
import { endNodes, nodeRuns } from './node-runs.js';
import type { EngineState } from './engine-state.js';
import { publishedQueues, schedQueues, type QueueSources } from './queue-snapshot.js';
import { JobInterner } from './job-interner.js';
import { CompactJobs } from './compact-jobs.js';
import { readSubmittedSignal } from '../../core/submitted-signal.js';
import { ReplicaIntake } from './replica-intake.js';
import { StopRequests } from './stop-requests.js';
import { RunnableQueues } from './runnable-queues.js';
import { ShareLedger } from './share-ledger.js';
import { rebuildShareUsage, widestWindowMs } from './usage-rebuild.js';
import { attemptSpec, recordAttemptEnd, TIMEOUT_REASON } from './attempt-record.js';

export interface EngineOptions {
  arn: ArnContext;
  host: HostCapacity;
  clock: Clock;
  /** Name of this host in `Host EC2 (instance ...) terminated.` reasons. */
  hostName?: string;
  /** How often the engine looks for SUBMITTED jobs and intents in case a signal was lost. */
  pollMs?: number;
  /** How often the dashboard's activity chart is sampled (30 s by default). */
  historySampleMs?: number;
  /** Past this many whole jobs in memory, RUNNABLE ones deep in their queue are held compactly (CompactJobs). */
  wholeJobsLimit?: number;
}

/** How often status changes are sent to other replicas' dashboards, and engine state is published at most. */
const PUBLISH_MS = 100;
/** The published state is rebuilt at most once per this many times what building it last cost, and at least every
 * PUBLISH_MAX_MS (so it takes at most a twentieth of the main thread). */
const PUBLISH_COST_SHARE = 20;
const PUBLISH_MAX_MS = 2000;
/**
 * ...and at most this many bytes of it a millisecond (100 KB/s): the row is rewritten whole, and with many deep queues
 * it holds the first 100 RUNNABLE of each, hundreds of KB that the writer thread committed several times a second
 * beside SubmitJob's rows.
 */
const PUBLISH_BYTES_PER_MS = 100;
/**
 * How far back a rescan for RUNNABLE jobs another replica inserted looks (by their creation time): a lost signal is
 * found within a rescan period, and the rescan reads recent jobs only, not a deep queue.
 */
const RESCAN_WINDOW_MS = 5 * 60_000;
/** How long RUNNING waits to be written, in case the job ends first (see WriteBuffer.enqueueDeferred). */
const RUNNING_DEFER_MS = 50;
/** Whole jobs in memory past which RUNNABLE ones deep in their queue are held compactly (CompactJobs). */
const WHOLE_JOBS_LIMIT = 10_000;
/** RUNNABLE jobs at the front of each queue and share kept whole (read back ahead of their start). */
const FRONT_WHOLE = 16;
/** How often the front is checked for compact jobs to read back, at most, and how many are read at a time. */
const FRONT_READ_MS = 50;
const FRONT_READ_BATCH = 200;

export class Engine implements RuntimeEvents {
  /** Every job not SUCCEEDED/FAILED, plus terminal ones until their last state is committed. */
  private readonly active = new Map<string, Job>();
  /** Per queue ARN: RUNNABLE job ids (and array parents with RUNNABLE children) in run order (FIFO or per share). */
  private readonly runnable = new RunnableQueues();
  /** Shares the equal parts of active jobs (about half their memory at 1,000,000 queued). */
  private readonly interner = new JobInterner();
  /** RUNNABLE jobs held without their documents (not in `active`); read back as whole jobs before they change. */
  private readonly compact = new CompactJobs(
    this.runnable,
    (ids) => this.store.getJobs(ids),
    (row) => this.hold(row),
  );
  private frontReadAt = 0;
  /** vCPUs running per queue, and per share of fair-share queues with their decayed usage. */
  private readonly ledger = new ShareLedger();
  /** Dependency id -> jobs waiting on it. */
  private readonly dependents = new Map<string, Set<string>>();
  /** Released array jobs: their children's compact state, N_TO_N links and stored summaries. */
  private readonly arrays: ArrayJobs;
  /** Jobs other replicas inserted, taken up by pull, signal and rescan. */
  private readonly intake: ReplicaIntake;
  /** CancelJob and TerminateJob, asked here or recorded as intents by any replica. */
  private readonly stops: StopRequests;
  private readonly capacity: Capacity;
  private readonly history = new ActivityHistory();
  private readonly writer: WriteBuffer;
  private fence: Fence | undefined;
  private tickScheduled = false;
  private timers: NodeJS.Timeout[] = [];
  private unsubscribe: (() => void)[] = [];
  private closed = false;
  private changes = new Map<string, JobChange>();
  private publishTimer: NodeJS.Timeout | undefined;
  private publishEveryMs = PUBLISH_MS;
  /** Jobs dropped from memory while a read of new jobs was in flight (see DropLog). */
  private readonly drops = new DropLog();
  runtime!: Runtime;
  logs!: LogSink;
  /** What an attempt gets beyond its job (job-role credentials endpoint, secrets): never stored in the job nor shown. */
  attemptExtras?: (job: Job, attempt: number, pool?: string) => AttemptExtras | undefined;
  /** Called after every status change on this replica (the job's queue and new status); must not throw. */
  onTransition?: (job: Pick<Job, 'jobQueueArn' | 'status'>) => void;
  /** Told how long each scheduling pass took (seconds: plan and hand-off of its starts) and how many it started. */
  onSchedulePass?: (seconds: number, starts: number) => void;
  /** Called once when a fenced write shows that another replica leads now. */
  onFenced?: (err: FencedError) => void;

  constructor(
    private readonly store: Store,
    private readonly registry: ResourceRegistry,
    private readonly opts: EngineOptions,
  ) {
    this.capacity = new Capacity(opts.host, registry);
    // Where commits are round trips that wait on the disk (several lanes: PostgreSQL), RUNNING is deferred a moment.
    this.writer = new WriteBuffer(
      (jobs) => this.fencedWrite(jobs),
      store.writeLanes,
      (store.writeLanes ?? 1) > 1 ? RUNNING_DEFER_MS : 0,
      // A change this engine made in memory is written until it lands (a store error for a moment, e.g. no free
      // connection, must not leave a job RUNNING in the store that ended here); a deposed or closed engine's are
      // dropped: the next term rebuilds from the store.
      (err) => !(err instanceof FencedError) && this.liveFence !== undefined,
    );
    this.arrays = new ArrayJobs({
      now: () => this.now,
      leading: () => this.fence !== undefined,
      writer: this.writer,
      store,
      liveJob: (id) => this.active.get(id),
      setStatus: (job, status, reason) => this.setStatus(job, status, reason),
      changed: (job) => this.changed(job),
      settled: (job) => this.settled(job),
      addRunnable: (job) => this.addRunnable(job),
      dropRunnable: (id) => this.runnable.delete(id),
      kick: () => this.kick(),
    });
    this.intake = new ReplicaIntake({
      leading: () => this.liveFence !== undefined,
      store,
      registry,
      writer: this.writer,
      drops: this.drops,
      known: (id) => this.known(id),
      hold: (row) => this.hold(row),
      intern: (str) => this.interner.string(str),
      admit: (job) => this.admit(job),
      neverFitsReason: (job) => this.neverFitsReason(job),
      addRunnable: (job) => this.addRunnable(job),
      changed: (job) => this.changed(job),
      announce: (id, status, queueArn, pi) => this.announce(id, status, queueArn, pi),
      kick: () => this.kick(),
    });
    this.stops = new StopRequests({
      fence: () => this.liveFence,
      fenced: (err) => this.fenced(err),
      store,
      writer: this.writer,
      compact: this.compact,
      arrays: this.arrays,
      liveJob: (id) => this.active.get(id),
      adopt: (ids) => this.intake.adopt(ids),
      allocation: (id) => this.capacity.get(id),
      runtime: { stop: (jobId, attempt, reason) => this.runtime.stop(jobId, attempt, reason) },
      setFailed: (job, reason) => this.setFailed(job, reason),
    });
    this.writer.onCommitted = (jobs) => {
      for (const j of jobs)
        if (isTerminal(j.status) && this.active.get(j.jobId) === j) {
          this.active.delete(j.jobId);
          this.drops.drop(j.jobId);
        }
    };
  }

  private get now(): number {
    return this.opts.clock();
  }

  /** The fence this engine writes with while it leads and is not closed (a closed engine starts nothing new). */
  private get liveFence(): Fence | undefined {
    return this.closed ? undefined : this.fence;
  }

  /** The epoch this engine leads with, while it leads. */
  get epoch(): number | undefined {
    return this.fence?.epoch;
  }

  private async fencedWrite(jobs: readonly Job[]): Promise<void> {
    if (!this.fence) throw new FencedError(-1, undefined);
    try {
      await this.store.writeJobs(jobs, this.fence);
    } catch (err) {
      if (err instanceof FencedError) this.fenced(err);
      throw err;
    }
  }

  private fenced(err: FencedError): void {
    if (!this.fence) return;
    this.fence = undefined;
    this.onFenced?.(err);
  }

  // ------------------------------------------------------------------ leading

  /**
   * Starts leading with `epoch`: loads the active jobs, re-attaches or settles the attempts that were running, and
   * starts scheduling and listening for work.
   */
  async lead(epoch: number): Promise<void> {
    this.fence = { epoch };
    const loadedFrom = this.now;
    await this.restoreHistory();
    this.timers.push(setInterval(() => this.sampleHistory(), this.opts.historySampleMs ?? HISTORY_SAMPLE_MS));
    this.timers.at(-1)!.unref();
    const compact = await this.store.loadCompactRunnable();
    const jobs = await this.store.loadActiveJobs({ exceptCompact: true });
    const running: { jobId: string; attempt: number }[] = [];
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      this.hold(job);
      if (job.status === 'STARTING' || job.status === 'RUNNING')
        running.push({ jobId: job.jobId, attempt: job.attempts.length + 1 });
      // The API serves while a large load runs (src/server.ts): let it answer now and then. Nothing else reads these
      // maps before the runtime re-attaches the running attempts (below).
      if (i % 20_000 === 19_999) await new Promise((r) => setImmediate(r));
    }
    await this.rebuildUsage(jobs);
    const released = jobs.filter((j) => j.status === 'PENDING' && j.arrayReleased);
    // Arrays first, N_TO_N ones last, so that an array's dependency is rebuilt before it is linked.
    released.sort((a, b) => Number(a.arrayMode === 'N_TO_N') - Number(b.arrayMode === 'N_TO_N'));
    for (const job of released) await this.arrays.rebuild(job);
    // RUNNABLE jobs are filed oldest first, whole and compact ones merged (each list is in that order).
    let c = 0;
    const fileCompactBefore = async (job?: Job): Promise<void> => {
      for (; c < compact.length && (!job || precedes(compact[c]!, job)); c++) {
        this.addRunnable(compact[c]!); // filed with its record: held compactly (CompactJobs)
        if (c % 50_000 === 49_999) await new Promise((r) => setImmediate(r));
      }
    };
    for (const job of jobs) {
      if (job.status === 'SUBMITTED') this.admit(job);
      else if (job.status === 'PENDING' && !job.arrayReleased) this.admit(job);
      else if (job.status === 'RUNNABLE') {
        await fileCompactBefore(job);
        this.addRunnable(job);
      } else if (job.status === 'STARTING' || job.status === 'RUNNING') {
        this.capacity.allocate(job, this.ceOfRecoveredJob(job));
        this.countStart(job);
        this.registry.consumables.acquire(job.consumableResourceProperties?.consumableResourceList, true);
      }
    }
    await fileCompactBefore();
    const gone = await this.runtime.recover(running.map((r) => ({ ...r, pool: this.capacity.get(r.jobId)?.pool })));
    const goneIds = new Set(gone.map((g) => `${g.jobId}#${g.attempt}`));
    for (const r of running) {
      const job = this.active.get(r.jobId)!;
      if (goneIds.has(`${r.jobId}#${r.attempt}`)) {
        this.finishAttempt(job, {
          statusReason: `Host EC2 (instance ${this.opts.hostName ?? hostname()}) terminated.`,
        });
      } else {
        const alloc = this.capacity.get(job.jobId);
        if (alloc) {
          alloc.startedAt = job.startedAt;
          this.armTimeout(job, alloc);
        }
        // Re-attached: open its log stream again (idempotent), in case the crash came before its row was written.
        if (job.container.logStreamName)
          this.logs.open(job.container.logStreamName, {
            jobId: job.jobId,
            attempt: r.attempt,
            ...(job.owner ? { pi: job.owner.pi } : {}),
          });
      }
    }
    // Only now, with the active jobs loaded: a pull during the load would admit a job that the load then replaces
    // with a second object of the same id (one started, the other settled: an illegal transition, a crash).
    if (this.closed) return; // the term ended while loading
    const pollMs = this.opts.pollMs ?? 1000;
    const timers = [
      setInterval(() => this.applyTimeLimits(), 10_000),
      setInterval(() => void this.intake.pullSubmitted(), pollMs),
      setInterval(() => void this.applyIntents(), Math.min(pollMs, 500)),
      setInterval(() => this.letGoDeep(), 5_000),
    ];
    // Jobs other replicas committed RUNNABLE whose signal was lost (e.g. while the listener reconnected): only a store
    // shared by replicas loses signals.
    if (this.store.clusterId)
      timers.push(setInterval(() => void this.intake.rescanRunnable(this.now - RESCAN_WINDOW_MS), pollMs * 10));
    for (const t of timers) t.unref();
    this.timers.push(...timers);
    this.unsubscribe.push(
      this.store.subscribe('jobs-submitted', (payload) => {
        const signal = readSubmittedSignal(payload);
        const read = this.intake.fileFromSignal(signal.runnable);
        // A job whose signal is not taken up now is found by the poll (SUBMITTED) or the rescan (RUNNABLE).
        if (signal.ids.length || read.length) void this.intake.adopt([...signal.ids, ...read]).catch(() => {});
      }),
    );
    this.unsubscribe.push(this.store.subscribe('job-intents', () => void this.applyIntents()));
    // What was submitted or asked for while loading (its signals reached nobody).
    void this.intake.pullSubmitted();
    void this.intake.rescanRunnable(loadedFrom - RESCAN_WINDOW_MS);
    void this.applyIntents();
    this.kick();
    this.sampleHistory();
  }

  /** Seeds fair-share usage from the store: what ran within each decay window under the previous leaders. */
  private async rebuildUsage(active: readonly Job[]): Promise<void> {
    const policies = [...this.registry.schedulingPolicies.values()].flatMap((p) =>
      p.fairsharePolicy ? [p.fairsharePolicy] : [],
    );
    if (!policies.length) return;
    // Terminal ones only: the active jobs were loaded just before (and only this leader writes now).
    const finished = (await this.store.listJobsStoppedSince(this.now - widestWindowMs(policies))).filter((j) =>
      isTerminal(j.status),
    );
    rebuildShareUsage(this.ledger, [...finished, ...active], (q) => this.fairshareOf(q), this.now);
  }

  /** Continues the activity history the previous leader published (the chart survives restarts). */
  private async restoreHistory(): Promise<void> {
    const row = await this.store.getEngineState().catch(() => undefined);
    if (!row) return;
    try {
      this.history.restore((JSON.parse(row.json) as Partial<EngineState>).history, this.now);
    } catch {
      // An unreadable old state only costs the chart its past.
    }
  }

  private sampleHistory(): void {
    const st = this.engineState();
    this.history.add({ t: this.now, runningVcpus: st.host.usedVcpus, queuedJobs: st.queued });
    this.schedulePublish();
  }

  private ceOfRecoveredJob(job: Job): string {
    const q = this.registry.queueByNameOrArn(job.jobQueueArn);
    return job.container.containerInstanceArn ?? q?.computeEnvironmentOrder[0]?.computeEnvironment ?? '';
  }

  /** Stops leading and scheduling; running attempts are left to the runtime (see Runtime.abandon). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    for (const u of this.unsubscribe) u();
    if (this.publishTimer) clearTimeout(this.publishTimer);
    this.capacity.clearTimers();
    if (this.fence) {
      await this.writer.barrier().catch(() => {});
      const st = this.engineState();
      this.history.add({ t: this.now, runningVcpus: st.host.usedVcpus, queuedJobs: st.queued });
      await this.publish().catch(() => {});
    }
  }

  /** Resolves once every change made so far is durable (reads on this replica then see them). */
  barrier(): Promise<void> {
    return this.writer.barrier();
  }

  /** As `barrier`, for the changes of these jobs only (a read of them need not wait for the rest). */
  barrierFor(ids: Iterable<string>): Promise<void> {
    return this.writer.barrierFor(ids);
  }

  /** As `barrier`, for the changes of the jobs `matches` picks (a listing of one queue need not wait for the rest). */
  barrierWhere(matches: (job: Job) => boolean): Promise<void> {
    return this.writer.barrierWhere(matches);
  }

  // ------------------------------------------------------------------ new work

  /**
   * SubmitJob on the leader's own replica: the job is admitted before its first write, so a job without
   * dependencies is committed RUNNABLE at once. Rejects with FencedError when this replica no longer leads.
   */
  async submitLocal(job: Job): Promise<void> {
    if (!this.liveFence) throw new FencedError(this.fence?.epoch ?? -1, undefined);
    this.hold(job);
    const direct = job.dependsOn.length === 0 && job.arrayProperties === undefined;
    if (direct) this.makeRunnable(job, false, true);
    try {
      await this.writer.writeIndependent(job);
    } catch (err) {
      this.active.delete(job.jobId);
      throw err;
    }
    if (direct) {
      this.addRunnable(job);
      this.kick();
      if (this.active.size > this.wholeJobsLimit && this.runnable.size(job.jobQueueArn) > FRONT_WHOLE) this.letGo(job);
    } else this.admit(job);
  }

  private get wholeJobsLimit(): number {
    return this.opts.wholeJobsLimit ?? WHOLE_JOBS_LIMIT;
  }

  /** Takes a stored job into memory, whole (interned), and returns it. */
  private hold(row: Job): Job {
    const job = this.interner.intern(row);
    this.active.set(job.jobId, job);
    return job;
  }

  /** Whether a job is in memory, whole or compact. */
  private known(id: string): boolean {
    return this.active.has(id) || this.compact.has(id);
  }

  /** Holds a filed RUNNABLE job compactly, if nothing still writes its object (its document is then up to date). */
  private letGo(job: Job): void {
    if (this.active.get(job.jobId) !== job || this.runnable.queueOf(job.jobId) === undefined) return;
    if (this.writer.holds(job.jobId) || !this.compact.letGo(job)) return;
    this.active.delete(job.jobId);
  }

  /** With more whole jobs in memory than the limit, holds compactly the RUNNABLE ones past the front of their queue. */
  private letGoDeep(): void {
    if (this.active.size <= this.wholeJobsLimit || !this.fence) return;
    const front = new Set(this.runnable.fronts(FRONT_WHOLE));
    for (const job of [...this.active.values()])
      if (job.status === 'RUNNABLE' && !front.has(job.jobId)) this.letGo(job);
  }

  /**
   * Reads back compact jobs at the front of the queues that could start a job now, so a pass finds them whole (at most
   * every 50 ms). A queue whose environments are disabled or full is skipped: with 1,000,000 queued behind disabled
   * environments, walking every share's front every 50 ms took a fifth of the main thread from SubmitJob. A job a
   * pass places while still compact is read then (tick), so skipping costs at most one read's latency.
   */
  private readFronts(): void {
    if (this.compact.size === 0 || this.now - this.frontReadAt < FRONT_READ_MS) return;
    this.frontReadAt = this.now;
    const ids: string[] = [];
    for (const id of this.runnable.fronts(FRONT_WHOLE, this.queueCouldStart())) {
      if (this.compact.has(id)) ids.push(id);
      // The rest later: SQLite reads synchronously, and a large read would hold up every request in flight.
      if (ids.length >= FRONT_READ_BATCH) break;
    }
    if (ids.length) setImmediate(() => void this.compact.fetch(ids).catch(() => {}));
  }

  /**
   * Whether a queue could start a job now: it is ENABLED and one of its environments can place jobs and has vCPUs
   * free (on this host, or in its pool).
   */
  private queueCouldStart(): (queueArn: string) => boolean {
    const host = this.capacity.snapshotHost();
    const hostFree = host.usedVcpus < host.vcpus;
    return (queueArn) => {
      const q = this.registry.queueByNameOrArn(queueArn);
      if (!q || q.state !== 'ENABLED') return false;
      return this.capacity
        .queueCes(q.computeEnvironmentOrder.map((o) => o.computeEnvironment))
        .some((ce) => placeable(ce) && ce.usedVcpus < ce.maxVcpus && (ce.pool !== undefined || hostFree));
    };
  }

  // ------------------------------------------------------------------ cancel / terminate (StopRequests)

  /** Applies the cancel/terminate intents recorded by any replica (StopRequests.applyIntents). */
  applyIntents(): Promise<void> {
    return this.stops.applyIntents();
  }

  /** CancelJob or TerminateJob on the leader's own replica (StopRequests.stopLocal). */
  stopLocal(jobId: string, action: 'cancel' | 'terminate', reason: string): Promise<void> {
    return this.stops.stopLocal(jobId, action, reason);
  }

  // ------------------------------------------------------------------ transitions

  /**
   * `own`: the change follows only from the job's own attempt (it starts, runs, ends), not from another job's change,
   * so its write may commit beside others (WriteBuffer); changes that follow from other jobs commit after them.
   */
  private setStatus(job: Job, status: JobStatus, reason?: string, own: boolean | 'deferred' = false): void {
    checkTransition(job.jobId, job.status, status);
    if (job.status === 'RUNNABLE' && status !== 'RUNNABLE') this.runnable.delete(job.jobId);
    job.status = status;
    job.statusChangedAt = this.now;
    if (reason !== undefined) job.statusReason = this.interner.string(reason);
    else delete job.statusReason;
    if (own === 'deferred') this.writer.enqueueDeferred(job);
    else if (own) this.writer.enqueueIndependent(job);
    else this.writer.enqueue(job);
    this.changed(job);
  }

  /** Tells this replica's listeners and (batched) every other replica's dashboards about a status change. */
  private changed(job: Job): void {
    this.announce(job.jobId, job.status, job.jobQueueArn, job.owner?.pi);
  }

  /** What changed() tells, also for a job held compactly (no Job object). */
  private announce(jobId: string, status: JobStatus, jobQueueArn: string, pi: string | undefined): void {
    this.onTransition?.({ jobQueueArn, status });
    this.changes.set(jobId, { jobId, status, jobQueueArn, pi: pi ?? '' });
    this.schedulePublish();
  }

  /** SUBMITTED/PENDING -> PENDING, RUNNABLE or FAILED depending on the dependencies. */
  private admit(job: Job): void {
    const deps = job.dependsOn.filter((d) => d.jobId !== undefined && d.type !== 'N_TO_N').map((d) => d.jobId!);
    const unfinished: string[] = [];
    for (const id of deps) {
      const dep = this.active.get(id);
      if ((dep && !isTerminal(dep.status)) || (!dep && this.compact.has(id))) unfinished.push(id);
      else if (dep?.status === 'FAILED') return this.failByDependency(job, dep);
    }
    // Dependencies not in memory have finished; look them up before deciding.
    const settledIds = deps.filter((id) => !this.known(id));
    const decide = (failed: Job | undefined): void => {
      // Cancelled (or deposed) while the dependencies were looked up.
      if (isTerminal(job.status) || !this.fence) return;
      if (failed) return this.failByDependency(job, failed);
      if (unfinished.length) {
        for (const id of unfinished) {
          let set = this.dependents.get(id);
          if (!set) this.dependents.set(id, (set = new Set()));
          set.add(job.jobId);
        }
        if (job.status !== 'PENDING') this.setStatus(job, 'PENDING');
        return;
      }
      if (job.arrayProperties?.size !== undefined) return this.arrays.release(job);
      if (job.isCancelled) return this.setFailed(job, job.statusReason ?? 'Cancelled');
      // Without dependencies, admission follows from the job's submission alone (e.g. one made on a follower).
      this.makeRunnable(job, true, job.dependsOn.length === 0);
    };
    if (settledIds.length === 0) return decide(undefined);
    void this.store.getJobs(settledIds).then(
      (rows) => decide(rows.find((r) => r.status === 'FAILED')),
      () => decide(undefined),
    );
  }

  private failByDependency(job: Job, dep: Job): void {
    this.setFailed(
      job,
      `Dependent Job ${dep.jobId} (${dep.jobName}) failed${dep.statusReason ? `: ${dep.statusReason}` : ''}`.slice(
        0,
        1024,
      ),
    );
  }

  /** `own` as in setStatus: a new job, or a retry after its own attempt. */
  private makeRunnable(job: Job, queue = true, own = false): void {
    this.setStatus(job, 'RUNNABLE', this.neverFitsReason(job), own);
    if (!queue) return;
    this.addRunnable(job);
    this.kick();
  }

  /** Why a RUNNABLE job can never run where its queue sends it (the reason it is made RUNNABLE with), if it cannot. */
  private neverFitsReason(job: Pick<Job, 'jobQueueArn' | 'resources'>): string | undefined {
    const q = this.registry.queueByNameOrArn(job.jobQueueArn);
    return q
      ? neverFits(
          job.resources,
          this.capacity.snapshotHost(),
          q.jobQueueName,
          this.capacity.queueCes(q.computeEnvironmentOrder.map((o) => o.computeEnvironment)),
        )?.text
      : undefined;
  }

  /** Files a RUNNABLE job (or an array parent with RUNNABLE children) in its queue: FIFO, or under its share. */
  private addRunnable(job: Job | CompactRunnable): void {
    this.runnable.add(job, this.fairshareOf(job.jobQueueArn) !== undefined);
  }

  /** The fair-share policy of a queue, if its scheduling policy has one. */
  private fairshareOf(queueArn: string): FairsharePolicy | undefined {
    const arn = this.registry.queueByNameOrArn(queueArn)?.schedulingPolicyArn;
    return arn ? this.registry.policyByArn(arn)?.fairsharePolicy : undefined;
  }

  /** Counts a job that starts (or was found running) against its queue and share. */
  private countStart(job: Job): void {
    const policy = this.fairshareOf(job.jobQueueArn);
    this.ledger.start(
      job.jobId,
      job.jobQueueArn,
      job.resources.vcpus,
      this.now,
      policy ? { id: job.shareIdentifier ?? '', policy } : undefined,
    );
  }

  private setFailed(job: Job, reason: string): void {
    job.stoppedAt ??= this.now;
    this.setStatus(job, 'FAILED', reason);
    this.settled(job);
  }

  /** A job reached SUCCEEDED/FAILED: update its array, wake its dependents. */
  private settled(job: Job): void {
    this.arrays.settled(job);
    const waiting = this.dependents.get(job.jobId);
    if (!waiting) return;
    this.dependents.delete(job.jobId);
    for (const id of waiting) {
      const d = this.active.get(id);
      if (d && d.status === 'PENDING') this.admit(d);
    }
  }

  // ------------------------------------------------------------------ queue time limits

  /**
   * A queue's `jobStateTimeLimitActions`: a job RUNNABLE for longer than `maxTimeSeconds` whose wait reason is the
   * action's `reason` (e.g. `MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT`) is cancelled. Runs every 10 s.
   */
  applyTimeLimits(): number {
    const now = this.now;
    let cancelled = 0;
    let snap: Snapshot | undefined;
    for (const q of this.registry.jobQueues.values()) {
      const actions = q.jobStateTimeLimitActions?.filter((a) => a.state === 'RUNNABLE');
      if (!actions?.length || !this.runnable.has(q.jobQueueArn)) continue;
      snap ??= this.snapshot();
      const view = {
        name: q.jobQueueName,
        computeEnvironments: q.computeEnvironmentOrder.map((o) => o.computeEnvironment),
      };
      let ahead = 0;
      const check = (since: number, resources: Job['resources'], cancel: (reason: string) => void): void => {
        const waited = now - since;
        const why = explainWait(snap!, view, resources, ahead++);
        const act = actions.find((a) => a.reason === why.code && waited >= a.maxTimeSeconds * 1000);
        if (!act) return;
        cancelled++;
        // AWS's words (user guide, "Jobs stuck in RUNNABLE"): clients match on them.
        cancel(`Canceled by JobStateTimeLimit action due to reason: ${act.reason}`);
      };
      for (const id of [...this.runnable.ids(q.jobQueueArn)]) {
        const st = this.arrays.get(id);
        if (st) {
          for (const i of [...st.runnableIndices()])
            check(st.parent.statusChangedAt, st.parent.resources, (r) => this.arrays.failWaitingChild(st, i, r, true));
          continue;
        }
        const job = this.active.get(id);
        if (job?.status === 'RUNNABLE')
          check(job.statusChangedAt, job.resources, (r) => {
            job.isCancelled = true;
            this.setFailed(job, r);
          });
        const held = job ? undefined : this.compact.get(id);
        if (held) check(held.statusChangedAt, held.resources, (r) => this.stops.cancel(id, r));
      }
    }
    return cancelled;
  }

  // ------------------------------------------------------------------ scheduling

  /** Asks for a scheduling pass on the next turn of the event loop (many events share one pass). */
  kick(): void {
    if (this.tickScheduled || !this.liveFence) return;
    this.tickScheduled = true;
    setImmediate(() => {
      this.tickScheduled = false;
      this.tick();
    });
  }

  /** The scheduler's view of now: capacity in use and the RUNNABLE jobs per queue (per share in fair-share ones). */
  snapshot(): Snapshot {
    const now = this.now;
    const snap: Snapshot = {
      host: this.capacity.snapshotHost(),
      computeEnvironments: this.capacity.computeEnvironments(),
      queues: schedQueues(this.sources, now),
      now,
    };
    const consumables = this.registry.consumables.freeMap();
    if (consumables.size) snap.consumables = consumables;
    return snap;
  }

  private get sources(): QueueSources {
    return {
      registry: this.registry,
      runnable: this.runnable,
      ledger: this.ledger,
      arrays: this.arrays.all,
      job: (id) => this.active.get(id) ?? this.compact.get(id),
      fairshareOf: (arn) => this.fairshareOf(arn),
    };
  }

  /** Turns a child that waited as one byte into a Job, as it is placed. */
  private materialize(id: string): Job | undefined {
    const child = this.arrays.materialize(id);
    if (child) this.active.set(child.jobId, child);
    return child;
  }

  private tick(): void {
    this.schedulePublish();
    if (!this.liveFence || this.runnable.empty) return;
    // Nothing can start while no queue with RUNNABLE jobs has room (e.g. 1,000,000 queued behind disabled or full
    // environments): a pass would rebuild the snapshot of every queue and share on each submission for nothing.
    const couldStart = this.queueCouldStart();
    let any = false;
    for (const arn of this.runnable.queueArns()) if ((any = couldStart(arn))) break;
    if (!any) return;
    const began = performance.now();
    const plan = schedule(this.snapshot());
    let unread: string[] | undefined;
    for (const p of plan.starts) {
      const job = this.active.get(p.jobId) ?? this.materialize(p.jobId);
      if (!job && this.compact.has(p.jobId)) (unread ??= []).push(p.jobId);
      if (!job || job.status !== 'RUNNABLE') continue;
      this.startAttempt(job, p.computeEnvironmentArn);
    }
    this.onSchedulePass?.((performance.now() - began) / 1000, plan.starts.length);
    // Placed while held compactly: start once read back (a pass later); a failed read is tried again in a second.
    if (unread)
      void this.compact.fetch(unread).then(
        () => this.kick(),
        () => setTimeout(() => this.kick(), 1000).unref(),
      );
    this.readFronts();
  }

  private release(jobId: string): Allocation | undefined {
    this.ledger.stop(jobId, this.now);
    if (this.capacity.get(jobId))
      this.registry.consumables.release(this.active.get(jobId)?.consumableResourceProperties?.consumableResourceList);
    const alloc = this.capacity.release(jobId);
    if (alloc) this.kick();
    return alloc;
  }

  private startAttempt(job: Job, ceArn: string): void {
    const alloc = this.capacity.allocate(job, ceArn);
    this.countStart(job);
    this.registry.consumables.acquire(job.consumableResourceProperties?.consumableResourceList);
    job.scheduledAt = this.now;
    const defName = jobDefinitionNameOfArn(job.jobDefinitionArn);
    const logStreamName = `${defName}/default/${randomBytes(16).toString('hex')}`;
    job.container = { logStreamName, containerInstanceArn: ceArn };
    this.setStatus(job, 'STARTING', undefined, true);
    const arraySize = this.arrays.ofChild(job.jobId)?.st.size;
    const environment = attemptEnvironment(job, alloc.attempt, this.registry, ceArn, arraySize);
    const extras = this.attemptExtras?.(job, alloc.attempt, alloc.pool);
    if (extras) Object.assign(environment, extras.environment);
    this.logs.open(logStreamName, {
      jobId: job.jobId,
      attempt: alloc.attempt,
      ...(job.owner ? { pi: job.owner.pi } : {}),
    });
    const multi = job.nodeProperties ? nodeRuns(job, environment, logStreamName, defName) : undefined;
    if (multi) {
      job.nodeStates = multi.nodes.map((n) => ({ logStreamName: n.logStreamName }));
      for (const n of multi.nodes)
        if (n.logStreamName !== logStreamName)
          this.logs.open(n.logStreamName, {
            jobId: `${job.jobId}#${n.index}`,
            attempt: alloc.attempt,
            ...(job.owner ? { pi: job.owner.pi } : {}),
          });
    }
    const spec = attemptSpec(job, alloc, environment, logStreamName, extras, multi);
    const current = () => this.fence && job.status === 'STARTING' && this.capacity.get(job.jobId) === alloc;
    // Start only once STARTING is durable (and this replica still leads): after a crash, an attempt that ran is
    // always on record, and a deposed leader starts nothing. Secrets are resolved first: one that cannot be read fails
    // the attempt before anything runs.
    this.writer.writeIndependent(job).then(
      () => {
        if (!current()) return;
        if (!extras?.resolve) return this.runtime.start(spec);
        extras.resolve().then(
          (more) => {
            Object.assign(spec.environment, more.environment);
            if (more.registryAuth) spec.registryAuth = more.registryAuth;
            if (current()) this.runtime.start(spec);
          },
          (err: unknown) => {
            if (current()) this.finishAttempt(job, { statusReason: (err as Error).message });
          },
        );
      },
      (err: unknown) => {
        if (err instanceof FencedError || !this.fence) return;
        if (this.capacity.get(job.jobId) === alloc)
          this.finishAttempt(job, { statusReason: `the server could not record the start: ${(err as Error).message}` });
      },
    );
  }

  private armTimeout(job: Job, alloc: Allocation): void {
    const secs = job.timeout?.attemptDurationSeconds;
    if (!secs || alloc.startedAt === undefined) return;
    const due = alloc.startedAt + secs * 1000 - this.now;
    alloc.timer = setTimeout(
      () => {
        if (!this.fence) return;
        alloc.timedOut = true;
        void this.runtime.stop(job.jobId, alloc.attempt, TIMEOUT_REASON);
      },
      Math.max(0, due),
    );
    alloc.timer.unref();
  }

  // ------------------------------------------------------------------ runtime events

  started(jobId: string, attempt: number, info: { taskArn?: string; containerInstanceArn?: string }): void {
    const job = this.active.get(jobId);
    const alloc = this.capacity.get(jobId);
    if (!this.fence || !job || !alloc || alloc.attempt !== attempt || job.status !== 'STARTING') return;
    const now = this.now;
    alloc.startedAt = now;
    job.startedAt = now;
    if (info.taskArn) job.container.taskArn = info.taskArn;
    // Nothing waits for RUNNING to be durable (a STARTING attempt is re-attached alike): a short job's end, a moment
    // later, is written in its place.
    this.setStatus(job, 'RUNNING', undefined, 'deferred');
    this.armTimeout(job, alloc);
    if (alloc.stopReason !== undefined) void this.runtime.stop(jobId, attempt, alloc.stopReason);
  }

  output(jobId: string, attempt: number, stream: 'stdout' | 'stderr', data: Buffer, node?: number): void {
    const job = this.active.get(jobId);
    const logStreamName = node === undefined ? job?.container.logStreamName : job?.nodeStates?.[node]?.logStreamName;
    if (!logStreamName || this.capacity.get(jobId)?.attempt !== attempt) return;
    this.logs.write(logStreamName, stream, data);
  }

  exited(jobId: string, attempt: number, report: ExitReport, durable?: () => void): void {
    const job = this.active.get(jobId);
    const alloc = this.capacity.get(jobId);
    if (!this.fence) return;
    // An attempt this engine does not hold (already settled, or replaced): nothing of it is to be recorded.
    if (!job || !alloc || alloc.attempt !== attempt) return durable?.();
    this.finishAttempt(job, report);
    // A write that fails (fenced) leaves the attempt to the next leader: `durable` is then never called.
    if (durable) this.writer.barrierFor([jobId]).then(durable, () => undefined);
  }

  /** Records the attempt that just ended and decides: SUCCEEDED, retry (RUNNABLE) or FAILED. */
  private finishAttempt(job: Job, report: ExitReport): void {
    const alloc = this.release(job.jobId);
    const now = this.now;
    const logStreamName = job.container.logStreamName;
    if (logStreamName) void this.logs.close(logStreamName);
    if (job.nodeStates) job.nodeStates = endNodes(job, job.nodeStates, report, (name) => void this.logs.close(name));
    const end = recordAttemptEnd(job, report, alloc, now);
    if (end.ok) {
      job.stoppedAt = now;
      // Its own end; what follows from it (dependents, its array) is written ordered, after it.
      this.setStatus(job, 'SUCCEEDED', end.statusReason, true);
      this.settled(job);
      return;
    }
    if (!end.stopped && shouldRetry(job.retryStrategy, job.attempts.length, end.outcome)) {
      this.makeRunnable(job, true, true);
      return;
    }
    this.setFailed(job, end.statusReason);
  }

  // ------------------------------------------------------------------ published state

  private schedulePublish(): void {
    if (this.publishTimer || !this.liveFence) return;
    this.publishTimer = setTimeout(() => {
      this.publishTimer = undefined;
      void this.publish().catch((err: unknown) => {
        if (err instanceof FencedError) this.fenced(err);
      });
    }, this.publishEveryMs);
    this.publishTimer.unref();
  }

  /** What followers need to explain waits and show capacity as the leader sees it. */
  engineState(): EngineState {
    const snap = this.snapshot();
    const queues = publishedQueues(this.sources, snap, snap.now ?? this.now);
    let queued = 0;
    for (const q of Object.values(queues)) queued += q.runnable;
    return {
      epoch: this.fence?.epoch ?? 0,
      at: this.now,
      host: snap.host,
      computeEnvironments: [...snap.computeEnvironments.values()],
      queues,
      running: this.capacity.running,
      active: this.active.size + this.compact.size,
      queued,
      history: this.history.list(),
    };
  }

  private async publish(): Promise<void> {
    if (!this.fence) return;
    const changes = [...this.changes.values()];
    this.changes = new Map();
    // PostgreSQL's NOTIFY carries at most 8000 bytes: send the changes in slices.
    for (let i = 0; i < changes.length; i += 60)
      await this.store.notify('job-changes', JSON.stringify(changes.slice(i, i + 60)));
    const began = performance.now();
    const state = JSON.stringify(this.engineState());
    // Building the state walks every queue and share: with 1,000,000 queued over 500 shares it took a sixth of the
    // main thread at one publish per 100 ms. Publishing at most once per PUBLISH_COST_SHARE of its cost bounds that.
    this.publishEveryMs = Math.min(
      PUBLISH_MAX_MS,
      Math.max(PUBLISH_MS, (performance.now() - began) * PUBLISH_COST_SHARE, state.length / PUBLISH_BYTES_PER_MS),
    );
    await this.store.putEngineState(state, this.fence);
  }

  /** The job of a live attempt (STARTING or RUNNING here), for the credentials endpoint. */
  liveAttempt(jobId: string, attempt: number): Job | undefined {
    const job = this.active.get(jobId);
    if (!this.fence || !job || this.capacity.get(jobId)?.attempt !== attempt) return undefined;
    return job.status === 'STARTING' || job.status === 'RUNNING' ? job : undefined;
  }

  /** Counts for health. */
  stats(): { active: number; heldCompact: number; running: number; usedVcpus: number } {
    return {
      active: this.active.size + this.compact.size,
      heldCompact: this.compact.size,
      running: this.capacity.running,
      usedVcpus: this.capacity.usedVcpus,
    };
  }
}

/** Whether a compact job was created before a whole one (the order RUNNABLE jobs are filed in at a new leader). */
function precedes(c: CompactRunnable, job: Job): boolean {
  return c.createdAt < job.createdAt || (c.createdAt === job.createdAt && c.jobId < job.jobId);
}
