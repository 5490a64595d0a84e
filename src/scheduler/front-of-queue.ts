/**
 * The order in which a queue's RUNNABLE jobs will run, as far as the scheduler can tell now (GetJobQueueSnapshot's
 * frontOfQueue): first in, first out for a queue without a policy; for a fair-share queue the same picks the scheduler
 * makes (lowest charge first, each pick raising its share's charge), ignoring capacity. Pure.
 */
import { charge, decayTau } from './fair-share.js';
import {
  fairshareStanding,
  type SchedComputeEnvironment,
  type SchedHost,
  type SchedJob,
  type SchedQueue,
} from './schedule.js';

export interface QueuePosition {
  job: SchedJob;
  shareIdentifier?: string;
}

/** The first `limit` RUNNABLE jobs of a queue in the order they will run. */
export function frontOfQueue(
  q: SchedQueue,
  host: SchedHost,
  ces: readonly SchedComputeEnvironment[],
  now: number,
  limit = 100,
): QueuePosition[] {
  const out: QueuePosition[] = [];
  if (!q.fairshare) {
    for (const job of q.runnable) {
      if (out.length >= limit) break;
      out.push({ job });
    }
    return out;
  }
  const tau = decayTau(q.fairshare.policy);
  const standing = fairshareStanding(host, ces, q.fairshare, now);
  // At most 100 picks over at most 500 shares: a linear scan per pick is cheap enough.
  let live = q.fairshare.shares.map((s, i) => ({ ...standing.shares[i]!, jobs: s.runnable[Symbol.iterator]() }));
  while (out.length < limit && live.length) {
    let best = live[0]!;
    for (const c of live) if (c.charge < best.charge || (c.charge === best.charge && c.id < best.id)) best = c;
    const next = best.jobs.next();
    if (next.done) {
      live = live.filter((c) => c !== best);
      continue;
    }
    out.push({ job: next.value, shareIdentifier: best.id });
    best.running += next.value.resources.vcpus;
    best.charge = charge(best.weight, best.usage, best.running, tau);
  }
  return out;
}
