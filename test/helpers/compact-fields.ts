/**
 * Every field of a compact record as the engine reads it, as a plain object to compare: records share some parts (a
 * kind per queue and share) and keep createdAt relative to statusChangedAt, so their own properties are not all.
 */
import type { CompactRunnable } from '../../src/core/types.js';

export function compactFields(c: CompactRunnable): CompactRunnable {
  return {
    jobId: c.jobId,
    jobQueueArn: c.jobQueueArn,
    createdAt: c.createdAt,
    statusChangedAt: c.statusChangedAt,
    shareIdentifier: c.shareIdentifier,
    schedulingPriority: c.schedulingPriority,
    resources: c.resources,
    consumableResourceProperties: c.consumableResourceProperties,
  };
}
