/**
 * Turning a SubmitJob request into a job: every rule AWS Batch applies at submission (name, queue state, definition
 * revision, overrides, retry/timeout bounds, array size, dependency kinds), then the job's resolved, immutable spec.
 * Nothing is stored here; the job service persists what this returns.
 */
import { randomUUID } from 'node:crypto';
import { batchArn, type ArnContext } from '../core/arn.js';
import { ClientException } from '../core/errors.js';
import {
  applyOverrides,
  checkEnvironment,
  checkResourceRequirements,
  resolveResources,
  substituteParameters,
  type ContainerOverrides,
} from '../core/job-spec.js';
import { checkName, checkRange } from '../core/names.js';
import type { Job, RetryStrategy } from '../core/types.js';
import type { ArrayMode } from './array-state.js';
import type { Caller } from './job-service.js';
import { checkRetryStrategy, checkTimeout, type ResourceRegistry } from './resources.js';

type Input = Record<string, any>;

const SUBMIT_MAX_BYTES = 30 * 1024;

export interface SubmissionContext {
  registry: ResourceRegistry;
  arn: ArnContext;
  now: number;
  caller: Caller;
  /** Finds existing jobs (for dependencies), in memory or stored. */
  findJobs(ids: readonly string[]): Promise<Map<string, Job>>;
}

/** Validates a SubmitJob request and builds the job (status SUBMITTED); a ClientException names what is wrong. */
export async function buildJob(ctx: SubmissionContext, input: Input, bodyBytes: number): Promise<Job> {
  if (bodyBytes > SUBMIT_MAX_BYTES)
    throw new ClientException(
      `the SubmitJob request is ${bodyBytes} bytes; at most ${SUBMIT_MAX_BYTES} (30 KiB) are allowed: move large values into files the job reads`,
    );
  const jobName = input.jobName as string;
  checkName('jobName', jobName);
  const queue = ctx.registry.requireQueue(input.jobQueue as string, 'jobQueue');
  if (queue.state !== 'ENABLED')
    throw new ClientException(
      `jobQueue ${queue.jobQueueName} is DISABLED and accepts no new jobs; submit to an ENABLED queue or ask an admin to enable it`,
    );
  const def = ctx.registry.jobDefinition(input.jobDefinition as string);
  if (!def)
    throw new ClientException(
      `jobDefinition ${JSON.stringify(input.jobDefinition)} does not exist or has no ACTIVE revision; list them with describe-job-definitions --status ACTIVE`,
    );
  if (def.status !== 'ACTIVE')
    throw new ClientException(
      `jobDefinition ${def.jobDefinitionName}:${def.revision} is INACTIVE (deregistered); use an ACTIVE revision`,
    );
  if (def.type !== 'container' || !def.containerProperties)
    throw new ClientException(
      `jobDefinition ${def.jobDefinitionName}:${def.revision} is of type ${def.type}; openbatch runs container jobs only`,
    );
  const arraySize = (input.arrayProperties as { size?: number } | undefined)?.size;
  if (input.arrayProperties && arraySize === undefined)
    throw new ClientException(
      'arrayProperties.size is required for an array job: give the number of children, 2 to 10,000',
    );
  checkRange('arrayProperties.size', arraySize, 2, 10_000, 'For a single job leave arrayProperties out');

  const overrides = input.containerOverrides as ContainerOverrides | undefined;
  checkEnvironment(overrides?.environment, 'containerOverrides.environment');
  checkResourceRequirements(overrides?.resourceRequirements, 'containerOverrides.resourceRequirements');
  const retryStrategy = (input.retryStrategy as RetryStrategy | undefined) ?? def.retryStrategy;
  checkRetryStrategy(input.retryStrategy as RetryStrategy | undefined, 'retryStrategy');
  const timeout = (input.timeout as Job['timeout']) ?? def.timeout;
  checkTimeout(input.timeout as Job['timeout'], 'timeout');
  checkRange('schedulingPriorityOverride', input.schedulingPriorityOverride as number | undefined, 0, 9999);

  const dependsOn = (input.dependsOn as Job['dependsOn'] | undefined) ?? [];
  if (dependsOn.length > 20)
    throw new ClientException(`dependsOn has ${dependsOn.length} entries; a job can depend on at most 20 jobs`);
  let arrayMode: ArrayMode = 'PARALLEL';
  const depIds: string[] = [];
  dependsOn.forEach((d, i) => {
    if (d.type === 'SEQUENTIAL') {
      if (arraySize === undefined)
        throw new ClientException(
          `dependsOn[${i}]: type SEQUENTIAL applies to the children of an array job; this job has no arrayProperties`,
        );
      if (d.jobId)
        throw new ClientException(
          `dependsOn[${i}]: a SEQUENTIAL dependency names no jobId (the children depend on each other); remove jobId`,
        );
      arrayMode = 'SEQUENTIAL';
      return;
    }
    if (!d.jobId)
      throw new ClientException(
        `dependsOn[${i}].jobId is required (only a SEQUENTIAL dependency of an array job has none)`,
      );
    if (d.type === 'N_TO_N') {
      if (arraySize === undefined)
        throw new ClientException(
          `dependsOn[${i}]: type N_TO_N links the children of two array jobs; this job has no arrayProperties`,
        );
      arrayMode = 'N_TO_N';
    }
    depIds.push(d.jobId);
  });
  if (dependsOn.filter((d) => d.type === 'N_TO_N' || d.type === 'SEQUENTIAL').length > 1)
    throw new ClientException('dependsOn: an array job can have at most one SEQUENTIAL or N_TO_N dependency');
  const known = await ctx.findJobs(depIds);
  const missing = depIds.filter(
    (id) => !known.has(id) || (!ctx.caller.admin && known.get(id)!.owner?.pi !== ctx.caller.pi),
  );
  if (missing.length)
    throw new ClientException(
      `dependsOn: job(s) ${missing.join(', ')} do not exist; depend only on jobs that were submitted`,
    );
  for (const d of dependsOn) {
    if (d.type !== 'N_TO_N') continue;
    const other = known.get(d.jobId!)!;
    if (other.arrayProperties?.size !== arraySize)
      throw new ClientException(
        `dependsOn: N_TO_N needs an array job of the same size; ${d.jobId} ${other.arrayProperties?.size ? `has ${other.arrayProperties.size} children` : 'is not an array job'}, this one has ${arraySize}`,
      );
  }

  const parameters = {
    ...(def.parameters ?? {}),
    ...((input.parameters as Record<string, string> | undefined) ?? {}),
  };
  const cp = applyOverrides(def.containerProperties, overrides);
  if (cp.command) cp.command = substituteParameters(cp.command, parameters);
  const resources = resolveResources(cp, `job definition ${def.jobDefinitionName}:${def.revision}`);

  const jobId = randomUUID();
  const now = ctx.now;
  const tags = {
    ...(def.propagateTags || input.propagateTags ? (def.tags ?? {}) : {}),
    ...((input.tags as Record<string, string>) ?? {}),
  };
  const job: Job = {
    jobId,
    jobArn: batchArn(ctx.arn, 'job', jobId),
    jobName,
    jobQueueArn: queue.jobQueueArn,
    jobDefinitionArn: def.jobDefinitionArn,
    status: 'SUBMITTED',
    createdAt: now,
    statusChangedAt: now,
    attempts: [],
    container: {},
    dependsOn,
    parameters,
    ...(retryStrategy ? { retryStrategy } : {}),
    ...(timeout ? { timeout } : {}),
    ...(Object.keys(tags).length ? { tags } : {}),
    ...(input.propagateTags !== undefined || def.propagateTags !== undefined
      ? { propagateTags: (input.propagateTags ?? def.propagateTags) as boolean }
      : {}),
    ...(input.schedulingPriorityOverride !== undefined || def.schedulingPriority !== undefined
      ? { schedulingPriority: (input.schedulingPriorityOverride ?? def.schedulingPriority) as number }
      : {}),
    ...(input.shareIdentifier ? { shareIdentifier: input.shareIdentifier as string } : {}),
    containerProperties: cp,
    resources,
    owner: { user: ctx.caller.user, pi: ctx.caller.pi },
    ...(arraySize !== undefined ? { arrayProperties: { size: arraySize }, arrayMode } : {}),
  };
  return job;
}
