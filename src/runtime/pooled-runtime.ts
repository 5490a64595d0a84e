/**
 * One Runtime over several capacity pools: this host's runtime (processes or containers) and one runtime per attached
 * pool (a Slurm partition), made on first use. Each attempt goes to the runtime of the pool it was placed on
 * (RunSpec.pool) and is stopped and re-attached there; the engine sees a single runtime.
 */
import type { Runtime, RunSpec, RuntimeEvents, RuntimeStatus } from '../core/ports.js';

/** Makes the runtime of a pool; it reports through `events`. */
export type PoolRuntimeFactory = (pool: string, events: RuntimeEvents) => Runtime;

const key = (jobId: string, attempt: number): string => `${jobId}#${attempt}`;

export class PooledRuntime implements Runtime {
  private readonly pools = new Map<string, Runtime>();
  /** Which pool runtime holds each live attempt (attempts of this host are not listed). */
  private readonly holders = new Map<string, Runtime>();
  private readonly poolEvents: RuntimeEvents;

  constructor(
    private readonly host: Runtime,
    private readonly makePool: PoolRuntimeFactory,
    events: RuntimeEvents,
  ) {
    this.poolEvents = {
      started: (jobId, attempt, info) => events.started(jobId, attempt, info),
      output: (jobId, attempt, stream, data, node) => events.output(jobId, attempt, stream, data, node),
      exited: (jobId, attempt, report, durable) => {
        this.holders.delete(key(jobId, attempt));
        events.exited(jobId, attempt, report, durable);
      },
    };
  }

  get name(): string {
    return this.host.name;
  }

  get isolatesJobs(): boolean | undefined {
    return this.host.isolatesJobs;
  }

  private runtimeOf(pool: string | undefined): Runtime {
    if (pool === undefined) return this.host;
    let rt = this.pools.get(pool);
    if (!rt) this.pools.set(pool, (rt = this.makePool(pool, this.poolEvents)));
    return rt;
  }

  status(): RuntimeStatus {
    const notes = [...this.host.status().notes];
    for (const rt of this.pools.values()) notes.push(...rt.status().notes);
    return { name: this.name, notes };
  }

  pendingReason(jobId: string): string | undefined {
    for (const rt of [this.host, ...this.pools.values()]) {
      const r = rt.pendingReason?.(jobId);
      if (r !== undefined) return r;
    }
    return undefined;
  }

  start(spec: RunSpec): void {
    const rt = this.runtimeOf(spec.pool);
    if (spec.nodes && rt === this.host && this.host.runsMultiNode !== true) {
      queueMicrotask(() =>
        this.poolEvents.exited(spec.jobId, spec.attempt, {
          reason: `CannotStartContainerError: multi-node parallel jobs run on a Slurm-backed compute environment (docs/slurm.md) or on this host with --runtime process or --runtime docker; this host's ${this.host.name} runtime cannot run them`,
        }),
      );
      return;
    }
    if (rt !== this.host) this.holders.set(key(spec.jobId, spec.attempt), rt);
    rt.start(spec);
  }

  async stop(jobId: string, attempt: number, reason: string): Promise<void> {
    await (this.holders.get(key(jobId, attempt)) ?? this.host).stop(jobId, attempt, reason);
  }

  async recover(
    running: readonly { jobId: string; attempt: number; pool?: string }[],
  ): Promise<{ jobId: string; attempt: number }[]> {
    const byRuntime = new Map<Runtime, { jobId: string; attempt: number }[]>([[this.host, []]]);
    for (const r of running) {
      const rt = this.runtimeOf(r.pool);
      if (rt !== this.host) this.holders.set(key(r.jobId, r.attempt), rt);
      const list = byRuntime.get(rt) ?? [];
      list.push({ jobId: r.jobId, attempt: r.attempt });
      byRuntime.set(rt, list);
    }
    const gone: { jobId: string; attempt: number }[] = [];
    for (const [rt, list] of byRuntime) gone.push(...(await rt.recover(list)));
    for (const g of gone) this.holders.delete(key(g.jobId, g.attempt));
    return gone;
  }

  async abandon(): Promise<void> {
    await Promise.all([this.host, ...this.pools.values()].map((rt) => rt.abandon()));
  }

  async close(): Promise<void> {
    await Promise.all([this.host, ...this.pools.values()].map((rt) => rt.close()));
  }
}
