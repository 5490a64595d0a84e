/**
 * Runs an engine on this replica while it leads: a fresh Engine for every term (rebuilt from the store), closed when
 * the term ends. Runtime events go to the engine of the current term; commands see it only once it has loaded.
 * It also says every few seconds that this replica is alive (admins list replicas with `openbatch admin replicas`).
 */
import { hostname } from 'node:os';
import type { ExitReport, ReplicaRecord, Runtime, RuntimeEvents, Store } from '../../core/ports.js';
import type { Engine } from './engine.js';
import { Leadership, type LeadershipOptions } from './leadership.js';

const HEARTBEAT_MS = 2000;

export class EngineHost implements RuntimeEvents {
  private current: Engine | undefined;
  private ready = false;
  /** While paused (store unreachable, nobody else known to lead): runtime events kept for the next term. */
  private pausedEvents: { jobId: string; attempt: number; deliver: (e: RuntimeEvents) => void }[] | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();
  readonly leadership: Leadership;
  /** This replica's id (its lease holder name). */
  readonly id: string;
  private listenUrl = '';

  /** Where this replica's API listens (set once it does; the replica list shows it at once). */
  get url(): string {
    return this.listenUrl;
  }

  set url(url: string) {
    this.listenUrl = url;
    if (this.heartbeat) void this.store.heartbeatReplica(this.record()).catch(() => {});
  }
  runtime!: Runtime;

  constructor(
    private readonly store: Store,
    private readonly makeEngine: () => Engine,
    lease: LeadershipOptions,
    private readonly log: (line: string) => void = () => {},
  ) {
    this.id = lease.holder;
    this.leadership = new Leadership(store, lease, {
      elected: (epoch) => this.elected(epoch),
      lost: (reason, handedOver) => this.lost(reason, handedOver),
      handedOver: () => this.handedOver(),
    });
  }

  /** This replica's engine, once it leads and has loaded its state. */
  engine(): Engine | undefined {
    return this.ready ? this.current : undefined;
  }

  get role(): 'leader' | 'follower' {
    return this.ready ? 'leader' : 'follower';
  }

  private electing: Promise<void> | undefined;

  /**
   * Resolves once the first leadership round is decided and, if this replica was elected, its engine has loaded, or
   * after `maxLoadMs` of loading: meanwhile the API serves as a follower's does (reads from the store; submissions and
   * cancels are stored and taken up by the engine once it has loaded).
   */
  async settled(maxLoadMs?: number): Promise<void> {
    await this.leadership.tryRound();
    if (maxLoadMs === undefined) return this.electing;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.electing, new Promise((r) => (timer = setTimeout(r, maxLoadMs)))]);
    clearTimeout(timer);
  }

  /** Whether this replica was elected and its engine is still loading the active jobs. */
  get loading(): boolean {
    return this.current !== undefined && !this.ready;
  }

  start(): void {
    this.leadership.start();
    const beat = () => void this.store.heartbeatReplica(this.record()).catch(() => {});
    beat();
    this.heartbeat = setInterval(beat, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  private record(): ReplicaRecord {
    const epoch = this.engine()?.epoch;
    return {
      id: this.id,
      url: this.listenUrl,
      host: hostname(),
      pid: process.pid,
      startedAt: this.startedAt,
      seenAt: Date.now(),
      role: this.role,
      ...(epoch !== undefined ? { epoch } : {}),
    };
  }

  private elected(epoch: number): Promise<void> {
    this.electing = this.becomeLeader(epoch);
    return this.electing;
  }

  private async becomeLeader(epoch: number): Promise<void> {
    const engine = this.makeEngine();
    engine.runtime = this.engineRuntime();
    engine.onFenced = (err) => void this.leadership.lose(err.message);
    const replay = this.pausedEvents ?? [];
    this.pausedEvents = undefined;
    this.current = engine;
    this.log(`leading with epoch ${epoch}`);
    await engine.lead(epoch);
    if (this.current !== engine) return;
    for (const e of replay) e.deliver(engine);
    this.ready = true;
    void this.store.heartbeatReplica(this.record()).catch(() => {});
  }

  private async lost(reason: string, handedOver: boolean): Promise<void> {
    const engine = this.current;
    this.current = undefined;
    this.ready = false;
    if (!engine) return;
    this.log(`no longer leading: ${reason}`);
    await engine.close();
    if (handedOver) await this.runtime.abandon();
    else this.pausedEvents = []; // keep what the runtime reports for this replica's next term
  }

  /** Another replica leads now: what this one kept running and heard meanwhile is the new leader's. */
  private async handedOver(): Promise<void> {
    this.pausedEvents = undefined;
    this.log('another replica took over while the store was unreachable; leaving the attempts to it');
    await this.runtime.abandon();
  }

  /**
   * The runtime as this replica's engines see it: after a pause, attempts whose end was heard meanwhile count as
   * still running at recovery, and their events are replayed once the engine has loaded.
   */
  private engineRuntime(): Runtime {
    const rt = this.runtime;
    const heard = new Set((this.pausedEvents ?? []).map((e) => `${e.jobId}#${e.attempt}`));
    return {
      name: rt.name,
      status: () => rt.status(),
      start: (spec) => rt.start(spec),
      stop: (jobId, attempt, reason) => rt.stop(jobId, attempt, reason),
      recover: (running) => rt.recover(running.filter((r) => !heard.has(`${r.jobId}#${r.attempt}`))),
      abandon: () => rt.abandon(),
      close: () => rt.close(),
    };
  }

  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.leadership.stop();
  }

  started(jobId: string, attempt: number, info: { taskArn?: string; containerInstanceArn?: string }): void {
    this.deliver(jobId, attempt, (e) => e.started(jobId, attempt, info));
  }

  output(jobId: string, attempt: number, stream: 'stdout' | 'stderr', data: Buffer, node?: number): void {
    const kept = this.current ? data : Buffer.from(data); // the runtime may reuse its buffer before the replay
    this.deliver(jobId, attempt, (e) => e.output(jobId, attempt, stream, kept, node));
  }

  exited(jobId: string, attempt: number, report: ExitReport, durable?: () => void): void {
    this.deliver(jobId, attempt, (e) => e.exited(jobId, attempt, report, durable));
  }

  private deliver(jobId: string, attempt: number, deliver: (e: RuntimeEvents) => void): void {
    if (this.current) deliver(this.current);
    else this.pausedEvents?.push({ jobId, attempt, deliver });
  }
}
