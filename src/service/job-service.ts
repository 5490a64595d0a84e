/**
 * The job lifecycle, as AWS Batch defines it:
 *
 *   SUBMITTED ──► PENDING ──► RUNNABLE ──► STARTING ──► RUNNING ──► SUCCEEDED
 *       │            │            │            │            └─────► FAILED ──(retry)──► RUNNABLE
 *       └────────────┴────────────┴────────────┴──────────────────► FAILED
 *
 * - SUBMITTED: accepted and durable; admitted on the next turn (PENDING while dependencies are unfinished).
 * - RUNNABLE: waits for capacity; its statusReason says why (computed on read from the live snapshot).
 * - STARTING: placed; the runtime is preparing it. RUNNING: the process/container runs.
 * - CancelJob fails SUBMITTED/PENDING/RUNNABLE jobs (a PENDING one once its dependencies settle) and leaves
 *   STARTING/RUNNING ones alone; TerminateJob also stops STARTING/RUNNING ones. Neither is retried.
 *
 * Active jobs live in memory (with scheduling indexes); every change is group-committed through the WriteBuffer.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { jobDefinitionNameOfArn, type ArnContext } from '../core/arn.js';
import { ClientException } from '../core/errors.js';
import { checkRange } from '../core/names.js';
import type { Clock, ExitReport, LogSink, Runtime, RuntimeEvents, Store } from '../core/ports.js';
import { shouldRetry } from '../core/retry.js';
import { isTerminal, type HostCapacity, type Job, type JobStatus } from '../core/types.js';
import { explainWait, neverFits } from '../scheduler/explain.js';
import {
  schedule,
  type SchedComputeEnvironment,
  type SchedJob,
  type SchedQueue,
  type Snapshot,
} from '../scheduler/schedule.js';
import { ArrayState, ChildCode, deriveChild, parseChildId } from './array-state.js';
import { jobDetail, jobSummary } from './job-views.js';
import { decodeToken, encodeToken } from './pagination.js';
import type { ResourceRegistry } from './resources.js';
import { buildJob } from './submission.js';
import { WriteBuffer } from './write-buffer.js';

type Input = Record<string, any>;

/** Who is calling: the API layer fills it from the verified access key. */
export interface Caller {
  user: string;
  pi: string;
  admin: boolean;
}

export interface JobServiceOptions {
  arn: ArnContext;
  host: HostCapacity;
  clock: Clock;
  /** Name of this host in `Host EC2 (instance ...) terminated.` reasons. */
  hostName?: string;
}

interface Allocation {
  computeEnvironmentArn: string;
  vcpus: number;
  memoryMiB: number;
  gpus: number;
  attempt: number;
  startedAt?: number;
  timer?: NodeJS.Timeout;
  timedOut?: boolean;
  stopReason?: string;
}

const ESSENTIAL_EXITED = 'Essential container in task exited';
export const TIMEOUT_REASON = 'Job attempt duration exceeded timeout';

export class JobService implements RuntimeEvents {
  /** Every job not SUCCEEDED/FAILED, plus terminal ones until their last state is committed. */
  private readonly active = new Map<string, Job>();
  /** Per queue ARN: RUNNABLE job ids in first-in-first-out order. */
  private readonly runnable = new Map<string, Set<string>>();
  /** STARTING/RUNNING jobs and what they hold. */
  private readonly allocations = new Map<string, Allocation>();
  /** Dependency id -> jobs waiting on it. */
  private readonly dependents = new Map<string, Set<string>>();
  private readonly ceUsage = new Map<string, { vcpus: number; jobs: number }>();
  private readonly hostUsage = { vcpus: 0, memoryMiB: 0, gpus: 0, jobs: 0 };
  /** Array parent id -> its children's compact state (from release until the parent ends). */
  private readonly arrays = new Map<string, ArrayState>();
  /** Array id -> arrays that depend on it N_TO_N. */
  private readonly nToNDependents = new Map<string, Set<string>>();
  private readonly writer: WriteBuffer;
  private tickScheduled = false;
  private timeLimitTimer?: NodeJS.Timeout;
  private closed = false;
  runtime!: Runtime;
  logs!: LogSink;
  /** Extra variables for an attempt's environment only (job-role credentials): never stored in the job nor shown. */
  extraEnvironment?: (job: Job) => Record<string, string>;
  /** Called after every status change (the dashboard's live updates); must not throw. */
  onTransition?: (job: Job) => void;

  constructor(
    private readonly store: Store,
    private readonly registry: ResourceRegistry,
    private readonly opts: JobServiceOptions,
  ) {
    this.writer = new WriteBuffer(store);
    this.writer.onCommitted = (jobs) => {
      for (const j of jobs) if (isTerminal(j.status) && this.active.get(j.jobId) === j) this.active.delete(j.jobId);
    };
    registry.onChange = () => this.kick();
  }

  private get now(): number {
    return this.opts.clock();
  }

  // ------------------------------------------------------------------ start-up

  /** Loads active jobs, settles attempts whose process is gone, and starts scheduling. */
  async start(): Promise<void> {
    this.timeLimitTimer = setInterval(() => this.applyTimeLimits(), 10_000);
    this.timeLimitTimer.unref();
    const jobs = await this.store.loadActiveJobs();
    const running: { jobId: string; attempt: number }[] = [];
    for (const job of jobs) {
      this.active.set(job.jobId, job);
      if (job.status === 'STARTING' || job.status === 'RUNNING')
        running.push({ jobId: job.jobId, attempt: job.attempts.length + 1 });
    }
    const released = jobs.filter((j) => j.status === 'PENDING' && j.arrayReleased);
    // Arrays first, N_TO_N ones last, so that an array's dependency is rebuilt before it is linked.
    released.sort((a, b) => Number(a.arrayMode === 'N_TO_N') - Number(b.arrayMode === 'N_TO_N'));
    for (const job of released) await this.rebuildArray(job);
    for (const job of jobs) {
      if (job.status === 'SUBMITTED') this.admit(job);
      else if (job.status === 'PENDING' && !job.arrayReleased) this.admit(job);
      else if (job.status === 'RUNNABLE') this.addRunnable(job);
      else if (job.status === 'STARTING' || job.status === 'RUNNING') this.allocate(job, this.ceOfRecoveredJob(job));
    }
    const gone = await this.runtime.recover(running);
    const goneIds = new Set(gone.map((g) => `${g.jobId}#${g.attempt}`));
    for (const r of running) {
      const job = this.active.get(r.jobId)!;
      if (goneIds.has(`${r.jobId}#${r.attempt}`)) {
        this.finishAttempt(job, {
          statusReason: `Host EC2 (instance ${this.opts.hostName ?? hostname()}) terminated.`,
        });
      } else {
        const alloc = this.allocations.get(job.jobId);
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
    this.kick();
  }

  private ceOfRecoveredJob(job: Job): string {
    const q = this.registry.queueByNameOrArn(job.jobQueueArn);
    return job.container.containerInstanceArn ?? q?.computeEnvironmentOrder[0]?.computeEnvironment ?? '';
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timeLimitTimer) clearInterval(this.timeLimitTimer);
    for (const a of this.allocations.values()) if (a.timer) clearTimeout(a.timer);
    await this.writer.barrier();
  }

  // ------------------------------------------------------------------ submit

  async submit(
    caller: Caller,
    input: Input,
    bodyBytes: number,
  ): Promise<{ jobArn: string; jobName: string; jobId: string }> {
    const job = await buildJob(
      { registry: this.registry, arn: this.opts.arn, now: this.now, caller, findJobs: (ids) => this.findJobs(ids) },
      input,
      bodyBytes,
    );
    const { jobId, jobName } = job;
    this.active.set(jobId, job);
    // Without dependencies the job is RUNNABLE in its first durable write: one commit per SubmitJob, not two.
    const direct = job.dependsOn.length === 0 && job.arrayProperties === undefined;
    if (direct) this.makeRunnable(job, false);
    try {
      await this.writer.write(job);
    } catch (err) {
      this.active.delete(jobId);
      throw err;
    }
    if (direct) {
      this.addRunnable(job);
      this.kick();
    } else this.admit(job);
    return { jobArn: job.jobArn, jobName, jobId };
  }

  /** Looks jobs up in memory, then in the store. */
  private async findJobs(ids: readonly string[]): Promise<Map<string, Job>> {
    const out = new Map<string, Job>();
    const rest: string[] = [];
    for (const id of ids) {
      const j = this.active.get(id) ?? this.virtualChild(id);
      if (j) out.set(id, j);
      else rest.push(id);
    }
    if (rest.length) {
      await this.writer.barrier();
      for (const j of await this.store.getJobs(rest)) out.set(j.jobId, j);
    }
    return out;
  }

  /** A child that has not started yet, derived from its parent's state; undefined for anything else. */
  private virtualChild(id: string): Job | undefined {
    const c = parseChildId(id);
    const st = c && this.arrays.get(c.parentId);
    if (!c || !st || c.index >= st.size) return undefined;
    const code = st.codes[c.index] as ChildCode;
    if (code !== ChildCode.PENDING && code !== ChildCode.RUNNABLE) return undefined;
    return deriveChild(st.parent, c.index, st.status(c.index), st.parent.statusChangedAt);
  }

  // ------------------------------------------------------------------ transitions

  private setStatus(job: Job, status: JobStatus, reason?: string): void {
    if (job.status === 'RUNNABLE' && status !== 'RUNNABLE') this.runnable.get(job.jobQueueArn)?.delete(job.jobId);
    job.status = status;
    job.statusChangedAt = this.now;
    if (reason !== undefined) job.statusReason = reason;
    else delete job.statusReason;
    this.writer.enqueue(job);
    this.onTransition?.(job);
  }

  /** SUBMITTED/PENDING -> PENDING, RUNNABLE or FAILED depending on the dependencies. */
  private admit(job: Job): void {
    const deps = job.dependsOn.filter((d) => d.jobId !== undefined && d.type !== 'N_TO_N').map((d) => d.jobId!);
    const unfinished: string[] = [];
    for (const id of deps) {
      const dep = this.active.get(id);
      if (dep && !isTerminal(dep.status)) unfinished.push(id);
      else if (dep?.status === 'FAILED') return this.failByDependency(job, dep);
    }
    // Dependencies not in memory have finished; look them up before deciding.
    const settledIds = deps.filter((id) => !this.active.has(id));
    const decide = (failed: Job | undefined): void => {
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
      if (job.arrayProperties?.size !== undefined) return this.releaseArray(job);
      if (job.isCancelled) return this.setFailed(job, job.statusReason ?? 'Cancelled');
      this.makeRunnable(job);
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

  private makeRunnable(job: Job, queue = true): void {
    const q = this.registry.queueByNameOrArn(job.jobQueueArn);
    const never = q
      ? neverFits(
          job.resources,
          this.snapshotHost(),
          q.jobQueueName,
          this.queueCes(q.computeEnvironmentOrder.map((o) => o.computeEnvironment)),
        )
      : undefined;
    this.setStatus(job, 'RUNNABLE', never?.text);
    if (!queue) return;
    this.addRunnable(job);
    this.kick();
  }

  private addRunnable(job: Job): void {
    let set = this.runnable.get(job.jobQueueArn);
    if (!set) this.runnable.set(job.jobQueueArn, (set = new Set()));
    set.add(job.jobId);
  }

  private setFailed(job: Job, reason: string): void {
    job.stoppedAt ??= this.now;
    this.setStatus(job, 'FAILED', reason);
    this.settled(job);
  }

  /** A job reached SUCCEEDED/FAILED: update its array, wake its dependents. */
  private settled(job: Job): void {
    const c = job.arrayProperties?.index !== undefined ? parseChildId(job.jobId) : undefined;
    const st = c && this.arrays.get(c.parentId);
    if (c && st && st.live.get(c.index) === job) this.childEnded(st, c.index, job.status === 'SUCCEEDED');
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
      const ids = this.runnable.get(q.jobQueueArn);
      if (!actions?.length || !ids?.size) continue;
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
        cancel(
          `${act.reason}: RUNNABLE for more than ${act.maxTimeSeconds} s, cancelled by the jobStateTimeLimitActions of queue ${q.jobQueueName}; ${why.text}`.slice(
            0,
            1024,
          ),
        );
      };
      for (const id of [...ids]) {
        const st = this.arrays.get(id);
        if (st) {
          for (const i of [...st.runnableIndices()])
            check(st.parent.statusChangedAt, st.parent.resources, (r) => this.failVirtualChild(st, i, r, true));
          continue;
        }
        const job = this.active.get(id);
        if (job?.status === 'RUNNABLE')
          check(job.statusChangedAt, job.resources, (r) => {
            job.isCancelled = true;
            this.setFailed(job, r);
          });
      }
    }
    return cancelled;
  }

  // ------------------------------------------------------------------ array jobs

  /** The parent's own dependencies are met: its children become PENDING/RUNNABLE by the array's mode. */
  private releaseArray(parent: Job): void {
    const size = parent.arrayProperties!.size!;
    const mode = parent.arrayMode ?? 'PARALLEL';
    const nTo = mode === 'N_TO_N' ? parent.dependsOn.find((d) => d.type === 'N_TO_N')?.jobId : undefined;
    const st = new ArrayState(parent, size, mode, nTo);
    this.arrays.set(parent.jobId, st);
    parent.arrayReleased = true;
    if (parent.status !== 'PENDING') this.setStatus(parent, 'PENDING');
    else this.writer.enqueue(parent);
    if (parent.isCancelled) {
      for (let i = 0; i < size; i++) this.failVirtualChild(st, i, parent.statusReason ?? 'Cancelled', false);
      this.maybeFinishArray(st);
      return;
    }
    if (mode === 'PARALLEL') st.codes.fill(ChildCode.RUNNABLE);
    else if (mode === 'SEQUENTIAL') st.codes[0] = ChildCode.RUNNABLE;
    else if (nTo) this.linkNToN(st, nTo);
    this.addRunnableId(parent.jobQueueArn, parent.jobId);
    this.kick();
  }

  private linkNToN(st: ArrayState, nTo: string): void {
    let set = this.nToNDependents.get(nTo);
    if (!set) this.nToNDependents.set(nTo, (set = new Set()));
    set.add(st.parent.jobId);
    const other = this.arrays.get(nTo);
    const apply = (i: number, status: JobStatus | undefined): void => {
      if (st.codes[i] !== ChildCode.PENDING) return;
      if (status === 'SUCCEEDED') st.codes[i] = ChildCode.RUNNABLE;
      else if (status === 'FAILED') this.failVirtualChild(st, i, `Dependent Job ${nTo}:${i} failed`, false);
    };
    if (other) {
      for (let i = 0; i < st.size; i++) apply(i, other.codes[i] === ChildCode.LIVE ? undefined : other.status(i));
      this.maybeFinishArray(st);
      return;
    }
    // The other array has ended: its children are all stored.
    const ids = Array.from({ length: st.size }, (_, i) => `${nTo}:${i}`);
    void this.writer
      .barrier()
      .then(() => this.store.getJobs(ids))
      .then((rows) => {
        for (const r of rows) apply(r.arrayProperties?.index ?? -1, r.status);
        for (let i = 0; i < st.size; i++)
          if (st.codes[i] === ChildCode.PENDING && !rows.some((r) => r.arrayProperties?.index === i))
            apply(i, 'FAILED');
        this.maybeFinishArray(st);
        this.addRunnableId(st.parent.jobQueueArn, st.parent.jobId);
        this.kick();
      });
  }

  /** Fails a child that never started (dependency failed, or cancelled): it is stored as a FAILED row. */
  private failVirtualChild(st: ArrayState, i: number, reason: string, finish: boolean): void {
    const now = this.now;
    const child = deriveChild(st.parent, i, 'FAILED', now);
    child.statusReason = reason.slice(0, 1024);
    child.stoppedAt = now;
    if (st.parent.isCancelled) child.isCancelled = true;
    this.writer.enqueue(child);
    this.onTransition?.(child);
    this.childEnded(st, i, false, finish);
  }

  /** A child ended: its array's bookkeeping, SEQUENTIAL and N_TO_N successors, and maybe the parent. */
  private childEnded(st: ArrayState, i: number, ok: boolean, finish = true): void {
    st.live.delete(i);
    st.set(i, ok ? ChildCode.SUCCEEDED : ChildCode.FAILED);
    const childId = `${st.parent.jobId}:${i}`;
    for (const b of this.nToNDependents.get(st.parent.jobId) ?? []) {
      const sb = this.arrays.get(b);
      if (!sb || sb.codes[i] !== ChildCode.PENDING) continue;
      if (ok) {
        sb.codes[i] = ChildCode.RUNNABLE;
        this.addRunnableId(sb.parent.jobQueueArn, b);
        this.kick();
      } else this.failVirtualChild(sb, i, `Dependent Job ${childId} failed`, true);
    }
    if (st.mode === 'SEQUENTIAL' && i + 1 < st.size && st.codes[i + 1] === ChildCode.PENDING) {
      if (ok) {
        st.codes[i + 1] = ChildCode.RUNNABLE;
        this.addRunnableId(st.parent.jobQueueArn, st.parent.jobId);
        this.kick();
      } else {
        // Fail the rest in a loop rather than by recursion: an array can have 10,000 children.
        for (let k = i + 1; k < st.size && st.codes[k] === ChildCode.PENDING; k++) {
          const child = deriveChild(st.parent, k, 'FAILED', this.now);
          child.statusReason = `Dependent Job ${st.parent.jobId}:${k - 1} failed`;
          child.stoppedAt = this.now;
          this.writer.enqueue(child);
          st.set(k, ChildCode.FAILED);
        }
      }
    }
    if (finish) this.maybeFinishArray(st);
  }

  /** Once every child has ended, the parent SUCCEEDS (all succeeded) or FAILS. */
  private maybeFinishArray(st: ArrayState): void {
    if (st.settled < st.size) return;
    const parent = st.parent;
    if (!this.arrays.has(parent.jobId)) return;
    this.arrays.delete(parent.jobId);
    this.runnable.get(parent.jobQueueArn)?.delete(parent.jobId);
    if (st.nToNOf) this.nToNDependents.get(st.nToNOf)?.delete(parent.jobId);
    parent.arrayProperties = { size: st.size, statusSummary: st.statusSummary() };
    parent.stoppedAt = this.now;
    if (st.failed === 0) this.setStatus(parent, 'SUCCEEDED', `All ${st.size} child jobs succeeded`);
    else
      this.setStatus(
        parent,
        'FAILED',
        parent.isCancelled && parent.statusReason
          ? parent.statusReason
          : `${st.failed} of ${st.size} child jobs failed`,
      );
    this.settled(parent);
  }

  /** After a restart: rebuilds a released array's state from its stored children. */
  private async rebuildArray(parent: Job): Promise<void> {
    const size = parent.arrayProperties!.size!;
    const mode = parent.arrayMode ?? 'PARALLEL';
    const nTo = mode === 'N_TO_N' ? parent.dependsOn.find((d) => d.type === 'N_TO_N')?.jobId : undefined;
    const st = new ArrayState(parent, size, mode, nTo);
    this.arrays.set(parent.jobId, st);
    const page = await this.store.listJobs({ arrayJobId: parent.jobId, limit: size + 1 });
    for (const row of page.jobs) {
      const i = row.arrayProperties?.index;
      if (i === undefined) continue;
      const live = this.active.get(row.jobId);
      if (live && !isTerminal(live.status)) {
        st.live.set(i, live);
        st.set(i, ChildCode.LIVE);
      } else st.set(i, row.status === 'SUCCEEDED' ? ChildCode.SUCCEEDED : ChildCode.FAILED);
    }
    if (mode === 'PARALLEL') {
      for (let i = 0; i < size; i++) if (st.codes[i] === ChildCode.PENDING) st.codes[i] = ChildCode.RUNNABLE;
    } else if (mode === 'SEQUENTIAL') {
      for (let i = 0; i < size; i++)
        if (st.codes[i] === ChildCode.PENDING && (i === 0 || st.codes[i - 1] === ChildCode.SUCCEEDED))
          st.codes[i] = ChildCode.RUNNABLE;
    } else if (nTo) this.linkNToN(st, nTo);
    this.addRunnableId(parent.jobQueueArn, parent.jobId);
    this.maybeFinishArray(st);
  }

  /** The wire view of a job: live statusSummary for arrays in progress. */
  private withSummary(job: Job): Job {
    const st = this.arrays.get(job.jobId);
    if (st) return { ...job, arrayProperties: { size: st.size, statusSummary: st.statusSummary() } };
    if (job.arrayProperties?.size !== undefined && !job.arrayProperties.statusSummary)
      return { ...job, arrayProperties: { ...job.arrayProperties, statusSummary: {} } };
    return job;
  }

  // ------------------------------------------------------------------ scheduling

  /** Asks for a scheduling pass on the next turn of the event loop (many events share one pass). */
  kick(): void {
    if (this.tickScheduled || this.closed) return;
    this.tickScheduled = true;
    setImmediate(() => {
      this.tickScheduled = false;
      this.tick();
    });
  }

  private snapshotHost(): Snapshot['host'] {
    const h = this.opts.host;
    const u = this.hostUsage;
    return {
      vcpus: h.vcpus,
      memoryMiB: h.memoryMiB,
      gpus: h.gpus,
      usedVcpus: u.vcpus,
      usedMemoryMiB: u.memoryMiB,
      usedGpus: u.gpus,
      runningJobs: u.jobs,
    };
  }

  private schedCe(arn: string): SchedComputeEnvironment | undefined {
    const ce = this.registry.ceByNameOrArn(arn);
    if (!ce) return undefined;
    const use = this.ceUsage.get(arn);
    return {
      arn,
      name: ce.computeEnvironmentName,
      enabled: ce.state === 'ENABLED',
      managed: ce.type === 'MANAGED',
      maxVcpus: ce.computeResources?.maxvCpus ?? 0,
      usedVcpus: use?.vcpus ?? 0,
      runningJobs: use?.jobs ?? 0,
    };
  }

  private queueCes(arns: readonly string[]): SchedComputeEnvironment[] {
    return arns.map((a) => this.schedCe(a)).filter((c): c is SchedComputeEnvironment => !!c);
  }

  /** The scheduler's view of now: capacity in use and the RUNNABLE jobs per queue. */
  snapshot(): Snapshot {
    const ces = new Map<string, SchedComputeEnvironment>();
    for (const ce of this.registry.computeEnvironments.values())
      ces.set(ce.computeEnvironmentArn, this.schedCe(ce.computeEnvironmentArn)!);
    const queues: SchedQueue[] = [];
    for (const q of this.registry.jobQueues.values()) {
      const ids = this.runnable.get(q.jobQueueArn);
      if (!ids || ids.size === 0) continue;
      queues.push({
        arn: q.jobQueueArn,
        name: q.jobQueueName,
        priority: q.priority,
        computeEnvironments: q.computeEnvironmentOrder.map((o) => o.computeEnvironment),
        runnable: this.iterRunnable(ids),
      });
    }
    return { host: this.snapshotHost(), computeEnvironments: ces, queues };
  }

  private *iterRunnable(ids: Set<string>): Generator<SchedJob> {
    for (const id of ids) {
      const st = this.arrays.get(id);
      if (st) {
        let any = false;
        for (const i of st.runnableIndices()) {
          any = true;
          yield { jobId: `${id}:${i}`, resources: st.parent.resources };
        }
        if (!any) ids.delete(id);
        continue;
      }
      const j = this.active.get(id);
      if (j) yield { jobId: id, resources: j.resources };
    }
  }

  private addRunnableId(queueArn: string, id: string): void {
    let set = this.runnable.get(queueArn);
    if (!set) this.runnable.set(queueArn, (set = new Set()));
    set.add(id);
  }

  /** Turns a child that waited as one byte into a Job, as it is placed. */
  private materialize(id: string): Job | undefined {
    const c = parseChildId(id);
    const st = c && this.arrays.get(c.parentId);
    if (!c || !st || st.codes[c.index] !== ChildCode.RUNNABLE) return undefined;
    const child = deriveChild(st.parent, c.index, 'RUNNABLE', this.now);
    st.live.set(c.index, child);
    st.set(c.index, ChildCode.LIVE);
    this.active.set(child.jobId, child);
    if (st.parent.startedAt === undefined) {
      st.parent.startedAt = this.now;
      this.writer.enqueue(st.parent);
    }
    return child;
  }

  private tick(): void {
    if (this.closed || this.runnable.size === 0) return;
    const plan = schedule(this.snapshot());
    for (const p of plan.starts) {
      const job = this.active.get(p.jobId) ?? this.materialize(p.jobId);
      if (!job || job.status !== 'RUNNABLE') continue;
      this.startAttempt(job, p.computeEnvironmentArn);
    }
  }

  private allocate(job: Job, ceArn: string): Allocation {
    const r = job.resources;
    const alloc: Allocation = {
      computeEnvironmentArn: ceArn,
      vcpus: r.vcpus,
      memoryMiB: r.memoryMiB,
      gpus: r.gpus,
      attempt: job.attempts.length + 1,
    };
    this.allocations.set(job.jobId, alloc);
    const use = this.ceUsage.get(ceArn) ?? { vcpus: 0, jobs: 0 };
    use.vcpus += r.vcpus;
    use.jobs++;
    this.ceUsage.set(ceArn, use);
    this.hostUsage.vcpus += r.vcpus;
    this.hostUsage.memoryMiB += r.memoryMiB;
    this.hostUsage.gpus += r.gpus;
    this.hostUsage.jobs++;
    return alloc;
  }

  private release(jobId: string): Allocation | undefined {
    const alloc = this.allocations.get(jobId);
    if (!alloc) return undefined;
    this.allocations.delete(jobId);
    if (alloc.timer) clearTimeout(alloc.timer);
    const use = this.ceUsage.get(alloc.computeEnvironmentArn);
    if (use) {
      use.vcpus -= alloc.vcpus;
      use.jobs--;
    }
    this.hostUsage.vcpus -= alloc.vcpus;
    this.hostUsage.memoryMiB -= alloc.memoryMiB;
    this.hostUsage.gpus -= alloc.gpus;
    this.hostUsage.jobs--;
    this.kick();
    return alloc;
  }

  private startAttempt(job: Job, ceArn: string): void {
    const alloc = this.allocate(job, ceArn);
    const defName = jobDefinitionNameOfArn(job.jobDefinitionArn);
    const logStreamName = `${defName}/default/${randomBytes(16).toString('hex')}`;
    job.container = { logStreamName, containerInstanceArn: ceArn };
    this.setStatus(job, 'STARTING');
    const q = this.registry.queueByNameOrArn(job.jobQueueArn);
    const ce = this.registry.ceByNameOrArn(ceArn);
    const environment: Record<string, string> = {};
    for (const kv of job.containerProperties.environment ?? []) if (kv.name) environment[kv.name] = kv.value ?? '';
    environment.AWS_BATCH_JOB_ID = job.jobId;
    environment.AWS_BATCH_JOB_ATTEMPT = String(alloc.attempt);
    environment.AWS_BATCH_JQ_NAME = q?.jobQueueName ?? '';
    environment.AWS_BATCH_CE_NAME = ce?.computeEnvironmentName ?? '';
    if (job.arrayProperties?.index !== undefined) {
      environment.AWS_BATCH_JOB_ARRAY_INDEX = String(job.arrayProperties.index);
      const size = job.arrayProperties.size ?? this.arrays.get(parseChildId(job.jobId)?.parentId ?? '')?.size;
      if (size !== undefined) environment.AWS_BATCH_JOB_ARRAY_SIZE = String(size);
    }
    if (this.extraEnvironment) Object.assign(environment, this.extraEnvironment(job));
    this.logs.open(logStreamName, {
      jobId: job.jobId,
      attempt: alloc.attempt,
      ...(job.owner ? { pi: job.owner.pi } : {}),
    });
    const spec = {
      jobId: job.jobId,
      attempt: alloc.attempt,
      command: job.containerProperties.command ?? [],
      environment,
      containerProperties: job.containerProperties,
      resources: job.resources,
      logStreamName,
    };
    // Start only once STARTING is durable: after a crash, an attempt that ran is always on record.
    this.writer.write(job).then(
      () => {
        if (job.status === 'STARTING' && this.allocations.get(job.jobId) === alloc) this.runtime.start(spec);
      },
      (err: unknown) => {
        if (this.allocations.get(job.jobId) === alloc)
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
    const alloc = this.allocations.get(jobId);
    if (!job || !alloc || alloc.attempt !== attempt || job.status !== 'STARTING') return;
    const now = this.now;
    alloc.startedAt = now;
    job.startedAt = now;
    if (info.taskArn) job.container.taskArn = info.taskArn;
    this.setStatus(job, 'RUNNING');
    this.armTimeout(job, alloc);
    if (alloc.stopReason !== undefined) void this.runtime.stop(jobId, attempt, alloc.stopReason);
  }

  output(jobId: string, attempt: number, stream: 'stdout' | 'stderr', data: Buffer): void {
    const job = this.active.get(jobId);
    if (!job?.container.logStreamName || this.allocations.get(jobId)?.attempt !== attempt) return;
    this.logs.write(job.container.logStreamName, stream, data);
  }

  exited(jobId: string, attempt: number, report: ExitReport): void {
    const job = this.active.get(jobId);
    const alloc = this.allocations.get(jobId);
    if (!job || !alloc || alloc.attempt !== attempt) return;
    this.finishAttempt(job, report);
  }

  /** Records the attempt that just ended and decides: SUCCEEDED, retry (RUNNABLE) or FAILED. */
  private finishAttempt(job: Job, report: ExitReport): void {
    const alloc = this.release(job.jobId);
    const now = this.now;
    const logStreamName = job.container.logStreamName;
    if (logStreamName) void this.logs.close(logStreamName);
    const timedOut = alloc?.timedOut === true;
    const terminated = job.isTerminated === true;
    let statusReason = report.statusReason ?? ESSENTIAL_EXITED;
    if (timedOut) statusReason = TIMEOUT_REASON;
    else if (terminated) statusReason = alloc?.stopReason ?? job.statusReason ?? 'Terminated';
    const container = { ...job.container };
    if (report.exitCode !== undefined) container.exitCode = report.exitCode;
    else delete container.exitCode;
    if (report.reason !== undefined) container.reason = report.reason;
    job.container = container;
    job.attempts.push({
      container: {
        ...(report.exitCode !== undefined ? { exitCode: report.exitCode } : {}),
        ...(report.reason !== undefined ? { reason: report.reason } : {}),
        ...(logStreamName ? { logStreamName } : {}),
        ...(container.containerInstanceArn ? { containerInstanceArn: container.containerInstanceArn } : {}),
        ...(container.taskArn ? { taskArn: container.taskArn } : {}),
        networkInterfaces: [],
      },
      ...(alloc?.startedAt !== undefined
        ? { startedAt: alloc.startedAt }
        : job.startedAt !== undefined
          ? { startedAt: job.startedAt }
          : {}),
      stoppedAt: now,
      statusReason,
    });
    const ok = report.exitCode === 0 && !timedOut && !terminated && report.statusReason === undefined;
    if (ok) {
      job.stoppedAt = now;
      this.setStatus(job, 'SUCCEEDED', statusReason);
      this.settled(job);
      return;
    }
    const outcome = {
      ...(report.exitCode !== undefined ? { exitCode: report.exitCode } : {}),
      ...(report.reason !== undefined ? { reason: report.reason } : {}),
      statusReason,
    };
    if (!timedOut && !terminated && shouldRetry(job.retryStrategy, job.attempts.length, outcome)) {
      this.makeRunnable(job);
      return;
    }
    this.setFailed(job, statusReason);
  }

  // ------------------------------------------------------------------ cancel / terminate

  private async requireOwnJob(caller: Caller, jobId: string): Promise<Job> {
    const job = (await this.findJobs([jobId])).get(jobId);
    if (!job || (!caller.admin && job.owner?.pi !== caller.pi))
      throw new ClientException(
        `jobId ${JSON.stringify(jobId)} does not exist; check the id with list-jobs or describe-jobs`,
      );
    return job;
  }

  async cancel(caller: Caller, input: Input): Promise<Record<string, never>> {
    const job = await this.requireOwnJob(caller, input.jobId as string);
    const reason = (input.reason as string).slice(0, 1024);
    if (this.stopArrayOrVirtualChild(job, reason, false)) return {};
    const live = this.active.get(job.jobId);
    if (!live || isTerminal(live.status)) return {};
    if (live.status === 'STARTING' || live.status === 'RUNNING') return {};
    live.isCancelled = true;
    if (live.status === 'PENDING') {
      // AWS cancels a PENDING job once its dependencies have completed.
      live.statusReason = reason;
      this.writer.enqueue(live);
      return {};
    }
    this.setFailed(live, reason);
    return {};
  }

  async terminate(caller: Caller, input: Input): Promise<Record<string, never>> {
    const job = await this.requireOwnJob(caller, input.jobId as string);
    const reason = (input.reason as string).slice(0, 1024);
    if (this.stopArrayOrVirtualChild(job, reason, true)) return {};
    const live = this.active.get(job.jobId);
    if (!live || isTerminal(live.status)) return {};
    live.isTerminated = true;
    if (live.status === 'STARTING' || live.status === 'RUNNING') {
      const alloc = this.allocations.get(live.jobId);
      if (alloc) {
        alloc.stopReason = reason;
        this.writer.enqueue(live);
        await this.runtime.stop(live.jobId, alloc.attempt, reason);
      }
      return {};
    }
    live.isCancelled = true;
    this.setFailed(live, reason);
    return {};
  }

  /**
   * Cancel/terminate of a released array parent (its waiting children fail at once; with terminate, running ones are
   * stopped; the parent fails once all have settled) or of a child that has not started. True when handled.
   */
  private stopArrayOrVirtualChild(job: Job, reason: string, terminate: boolean): boolean {
    const st = this.arrays.get(job.jobId);
    if (st) {
      st.parent.isCancelled = true;
      if (terminate) st.parent.isTerminated = true;
      st.parent.statusReason = reason;
      this.writer.enqueue(st.parent);
      for (let i = 0; i < st.size; i++) {
        const code = st.codes[i];
        if (code === ChildCode.PENDING || code === ChildCode.RUNNABLE) this.failVirtualChild(st, i, reason, false);
      }
      for (const child of [...st.live.values()]) {
        if (child.status === 'RUNNABLE') {
          child.isCancelled = true;
          this.setFailed(child, reason);
        } else if (terminate)
          void this.terminate({ user: 'root', pi: '', admin: true }, { jobId: child.jobId, reason });
      }
      this.maybeFinishArray(st);
      return true;
    }
    const c = parseChildId(job.jobId);
    const parent = c && this.arrays.get(c.parentId);
    if (c && parent && (parent.codes[c.index] === ChildCode.PENDING || parent.codes[c.index] === ChildCode.RUNNABLE)) {
      this.failVirtualChild(parent, c.index, reason, true);
      return true;
    }
    return false;
  }

  /** Terminates every job of a queue (DeleteJobQueue). */
  async terminateQueue(queueArn: string, reason: string): Promise<void> {
    const admin: Caller = { user: 'root', pi: '', admin: true };
    for (const job of [...this.active.values()])
      if (job.jobQueueArn === queueArn && !isTerminal(job.status))
        await this.terminate(admin, { jobId: job.jobId, reason });
  }

  // ------------------------------------------------------------------ reads

  /** The statusReason a reader sees: for RUNNABLE jobs, why it waits right now. */
  private reasonsFor(jobs: readonly Job[]): Map<string, string | undefined> {
    const out = new Map<string, string | undefined>();
    const byQueue = new Map<string, Map<string, Job>>();
    for (const j of jobs) {
      const waiting =
        j.status === 'RUNNABLE' && (this.active.get(j.jobId) === j || this.virtualChild(j.jobId) !== undefined);
      if (waiting) {
        let m = byQueue.get(j.jobQueueArn);
        if (!m) byQueue.set(j.jobQueueArn, (m = new Map()));
        m.set(j.jobId, j);
      } else out.set(j.jobId, j.statusReason);
    }
    if (byQueue.size === 0) return out;
    const snap = this.snapshot();
    for (const [queueArn, wanted] of byQueue) {
      const q = this.registry.queueByNameOrArn(queueArn);
      const queueView = q && {
        name: q.jobQueueName,
        computeEnvironments: q.computeEnvironmentOrder.map((o) => o.computeEnvironment),
      };
      let ahead = 0;
      const visit = (id: string): boolean => {
        const j = wanted.get(id);
        if (j) {
          out.set(id, queueView ? explainWait(snap, queueView, j.resources, ahead).text : j.statusReason);
          wanted.delete(id);
        }
        ahead++;
        return wanted.size === 0;
      };
      scan: for (const id of this.runnable.get(queueArn) ?? []) {
        const st = this.arrays.get(id);
        if (st) {
          for (const i of st.runnableIndices()) if (visit(`${id}:${i}`)) break scan;
        } else if (visit(id)) break;
      }
      for (const [id, j] of wanted) out.set(id, j.statusReason);
    }
    return out;
  }

  async describe(caller: Caller, input: Input): Promise<{ jobs: Record<string, unknown>[] }> {
    const ids = input.jobs as string[];
    if (ids.length > 100)
      throw new ClientException(`jobs has ${ids.length} ids; DescribeJobs accepts at most 100 per call`);
    const found = await this.findJobs(ids);
    const jobs = ids
      .map((id) => found.get(id))
      .filter((j): j is Job => !!j && (caller.admin || j.owner?.pi === caller.pi));
    const reasons = this.reasonsFor(jobs);
    return { jobs: jobs.map((j) => jobDetail(this.withSummary(j), reasons.get(j.jobId))) };
  }

  async list(caller: Caller, input: Input): Promise<{ jobSummaryList: Record<string, unknown>[]; nextToken?: string }> {
    checkRange('maxResults', input.maxResults as number | undefined, 1, 1000);
    const filters = (input.filters as { name?: string; values?: string[] }[] | undefined) ?? [];
    if (!input.jobQueue && !input.arrayJobId && !input.multiNodeJobId)
      throw new ClientException(
        'ListJobs needs jobQueue, arrayJobId or multiNodeJobId: name the queue whose jobs you want',
      );
    let jobQueueArn: string | undefined;
    if (input.jobQueue) {
      const q = this.registry.queueByNameOrArn(input.jobQueue as string);
      if (!q)
        throw new ClientException(
          `jobQueue ${JSON.stringify(input.jobQueue)} does not exist; list queues with describe-job-queues`,
        );
      jobQueueArn = q.jobQueueArn;
    }
    if (input.arrayJobId) return this.listChildren(caller, input, filters);
    const query: Parameters<Store['listJobs']>[0] = { limit: (input.maxResults as number | undefined) ?? 100 };
    if (jobQueueArn) query.jobQueueArn = jobQueueArn;
    if (input.arrayJobId) query.arrayJobId = input.arrayJobId as string;
    if (input.multiNodeJobId) query.arrayJobId = `${input.multiNodeJobId as string}#mnp`;
    if (filters.length === 0) query.statuses = [(input.jobStatus as JobStatus | undefined) ?? 'RUNNING'];
    // As AWS documents: with a filter, jobStatus is ignored and jobs of every status are listed.
    for (const f of filters) {
      const v = f.values?.[0];
      if (!f.name || v === undefined || (f.values?.length ?? 0) !== 1)
        throw new ClientException(`filters: each filter needs a name and exactly one value; got ${JSON.stringify(f)}`);
      const prefix = v.endsWith('*');
      const value = prefix ? v.slice(0, -1) : v;
      switch (f.name) {
        case 'JOB_NAME':
          query.jobName = { value, prefix };
          break;
        case 'JOB_DEFINITION':
          query.jobDefinition = { value, prefix };
          break;
        case 'BEFORE_CREATED_AT':
        case 'AFTER_CREATED_AT': {
          const t = Number(v);
          if (!Number.isFinite(t))
            throw new ClientException(
              `filters: ${f.name} takes a time in epoch milliseconds; got ${JSON.stringify(v)}`,
            );
          if (f.name === 'BEFORE_CREATED_AT') query.createdBefore = t;
          else query.createdAfter = t;
          break;
        }
        default:
          throw new ClientException(
            `filters: unknown filter name ${JSON.stringify(f.name)}; use JOB_NAME, JOB_DEFINITION, BEFORE_CREATED_AT or AFTER_CREATED_AT`,
          );
      }
    }
    if (!caller.admin) query.pi = caller.pi;
    const cursor = decodeToken<{ c: number; i: string; n: number }>('jobs', input.nextToken as string | undefined);
    if (cursor) query.after = { createdAt: cursor.c, jobId: cursor.i };
    await this.writer.barrier();
    const page = await this.store.listJobs(query);
    const jobs = page.jobs.map((j) => this.active.get(j.jobId) ?? j);
    const reasons = this.reasonsFor(jobs);
    const out: { jobSummaryList: Record<string, unknown>[]; nextToken?: string } = {
      jobSummaryList: jobs.map((j) => jobSummary(j, reasons.get(j.jobId))),
    };
    if (page.last)
      out.nextToken = encodeToken('jobs', { c: page.last.createdAt, i: page.last.jobId, n: (cursor?.n ?? 0) + 1 });
    return out;
  }

  /** ListJobs by arrayJobId: stored children merged with those still waiting as one byte, in index order. */
  private async listChildren(
    caller: Caller,
    input: Input,
    filters: { name?: string; values?: string[] }[],
  ): Promise<{ jobSummaryList: Record<string, unknown>[]; nextToken?: string }> {
    const parentId = input.arrayJobId as string;
    const parent = (await this.findJobs([parentId])).get(parentId);
    if (!parent || parent.arrayProperties?.size === undefined || (!caller.admin && parent.owner?.pi !== caller.pi))
      return { jobSummaryList: [] };
    const statuses =
      filters.length === 0 || input.jobStatus !== undefined
        ? [(input.jobStatus as JobStatus | undefined) ?? 'RUNNING']
        : undefined;
    const limit = (input.maxResults as number | undefined) ?? 100;
    const after = decodeToken<{ x: number }>('children', input.nextToken as string | undefined)?.x ?? -1;
    await this.writer.barrier();
    const page = await this.store.listJobs({
      arrayJobId: parentId,
      ...(statuses ? { statuses } : {}),
      afterIndex: after,
      limit: limit + 1,
    });
    const stored = page.jobs.map((j) => this.active.get(j.jobId) ?? j);
    const st = this.arrays.get(parentId);
    const out: Job[] = [];
    let r = 0;
    for (let i = after + 1; st && i < st.size && out.length <= limit; i++) {
      const code = st.codes[i];
      if (code !== ChildCode.PENDING && code !== ChildCode.RUNNABLE) continue;
      const status = code === ChildCode.PENDING ? 'PENDING' : 'RUNNABLE';
      if (statuses && !statuses.includes(status)) continue;
      while (r < stored.length && (stored[r]!.arrayProperties?.index ?? 0) < i && out.length <= limit)
        out.push(stored[r++]!);
      if (out.length <= limit) out.push(deriveChild(parent, i, status, parent.statusChangedAt));
    }
    while (r < stored.length && out.length <= limit) out.push(stored[r++]!);
    const pageJobs = out.slice(0, limit);
    const reasons = this.reasonsFor(pageJobs);
    const res: { jobSummaryList: Record<string, unknown>[]; nextToken?: string } = {
      jobSummaryList: pageJobs.map((j) => jobSummary(j, reasons.get(j.jobId))),
    };
    if (out.length > limit)
      res.nextToken = encodeToken('children', { x: pageJobs[pageJobs.length - 1]!.arrayProperties!.index! });
    return res;
  }

  // ------------------------------------------------------------------ tags on jobs

  async jobForTags(arn: string): Promise<Job | undefined> {
    const id = arn.slice(arn.lastIndexOf('/') + 1);
    return (await this.findJobs([id])).get(id);
  }

  async saveJobTags(job: Job, tags: Record<string, string>): Promise<void> {
    const live = this.active.get(job.jobId) ?? job;
    live.tags = tags;
    await this.writer.write(live);
  }

  /** Counts for health and dashboards. */
  stats(): { active: number; running: number; usedVcpus: number } {
    return { active: this.active.size, running: this.allocations.size, usedVcpus: this.hostUsage.vcpus };
  }
}
