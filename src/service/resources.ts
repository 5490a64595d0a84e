/**
 * Compute environments, job queues, job definitions and scheduling policies: few and small, kept in memory and
 * written through to the store before a call answers.
 */
import { randomUUID } from 'node:crypto';
import { batchArn, nameFromNameOrArn, parseBatchArn, type ArnContext } from '../core/arn.js';
import { ClientException } from '../core/errors.js';
import type { EksProperties } from '../core/eks-pod.js';
import { checkName, checkRange } from '../core/names.js';
import type { Clock, Store } from '../core/ports.js';
import type {
  ComputeEnvironment,
  ComputeEnvironmentOrder,
  JobDefinition,
  JobQueue,
  RetryStrategy,
  SchedulingPolicy,
  Tags,
} from '../core/types.js';
import { ConsumableResourceRegistry } from './consumable-resources.js';
import {
  checkFairsharePolicy,
  checkJobDefinitionProperties,
  checkPoolTag,
  checkRetryStrategy,
  checkTimeout,
} from './resource-rules.js';
import { pageList } from './pagination.js';
import { ceDetail, jobDefinitionDetail, queueDetail, schedulingPolicyDetail } from './resource-views.js';
import { roleArn } from './wire-defaults.js';

type Input = Record<string, any>;

const CE_KNOWN = new Set([
  'computeEnvironmentName',
  'type',
  'state',
  'unmanagedvCpus',
  'computeResources',
  'serviceRole',
  'tags',
]);
const JD_KNOWN = new Set([
  'jobDefinitionName',
  'type',
  'parameters',
  'schedulingPriority',
  'containerProperties',
  'retryStrategy',
  'propagateTags',
  'timeout',
  'tags',
  'platformCapabilities',
  'eksProperties',
]);

function extraMembers(input: Input, known: Set<string>): Record<string, unknown> | undefined {
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) if (!known.has(k) && v !== undefined && v !== null) extra[k] = v;
  return Object.keys(extra).length ? extra : undefined;
}

export class ResourceRegistry {
  readonly computeEnvironments = new Map<string, ComputeEnvironment>();
  readonly jobQueues = new Map<string, JobQueue>();
  /** name -> revisions in ascending order. */
  readonly jobDefinitions = new Map<string, JobDefinition[]>();
  readonly schedulingPolicies = new Map<string, SchedulingPolicy>();
  readonly consumables: ConsumableResourceRegistry;
  /** Called when anything the scheduler reads changes. */
  onChange: () => void = () => {};
  /** The admin's container policy (privileged, host volumes), checked at registration; set by the composition root. */
  containerPolicy?: { checkContainerProperties(cp: NonNullable<JobDefinition['containerProperties']>): void };

  constructor(
    private readonly store: Store,
    private readonly arn: ArnContext,
    private readonly clock: Clock,
  ) {
    this.consumables = new ConsumableResourceRegistry(store, arn, clock);
    this.consumables.onChange = () => this.changed();
  }

  /** Changes made through this registry (each after its write to the store). */
  private localChanges = 0;

  private changed(): void {
    this.localChanges++;
    this.onChange();
  }

  /** (Re)loads every resource from the store, replacing what is held (another replica may have changed them). */
  async load(): Promise<void> {
    // A change made here while the store was read may be missing from what was read: read again.
    let seen: number;
    let r: Awaited<ReturnType<Store['loadResources']>>;
    do {
      seen = this.localChanges;
      r = await this.store.loadResources();
    } while (seen !== this.localChanges);
    this.computeEnvironments.clear();
    this.jobQueues.clear();
    this.jobDefinitions.clear();
    this.schedulingPolicies.clear();
    for (const ce of r.computeEnvironments) this.computeEnvironments.set(ce.computeEnvironmentName, ce);
    for (const q of r.jobQueues) this.jobQueues.set(q.jobQueueName, q);
    for (const d of r.jobDefinitions) {
      const list = this.jobDefinitions.get(d.jobDefinitionName) ?? [];
      list.push(d);
      list.sort((a, b) => a.revision - b.revision);
      this.jobDefinitions.set(d.jobDefinitionName, list);
    }
    for (const p of r.schedulingPolicies) this.schedulingPolicies.set(p.name, p);
    this.consumables.load(r.consumableResources ?? []);
  }

  private reloading: Promise<void> | undefined;

  /** Reloads from the store once, however many callers ask at the same time. */
  reload(): Promise<void> {
    this.reloading ??= this.load().finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  // ---- compute environments ----

  ceByNameOrArn(text: string): ComputeEnvironment | undefined {
    const name = nameFromNameOrArn(text, 'compute-environment');
    return name === undefined ? undefined : this.computeEnvironments.get(name);
  }

  private requireCe(text: string, field: string): ComputeEnvironment {
    const ce = this.ceByNameOrArn(text);
    if (!ce)
      throw new ClientException(
        `${field}: compute environment ${JSON.stringify(text)} does not exist; list them with describe-compute-environments`,
      );
    return ce;
  }

  async createComputeEnvironment(
    input: Input,
  ): Promise<{ computeEnvironmentName: string; computeEnvironmentArn: string }> {
    const name = input.computeEnvironmentName as string;
    checkName('computeEnvironmentName', name);
    if (this.computeEnvironments.has(name))
      throw new ClientException(
        `computeEnvironmentName ${name} already exists; choose another name or update it with update-compute-environment`,
      );
    const type = input.type as 'MANAGED' | 'UNMANAGED';
    const cr = input.computeResources as ComputeEnvironment['computeResources'];
    if (type === 'MANAGED' && !cr)
      throw new ClientException(
        'computeResources is required for a MANAGED compute environment: give at least {"type":"EC2","maxvCpus":N}',
      );
    if (cr) checkRange('computeResources.maxvCpus', cr.maxvCpus, 0, 10_000_000);
    checkPoolTag(type, input.tags as Tags | undefined);
    if (cr && typeof cr.minvCpus === 'number' && typeof cr.maxvCpus === 'number' && cr.minvCpus > cr.maxvCpus)
      throw new ClientException(`computeResources.minvCpus (${cr.minvCpus}) must not exceed maxvCpus (${cr.maxvCpus})`);
    const arn = batchArn(this.arn, 'compute-environment', name);
    const ce: ComputeEnvironment = {
      computeEnvironmentName: name,
      computeEnvironmentArn: arn,
      type,
      state: (input.state as ComputeEnvironment['state']) ?? 'ENABLED',
      status: 'VALID',
      statusReason: 'ComputeEnvironment Healthy',
      ...(cr ? { computeResources: cr } : {}),
      ...(input.serviceRole ? { serviceRole: roleArn(input.serviceRole as string, this.arn.accountId) } : {}),
      ...(input.unmanagedvCpus !== undefined ? { unmanagedvCpus: input.unmanagedvCpus as number } : {}),
      ...(input.tags ? { tags: input.tags as Tags } : {}),
      createdAt: this.clock(),
      uuid: randomUUID(),
      ecsClusterArn: `arn:aws:ecs:${this.arn.region}:${this.arn.accountId}:cluster/${name}_Batch_${randomUUID()}`,
      containerOrchestrationType: 'ECS',
    };
    const extra = extraMembers(input, CE_KNOWN);
    if (extra) ce.extra = extra;
    await this.store.putComputeEnvironment(ce);
    this.computeEnvironments.set(name, ce);
    this.changed();
    return { computeEnvironmentName: name, computeEnvironmentArn: arn };
  }

  async updateComputeEnvironment(
    input: Input,
  ): Promise<{ computeEnvironmentName: string; computeEnvironmentArn: string }> {
    const ce = structuredClone(this.requireCe(input.computeEnvironment as string, 'computeEnvironment'));
    if (input.state) ce.state = input.state as ComputeEnvironment['state'];
    if (input.unmanagedvCpus !== undefined) ce.unmanagedvCpus = input.unmanagedvCpus as number;
    if (input.serviceRole) ce.serviceRole = roleArn(input.serviceRole as string, this.arn.accountId);
    const cr = input.computeResources as Record<string, unknown> | undefined;
    if (cr) {
      if (ce.type !== 'MANAGED')
        throw new ClientException('computeResources can only be updated on a MANAGED compute environment');
      checkRange('computeResources.maxvCpus', cr.maxvCpus as number | undefined, 0, 10_000_000);
      ce.computeResources = { ...ce.computeResources, ...cr };
    }
    await this.store.putComputeEnvironment(ce);
    this.computeEnvironments.set(ce.computeEnvironmentName, ce);
    this.changed();
    return { computeEnvironmentName: ce.computeEnvironmentName, computeEnvironmentArn: ce.computeEnvironmentArn };
  }

  async deleteComputeEnvironment(input: Input): Promise<Record<string, never>> {
    const ce = this.requireCe(input.computeEnvironment as string, 'computeEnvironment');
    if (ce.state !== 'DISABLED')
      throw new ClientException(
        `compute environment ${ce.computeEnvironmentName} is ENABLED: disable it first (update-compute-environment --state DISABLED), then delete it`,
      );
    const users = [...this.jobQueues.values()].filter((q) =>
      q.computeEnvironmentOrder.some((o) => o.computeEnvironment === ce.computeEnvironmentArn),
    );
    if (users.length)
      throw new ClientException(
        `compute environment ${ce.computeEnvironmentName} is used by job queue(s) ${users.map((q) => q.jobQueueName).join(', ')}: remove it from their computeEnvironmentOrder or delete them first`,
      );
    await this.store.deleteComputeEnvironment(ce.computeEnvironmentArn);
    this.computeEnvironments.delete(ce.computeEnvironmentName);
    this.changed();
    return {};
  }

  describeComputeEnvironments(input: Input): { computeEnvironments: ComputeEnvironment[]; nextToken?: string } {
    const wanted = input.computeEnvironments as string[] | undefined;
    let list = [...this.computeEnvironments.values()];
    if (wanted?.length) list = wanted.map((w) => this.ceByNameOrArn(w)).filter((c): c is ComputeEnvironment => !!c);
    checkRange('maxResults', input.maxResults as number | undefined, 1, 100);
    const page = pageList('ce', list, input.maxResults as number | undefined, input.nextToken as string | undefined);
    return { computeEnvironments: page.items.map(ceDetail), ...(page.nextToken ? { nextToken: page.nextToken } : {}) };
  }

  // ---- job queues ----

  queueByNameOrArn(text: string): JobQueue | undefined {
    const name = nameFromNameOrArn(text, 'job-queue');
    return name === undefined ? undefined : this.jobQueues.get(name);
  }

  requireQueue(text: string, field: string): JobQueue {
    const q = this.queueByNameOrArn(text);
    if (!q)
      throw new ClientException(
        `${field}: job queue ${JSON.stringify(text)} does not exist; list them with describe-job-queues`,
      );
    return q;
  }

  private resolveCeOrder(order: Input[] | undefined, field: string): ComputeEnvironmentOrder[] {
    if (!order) return [];
    if (order.length > 3)
      throw new ClientException(
        `${field} has ${order.length} entries; a job queue can use at most 3 compute environments`,
      );
    const seenOrder = new Set<number>();
    const out = order.map((o, i) => {
      const ce = this.requireCe(o.computeEnvironment as string, `${field}[${i}].computeEnvironment`);
      const n = o.order as number;
      if (seenOrder.has(n))
        throw new ClientException(`${field}[${i}].order ${n} is used twice; each entry needs its own order`);
      seenOrder.add(n);
      return { order: n, computeEnvironment: ce.computeEnvironmentArn };
    });
    return out.sort((a, b) => a.order - b.order);
  }

  private checkQueueOptions(input: Input): void {
    checkRange('priority', input.priority as number | undefined, 0, 1000);
    const actions = input.jobStateTimeLimitActions as Input[] | undefined;
    actions?.forEach((a, i) => {
      checkRange(`jobStateTimeLimitActions[${i}].maxTimeSeconds`, a.maxTimeSeconds as number, 600, 86_400);
      if (!a.reason) throw new ClientException(`jobStateTimeLimitActions[${i}].reason is required`);
    });
    if (input.schedulingPolicyArn && !this.policyByArn(input.schedulingPolicyArn as string))
      throw new ClientException(
        `schedulingPolicyArn ${input.schedulingPolicyArn as string} does not exist; create it with create-scheduling-policy`,
      );
  }

  async createJobQueue(input: Input): Promise<{ jobQueueName: string; jobQueueArn: string }> {
    const name = input.jobQueueName as string;
    checkName('jobQueueName', name);
    if (this.jobQueues.has(name))
      throw new ClientException(
        `jobQueueName ${name} already exists; choose another name or update it with update-job-queue`,
      );
    this.checkQueueOptions(input);
    const arn = batchArn(this.arn, 'job-queue', name);
    const q: JobQueue = {
      jobQueueName: name,
      jobQueueArn: arn,
      state: (input.state as JobQueue['state']) ?? 'ENABLED',
      status: 'VALID',
      statusReason: 'JobQueue Healthy',
      priority: input.priority as number,
      computeEnvironmentOrder: this.resolveCeOrder(
        input.computeEnvironmentOrder as Input[] | undefined,
        'computeEnvironmentOrder',
      ),
      ...(input.schedulingPolicyArn ? { schedulingPolicyArn: input.schedulingPolicyArn as string } : {}),
      ...(input.jobStateTimeLimitActions
        ? { jobStateTimeLimitActions: input.jobStateTimeLimitActions as JobQueue['jobStateTimeLimitActions'] }
        : {}),
      ...(input.tags ? { tags: input.tags as Tags } : {}),
      createdAt: this.clock(),
    };
    if (input.jobQueueType) q.extra = { jobQueueType: input.jobQueueType };
    await this.store.putJobQueue(q);
    this.jobQueues.set(name, q);
    this.changed();
    return { jobQueueName: name, jobQueueArn: arn };
  }

  async updateJobQueue(input: Input): Promise<{ jobQueueName: string; jobQueueArn: string }> {
    const q = structuredClone(this.requireQueue(input.jobQueue as string, 'jobQueue'));
    this.checkQueueOptions(input);
    if (input.state) q.state = input.state as JobQueue['state'];
    if (input.priority !== undefined) q.priority = input.priority as number;
    if (input.computeEnvironmentOrder)
      q.computeEnvironmentOrder = this.resolveCeOrder(
        input.computeEnvironmentOrder as Input[],
        'computeEnvironmentOrder',
      );
    if (input.schedulingPolicyArn !== undefined) {
      // AWS: "After a job queue has a fair-share scheduling policy, it can be replaced but can't be removed", and "a
      // job queue without a fair-share scheduling policy ... can't have a fair-share scheduling policy added".
      if (!q.schedulingPolicyArn)
        throw new ClientException(
          `job queue ${q.jobQueueName} has no fair-share scheduling policy: it is scheduled first in, first out and can't have a fair-share scheduling policy added; create a new queue with --scheduling-policy-arn instead`,
        );
      if (input.schedulingPolicyArn === '')
        throw new ClientException(
          `schedulingPolicyArn: the fair-share scheduling policy of job queue ${q.jobQueueName} can be replaced but not removed; give another policy's ARN, or create a queue without one`,
        );
      q.schedulingPolicyArn = input.schedulingPolicyArn as string;
    }
    if (input.jobStateTimeLimitActions)
      q.jobStateTimeLimitActions = input.jobStateTimeLimitActions as JobQueue['jobStateTimeLimitActions'];
    await this.store.putJobQueue(q);
    this.jobQueues.set(q.jobQueueName, q);
    this.changed();
    return { jobQueueName: q.jobQueueName, jobQueueArn: q.jobQueueArn };
  }

  /** Checks that a queue may be deleted; the job service terminates its jobs, then calls removeJobQueue. */
  checkDeletableQueue(input: Input): JobQueue {
    const q = this.requireQueue(input.jobQueue as string, 'jobQueue');
    if (q.state !== 'DISABLED')
      throw new ClientException(
        `job queue ${q.jobQueueName} is ENABLED: disable it first (update-job-queue --state DISABLED), then delete it`,
      );
    return q;
  }

  async removeJobQueue(q: JobQueue): Promise<void> {
    await this.store.deleteJobQueue(q.jobQueueArn);
    this.jobQueues.delete(q.jobQueueName);
    this.changed();
  }

  describeJobQueues(input: Input): { jobQueues: JobQueue[]; nextToken?: string } {
    const wanted = input.jobQueues as string[] | undefined;
    let list = [...this.jobQueues.values()];
    if (wanted?.length) list = wanted.map((w) => this.queueByNameOrArn(w)).filter((q): q is JobQueue => !!q);
    checkRange('maxResults', input.maxResults as number | undefined, 1, 100);
    const page = pageList('jq', list, input.maxResults as number | undefined, input.nextToken as string | undefined);
    return { jobQueues: page.items.map(queueDetail), ...(page.nextToken ? { nextToken: page.nextToken } : {}) };
  }

  // ---- job definitions ----

  /** Resolves `name`, `name:revision` or an ARN; without a revision, the latest ACTIVE one. */
  jobDefinition(text: string): JobDefinition | undefined {
    let ref = text;
    if (text.startsWith('arn:')) {
      const p = parseBatchArn(text);
      if (!p || p.type !== 'job-definition') return undefined;
      ref = p.name;
    }
    const colon = ref.lastIndexOf(':');
    if (colon > 0 && /^\d+$/.test(ref.slice(colon + 1))) {
      const rev = Number(ref.slice(colon + 1));
      return this.jobDefinitions.get(ref.slice(0, colon))?.find((d) => d.revision === rev);
    }
    const list = this.jobDefinitions.get(ref);
    if (!list) return undefined;
    for (let i = list.length - 1; i >= 0; i--) if (list[i]!.status === 'ACTIVE') return list[i];
    return undefined;
  }

  async registerJobDefinition(
    input: Input,
    owner: string | undefined,
  ): Promise<{ jobDefinitionName: string; jobDefinitionArn: string; revision: number }> {
    const name = input.jobDefinitionName as string;
    checkName('jobDefinitionName', name);
    const type = input.type as 'container' | 'multinode';
    const cp = input.containerProperties as JobDefinition['containerProperties'];
    const eks = input.eksProperties as EksProperties | undefined;
    checkJobDefinitionProperties(input);
    if (cp) this.containerPolicy?.checkContainerProperties(cp);
    checkRetryStrategy(input.retryStrategy as RetryStrategy | undefined, 'retryStrategy');
    checkTimeout(input.timeout as { attemptDurationSeconds?: number } | undefined, 'timeout');
    this.consumables.resolve(input.consumableResourceProperties as Input | undefined, 'consumableResourceProperties');
    const list = this.jobDefinitions.get(name) ?? [];
    const revision = (list[list.length - 1]?.revision ?? 0) + 1;
    const arn = batchArn(this.arn, 'job-definition', `${name}:${revision}`);
    const d: JobDefinition = {
      jobDefinitionName: name,
      jobDefinitionArn: arn,
      revision,
      status: 'ACTIVE',
      type,
      ...(input.parameters ? { parameters: input.parameters as Record<string, string> } : {}),
      ...(input.retryStrategy ? { retryStrategy: input.retryStrategy as RetryStrategy } : {}),
      ...(cp ? { containerProperties: cp } : {}),
      ...(eks ? { eksProperties: eks } : {}),
      ...(input.timeout ? { timeout: input.timeout as { attemptDurationSeconds?: number } } : {}),
      ...(input.tags ? { tags: input.tags as Tags } : {}),
      ...(input.propagateTags !== undefined ? { propagateTags: input.propagateTags as boolean } : {}),
      ...(input.platformCapabilities ? { platformCapabilities: input.platformCapabilities as string[] } : {}),
      ...(input.schedulingPriority !== undefined ? { schedulingPriority: input.schedulingPriority as number } : {}),
      ...(owner ? { owner } : {}),
      createdAt: this.clock(),
    };
    const extra = extraMembers(input, JD_KNOWN);
    if (extra) d.extra = extra;
    await this.store.putJobDefinition(d);
    list.push(d);
    this.jobDefinitions.set(name, list);
    return { jobDefinitionName: name, jobDefinitionArn: arn, revision };
  }

  /** Finds the exact revision a deregister call names (`name:revision` or ARN). */
  requireJobDefinitionRevision(text: string): JobDefinition {
    const d = /:\d+$/.test(text) ? this.jobDefinition(text) : undefined;
    if (!d)
      throw new ClientException(
        `jobDefinition ${JSON.stringify(text)} does not name an existing revision: use name:revision (e.g. myJobDef:7) or the job definition ARN`,
      );
    return d;
  }

  async deregisterJobDefinition(d: JobDefinition): Promise<Record<string, never>> {
    if (d.status !== 'INACTIVE') {
      const updated: JobDefinition = { ...d, status: 'INACTIVE' };
      await this.store.putJobDefinition(updated);
      const list = this.jobDefinitions.get(d.jobDefinitionName)!;
      list[list.indexOf(d)] = updated;
    }
    return {};
  }

  describeJobDefinitions(input: Input): { jobDefinitions: Record<string, unknown>[]; nextToken?: string } {
    const wanted = input.jobDefinitions as string[] | undefined;
    let list: JobDefinition[];
    if (wanted?.length) {
      list = [];
      for (const w of wanted) {
        if (w.startsWith('arn:') || /:\d+$/.test(w)) {
          const d = this.jobDefinition(w);
          if (d) list.push(d);
        } else list.push(...(this.jobDefinitions.get(w) ?? []));
      }
    } else if (input.jobDefinitionName) {
      list = [...(this.jobDefinitions.get(input.jobDefinitionName as string) ?? [])];
    } else {
      list = [...this.jobDefinitions.values()].flat();
    }
    if (input.status) list = list.filter((d) => d.status === input.status);
    checkRange('maxResults', input.maxResults as number | undefined, 1, 100);
    const page = pageList('jd', list, input.maxResults as number | undefined, input.nextToken as string | undefined);
    return {
      jobDefinitions: page.items.map(jobDefinitionDetail),
      ...(page.nextToken ? { nextToken: page.nextToken } : {}),
    };
  }

  // ---- scheduling policies ----

  policyByArn(arn: string): SchedulingPolicy | undefined {
    const p = parseBatchArn(arn);
    return p && p.type === 'scheduling-policy' ? this.schedulingPolicies.get(p.name) : undefined;
  }

  async createSchedulingPolicy(input: Input): Promise<{ name: string; arn: string }> {
    const name = input.name as string;
    checkName('name', name);
    if (this.schedulingPolicies.has(name))
      throw new ClientException(`scheduling policy ${name} already exists; update it with update-scheduling-policy`);
    checkFairsharePolicy(input.fairsharePolicy as Input | undefined);
    const arn = batchArn(this.arn, 'scheduling-policy', name);
    const p: SchedulingPolicy = {
      name,
      arn,
      ...(input.fairsharePolicy ? { fairsharePolicy: input.fairsharePolicy as Record<string, unknown> } : {}),
      ...(input.tags ? { tags: input.tags as Tags } : {}),
    };
    await this.store.putSchedulingPolicy(p);
    this.schedulingPolicies.set(name, p);
    return { name, arn };
  }

  private requirePolicy(arn: string): SchedulingPolicy {
    const p = this.policyByArn(arn);
    if (!p)
      throw new ClientException(
        `arn: scheduling policy ${JSON.stringify(arn)} does not exist; list them with list-scheduling-policies`,
      );
    return p;
  }

  async updateSchedulingPolicy(input: Input): Promise<Record<string, never>> {
    const p = { ...this.requirePolicy(input.arn as string) };
    checkFairsharePolicy(input.fairsharePolicy as Input | undefined);
    if (input.fairsharePolicy) p.fairsharePolicy = input.fairsharePolicy as Record<string, unknown>;
    await this.store.putSchedulingPolicy(p);
    this.schedulingPolicies.set(p.name, p);
    return {};
  }

  async deleteSchedulingPolicy(input: Input): Promise<Record<string, never>> {
    const p = this.requirePolicy(input.arn as string);
    const users = [...this.jobQueues.values()].filter((q) => q.schedulingPolicyArn === p.arn);
    if (users.length)
      throw new ClientException(
        `scheduling policy ${p.name} is used by job queue(s) ${users.map((q) => q.jobQueueName).join(', ')}; detach it first`,
      );
    await this.store.deleteSchedulingPolicy(p.arn);
    this.schedulingPolicies.delete(p.name);
    return {};
  }

  describeSchedulingPolicies(input: Input): { schedulingPolicies: SchedulingPolicy[] } {
    const arns = input.arns as string[];
    return {
      schedulingPolicies: arns
        .map((a) => this.policyByArn(a))
        .filter((p): p is SchedulingPolicy => !!p)
        .map(schedulingPolicyDetail),
    };
  }

  listSchedulingPolicies(input: Input): { schedulingPolicies: { arn: string }[]; nextToken?: string } {
    const page = pageList(
      'sp',
      [...this.schedulingPolicies.values()],
      input.maxResults as number | undefined,
      input.nextToken as string | undefined,
    );
    return {
      schedulingPolicies: page.items.map((p) => ({ arn: p.arn })),
      ...(page.nextToken ? { nextToken: page.nextToken } : {}),
    };
  }

  // ---- tags on resources (jobs are tagged through the job service) ----

  /** The stored resource an ARN names, with a setter for its tags; undefined for jobs and unknown ARNs. */
  taggable(arn: string): { tags: Tags | undefined; save: (tags: Tags) => Promise<void> } | undefined {
    const p = parseBatchArn(arn);
    if (!p) return undefined;
    if (p.type === 'consumable-resource') return this.consumables.taggable(arn);
    if (p.type === 'compute-environment') {
      const ce = this.computeEnvironments.get(p.name);
      if (!ce) return undefined;
      return {
        tags: ce.tags,
        save: async (tags) => {
          checkPoolTag(ce.type, tags);
          const c = { ...ce, tags };
          await this.store.putComputeEnvironment(c);
          this.computeEnvironments.set(c.computeEnvironmentName, c);
        },
      };
    }
    if (p.type === 'job-queue') {
      const q = this.jobQueues.get(p.name);
      if (!q) return undefined;
      return {
        tags: q.tags,
        save: async (tags) => {
          const c = { ...q, tags };
          await this.store.putJobQueue(c);
          this.jobQueues.set(c.jobQueueName, c);
        },
      };
    }
    if (p.type === 'job-definition') {
      const d = this.jobDefinition(p.name);
      if (!d || !/:\d+$/.test(p.name)) return undefined;
      return {
        tags: d.tags,
        save: async (tags) => {
          const c = { ...d, tags };
          await this.store.putJobDefinition(c);
          const list = this.jobDefinitions.get(d.jobDefinitionName)!;
          list[list.indexOf(d)] = c;
        },
      };
    }
    if (p.type === 'scheduling-policy') {
      const sp = this.schedulingPolicies.get(p.name);
      if (!sp) return undefined;
      return {
        tags: sp.tags,
        save: async (tags) => {
          const c = { ...sp, tags };
          await this.store.putSchedulingPolicy(c);
          this.schedulingPolicies.set(c.name, c);
        },
      };
    }
    return undefined;
  }
}
