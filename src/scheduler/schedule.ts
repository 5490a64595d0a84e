/**
 * The scheduler: a pure function from a snapshot of capacity and RUNNABLE jobs to a plan.
 *
 * Rules, as AWS Batch documents them:
 * - queues with a higher `priority` are served first; within a queue jobs go first in, first out
 *   (a smaller job behind a big one that does not fit may start: backfill);
 * - a queue tries its compute environments in `computeEnvironmentOrder`;
 * - only ENABLED MANAGED environments receive jobs (a DISABLED queue still runs what it already holds);
 * - an environment never runs more than its `maxvCpus`; the host never runs more vCPUs, memory or GPUs than it has.
 *
 * - a queue with a fair-share policy serves the share with the lowest charge first, keeps the reserved ratio of its
 *   maximum vCPUs free for shares not yet active, and orders each share by schedulingPriority, then FIFO
 *   (fair-share.ts);
 * - a job that asks for consumable resources starts only when enough of each is free.
 *
 * A pass stays cheap however deep the queues are (learnt from Slurm and Armada): jobs come from ordered per-queue and
 * per-share structures (runnable-index.ts), a job shape that failed to fit is not tried again in the same queue during
 * the pass (capacity only shrinks within a pass), and each queue is looked into at most `queueLookback` jobs deep.
 *
 * The same facts explain why a job waits (see explain.ts), so both live here and share `fits`.
 */
import type { JobResources } from '../core/types.js';
import {
  charge,
  decayTau,
  decayWindowSeconds,
  isActive,
  reservedRatio,
  effectiveUsage,
  weightOf,
  type FairsharePolicy,
  type ShareUsage,
} from './fair-share.js';

export interface SchedComputeEnvironment {
  arn: string;
  name: string;
  enabled: boolean;
  managed: boolean;
  /**
   * The environment draws on a pool of its own (a Slurm partition), not on this host: only its maxVcpus bounds it,
   * and the pool's scheduler places the jobs on its nodes.
   */
  pool?: string;
  maxVcpus: number;
  usedVcpus: number;
  runningJobs: number;
}

/** Whether jobs can be placed on the environment at all: this host's MANAGED ones and attached pools. */
export function placeable(ce: SchedComputeEnvironment): boolean {
  return ce.enabled && (ce.managed || ce.pool !== undefined);
}

/** A consumable resource a job holds while it runs (licenses and other counted things). */
export interface ConsumableNeed {
  /** The resource's ARN (the key of Snapshot.consumables). */
  consumableResource: string;
  quantity: number;
}

export interface SchedJob {
  jobId: string;
  resources: JobResources;
  consumables?: readonly ConsumableNeed[];
}

/** One share identifier of a fair-share queue: its usage record and its RUNNABLE jobs in run order. */
export interface SchedShare {
  id: string;
  usage: ShareUsage;
  runnable: Iterable<SchedJob>;
  /** Whether the share has jobs SUBMITTED..RUNNING (RUNNABLE ones are in `runnable`). */
  hasJobs: boolean;
}

export interface SchedQueue {
  arn: string;
  name: string;
  priority: number;
  /** Compute environment ARNs, in the order the queue tries them. */
  computeEnvironments: string[];
  /** RUNNABLE jobs in first-in-first-out order (a queue without a fair-share policy). */
  runnable: Iterable<SchedJob>;
  /** A queue with a fair-share policy: its shares (including recently active ones without RUNNABLE jobs). */
  fairshare?: { policy: FairsharePolicy; shares: readonly SchedShare[] };
}

export interface SchedHost {
  vcpus: number;
  memoryMiB: number;
  gpus: number;
  usedVcpus: number;
  usedMemoryMiB: number;
  usedGpus: number;
  runningJobs: number;
}

export interface Snapshot {
  host: SchedHost;
  computeEnvironments: ReadonlyMap<string, SchedComputeEnvironment>;
  queues: readonly SchedQueue[];
  /** Consumable resource ARN -> quantity free now. */
  consumables?: ReadonlyMap<string, number>;
  /** The injected clock's now (epoch ms): fair-share usage is decayed to it. */
  now?: number;
}

export interface Placement {
  jobId: string;
  queueArn: string;
  computeEnvironmentArn: string;
  shareIdentifier?: string;
}

export interface Plan {
  starts: Placement[];
}

export interface ScheduleOptions {
  /** At most this many placement attempts per call, so one call stays short however long the queues are. */
  maxExamined?: number;
  /** At most this many jobs are looked at (tried or skipped) per call. */
  maxLooked?: number;
  /** At most this many jobs are looked at per queue (Armada's queue lookback). */
  queueLookback?: number;
  /**
   * A share that has this many jobs looked at in a row without a start is left for the next pass (its later jobs
   * are mostly of the shapes that just failed; other shares still get their turn).
   */
  shareLookback?: number;
}

/** The smallest vCPU amount a job can ask for (Fargate's 0.25). */
const MIN_VCPUS = 0.25;
const EPS = 1e-9;

/** Whether `need` fits into the free room of the host and of the environment. */
export function fits(need: JobResources, host: SchedHost, ce: SchedComputeEnvironment): boolean {
  if (!placeable(ce) || ce.usedVcpus + need.vcpus > ce.maxVcpus + EPS) return false;
  if (ce.pool !== undefined) return true;
  return (
    host.usedVcpus + need.vcpus <= host.vcpus + EPS &&
    host.usedMemoryMiB + need.memoryMiB <= host.memoryMiB &&
    host.usedGpus + need.gpus <= host.gpus
  );
}

/** The largest job an environment could ever run on this host, or undefined when it can run none. */
export function largestFit(host: SchedHost, ce: SchedComputeEnvironment): JobResources | undefined {
  if (ce.pool !== undefined)
    // The pool's nodes are not known here: its own scheduler refuses what none of them can hold.
    return { vcpus: ce.maxVcpus, memoryMiB: Number.MAX_SAFE_INTEGER, gpus: Number.MAX_SAFE_INTEGER };
  if (!ce.managed) return undefined;
  return { vcpus: Math.min(ce.maxVcpus, host.vcpus), memoryMiB: host.memoryMiB, gpus: host.gpus };
}

/** A key equal for jobs that fit or fail alike: resources and consumables. */
export function shapeKey(job: SchedJob): string {
  const r = job.resources;
  const base = `${r.vcpus}/${r.memoryMiB}/${r.gpus}`;
  if (!job.consumables?.length) return base;
  return `${base}|${job.consumables.map((c) => `${c.consumableResource}=${c.quantity}`).join(',')}`;
}

/** The maximum vCPUs a queue can use: the sum of its usable environments' maxvCpus, capped by the host. */
export function queueMaxVcpus(host: SchedHost, ces: readonly SchedComputeEnvironment[]): number {
  let onHost = 0;
  let pools = 0;
  for (const c of ces)
    if (c.enabled && c.pool !== undefined) pools += c.maxVcpus;
    else if (c.enabled && c.managed) onHost += c.maxVcpus;
  return Math.min(onHost, host.vcpus) + pools;
}

/** The mutable copy of capacity one pass works on. */
class Pass {
  readonly host: SchedHost;
  readonly ces = new Map<string, SchedComputeEnvironment>();
  readonly consumables: Map<string, number>;
  readonly starts: Placement[] = [];
  examined = 0;
  looked = 0;
  /** Some environment draws on a pool of its own: a full host does not end the pass. */
  private pools = false;

  constructor(
    snapshot: Snapshot,
    private readonly maxExamined: number,
    private readonly maxLooked: number,
  ) {
    this.host = { ...snapshot.host };
    for (const [arn, ce] of snapshot.computeEnvironments) {
      this.ces.set(arn, { ...ce });
      if (ce.pool !== undefined && placeable(ce)) this.pools = true;
    }
    this.consumables = new Map(snapshot.consumables ?? []);
  }

  /** Nothing more can start in this pass. */
  done(): boolean {
    const h = this.host;
    return (
      this.examined >= this.maxExamined ||
      this.looked >= this.maxLooked ||
      (!this.pools && (h.vcpus - h.usedVcpus < MIN_VCPUS || h.usedMemoryMiB >= h.memoryMiB))
    );
  }

  queueCes(q: SchedQueue): SchedComputeEnvironment[] {
    return q.computeEnvironments.map((arn) => this.ces.get(arn)).filter((c): c is SchedComputeEnvironment => !!c);
  }

  /** Tries to start a job in one of the queue's environments; true when placed. */
  tryStart(job: SchedJob, q: SchedQueue, qces: readonly SchedComputeEnvironment[], share?: string): boolean {
    this.examined++;
    const need = job.resources;
    for (const c of job.consumables ?? [])
      if ((this.consumables.get(c.consumableResource) ?? 0) < c.quantity) return false;
    const ce = qces.find((c) => fits(need, this.host, c));
    if (!ce) return false;
    ce.usedVcpus += need.vcpus;
    ce.runningJobs++;
    if (ce.pool !== undefined) return this.placed(job, q, ce, share);
    const h = this.host;
    h.usedVcpus += need.vcpus;
    h.usedMemoryMiB += need.memoryMiB;
    h.usedGpus += need.gpus;
    h.runningJobs++;
    return this.placed(job, q, ce, share);
  }

  private placed(job: SchedJob, q: SchedQueue, ce: SchedComputeEnvironment, share: string | undefined): true {
    for (const c of job.consumables ?? [])
      this.consumables.set(c.consumableResource, (this.consumables.get(c.consumableResource) ?? 0) - c.quantity);
    this.starts.push({
      jobId: job.jobId,
      queueArn: q.arn,
      computeEnvironmentArn: ce.arn,
      ...(share !== undefined ? { shareIdentifier: share } : {}),
    });
    return true;
  }
}

const hasRoom = (qces: readonly SchedComputeEnvironment[]): boolean =>
  qces.some((c) => placeable(c) && c.maxVcpus - c.usedVcpus >= MIN_VCPUS);

function scheduleFifo(pass: Pass, q: SchedQueue, lookback: number): void {
  const qces = pass.queueCes(q);
  const failed = new Set<string>();
  let looked = 0;
  for (const job of q.runnable) {
    if (pass.done() || looked++ >= lookback || !hasRoom(qces)) return;
    pass.looked++;
    const key = shapeKey(job);
    if (failed.has(key)) continue;
    if (!pass.tryStart(job, q, qces)) failed.add(key);
  }
}

interface ShareCursor {
  share: SchedShare;
  jobs: Iterator<SchedJob>;
  weight: number;
  usage: number;
  running: number;
  charge: number;
  sinceStart: number;
}

/** A binary min-heap of share cursors by charge (ties: share identifier), for up to 500 shares. */
class ShareHeap {
  private readonly a: ShareCursor[] = [];
  get size(): number {
    return this.a.length;
  }
  private less(x: ShareCursor, y: ShareCursor): boolean {
    return x.charge < y.charge || (x.charge === y.charge && x.share.id < y.share.id);
  }
  push(c: ShareCursor): void {
    const a = this.a;
    a.push(c);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): ShareCursor | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** The fair-share facts of one queue at `now`: the cap the reservation leaves, and each share's standing. */
export function fairshareStanding(
  host: SchedHost,
  ces: readonly SchedComputeEnvironment[],
  fs: NonNullable<SchedQueue['fairshare']>,
  now: number,
): {
  maxVcpus: number;
  limit: number;
  activeShares: number;
  usedVcpus: number;
  shares: { id: string; weight: number; usage: number; running: number; charge: number; active: boolean }[];
} {
  const tau = decayTau(fs.policy);
  const window = decayWindowSeconds(fs.policy);
  const maxVcpus = queueMaxVcpus(host, ces);
  let activeShares = 0;
  let usedVcpus = 0;
  const shares = fs.shares.map((s) => {
    const active = isActive(s.usage, s.hasJobs, now, window);
    if (active) activeShares++;
    usedVcpus += s.usage.runningVcpus;
    const weight = weightOf(fs.policy, s.id);
    // An inactive share's usage is forgotten (docs/decisions/0006-fair-share-decay.md).
    const usage = effectiveUsage(s.usage, now, tau);
    const running = s.usage.runningVcpus;
    return { id: s.id, weight, usage, running, charge: charge(weight, usage, running, tau), active };
  });
  const limit = maxVcpus * (1 - reservedRatio(fs.policy, activeShares));
  return { maxVcpus, limit, activeShares, usedVcpus, shares };
}

function scheduleFairshare(pass: Pass, q: SchedQueue, now: number, opts: Required<ScheduleOptions>): void {
  const fs = q.fairshare!;
  const qces = pass.queueCes(q);
  const tau = decayTau(fs.policy);
  const standing = fairshareStanding(pass.host, qces, fs, now);
  let used = standing.usedVcpus;
  const heap = new ShareHeap();
  fs.shares.forEach((share, i) => {
    const st = standing.shares[i]!;
    heap.push({ share, jobs: share.runnable[Symbol.iterator](), ...st, sinceStart: 0 });
  });
  const failed = new Set<string>();
  let looked = 0;
  while (
    heap.size &&
    !pass.done() &&
    looked < opts.queueLookback &&
    standing.limit - used >= MIN_VCPUS - EPS &&
    hasRoom(qces)
  ) {
    const c = heap.pop()!;
    const next = c.jobs.next();
    if (next.done || c.sinceStart >= opts.shareLookback) continue;
    looked++;
    pass.looked++;
    c.sinceStart++;
    const job = next.value;
    const key = shapeKey(job);
    if (!failed.has(key)) {
      if (used + job.resources.vcpus > standing.limit + EPS) failed.add(key);
      else if (pass.tryStart(job, q, qces, c.share.id)) {
        used += job.resources.vcpus;
        c.running += job.resources.vcpus;
        c.charge = charge(c.weight, c.usage, c.running, tau);
        c.sinceStart = 0;
      } else failed.add(key);
    }
    heap.push(c);
  }
}

/** Computes which RUNNABLE jobs start now and where. Pure: the snapshot is not modified. */
export function schedule(snapshot: Snapshot, opts: ScheduleOptions = {}): Plan {
  const o: Required<ScheduleOptions> = {
    maxExamined: opts.maxExamined ?? 20_000,
    maxLooked: opts.maxLooked ?? 50_000,
    queueLookback: opts.queueLookback ?? 10_000,
    shareLookback: opts.shareLookback ?? 64,
  };
  const pass = new Pass(snapshot, o.maxExamined, o.maxLooked);
  const queues = [...snapshot.queues].sort((a, b) => b.priority - a.priority || a.name.localeCompare(b.name));
  for (const q of queues) {
    if (pass.done()) break;
    if (q.fairshare) scheduleFairshare(pass, q, snapshot.now ?? 0, o);
    else scheduleFifo(pass, q, o.queueLookback);
  }
  return { starts: pass.starts };
}
