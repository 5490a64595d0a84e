/**
 * Why a RUNNABLE job waits, in AWS Batch's vocabulary plus the facts. Pure, like schedule().
 *
 * AWS's reason codes (as used by jobStateTimeLimitActions):
 * - `MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT`: the job can never fit any environment of its queue;
 * - `MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE`: no environment of the queue can take jobs at all
 *   (all DISABLED, UNMANAGED, or with maxvCpus 0);
 * - `CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY`: it fits, but the capacity is in use now.
 */
import { SLURM_PARTITION_TAG } from '../core/pools.js';
import type { JobResources } from '../core/types.js';
import { largestFit, placeable, type SchedComputeEnvironment, type SchedHost, type Snapshot } from './schedule.js';

export const WaitCode = {
  JOB_RESOURCE_REQUIREMENT: 'MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT',
  COMPUTE_ENVIRONMENT_MAX_RESOURCE: 'MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE',
  CAPACITY: 'CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY',
} as const;
export type WaitCode = (typeof WaitCode)[keyof typeof WaitCode];

export interface WaitReason {
  code: WaitCode;
  text: string;
}

const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(2).replace(/0+$/, ''));

function queueCes(snapshot: Snapshot, ceArns: readonly string[]): SchedComputeEnvironment[] {
  return ceArns.map((a) => snapshot.computeEnvironments.get(a)).filter((c): c is SchedComputeEnvironment => !!c);
}

/** The reason a job can never run in this queue, or undefined when some environment could take it. */
export function neverFits(
  need: JobResources,
  host: SchedHost,
  queueName: string,
  ces: readonly SchedComputeEnvironment[],
): WaitReason | undefined {
  const usable = ces.filter((c) => placeable(c) && c.maxVcpus > 0);
  if (usable.length === 0) {
    const what = ces.length
      ? ces
          .map(
            (c) =>
              `${c.name} (${!c.managed && c.pool === undefined ? 'UNMANAGED with no capacity attached' : !c.enabled ? 'DISABLED' : c.pool !== undefined ? 'unmanagedvCpus 0' : 'maxvCpus 0'})`,
          )
          .join(', ')
      : 'none';
    const attach = ces.some((c) => !c.managed && c.pool === undefined)
      ? `; attach capacity to an UNMANAGED environment by tagging it ${SLURM_PARTITION_TAG}=<partition> (docs/slurm.md)`
      : '';
    return {
      code: WaitCode.COMPUTE_ENVIRONMENT_MAX_RESOURCE,
      text: `${WaitCode.COMPUTE_ENVIRONMENT_MAX_RESOURCE} - no compute environment of queue ${queueName} can run jobs now: ${what}; an admin must enable one or attach one${attach}`,
    };
  }
  let best: { ce: SchedComputeEnvironment; fit: JobResources } | undefined;
  for (const ce of usable) {
    const fit = largestFit(host, ce);
    if (!fit) continue;
    if (need.vcpus <= fit.vcpus && need.memoryMiB <= fit.memoryMiB && need.gpus <= fit.gpus) return undefined;
    if (!best || fit.vcpus > best.fit.vcpus) best = { ce, fit };
  }
  if (!best) return undefined;
  const { ce, fit } = best;
  let what: string;
  if (need.vcpus > fit.vcpus)
    what = `needs ${fmt(need.vcpus)} vCPUs; the largest compute environment of queue ${queueName} (${ce.name}) allows ${fmt(fit.vcpus)}`;
  else if (need.memoryMiB > fit.memoryMiB)
    what = `needs ${need.memoryMiB} MiB of memory; this host has ${fit.memoryMiB} MiB`;
  else what = `needs ${need.gpus} GPUs; this host has ${fit.gpus}`;
  return { code: WaitCode.JOB_RESOURCE_REQUIREMENT, text: `${WaitCode.JOB_RESOURCE_REQUIREMENT} - ${what}` };
}

/**
 * Why a RUNNABLE job in `queueName` is not running. `ahead` is the number of RUNNABLE jobs before it in its queue
 * and in queues of higher priority that share its environments.
 */
export function explainWait(
  snapshot: Snapshot,
  queue: { name: string; computeEnvironments: readonly string[] },
  need: JobResources,
  ahead: number,
): WaitReason {
  const ces = queueCes(snapshot, queue.computeEnvironments);
  const never = neverFits(need, snapshot.host, queue.name, ces);
  if (never) return never;
  const h = snapshot.host;
  const usable = ces.filter((c) => placeable(c) && c.maxVcpus > 0);
  const aheadText = `${ahead} job${ahead === 1 ? '' : 's'} ahead in queue ${queue.name}`;
  const ceFull = usable.find((c) => c.maxVcpus - c.usedVcpus < need.vcpus);
  if (ceFull && usable.every((c) => c.maxVcpus - c.usedVcpus < need.vcpus)) {
    return {
      code: WaitCode.CAPACITY,
      text: `${WaitCode.CAPACITY} - ${fmt(ceFull.usedVcpus)} of ${fmt(ceFull.maxVcpus)} vCPUs of ${ceFull.name} in use by ${ceFull.runningJobs} job${ceFull.runningJobs === 1 ? '' : 's'}; needs ${fmt(need.vcpus)}; ${aheadText}`,
    };
  }
  // An attached pool with room takes the job on the next pass; Slurm then says why it waits (runtime pendingReason).
  if (usable.some((c) => c.pool !== undefined && c.maxVcpus - c.usedVcpus >= need.vcpus))
    return {
      code: WaitCode.CAPACITY,
      text: `${WaitCode.CAPACITY} - capacity is free in an attached pool; the scheduler hands it over on its next pass (${aheadText})`,
    };
  if (h.vcpus - h.usedVcpus < need.vcpus) {
    return {
      code: WaitCode.CAPACITY,
      text: `${WaitCode.CAPACITY} - ${fmt(h.usedVcpus)} of ${fmt(h.vcpus)} host vCPUs in use by ${h.runningJobs} job${h.runningJobs === 1 ? '' : 's'}; needs ${fmt(need.vcpus)}; ${aheadText}`,
    };
  }
  if (h.memoryMiB - h.usedMemoryMiB < need.memoryMiB) {
    return {
      code: WaitCode.CAPACITY,
      text: `${WaitCode.CAPACITY} - ${h.usedMemoryMiB} of ${h.memoryMiB} MiB of host memory in use by ${h.runningJobs} job${h.runningJobs === 1 ? '' : 's'}; needs ${need.memoryMiB} MiB; ${aheadText}`,
    };
  }
  if (h.gpus - h.usedGpus < need.gpus) {
    return {
      code: WaitCode.CAPACITY,
      text: `${WaitCode.CAPACITY} - ${h.usedGpus} of ${h.gpus} GPUs in use; needs ${need.gpus}; ${aheadText}`,
    };
  }
  return {
    code: WaitCode.CAPACITY,
    text: `${WaitCode.CAPACITY} - capacity is free; the scheduler places it on its next pass (${aheadText})`,
  };
}
