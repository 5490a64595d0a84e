/**
 * What any replica reads about a queue from the engine state the leader publishes (engine/engine-state.ts): the
 * fair-share reason a RUNNABLE job waits, and GetJobQueueSnapshot (the first 100 RUNNABLE jobs in run order, capacity
 * in use, and per share for a fair-share queue). Followers and the leader answer alike.
 */
import { batchArn, type ArnContext } from '../../core/arn.js';
import { ClientException } from '../../core/errors.js';
import type { Job, JobQueue } from '../../core/types.js';
import { explainFairshareWait, shareStandings } from '../../scheduler/explain-fairshare.js';
import type { FairsharePolicy } from '../../scheduler/fair-share.js';
import type { SchedComputeEnvironment, SchedQueue } from '../../scheduler/schedule.js';
import type { EngineState } from '../engine/engine-state.js';
import type { ResourceRegistry } from '../resources.js';

/** The fair-share policy of a queue, if it has one. */
function policyOf(registry: ResourceRegistry, q: JobQueue): FairsharePolicy | undefined {
  const p = q.schedulingPolicyArn ? registry.policyByArn(q.schedulingPolicyArn) : undefined;
  return p?.fairsharePolicy;
}

/** The published fair-share queue as the pure explainers take it (the shares' usage; no RUNNABLE jobs needed). */
function fairQueue(
  registry: ResourceRegistry,
  state: EngineState,
  q: JobQueue,
): { sq: SchedQueue; ces: SchedComputeEnvironment[] } | undefined {
  const policy = policyOf(registry, q);
  if (!policy) return undefined;
  const published = state.queues[q.jobQueueArn];
  const arns = q.computeEnvironmentOrder.map((o) => o.computeEnvironment);
  const ces = state.computeEnvironments.filter((c) => arns.includes(c.arn));
  const shares = (published?.shares ?? []).map((s) => ({ ...s, runnable: [] }));
  const sq: SchedQueue = {
    arn: q.jobQueueArn,
    name: q.jobQueueName,
    priority: q.priority,
    computeEnvironments: arns,
    runnable: [],
    fairshare: { policy, shares },
  };
  return { sq, ces };
}

/** Why fair share holds a RUNNABLE job back (its share's standing, or the compute reservation), if it does. */
export function fairshareReason(
  registry: ResourceRegistry,
  state: EngineState,
  q: JobQueue,
  job: Job,
): string | undefined {
  const f = fairQueue(registry, state, q);
  if (!f) return undefined;
  return explainFairshareWait(f.sq, state.host, f.ces, state.at, job.shareIdentifier ?? '', job.resources.vcpus)?.text;
}

/** GetJobQueueSnapshot: the leader's published view of one queue. */
export function jobQueueSnapshot(
  registry: ResourceRegistry,
  arn: ArnContext,
  state: EngineState,
  jobQueue: unknown,
): Record<string, unknown> {
  if (typeof jobQueue !== 'string' || jobQueue === '')
    throw new ClientException('jobQueue is required: the name or ARN of the job queue to show');
  const q = registry.queueByNameOrArn(jobQueue);
  if (!q)
    throw new ClientException(
      `jobQueue ${JSON.stringify(jobQueue)} does not exist; list queues with describe-job-queues`,
    );
  const published = state.queues[q.jobQueueArn];
  const front = published?.front ?? [];
  const sinceOf = published?.frontSince ?? [];
  const utilization: Record<string, unknown> = {
    totalCapacityUsage: [{ capacityUnit: 'VCPU', quantity: published?.usedVcpus ?? 0 }],
    lastUpdatedAt: state.at,
  };
  const f = fairQueue(registry, state, q);
  if (f) {
    const st = shareStandings(f.sq, state.host, f.ces, state.at);
    const top = st.shares
      .filter((s) => s.runningVcpus > 0)
      .sort((a, b) => b.runningVcpus - a.runningVcpus || a.shareIdentifier.localeCompare(b.shareIdentifier))
      .slice(0, 20);
    utilization.fairshareUtilization = {
      activeShareCount: st.activeShares,
      topCapacityUtilization: top.map((s) => ({
        shareIdentifier: s.shareIdentifier,
        capacityUsage: [{ capacityUnit: 'VCPU', quantity: s.runningVcpus }],
      })),
    };
  }
  return {
    frontOfQueue: {
      jobs: front.map((id, i) => ({
        jobArn: batchArn(arn, 'job', id),
        earliestTimeAtPosition: sinceOf[i] ?? state.at,
      })),
      lastUpdatedAt: state.at,
    },
    queueUtilization: utilization,
  };
}
