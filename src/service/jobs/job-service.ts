/**
 * The jobs part of one replica: commands and queries (any replica, against the store) and, while this replica holds
 * the leader lease, the engine (see engine/engine.ts). The API layer and the dashboard talk to this.
 */
import { jobsNeeding, listJobsByConsumableResource } from './consumable-queries.js';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ArnContext } from '../../core/arn.js';
import type { Caller } from '../../core/caller.js';
import type { AttemptExtras, Clock, LogSink, Runtime, Store } from '../../core/ports.js';
import type { HostCapacity, Job } from '../../core/types.js';
import { Engine } from '../engine/engine.js';
import { EngineHost } from '../engine/engine-host.js';
import type { EngineState } from '../engine/engine-state.js';
import type { ResourceRegistry } from '../resources.js';
import { JobCommands } from './job-commands.js';
import { JobQueries } from './job-queries.js';
import { JobReader } from './job-reader.js';
import { jobQueueSnapshot } from './queue-views.js';

type Input = Record<string, any>;

export interface JobServiceOptions {
  arn: ArnContext;
  host: HostCapacity;
  clock: Clock;
  /** Name of this host in `Host EC2 (instance ...) terminated.` reasons. */
  hostName?: string;
  /**
   * This replica's id. A single server (SQLite) uses a fixed one, so that after a crash it takes its lease back at
   * once; replicas of a shared database get a unique one each.
   */
  replicaId?: string;
  /** Leader lease: lifetime and renewal period (ms). */
  lease?: { ttlMs: number; renewMs: number };
  /** How often the engine polls for work in case a signal was lost (ms). */
  pollMs?: number;
  /** Whole jobs in memory past which the engine holds deep RUNNABLE ones compactly (EngineOptions.wholeJobsLimit). */
  wholeJobsLimit?: number;
  log?: (line: string) => void;
}

export class JobService {
  readonly host: EngineHost;
  readonly reader: JobReader;
  readonly commands: JobCommands;
  readonly queries: JobQueries;
  logs!: LogSink;
  /** What an attempt gets beyond its job (job-role credentials endpoint, secrets): never stored in the job nor shown. */
  attemptExtras?: (job: Job, attempt: number, pool?: string) => AttemptExtras | undefined;
  /** Called after every status change the engine of this replica makes; must not throw. */
  onTransition?: (job: Pick<Job, 'jobQueueArn' | 'status'>) => void;
  /** Called after every scheduling pass of this replica's engine (seconds, jobs started); must not throw. */
  onSchedulePass?: (seconds: number, starts: number) => void;

  constructor(
    private readonly store: Store,
    private readonly registry: ResourceRegistry,
    private readonly opts: JobServiceOptions,
  ) {
    const replicaId = opts.replicaId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.host = new EngineHost(
      store,
      () => this.makeEngine(),
      { holder: replicaId, ttlMs: opts.lease?.ttlMs ?? 5000, renewMs: opts.lease?.renewMs ?? 1000 },
      opts.log,
    );
    const engine = () => this.host.engine();
    this.reader = new JobReader(store, engine);
    this.queries = new JobQueries(store, registry, this.reader, opts.host);
    this.commands = new JobCommands(store, registry, this.reader, engine, opts, (job) =>
      this.queries.runnableReasonGuess(job),
    );
  }

  get runtime(): Runtime {
    return this.host.runtime;
  }

  set runtime(r: Runtime) {
    this.host.runtime = r;
  }

  private makeEngine(): Engine {
    const e = new Engine(this.store, this.registry, {
      arn: this.opts.arn,
      host: this.opts.host,
      clock: this.opts.clock,
      ...(this.opts.hostName ? { hostName: this.opts.hostName } : {}),
      ...(this.opts.pollMs ? { pollMs: this.opts.pollMs } : {}),
      ...(this.opts.wholeJobsLimit !== undefined ? { wholeJobsLimit: this.opts.wholeJobsLimit } : {}),
    });
    e.runtime = this.host.runtime;
    e.logs = this.logs;
    if (this.attemptExtras) e.attemptExtras = this.attemptExtras;
    e.onTransition = (job) => this.onTransition?.(job);
    e.onSchedulePass = (seconds, starts) => this.onSchedulePass?.(seconds, starts);
    return e;
  }

  /**
   * Starts taking part in leadership; resolves once the first round is decided and, if elected, the engine has loaded
   * (or, with `maxLoadWaitMs`, has loaded for that long: see EngineHost.settled).
   */
  async start(opts: { maxLoadWaitMs?: number } = {}): Promise<void> {
    this.host.start();
    await this.host.settled(opts.maxLoadWaitMs);
  }

  async close(): Promise<void> {
    await this.host.close();
  }

  /** The job of a live attempt on this replica's engine (the leader's), else undefined. */
  liveAttempt(jobId: string, attempt: number): Job | undefined {
    return this.host.engine()?.liveAttempt(jobId, attempt);
  }

  /** Called when resources changed: the engine places onto them at once. */
  kick(): void {
    this.host.engine()?.kick();
  }

  submit(caller: Caller, input: Input, bodyBytes: number) {
    return this.commands.submit(caller, input, bodyBytes);
  }
  cancel(caller: Caller, input: Input) {
    return this.commands.cancel(caller, input);
  }
  terminate(caller: Caller, input: Input) {
    return this.commands.terminate(caller, input);
  }
  terminateQueue(queueArn: string, reason: string) {
    return this.commands.terminateQueue(queueArn, reason);
  }
  jobForTags(arn: string) {
    return this.commands.jobForTags(arn);
  }
  saveJobTags(job: Job, tags: Record<string, string>) {
    return this.commands.saveJobTags(job, tags);
  }
  describe(caller: Caller, input: Input) {
    return this.queries.describe(caller, input);
  }
  list(caller: Caller, input: Input) {
    return this.queries.list(caller, input);
  }

  /** ListJobsByConsumableResource (any replica). */
  listByConsumableResource(caller: Caller, input: Input) {
    return listJobsByConsumableResource(this.store, this.registry, caller, input);
  }

  /** Unfinished jobs that need a consumable resource. */
  jobsNeeding(arn: string): Promise<number> {
    return jobsNeeding(this.store, arn);
  }

  /** GetJobQueueSnapshot (any replica): the queue as the leader last published it. */
  async queueSnapshot(input: Input): Promise<Record<string, unknown>> {
    // Created on another replica a moment ago?
    if (typeof input.jobQueue === 'string' && !this.registry.queueByNameOrArn(input.jobQueue))
      await this.registry.reload();
    return jobQueueSnapshot(this.registry, this.opts.arn, await this.queries.engineState(), input.jobQueue);
  }

  /** Capacity in use and queue fronts, as the leader last published them. */
  engineState(): Promise<EngineState> {
    return this.queries.engineState();
  }

  /** The state read last, without waiting (for samplers). */
  latestEngineState(): EngineState {
    return this.queries.latestEngineState();
  }

  /** Queue time limits now (tests drive the clock); 0 when this replica does not lead. */
  applyTimeLimits(): number {
    return this.host.engine()?.applyTimeLimits() ?? 0;
  }

  /** This replica's role and the leader's epoch, for health. */
  role(): { role: 'leader' | 'follower'; replicaId: string; epoch?: number } {
    const epoch = this.host.engine()?.epoch;
    return { role: this.host.role, replicaId: this.host.id, ...(epoch !== undefined ? { epoch } : {}) };
  }

  /** Counts for health. */
  stats(): { active: number; heldCompact: number; running: number; usedVcpus: number } | undefined {
    return this.host.engine()?.stats();
  }
}
