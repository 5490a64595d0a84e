/**
 * Capacity pools: where a compute environment's jobs run. A MANAGED environment draws on this host (the server's own
 * runtime: processes or containers). An UNMANAGED environment draws on capacity the admin attaches: today a Slurm
 * partition, named by the tag `openbatch:slurm-partition` (docs/slurm.md). Its `unmanagedvCpus` is how many vCPUs
 * openbatch hands to that partition at once; Slurm places the jobs on its nodes and queues what does not fit yet.
 */
import type { ComputeEnvironment } from './types.js';

export const SLURM_PARTITION_TAG = 'openbatch:slurm-partition';

/** A Slurm partition's name: what sbatch --partition accepts (letters, digits, `_`, `-`, `.`). */
const PARTITION_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** The pool a compute environment is bound to (`slurm:<partition>`), or undefined for this host. */
export function poolOf(ce: Pick<ComputeEnvironment, 'type' | 'tags'>): string | undefined {
  if (ce.type !== 'UNMANAGED') return undefined;
  const partition = ce.tags?.[SLURM_PARTITION_TAG];
  return partition && PARTITION_NAME.test(partition) ? `slurm:${partition}` : undefined;
}

/** The Slurm partition of a pool name, or undefined when the pool is not a Slurm one. */
export function slurmPartitionOfPool(pool: string | undefined): string | undefined {
  return pool?.startsWith('slurm:') ? pool.slice('slurm:'.length) : undefined;
}

/** Why a tag value cannot name a partition, in words for the admin; undefined when it can. */
export function partitionTagProblem(value: string): string | undefined {
  return PARTITION_NAME.test(value)
    ? undefined
    : `tag ${SLURM_PARTITION_TAG} must name a Slurm partition (1-64 letters, digits, '_', '-' or '.'), got ${JSON.stringify(value)}`;
}
