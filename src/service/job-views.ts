/** Jobs as the Batch API shows them: JobDetail for DescribeJobs, JobSummary for ListJobs. */
import type { Job } from '../core/types.js';

/** Environment variables whose values never leave the server (role credentials injected at run time are not stored). */
export function jobDetail(job: Job, statusReason: string | undefined): Record<string, unknown> {
  const cp = job.containerProperties;
  const container: Record<string, unknown> = {
    ...cp,
    command: cp.command ?? [],
    environment: cp.environment ?? [],
    volumes: cp.volumes ?? [],
    mountPoints: cp.mountPoints ?? [],
    ulimits: cp.ulimits ?? [],
    resourceRequirements: cp.resourceRequirements ?? [],
    ...job.container,
    networkInterfaces: job.container.networkInterfaces ?? [],
  };
  const out: Record<string, unknown> = {
    jobArn: job.jobArn,
    jobName: job.jobName,
    jobId: job.jobId,
    jobQueue: job.jobQueueArn,
    status: job.status,
    attempts: job.attempts,
    createdAt: job.createdAt,
    dependsOn: job.dependsOn,
    jobDefinition: job.jobDefinitionArn,
    parameters: job.parameters,
    container,
    tags: job.tags ?? {},
    propagateTags: job.propagateTags ?? false,
    platformCapabilities: [],
  };
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
  if (job.arrayProperties) {
    const a: Record<string, unknown> = {};
    if (job.arrayProperties.size !== undefined) a.size = job.arrayProperties.size;
    if (job.arrayProperties.index !== undefined) a.index = job.arrayProperties.index;
    out.arrayProperties = a;
  }
  return out;
}
