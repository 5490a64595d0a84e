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
 * The same facts explain why a job waits (see explain.ts), so both live here and share `fits`.
 */
import type { JobResources } from '../core/types.js';

export interface SchedComputeEnvironment {
  arn: string;
  name: string;
  enabled: boolean;
  managed: boolean;
  maxVcpus: number;
  usedVcpus: number;
  runningJobs: number;
}

export interface SchedJob {
  jobId: string;
  resources: JobResources;
}

export interface SchedQueue {
  arn: string;
  name: string;
  priority: number;
  /** Compute environment ARNs, in the order the queue tries them. */
  computeEnvironments: string[];
  /** RUNNABLE jobs in first-in-first-out order. */
  runnable: Iterable<SchedJob>;
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
}

export interface Placement {
  jobId: string;
  queueArn: string;
  computeEnvironmentArn: string;
}

export interface Plan {
  starts: Placement[];
}

export interface ScheduleOptions {
  /** At most this many jobs are examined per call, so one call stays short however long the queues are. */
  maxExamined?: number;
}

/** The smallest vCPU amount a job can ask for (Fargate's 0.25). */
const MIN_VCPUS = 0.25;

/** Whether `need` fits into the free room of the host and of the environment. */
export function fits(need: JobResources, host: SchedHost, ce: SchedComputeEnvironment): boolean {
  return (
    ce.enabled &&
    ce.managed &&
    ce.usedVcpus + need.vcpus <= ce.maxVcpus + 1e-9 &&
    host.usedVcpus + need.vcpus <= host.vcpus + 1e-9 &&
    host.usedMemoryMiB + need.memoryMiB <= host.memoryMiB &&
    host.usedGpus + need.gpus <= host.gpus
  );
}

/** The largest job an environment could ever run on this host, or undefined when it can run none. */
export function largestFit(host: SchedHost, ce: SchedComputeEnvironment): JobResources | undefined {
  if (!ce.managed) return undefined;
  return { vcpus: Math.min(ce.maxVcpus, host.vcpus), memoryMiB: host.memoryMiB, gpus: host.gpus };
}

/** Computes which RUNNABLE jobs start now and where. Pure: the snapshot is not modified. */
export function schedule(snapshot: Snapshot, opts: ScheduleOptions = {}): Plan {
  const maxExamined = opts.maxExamined ?? 20_000;
  const host = { ...snapshot.host };
  const ces = new Map<string, SchedComputeEnvironment>();
  for (const [arn, ce] of snapshot.computeEnvironments) ces.set(arn, { ...ce });

  const queues = [...snapshot.queues].sort((a, b) => b.priority - a.priority || a.name.localeCompare(b.name));
  const starts: Placement[] = [];
  let examined = 0;

  for (const q of queues) {
    const qces = q.computeEnvironments.map((arn) => ces.get(arn)).filter((c): c is SchedComputeEnvironment => !!c);
    for (const job of q.runnable) {
      if (examined >= maxExamined) return { starts };
      if (host.vcpus - host.usedVcpus < MIN_VCPUS || host.usedMemoryMiB >= host.memoryMiB) return { starts };
      if (!qces.some((c) => c.enabled && c.managed && c.maxVcpus - c.usedVcpus >= MIN_VCPUS)) break;
      examined++;
      const need = job.resources;
      const ce = qces.find((c) => fits(need, host, c));
      if (!ce) continue;
      ce.usedVcpus += need.vcpus;
      ce.runningJobs++;
      host.usedVcpus += need.vcpus;
      host.usedMemoryMiB += need.memoryMiB;
      host.usedGpus += need.gpus;
      host.runningJobs++;
      starts.push({ jobId: job.jobId, queueArn: q.arn, computeEnvironmentArn: ce.arn });
    }
  }
  return { starts };
}
