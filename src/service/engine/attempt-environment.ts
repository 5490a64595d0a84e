/** The `AWS_BATCH_*` environment of an attempt, as AWS Batch sets it, on top of the job's own variables. */
import type { Job } from '../../core/types.js';
import type { ResourceRegistry } from '../resources.js';

export function attemptEnvironment(
  job: Job,
  attempt: number,
  registry: ResourceRegistry,
  ceArn: string,
  arraySize: number | undefined,
): Record<string, string> {
  const q = registry.queueByNameOrArn(job.jobQueueArn);
  const ce = registry.ceByNameOrArn(ceArn);
  const environment: Record<string, string> = {};
  for (const kv of job.containerProperties.environment ?? []) if (kv.name) environment[kv.name] = kv.value ?? '';
  environment.AWS_BATCH_JOB_ID = job.jobId;
  environment.AWS_BATCH_JOB_ATTEMPT = String(attempt);
  environment.AWS_BATCH_JQ_NAME = q?.jobQueueName ?? '';
  environment.AWS_BATCH_CE_NAME = ce?.computeEnvironmentName ?? '';
  if (job.arrayProperties?.index !== undefined) {
    environment.AWS_BATCH_JOB_ARRAY_INDEX = String(job.arrayProperties.index);
    const size = job.arrayProperties.size ?? arraySize;
    if (size !== undefined) environment.AWS_BATCH_JOB_ARRAY_SIZE = String(size);
  }
  return environment;
}
