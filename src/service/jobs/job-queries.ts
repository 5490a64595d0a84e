/**
 * DescribeJobs and ListJobs on any replica, from the store. A RUNNABLE job's statusReason says why it waits now: it is
 * computed from the engine state the leader publishes (capacity in use, the front of each queue), so every replica
 * answers the same.
 */
import type { Caller } from '../../core/caller.js';
import { ClientException } from '../../core/errors.js';
import { checkRange } from '../../core/names.js';
import type { Store } from '../../core/ports.js';
import type { HostCapacity, Job, JobStatus } from '../../core/types.js';
import { explainWait, neverFits } from '../../scheduler/explain.js';
import { deriveChild } from '../array-state.js';
import { emptyEngineState, snapshotOf, type EngineState } from '../engine/engine-state.js';
import { jobDetail, jobSummary } from '../job-views.js';
import { nodeChild, nodeIdsByParent, withNodeFields, withNodeSummary } from '../node-views.js';
import { parseNodeId } from '../../core/multinode.js';
import { decodeToken, encodeToken } from '../pagination.js';
import type { ResourceRegistry } from '../resources.js';
import { hasWaitingChildren, type JobReader } from './job-reader.js';
import { fairshareReason } from './queue-views.js';

type Input = Record<string, any>;
type JobList = { jobSummaryList: Record<string, unknown>[]; nextToken?: string };

/** How long a replica reuses the engine state it read (the leader publishes at most every 100 ms). */
const STATE_TTL_MS = 100;
/** How old a state SubmitJob may take a RUNNABLE job's reason from (a wrong guess costs the leader one rewrite). */
const GUESS_TTL_MS = 1000;

export class JobQueries {
  private state: { value: EngineState; readAt: number } | undefined;
  private stateRead: Promise<EngineState> | undefined;

  constructor(
    private readonly store: Store,
    private readonly registry: ResourceRegistry,
    private readonly reader: JobReader,
    private readonly host: HostCapacity,
  ) {}

  /** What replicas show before any leader published: this host's capacity, nothing in use. */
  private noLeaderState(): EngineState {
    return emptyEngineState({ ...this.host, usedVcpus: 0, usedMemoryMiB: 0, usedGpus: 0, runningJobs: 0 });
  }

  /** The state read last (sync, for samplers); starts a fresh read when it is stale. */
  latestEngineState(): EngineState {
    if (!this.state || Date.now() - this.state.readAt >= STATE_TTL_MS) void this.engineState().catch(() => {});
    return this.state?.value ?? this.noLeaderState();
  }

  /**
   * The statusReason the leader gives a job it makes RUNNABLE (that it can never fit where its queue sends it), from
   * the capacity the leader published last, for a follower that inserts the job RUNNABLE itself. Undefined (no
   * reason) before any leader published. The leader files the job as is when it agrees and writes its own reason
   * otherwise (Engine.adoptRunnable): a guess that matches saves the leader a second write of every such job.
   */
  runnableReasonGuess(job: Job): string | undefined {
    if (!this.state || Date.now() - this.state.readAt >= GUESS_TTL_MS) void this.engineState().catch(() => {});
    const state = this.state?.value;
    if (!state || state.epoch === 0) return undefined;
    const q = this.registry.queueByNameOrArn(job.jobQueueArn);
    if (!q) return undefined;
    const ces = q.computeEnvironmentOrder.flatMap((o) => {
      const ce = state.computeEnvironments.find((c) => c.arn === o.computeEnvironment);
      return ce ? [ce] : [];
    });
    return neverFits(job.resources, state.host, q.jobQueueName, ces)?.text;
  }

  /** The leader's latest published state (cached briefly); an empty one before any leader published. */
  async engineState(): Promise<EngineState> {
    const now = Date.now();
    if (this.state && now - this.state.readAt < STATE_TTL_MS) return this.state.value;
    this.stateRead ??= this.store
      .getEngineState()
      .then((row) => {
        const value = row ? (JSON.parse(row.json) as EngineState) : this.noLeaderState();
        this.state = { value, readAt: Date.now() };
        return value;
      })
      .finally(() => (this.stateRead = undefined));
    return this.stateRead;
  }

  /** The statusReason a reader sees: for RUNNABLE jobs, why it waits right now. */
  private async reasonsFor(jobs: readonly Job[]): Promise<Map<string, string | undefined>> {
    const out = new Map<string, string | undefined>();
    const waiting = jobs.filter((j) => j.status === 'RUNNABLE');
    for (const j of jobs) out.set(j.jobId, j.statusReason);
    if (waiting.length === 0) return out;
    const state = await this.engineState();
    const snap = snapshotOf(state);
    for (const j of waiting) {
      const q = this.registry.queueByNameOrArn(j.jobQueueArn);
      if (!q) continue;
      const published = state.queues[q.jobQueueArn];
      const pos = published?.front.indexOf(j.jobId) ?? -1;
      const ahead = pos >= 0 ? pos : Math.max(published?.runnable ?? 0, published?.front.length ?? 0);
      const view = {
        name: q.jobQueueName,
        computeEnvironments: q.computeEnvironmentOrder.map((o) => o.computeEnvironment),
      };
      const short = this.registry.consumables.shortfall(j.consumableResourceProperties?.consumableResourceList);
      out.set(
        j.jobId,
        short ?? fairshareReason(this.registry, state, q, j) ?? explainWait(snap, view, j.resources, ahead).text,
      );
    }
    return out;
  }

  async describe(caller: Caller, input: Input): Promise<{ jobs: Record<string, unknown>[] }> {
    const ids = input.jobs as string[];
    if (ids.length > 100)
      throw new ClientException(`jobs has ${ids.length} ids; DescribeJobs accepts at most 100 per call`);
    const nodeIds = nodeIdsByParent(ids);
    const found = await this.reader.findJobs([...ids, ...nodeIds.keys()]);
    for (const [parentId, nodes] of nodeIds) {
      const parent = found.get(parentId);
      if (!parent?.nodeProperties) continue;
      for (const n of nodes) {
        const child = nodeChild(parent, n);
        if (child) found.set(child.jobId, child);
      }
    }
    const jobs = ids
      .map((id) => found.get(id))
      .filter((j): j is Job => !!j && (caller.admin || j.owner?.pi === caller.pi));
    const reasons = await this.reasonsFor(jobs);
    return {
      jobs: jobs.map((j) =>
        withNodeFields(
          jobDetail(withSummary(j), reasons.get(j.jobId)),
          j,
          found.get(parseNodeId(j.jobId)?.parentId ?? ''),
        ),
      ),
    };
  }

  async list(caller: Caller, input: Input): Promise<JobList> {
    checkRange('maxResults', input.maxResults as number | undefined, 1, 1000);
    const filters = (input.filters as { name?: string; values?: string[] }[] | undefined) ?? [];
    if (!input.jobQueue && !input.arrayJobId && !input.multiNodeJobId)
      throw new ClientException(
        'ListJobs needs jobQueue, arrayJobId or multiNodeJobId: name the queue whose jobs you want',
      );
    let jobQueueArn: string | undefined;
    if (input.jobQueue) {
      let q = this.registry.queueByNameOrArn(input.jobQueue as string);
      if (!q) {
        await this.registry.reload(); // created on another replica a moment ago?
        q = this.registry.queueByNameOrArn(input.jobQueue as string);
      }
      if (!q)
        throw new ClientException(
          `jobQueue ${JSON.stringify(input.jobQueue)} does not exist; list queues with describe-job-queues`,
        );
      jobQueueArn = q.jobQueueArn;
    }
    if (input.arrayJobId) return this.listChildren(caller, input, filters);
    if (input.multiNodeJobId) return this.listNodes(caller, input);
    const query: Parameters<Store['listJobs']>[0] = { limit: (input.maxResults as number | undefined) ?? 100 };
    if (jobQueueArn) query.jobQueueArn = jobQueueArn;
    if (filters.length === 0) query.statuses = [(input.jobStatus as JobStatus | undefined) ?? 'RUNNING'];
    // As AWS documents: with a filter, jobStatus is ignored and jobs of every status are listed.
    let user: string | undefined;
    for (const f of filters) {
      const v = f.values?.[0];
      if (!f.name || v === undefined || (f.values?.length ?? 0) !== 1)
        throw new ClientException(`filters: each filter needs a name and exactly one value; got ${JSON.stringify(f)}`);
      const prefix = v.endsWith('*');
      const value = prefix ? v.slice(0, -1) : v;
      switch (f.name) {
        case 'JOB_NAME':
          query.jobName = { value, prefix };
          break;
        case 'JOB_DEFINITION':
          query.jobDefinition = { value, prefix };
          break;
        case 'BEFORE_CREATED_AT':
        case 'AFTER_CREATED_AT': {
          const t = Number(v);
          if (!Number.isFinite(t))
            throw new ClientException(
              `filters: ${f.name} takes a time in epoch milliseconds; got ${JSON.stringify(v)}`,
            );
          if (f.name === 'BEFORE_CREATED_AT') query.createdBefore = t;
          else query.createdAfter = t;
          break;
        }
        case 'USER':
          // openbatch's own filter (the CLI's `jobs --user`): who submitted the job, as its access key's owner.
          user = v;
          break;
        case 'SHARE_IDENTIFIER':
          // AWS: "SHARE_IDENTIFIER and jobStatus can be used together".
          query.shareIdentifier = v;
          if (input.jobStatus !== undefined) query.statuses = [(input.jobStatus as string).toUpperCase() as JobStatus];
          break;
        default:
          throw new ClientException(
            `filters: unknown filter name ${JSON.stringify(f.name)}; use JOB_NAME, JOB_DEFINITION, BEFORE_CREATED_AT, AFTER_CREATED_AT, SHARE_IDENTIFIER or USER`,
          );
      }
    }
    if (!caller.admin) query.pi = caller.pi;
    const cursor = decodeToken<{ c: number; i: string; n: number }>('jobs', input.nextToken as string | undefined);
    if (cursor) query.after = { createdAt: cursor.c, jobId: cursor.i };
    // Read-your-writes on the leader: this queue's pending commits (every queue's when the listing spans them).
    if (jobQueueArn === undefined) await this.reader.settle();
    else await this.reader.settleWhere((j) => j.jobQueueArn === jobQueueArn);
    const page = await this.store.listJobs(query);
    // A page may come back short (even empty) with a nextToken when USER filters it: clients page on, as with AWS.
    const jobs = user === undefined ? page.jobs : page.jobs.filter((j) => j.owner?.user === user);
    const reasons = await this.reasonsFor(jobs);
    const out: JobList = {
      jobSummaryList: jobs.map((j) => withNodeSummary(jobSummary(j, reasons.get(j.jobId)), j, undefined)),
    };
    if (page.last)
      out.nextToken = encodeToken('jobs', { c: page.last.createdAt, i: page.last.jobId, n: (cursor?.n ?? 0) + 1 });
    return out;
  }

  /** ListJobs by multiNodeJobId: the job's node children of the status asked for (RUNNING by default), in order. */
  private async listNodes(caller: Caller, input: Input): Promise<JobList> {
    const parentId = input.multiNodeJobId as string;
    const parent = (await this.reader.findJobs([parentId])).get(parentId);
    if (!parent?.nodeProperties || (!caller.admin && parent.owner?.pi !== caller.pi)) return { jobSummaryList: [] };
    const status = (input.jobStatus as JobStatus | undefined) ?? 'RUNNING';
    const limit = (input.maxResults as number | undefined) ?? 100;
    const after = decodeToken<{ x: number }>('nodes', input.nextToken as string | undefined)?.x ?? -1;
    const nodes: Job[] = [];
    let last = after;
    for (let i = after + 1; i < parent.nodeProperties.numNodes && nodes.length < limit; i++) {
      const n = nodeChild(parent, i)!;
      last = i;
      if (n.status === status) nodes.push(n);
    }
    const out: JobList = {
      jobSummaryList: nodes.map((n) => withNodeSummary(jobSummary(n, n.statusReason), n, parent)),
    };
    if (last < parent.nodeProperties.numNodes - 1) out.nextToken = encodeToken('nodes', { x: last });
    return out;
  }

  /** ListJobs by arrayJobId: stored children merged with those still waiting unstored, in index order. */
  private async listChildren(
    caller: Caller,
    input: Input,
    filters: { name?: string; values?: string[] }[],
  ): Promise<JobList> {
    const parentId = input.arrayJobId as string;
    // The parent's and its children's pending commits on the leader (findJobs waits for the parent's alone).
    const childPrefix = `${parentId}:`;
    await this.reader.settleWhere((j) => j.jobId === parentId || j.jobId.startsWith(childPrefix));
    const parent = (await this.reader.findJobs([parentId], { settle: false })).get(parentId);
    if (!parent || parent.arrayProperties?.size === undefined || (!caller.admin && parent.owner?.pi !== caller.pi))
      return { jobSummaryList: [] };
    const statuses =
      filters.length === 0 || input.jobStatus !== undefined
        ? [(input.jobStatus as JobStatus | undefined) ?? 'RUNNING']
        : undefined;
    const limit = (input.maxResults as number | undefined) ?? 100;
    const after = decodeToken<{ x: number }>('children', input.nextToken as string | undefined)?.x ?? -1;
    const size = parent.arrayProperties.size;
    const wantsWaiting = !statuses || statuses.some((s) => s === 'PENDING' || s === 'RUNNABLE');
    const out: Job[] = [];
    if (!hasWaitingChildren(parent) || !wantsWaiting) {
      const page = await this.store.listJobs({
        arrayJobId: parentId,
        ...(statuses ? { statuses } : {}),
        afterIndex: after,
        limit: limit + 1,
      });
      out.push(...page.jobs);
    } else {
      // Walk the indices in windows: stored rows where they exist, derived children in between.
      const WINDOW = 1000;
      for (let from = after + 1; from < size && out.length <= limit; from += WINDOW) {
        const count = Math.min(WINDOW, size - from);
        const rows = await this.store.listJobs({ arrayJobId: parentId, afterIndex: from - 2, limit: count + 1 });
        const stored = new Map(rows.jobs.map((j) => [j.arrayProperties?.index ?? -1, j]));
        const waiting = await this.reader.waitingStatuses(parent, from, count, stored);
        for (let k = 0; k < count && out.length <= limit; k++) {
          const i = from + k;
          const job = stored.get(i) ?? deriveChild(parent, i, waiting[k]!, parent.statusChangedAt);
          if (!statuses || statuses.includes(job.status)) out.push(job);
        }
      }
    }
    const pageJobs = out.slice(0, limit);
    const reasons = await this.reasonsFor(pageJobs);
    const res: JobList = { jobSummaryList: pageJobs.map((j) => jobSummary(j, reasons.get(j.jobId))) };
    if (out.length > limit)
      res.nextToken = encodeToken('children', { x: pageJobs[pageJobs.length - 1]!.arrayProperties!.index! });
    return res;
  }
}

/** The wire view of an array parent always has a statusSummary (AWS returns an empty one before release). */
function withSummary(job: Job): Job {
  if (job.arrayProperties?.size !== undefined && !job.arrayProperties.statusSummary)
    return { ...job, arrayProperties: { ...job.arrayProperties, statusSummary: {} } };
  return job;
}
