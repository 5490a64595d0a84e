/**
 * What the leader's running attempts hold: per attempt its allocation, per compute environment and for the host the
 * sums. The scheduler's snapshot and the why-waits facts are built from here.
 */
import { poolOf } from '../../core/pools.js';
import type { HostCapacity, Job } from '../../core/types.js';
import type { SchedComputeEnvironment, SchedHost } from '../../scheduler/schedule.js';
import type { ResourceRegistry } from '../resources.js';

/** One STARTING/RUNNING attempt and what it holds. */
export interface Allocation {
  computeEnvironmentArn: string;
  /** The pool the attempt runs on (`slurm:<partition>`); undefined: this host. */
  pool?: string;
  vcpus: number;
  memoryMiB: number;
  gpus: number;
  attempt: number;
  startedAt?: number;
  timer?: NodeJS.Timeout;
  timedOut?: boolean;
  stopReason?: string;
}

/** A pool environment without unmanagedvCpus: every job is handed to the pool's own scheduler, which queues them. */
const UNCAPPED_POOL_VCPUS = 1_000_000;

export class Capacity {
  private readonly allocations = new Map<string, Allocation>();
  private readonly ceUsage = new Map<string, { vcpus: number; jobs: number }>();
  private readonly hostUsage = { vcpus: 0, memoryMiB: 0, gpus: 0, jobs: 0 };

  constructor(
    private readonly host: HostCapacity,
    private readonly registry: ResourceRegistry,
  ) {}

  get(jobId: string): Allocation | undefined {
    return this.allocations.get(jobId);
  }

  get running(): number {
    return this.allocations.size;
  }

  get usedVcpus(): number {
    return this.hostUsage.vcpus;
  }

  all(): IterableIterator<Allocation> {
    return this.allocations.values();
  }

  /** Records that the job's next attempt holds its resources on `ceArn`. */
  allocate(job: Job, ceArn: string): Allocation {
    const r = job.resources;
    const ce = this.registry.ceByNameOrArn(ceArn);
    const pool = ce ? poolOf(ce) : undefined;
    const alloc: Allocation = {
      computeEnvironmentArn: ceArn,
      ...(pool ? { pool } : {}),
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
    // Another pool's nodes hold the attempt: this host's room is not touched.
    if (pool) return alloc;
    this.hostUsage.vcpus += r.vcpus;
    this.hostUsage.memoryMiB += r.memoryMiB;
    this.hostUsage.gpus += r.gpus;
    this.hostUsage.jobs++;
    return alloc;
  }

  /** Frees what the job's attempt held; returns its allocation (undefined when it held nothing). */
  release(jobId: string): Allocation | undefined {
    const alloc = this.allocations.get(jobId);
    if (!alloc) return undefined;
    this.allocations.delete(jobId);
    if (alloc.timer) clearTimeout(alloc.timer);
    const use = this.ceUsage.get(alloc.computeEnvironmentArn);
    if (use) {
      use.vcpus -= alloc.vcpus;
      use.jobs--;
    }
    if (alloc.pool) return alloc;
    this.hostUsage.vcpus -= alloc.vcpus;
    this.hostUsage.memoryMiB -= alloc.memoryMiB;
    this.hostUsage.gpus -= alloc.gpus;
    this.hostUsage.jobs--;
    return alloc;
  }

  /** Stops every timeout timer (the engine is closing or stepping down). */
  clearTimers(): void {
    for (const a of this.allocations.values()) if (a.timer) clearTimeout(a.timer);
  }

  snapshotHost(): SchedHost {
    const h = this.host;
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

  schedCe(arn: string): SchedComputeEnvironment | undefined {
    const ce = this.registry.ceByNameOrArn(arn);
    if (!ce) return undefined;
    const use = this.ceUsage.get(ce.computeEnvironmentArn);
    const pool = poolOf(ce);
    return {
      arn: ce.computeEnvironmentArn,
      name: ce.computeEnvironmentName,
      enabled: ce.state === 'ENABLED',
      managed: ce.type === 'MANAGED',
      ...(pool ? { pool } : {}),
      maxVcpus: pool ? (ce.unmanagedvCpus ?? UNCAPPED_POOL_VCPUS) : (ce.computeResources?.maxvCpus ?? 0),
      usedVcpus: use?.vcpus ?? 0,
      runningJobs: use?.jobs ?? 0,
    };
  }

  queueCes(arns: readonly string[]): SchedComputeEnvironment[] {
    return arns.map((a) => this.schedCe(a)).filter((c): c is SchedComputeEnvironment => !!c);
  }

  /** Every compute environment with what is in use on it. */
  computeEnvironments(): Map<string, SchedComputeEnvironment> {
    const ces = new Map<string, SchedComputeEnvironment>();
    for (const ce of this.registry.computeEnvironments.values())
      ces.set(ce.computeEnvironmentArn, this.schedCe(ce.computeEnvironmentArn)!);
    return ces;
  }
}
