/**
 * The one constructor of CompactRunnable (a RUNNABLE job held without its document; see core/types.ts), used by the
 * stores as they read rows and by the engine as it lets go of a document: one literal with every field, so every
 * record has the same shape with all fields inside the object (no property storage added later).
 */
import type { CompactRunnable, Job } from './types.js';

export function compactRunnable(
  jobId: string,
  jobQueueArn: string,
  createdAt: number,
  statusChangedAt: number,
  shareIdentifier: string | undefined,
  schedulingPriority: number | undefined,
  resources: CompactRunnable['resources'],
  consumableResourceProperties: CompactRunnable['consumableResourceProperties'],
): CompactRunnable {
  return {
    jobId,
    jobQueueArn,
    createdAt,
    statusChangedAt,
    shareIdentifier,
    schedulingPriority,
    resources,
    consumableResourceProperties,
  };
}

/** Whether a job may be held compactly: RUNNABLE, never ran, neither an array child nor a multi-node job. */
export function mayBeCompact(job: Job): boolean {
  return (
    job.status === 'RUNNABLE' &&
    job.attempts.length === 0 &&
    job.arrayProperties === undefined &&
    job.nodeProperties === undefined
  );
}

/** The compact record of a job that mayBeCompact. */
export function compactOf(job: Job): CompactRunnable {
  return compactRunnable(
    job.jobId,
    job.jobQueueArn,
    job.createdAt,
    job.statusChangedAt,
    job.shareIdentifier,
    job.schedulingPriority,
    job.resources,
    job.consumableResourceProperties,
  );
}
