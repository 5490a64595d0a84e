/**
 * The queues part of the engine's views: the scheduler's SchedQueues (RUNNABLE jobs in run order, and for fair-share
 * queues each share with its usage record) and what the leader publishes per queue for followers (the front in run
 * order, vCPUs in use, share usage). Array children are read from their parent's compact state as they are reached.
 */
import type { Job } from '../../core/types.js';
import { decayWindowSeconds, type FairsharePolicy, type ShareUsage } from '../../scheduler/fair-share.js';
import { frontOfQueue } from '../../scheduler/front-of-queue.js';
import type { SchedJob, SchedQueue, SchedShare, Snapshot } from '../../scheduler/schedule.js';
import { parseChildId, type ArrayState } from '../array-state.js';
import type { ResourceRegistry } from '../resources.js';
import { ENGINE_STATE_FRONT, type EngineState, type PublishedQueue } from './engine-state.js';
import type { RunnableQueues } from './runnable-queues.js';
import type { ShareLedger } from './share-ledger.js';

/** What the views read from the engine. */
export interface QueueSources {
  registry: ResourceRegistry;
  runnable: RunnableQueues;
  ledger: ShareLedger;
  arrays: ReadonlyMap<string, ArrayState>;
  /** An active job as scheduling reads it: a whole job, or a RUNNABLE one held compactly (CompactJobs). */
  job(id: string): Pick<Job, 'resources' | 'consumableResourceProperties' | 'statusChangedAt'> | undefined;
  fairshareOf(queueArn: string): FairsharePolicy | undefined;
}

/** SchedJobs for ids in run order; an array parent yields its RUNNABLE children (and is unfiled once it has none). */
function* schedJobs(src: QueueSources, ids: Iterable<string>): Generator<SchedJob> {
  for (const id of ids) {
    const st = src.arrays.get(id);
    if (st) {
      let any = false;
      for (const i of st.runnableIndices()) {
        any = true;
        yield {
          jobId: `${id}:${i}`,
          resources: st.parent.resources,
          ...(st.parent.consumableResourceProperties
            ? { consumables: st.parent.consumableResourceProperties.consumableResourceList }
            : {}),
        };
      }
      if (!any) src.runnable.delete(id);
      continue;
    }
    const j = src.job(id);
    if (j)
      yield j.consumableResourceProperties
        ? { jobId: id, resources: j.resources, consumables: j.consumableResourceProperties.consumableResourceList }
        : { jobId: id, resources: j.resources };
  }
}

/** A fair-share queue's shares: those with RUNNABLE jobs and those the ledger still remembers. */
function schedShares(src: QueueSources, queueArn: string, now: number): SchedShare[] {
  const runnable = src.runnable.shares(queueArn);
  const usage = src.ledger.shares(queueArn);
  const ids = new Set([...runnable.keys(), ...usage.keys()]);
  const out: SchedShare[] = [];
  for (const id of ids) {
    const r = runnable.get(id);
    const u: ShareUsage = usage.get(id) ?? { usage: 0, at: now, runningVcpus: 0, lastActiveAt: now };
    out.push({
      id,
      usage: u,
      runnable: r ? { [Symbol.iterator]: () => schedJobs(src, r) } : [],
      hasJobs: (r?.size ?? 0) > 0 || u.runningVcpus > 0,
    });
  }
  return out;
}

/** The scheduler's queues: every queue with RUNNABLE jobs, in run order. */
export function schedQueues(src: QueueSources, now: number): SchedQueue[] {
  const queues: SchedQueue[] = [];
  for (const q of src.registry.jobQueues.values()) {
    if (!src.runnable.has(q.jobQueueArn)) continue;
    const policy = src.fairshareOf(q.jobQueueArn);
    const sq: SchedQueue = {
      arn: q.jobQueueArn,
      name: q.jobQueueName,
      priority: q.priority,
      computeEnvironments: q.computeEnvironmentOrder.map((o) => o.computeEnvironment),
      runnable: policy ? [] : { [Symbol.iterator]: () => schedJobs(src, src.runnable.fifo(q.jobQueueArn)) },
    };
    if (policy) sq.fairshare = { policy, shares: schedShares(src, q.jobQueueArn, now) };
    queues.push(sq);
  }
  return queues;
}

/**
 * RUNNABLE jobs of a queue, array children counted one by one: the entries, with each array parent replaced by its
 * RUNNABLE children. Published every 100 ms while jobs move, so it must not walk a deep queue job by job.
 */
function runnableCount(src: QueueSources, queueArn: string): number {
  let n = src.runnable.size(queueArn);
  for (const [id, st] of src.arrays) if (src.runnable.queueOf(id) === queueArn) n += st.runnableCount() - 1;
  return n;
}

/** When a job (or the array parent of a child) took its place among the RUNNABLE. */
function since(src: QueueSources, id: string, now: number): number {
  return src.job(id)?.statusChangedAt ?? src.job(parseChildId(id)?.parentId ?? '')?.statusChangedAt ?? now;
}

/** Per queue: what followers need for why-waits and GetJobQueueSnapshot. */
export function publishedQueues(src: QueueSources, snap: Snapshot, now: number): EngineState['queues'] {
  const out: EngineState['queues'] = {};
  for (const q of src.registry.jobQueues.values()) {
    const policy = src.fairshareOf(q.jobQueueArn);
    if (policy) src.ledger.prune(q.jobQueueArn, now, decayWindowSeconds(policy));
  }
  const ces = (q: SchedQueue) =>
    q.computeEnvironments.map((a) => snap.computeEnvironments.get(a)).filter((c) => c !== undefined);
  for (const q of snap.queues) {
    const n = runnableCount(src, q.arn);
    const front = frontOfQueue(q, snap.host, ces(q), now, ENGINE_STATE_FRONT);
    out[q.arn] = {
      front: front.map((p) => p.job.jobId),
      frontSince: front.map((p) => since(src, p.job.jobId, now)),
      runnable: n,
      ...queueUsage(src, q.arn, q.fairshare?.shares),
    };
  }
  // Queues that run jobs but hold none RUNNABLE: their usage.
  for (const q of src.registry.jobQueues.values()) {
    if (out[q.jobQueueArn]) continue;
    const policy = src.fairshareOf(q.jobQueueArn);
    const used = src.ledger.runningVcpus(q.jobQueueArn);
    const shares = policy ? schedShares(src, q.jobQueueArn, now) : undefined;
    if (used <= 0 && !shares?.length) continue;
    out[q.jobQueueArn] = { front: [], frontSince: [], runnable: 0, ...queueUsage(src, q.jobQueueArn, shares) };
  }
  return out;
}

function queueUsage(
  src: QueueSources,
  queueArn: string,
  shares: readonly SchedShare[] | undefined,
): Pick<PublishedQueue, 'usedVcpus' | 'shares'> {
  const usedVcpus = src.ledger.runningVcpus(queueArn);
  if (!shares) return { usedVcpus };
  return { usedVcpus, shares: shares.map((s) => ({ id: s.id, usage: { ...s.usage }, hasJobs: s.hasJobs })) };
}
