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
import { applyEksOverride, eksRun, type EksProperties, type EksPropertiesOverride } from '../core/eks-pod.js';
import { checkName, checkRange } from '../core/names.js';
import { resolveNodes, totalResources, type NodeOverrides, type NodeProperties } from '../core/multinode.js';
import type { ContainerProperties, Job, JobQueue, JobResources, RetryStrategy } from '../core/types.js';
import type { ArrayMode } from './array-state.js';
import type { Caller } from '../core/caller.js';
import { checkRetryStrategy, checkTimeout, SHARE_ID_RE } from './resource-rules.js';
import type { ResourceRegistry } from './resources.js';

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
  const multinode = def.type === 'multinode';
  if (!multinode && !def.containerProperties && !def.eksProperties)
    throw new ClientException(
      `jobDefinition ${def.jobDefinitionName}:${def.revision} is of type ${def.type} with ecsProperties; openbatch runs jobs with containerProperties, eksProperties or nodeProperties only`,
    );
  if (multinode) checkMultinodeSubmission(input, def.jobDefinitionName, def.revision);
  else if (input.nodeOverrides)
    throw new ClientException(
      `nodeOverrides applies to a multi-node parallel job; ${def.jobDefinitionName}:${def.revision} is of type container: use containerOverrides`,
    );
  if (input.eksPropertiesOverride && !def.eksProperties)
    throw new ClientException(
      `eksPropertiesOverride applies to a job definition with eksProperties; ${def.jobDefinitionName}:${def.revision} has containerProperties: use containerOverrides`,
    );
  if (input.containerOverrides && def.eksProperties)
    throw new ClientException(
      `containerOverrides applies to a job definition with containerProperties; ${def.jobDefinitionName}:${def.revision} has eksProperties: use eksPropertiesOverride`,
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
  checkShareIdentifier(queue, input.shareIdentifier as string | undefined);

  const dependsOn = (input.dependsOn as Job['dependsOn'] | undefined) ?? [];
  if (dependsOn.length > 20)
    throw new ClientException(`dependsOn has ${dependsOn.length} entries; a job can depend on at most 20 jobs`);
  let arrayMode: ArrayMode = 'PARALLEL';
  const depIds: string[] = [];
  dependsOn.forEach((d, i) => {
    // AWS treats SEQUENTIAL with a jobId on a job that is not an array as a plain dependency on that job.
    if (d.type === 'SEQUENTIAL' && d.jobId && arraySize === undefined) {
      depIds.push(d.jobId);
      return;
    }
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
  if (arraySize !== undefined && dependsOn.filter((d) => d.type === 'N_TO_N' || d.type === 'SEQUENTIAL').length > 1)
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
  const where = `job definition ${def.jobDefinitionName}:${def.revision}`;
  let cp: ContainerProperties;
  let resources: JobResources;
  let eksProperties: EksProperties | undefined;
  let nodeProperties: NodeProperties | undefined;
  if (multinode) {
    const resolved = resolveNodes(
      def.extra!.nodeProperties as NodeProperties,
      input.nodeOverrides as NodeOverrides | undefined,
      where,
    );
    for (const r of resolved.nodeProperties.nodeRangeProperties)
      if (r.container?.command)
        r.container = { ...r.container, command: substituteParameters(r.container.command, parameters) };
    nodeProperties = resolved.nodeProperties;
    // The job's container is its main node's; its resources are all nodes' together (what capacity counts).
    cp = resolved.nodes[nodeProperties.mainNode]!.containerProperties;
    if (cp.command) cp = { ...cp, command: substituteParameters(cp.command, parameters) };
    resources = totalResources(resolved.nodes);
  } else if (def.eksProperties) {
    eksProperties = applyEksOverride(def.eksProperties, input.eksPropertiesOverride as EksPropertiesOverride);
    ({ containerProperties: cp, resources } = eksRun(eksProperties, where));
  } else {
    cp = applyOverrides(def.containerProperties!, overrides);
    if (cp.command) cp.command = substituteParameters(cp.command, parameters);
    resources = resolveResources(cp, where);
  }

  const consumables = input.consumableResourcePropertiesOverride
    ? ctx.registry.consumables.resolve(
        input.consumableResourcePropertiesOverride as Input,
        'consumableResourcePropertiesOverride',
      )
    : ctx.registry.consumables.resolve(
        def.extra?.consumableResourceProperties as Input | undefined,
        `job definition ${def.jobDefinitionName}:${def.revision}'s consumableResourceProperties`,
      );

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
    ...(input.shareIdentifier !== undefined ? { shareIdentifier: input.shareIdentifier as string } : {}),
    containerProperties: cp,
    ...(eksProperties ? { eksProperties } : {}),
    ...(nodeProperties ? { nodeProperties } : {}),
    resources,
    ...(consumables ? { consumableResourceProperties: { consumableResourceList: consumables } } : {}),
    owner: { user: ctx.caller.user, pi: ctx.caller.pi },
    ...(arraySize !== undefined ? { arrayProperties: { size: arraySize }, arrayMode } : {}),
  };
  return job;
}

/** What SubmitJob refuses for a multi-node parallel job, in AWS's terms. */
function checkMultinodeSubmission(input: Record<string, unknown>, name: string, revision: number): void {
  if (input.containerOverrides || input.eksPropertiesOverride)
    throw new ClientException(
      `${input.containerOverrides ? 'containerOverrides' : 'eksPropertiesOverride'} does not apply to multi-node parallel job definition ${name}:${revision}: use nodeOverrides.nodePropertyOverrides with targetNodes`,
    );
  if (input.arrayProperties)
    throw new ClientException(
      `arrayProperties: ${name}:${revision} is a multi-node parallel job definition, and openbatch does not run a multi-node parallel job as an array job; leave arrayProperties out`,
    );
  const overrides = (input.nodeOverrides as NodeOverrides | undefined)?.nodePropertyOverrides ?? [];
  overrides.forEach((o, i) =>
    checkEnvironment(
      o.containerOverrides?.environment,
      `nodeOverrides.nodePropertyOverrides[${i}].containerOverrides.environment`,
    ),
  );
}

/** SubmitJob's share identifier rules, in the words of AWS's SubmitJob reference. */
function checkShareIdentifier(queue: JobQueue, share: string | undefined): void {
  if (queue.schedulingPolicyArn && share === undefined)
    throw new ClientException(
      `shareIdentifier is required: job queue ${queue.jobQueueName} has a fair-share scheduling policy, and if the job queue has a fair-share scheduling policy, then this parameter must be specified (e.g. --share-identifier labA)`,
    );
  if (!queue.schedulingPolicyArn && share !== undefined)
    throw new ClientException(
      `shareIdentifier: don't specify this parameter if the job queue doesn't have a fair-share scheduling policy; job queue ${queue.jobQueueName} is first in, first out, so leave shareIdentifier out`,
    );
  if (share !== undefined && !SHARE_ID_RE.test(share))
    throw new ClientException(
      `shareIdentifier ${JSON.stringify(share.length > 60 ? share.slice(0, 60) + '...' : share)} is not valid: it is limited to 255 alphanumeric characters, and can be followed by an asterisk (*)`,
    );
}
