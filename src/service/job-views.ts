/** Jobs as the Batch API shows them: JobDetail for DescribeJobs, JobSummary for ListJobs. */
import { hostname } from 'node:os';
import type { Job } from '../core/types.js';
import { eksPropertiesView } from './resource-views.js';
import { withDefaults } from './wire-defaults.js';

const NODE_NAME = hostname();

/** The pod a pod job's attempt ran as (one per attempt, as Batch on EKS names them). */
const podName = (job: Job, attempt: number): string =>
  `aws-batch.${job.jobId.replace(/[^a-z0-9-]/gi, '-').toLowerCase()}-${attempt}`;

/** eksProperties and eksAttempts of a pod job: the pod spec with the current attempt's exit per container. */
function podDetail(job: Job): { eksProperties: Record<string, unknown>; eksAttempts: Record<string, unknown>[] } {
  const view = eksPropertiesView(job.eksProperties!) as { podProperties: Record<string, any> };
  const pod = view.podProperties;
  const mainName = (pod.containers?.[0]?.name as string | undefined) ?? 'default';
  const initNames = ((pod.initContainers ?? []) as { name?: string }[]).map((c, i) => c.name ?? `init-${i}`);
  const exit = (c: { exitCode?: number; reason?: string }) => ({
    ...(c.exitCode !== undefined ? { exitCode: c.exitCode } : {}),
    ...(c.reason !== undefined ? { reason: c.reason } : {}),
  });
  // The main container ran, so every init container before it succeeded.
  const initExit = (started: boolean) => (started ? { exitCode: 0 } : {});
  const eksAttempts = job.attempts.map((a, i) => ({
    containers: [{ name: mainName, ...exit(a.container) }],
    ...(initNames.length
      ? { initContainers: initNames.map((name) => ({ name, ...initExit(a.startedAt !== undefined) })) }
      : {}),
    podName: podName(job, i + 1),
    nodeName: NODE_NAME,
    ...(a.startedAt !== undefined ? { startedAt: a.startedAt } : {}),
    ...(a.stoppedAt !== undefined ? { stoppedAt: a.stoppedAt } : {}),
    ...(a.statusReason !== undefined ? { statusReason: a.statusReason } : {}),
  }));
  const current = job.container;
  const started = job.startedAt !== undefined;
  pod.containers = (pod.containers as Record<string, unknown>[]).map((c, i) =>
    i === 0 ? { ...c, ...exit(current) } : c,
  );
  if (pod.initContainers)
    pod.initContainers = (pod.initContainers as Record<string, unknown>[]).map((c) => ({ ...c, ...initExit(started) }));
  // While an attempt runs it is not in job.attempts yet.
  const live = job.status === 'STARTING' || job.status === 'RUNNING';
  if (live || job.attempts.length) {
    pod.podName = podName(job, job.attempts.length + (live ? 1 : 0));
    pod.nodeName = NODE_NAME;
  }
  return { eksProperties: view, eksAttempts };
}

/** Environment variables whose values never leave the server (role credentials injected at run time are not stored). */
export function jobDetail(job: Job, statusReason: string | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = withDefaults('JobDetail', {
    jobArn: job.jobArn,
    jobName: job.jobName,
    jobId: job.jobId,
    jobQueue: job.jobQueueArn,
    status: job.status,
    attempts: job.attempts.map(({ nodes: _n, ...a }) => a),
    createdAt: job.createdAt,
    dependsOn: job.dependsOn,
    jobDefinition: job.jobDefinitionArn,
    parameters: job.parameters,
    tags: job.tags,
    propagateTags: job.propagateTags,
  });
  if (job.eksProperties) Object.assign(out, podDetail(job));
  else {
    const { entrypoint: _e, initContainers: _i, ...cp } = job.containerProperties;
    out.container = withDefaults('ContainerDetail', { ...cp, ...job.container });
  }
  if (statusReason !== undefined) out.statusReason = statusReason;
  if (job.retryStrategy) out.retryStrategy = job.retryStrategy;
  if (job.startedAt !== undefined) out.startedAt = job.startedAt;
  if (job.stoppedAt !== undefined) out.stoppedAt = job.stoppedAt;
  if (job.timeout) out.timeout = job.timeout;
  if (job.arrayProperties) out.arrayProperties = job.arrayProperties;
  if (job.isCancelled !== undefined) out.isCancelled = job.isCancelled;
  if (job.isTerminated !== undefined) out.isTerminated = job.isTerminated;
  if (job.schedulingPriority !== undefined) out.schedulingPriority = job.schedulingPriority;
  if (job.shareIdentifier !== undefined) out.shareIdentifier = job.shareIdentifier;
  if (job.consumableResourceProperties) out.consumableResourceProperties = job.consumableResourceProperties;
  return out;
}
export function jobSummary(job: Job, statusReason: string | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {
    jobArn: job.jobArn,
    jobId: job.jobId,
    jobName: job.jobName,
    createdAt: job.createdAt,
    status: job.status,
    jobDefinition: job.jobDefinitionArn,
  };
  if (statusReason !== undefined) out.statusReason = statusReason;
  if (job.startedAt !== undefined) out.startedAt = job.startedAt;
  if (job.stoppedAt !== undefined) out.stoppedAt = job.stoppedAt;
  if (job.container.exitCode !== undefined || job.container.reason !== undefined) {
    const c: Record<string, unknown> = {};
    if (job.container.exitCode !== undefined) c.exitCode = job.container.exitCode;
    if (job.container.reason !== undefined) c.reason = job.container.reason;
    out.container = c;
  }
  if (job.shareIdentifier !== undefined) out.shareIdentifier = job.shareIdentifier;
  if (job.scheduledAt !== undefined) out.scheduledAt = job.scheduledAt;
  out.capacityUsage = [{ capacityUnit: 'VCPU', quantity: job.resources.vcpus }];
  if (job.arrayProperties) {
    const a: Record<string, unknown> = {};
    if (job.arrayProperties.size !== undefined) a.size = job.arrayProperties.size;
    if (job.arrayProperties.index !== undefined) a.index = job.arrayProperties.index;
    out.arrayProperties = a;
  }
  return out;
}
