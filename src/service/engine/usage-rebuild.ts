/**
 * A new leader's fair-share usage, rebuilt from the store rather than started from zero: for every job of a fair-share
 * queue, the attempts that ended within the queue's decay window (decayed to now), and for a job still running the
 * part of its attempt that ran so far. The running jobs' vCPUs themselves are counted as they are recovered
 * (ShareLedger.start), which also marks their shares active.
 */
import type { Job } from '../../core/types.js';
import {
  attemptUsage,
  decayTau,
  decayWindowSeconds,
  DEFAULT_DECAY_WINDOW_SECONDS,
  type FairsharePolicy,
} from '../../scheduler/fair-share.js';
import type { ShareLedger } from './share-ledger.js';

/** The widest decay window (ms) of the given policies: how far back a new leader reads finished jobs. */
export function widestWindowMs(policies: Iterable<FairsharePolicy>): number {
  let w = DEFAULT_DECAY_WINDOW_SECONDS;
  for (const p of policies) w = Math.max(w, decayWindowSeconds(p));
  return w * 1000;
}

/** Seeds `ledger` with the usage `jobs` (finished in the window, or active) had under the previous leaders. */
export function rebuildShareUsage(
  ledger: ShareLedger,
  jobs: Iterable<Job>,
  fairshareOf: (queueArn: string) => FairsharePolicy | undefined,
  now: number,
): void {
  const seeds = new Map<string, { queueArn: string; share: string; usage: number; lastActiveAt: number }>();
  for (const job of jobs) {
    const policy = fairshareOf(job.jobQueueArn);
    if (!policy) continue;
    const tau = decayTau(policy);
    const from = now - decayWindowSeconds(policy) * 1000;
    let usage = 0;
    let last = -Infinity;
    for (const a of job.attempts) {
      if (a.startedAt === undefined || a.stoppedAt === undefined || a.stoppedAt < from) continue;
      usage += attemptUsage(job.resources.vcpus, a.startedAt, a.stoppedAt, now, tau);
      last = Math.max(last, a.stoppedAt);
    }
    if ((job.status === 'STARTING' || job.status === 'RUNNING') && job.startedAt !== undefined) {
      usage += attemptUsage(job.resources.vcpus, job.startedAt, now, now, tau);
      last = now;
    }
    if (last === -Infinity) continue;
    const share = job.shareIdentifier ?? '';
    const key = `${job.jobQueueArn}\n${share}`;
    const s = seeds.get(key);
    if (s) {
      s.usage += usage;
      s.lastActiveAt = Math.max(s.lastActiveAt, last);
    } else seeds.set(key, { queueArn: job.jobQueueArn, share, usage, lastActiveAt: last });
  }
  for (const s of seeds.values()) ledger.seed(s.queueArn, s.share, s.usage, s.lastActiveAt, now);
}
