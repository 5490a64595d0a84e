/**
 * The AWS Batch operations (rest-json, 2016-08-10): each maps a validated request to the services.
 * Access rules (admins vs. PI users) are applied here, at the edge, so the services stay about Batch itself.
 */
import { AccessDeniedException, ClientException } from '../../core/errors.js';
import type { Caller } from '../../core/caller.js';
import type { JobService } from '../../service/jobs/job-service.js';
import type { ResourceRegistry } from '../../service/resources.js';
import { consumableOperations } from './consumable-operations.js';

type Input = Record<string, any>;

export interface BatchContext {
  caller: Caller;
  bodyBytes: number;
}

/** Job-role and runtime rules for non-admin users (the users part); absent = root only, nothing to check. */
export interface BatchAccessPolicy {
  checkJobRole(caller: Caller, roleArn: unknown, field: string): void;
  checkSubmit(caller: Caller): void;
}

export interface BatchServices {
  registry: ResourceRegistry;
  jobs: JobService;
  access?: BatchAccessPolicy;
}

type Handler = (s: BatchServices, ctx: BatchContext, input: Input) => Promise<unknown> | unknown;

const JOB_DEFINITION_MAX_BYTES = 24 * 1024;

function adminOnly(what: string, h: Handler): Handler {
  return (s, ctx, input) => {
    if (!ctx.caller.admin)
      throw new AccessDeniedException(
        `User ${ctx.caller.user} is not authorized to ${what}: only an openbatch admin can do this; ask your admin (e.g. to run this command for you)`,
      );
    return h(s, ctx, input);
  };
}

function requireOwnDefinition(s: BatchServices, ctx: BatchContext, text: string) {
  const d = s.registry.requireJobDefinitionRevision(text);
  if (!ctx.caller.admin && d.owner !== ctx.caller.pi)
    throw new AccessDeniedException(
      `User ${ctx.caller.user} may not deregister job definition ${d.jobDefinitionName}:${d.revision}: it belongs to ${d.owner ? `PI ${d.owner}` : 'the admins'}`,
    );
  return d;
}

async function tagTarget(s: BatchServices, ctx: BatchContext, arn: string) {
  const res = s.registry.taggable(arn);
  if (res) {
    return res;
  }
  if (/^arn:aws[a-z-]*:batch:[^:]*:[^:]*:job\//.test(arn)) {
    const job = await s.jobs.jobForTags(arn);
    if (job && (ctx.caller.admin || job.owner?.pi === ctx.caller.pi))
      return { tags: job.tags, save: (tags: Record<string, string>) => s.jobs.saveJobTags(job, tags) };
  }
  throw new ClientException(
    `resourceArn ${JSON.stringify(arn)} does not name an existing compute environment, job queue, job definition revision, job, scheduling policy or consumable resource`,
  );
}

/** Operation name -> handler. Names are the model's; the route is `/v1/<name in lower case>`. */
export const BATCH_OPERATIONS: Record<string, Handler> = {
  CreateComputeEnvironment: adminOnly('create compute environments', (s, _c, i) =>
    s.registry.createComputeEnvironment(i),
  ),
  UpdateComputeEnvironment: adminOnly('update compute environments', (s, _c, i) =>
    s.registry.updateComputeEnvironment(i),
  ),
  DeleteComputeEnvironment: adminOnly('delete compute environments', (s, _c, i) =>
    s.registry.deleteComputeEnvironment(i),
  ),
  DescribeComputeEnvironments: (s, _c, i) => s.registry.describeComputeEnvironments(i),

  CreateJobQueue: adminOnly('create job queues', (s, _c, i) => s.registry.createJobQueue(i)),
  UpdateJobQueue: adminOnly('update job queues', (s, _c, i) => s.registry.updateJobQueue(i)),
  DeleteJobQueue: adminOnly('delete job queues', async (s, _c, i) => {
    const q = s.registry.checkDeletableQueue(i);
    await s.jobs.terminateQueue(q.jobQueueArn, `Job queue ${q.jobQueueName} was deleted`);
    await s.registry.removeJobQueue(q);
    return {};
  }),
  DescribeJobQueues: (s, _c, i) => s.registry.describeJobQueues(i),

  RegisterJobDefinition: (s, ctx, i) => {
    if (ctx.bodyBytes > JOB_DEFINITION_MAX_BYTES)
      throw new ClientException(
        `the job definition is ${ctx.bodyBytes} bytes; at most ${JOB_DEFINITION_MAX_BYTES} (24 KiB) are allowed`,
      );
    s.access?.checkJobRole(ctx.caller, i.containerProperties?.jobRoleArn, 'containerProperties.jobRoleArn');
    for (const [n, r] of ((i.nodeProperties?.nodeRangeProperties as any[] | undefined) ?? []).entries())
      s.access?.checkJobRole(
        ctx.caller,
        r?.container?.jobRoleArn,
        `nodeProperties.nodeRangeProperties[${n}].container.jobRoleArn`,
      );
    return s.registry.registerJobDefinition(i, ctx.caller.admin ? undefined : ctx.caller.pi);
  },
  DeregisterJobDefinition: (s, ctx, i) =>
    s.registry.deregisterJobDefinition(requireOwnDefinition(s, ctx, i.jobDefinition as string)),
  DescribeJobDefinitions: (s, _c, i) => s.registry.describeJobDefinitions(i),

  SubmitJob: (s, ctx, i) => {
    s.access?.checkSubmit(ctx.caller);
    // The role comes from the definition (containerOverrides has no jobRoleArn): it may be another PI's or an admin's.
    const d = s.registry.jobDefinition(i.jobDefinition as string);
    if (d)
      s.access?.checkJobRole(
        ctx.caller,
        d.containerProperties?.jobRoleArn,
        `job definition ${d.jobDefinitionName}:${d.revision}'s containerProperties.jobRoleArn`,
      );
    return s.jobs.submit(ctx.caller, i, ctx.bodyBytes);
  },
  DescribeJobs: (s, ctx, i) => s.jobs.describe(ctx.caller, i),
  ListJobs: (s, ctx, i) => s.jobs.list(ctx.caller, i),
  GetJobQueueSnapshot: (s, _c, i) => s.jobs.queueSnapshot(i),
  CancelJob: (s, ctx, i) => s.jobs.cancel(ctx.caller, i),
  TerminateJob: (s, ctx, i) => s.jobs.terminate(ctx.caller, i),

  CreateSchedulingPolicy: adminOnly('create scheduling policies', (s, _c, i) => s.registry.createSchedulingPolicy(i)),
  UpdateSchedulingPolicy: adminOnly('update scheduling policies', (s, _c, i) => s.registry.updateSchedulingPolicy(i)),
  DeleteSchedulingPolicy: adminOnly('delete scheduling policies', (s, _c, i) => s.registry.deleteSchedulingPolicy(i)),
  DescribeSchedulingPolicies: (s, _c, i) => s.registry.describeSchedulingPolicies(i),
  ListSchedulingPolicies: (s, _c, i) => s.registry.listSchedulingPolicies(i),

  TagResource: async (s, ctx, i) => {
    const t = await tagTarget(s, ctx, i.resourceArn as string);
    if (!ctx.caller.admin && !/:job\//.test(i.resourceArn as string))
      throw new AccessDeniedException(
        `User ${ctx.caller.user} may tag only their PI's jobs; an admin tags other resources`,
      );
    await t.save({ ...(t.tags ?? {}), ...(i.tags as Record<string, string>) });
    return {};
  },
  UntagResource: async (s, ctx, i) => {
    const t = await tagTarget(s, ctx, i.resourceArn as string);
    if (!ctx.caller.admin && !/:job\//.test(i.resourceArn as string))
      throw new AccessDeniedException(
        `User ${ctx.caller.user} may untag only their PI's jobs; an admin untags other resources`,
      );
    const tags = { ...(t.tags ?? {}) };
    for (const k of i.tagKeys as string[]) delete tags[k];
    await t.save(tags);
    return {};
  },
  ListTagsForResource: async (s, ctx, i) => ({ tags: (await tagTarget(s, ctx, i.resourceArn as string)).tags ?? {} }),
};

/** What an operation file gets to build its part of the table. */
export interface BatchOperationTable {
  adminOnly: typeof adminOnly;
  table: Record<string, Handler>;
}

Object.assign(BATCH_OPERATIONS, consumableOperations(adminOnly));

/** Lower-case route name -> model operation name. */
export const BATCH_ROUTES = new Map(Object.keys(BATCH_OPERATIONS).map((name) => [name.toLowerCase(), name]));
