/**
 * The vCPUs each queue runs and, for fair-share queues, each share's usage record (scheduler/fair-share.ts): advanced
 * to now and changed by the job's vCPUs on every start and stop of a job of that share. Each running job remembers
 * where it was counted, so a stop undoes exactly its start.
 *
 * After a leader change the new leader seeds each share's usage from the store (usage-rebuild.ts): the attempts that
 * ended within the decay window and what the running jobs ran so far; the running jobs' vCPUs are counted again as
 * they are recovered (docs/decisions/0006-fair-share-decay.md, addendum).
 */
import { advanceUsage, decayTau, type FairsharePolicy, type ShareUsage } from '../../scheduler/fair-share.js';

interface Counted {
  queueArn: string;
  share: string | undefined;
  vcpus: number;
  tau: number;
}

export class ShareLedger {
  private readonly usage = new Map<string, Map<string, ShareUsage>>();
  private readonly queueVcpus = new Map<string, number>();
  private readonly counted = new Map<string, Counted>();

  /** A job of `queueArn` (and of `share`, in a fair-share queue with `policy`) starts using `vcpus`. */
  start(
    jobId: string,
    queueArn: string,
    vcpus: number,
    now: number,
    share?: { id: string; policy: FairsharePolicy },
  ): void {
    if (this.counted.has(jobId)) return;
    const tau = share ? decayTau(share.policy) : 0;
    this.counted.set(jobId, { queueArn, share: share?.id, vcpus, tau });
    this.queueVcpus.set(queueArn, (this.queueVcpus.get(queueArn) ?? 0) + vcpus);
    if (!share) return;
    const u = this.record(queueArn, share.id, now);
    advanceUsage(u, now, tau, true);
    u.runningVcpus += vcpus;
  }

  /** The job stopped: its vCPUs leave its queue and share. */
  stop(jobId: string, now: number): void {
    const c = this.counted.get(jobId);
    if (!c) return;
    this.counted.delete(jobId);
    const left = (this.queueVcpus.get(c.queueArn) ?? 0) - c.vcpus;
    if (left > 1e-9) this.queueVcpus.set(c.queueArn, left);
    else this.queueVcpus.delete(c.queueArn);
    if (c.share === undefined) return;
    const u = this.record(c.queueArn, c.share, now);
    advanceUsage(u, now, c.tau, true);
    u.runningVcpus = Math.max(0, u.runningVcpus - c.vcpus);
    if (u.runningVcpus < 1e-9) u.runningVcpus = 0;
  }

  /**
   * Adds usage a share had before this leader (vCPU-seconds as of `now`), last active at `lastActiveAt`. Call before
   * any start of that share.
   */
  seed(queueArn: string, share: string, usage: number, lastActiveAt: number, now: number): void {
    let m = this.usage.get(queueArn);
    if (!m) this.usage.set(queueArn, (m = new Map()));
    const u = m.get(share);
    if (!u) m.set(share, { usage, at: now, runningVcpus: 0, lastActiveAt });
    else {
      u.usage += usage;
      u.lastActiveAt = Math.max(u.lastActiveAt, lastActiveAt);
    }
  }

  /** The usage records of a fair-share queue's shares (live objects: the scheduler reads them without changing them). */
  shares(queueArn: string): ReadonlyMap<string, ShareUsage> {
    return this.usage.get(queueArn) ?? new Map<string, ShareUsage>();
  }

  /** The vCPUs the queue's jobs run now. */
  runningVcpus(queueArn: string): number {
    return this.queueVcpus.get(queueArn) ?? 0;
  }

  /** Forgets shares inactive for longer than their window (called now and then, so the ledger stays small). */
  prune(queueArn: string, now: number, windowSeconds: number): void {
    const m = this.usage.get(queueArn);
    if (!m) return;
    for (const [id, u] of m) if (u.runningVcpus <= 0 && now - u.lastActiveAt >= windowSeconds * 1000) m.delete(id);
    if (m.size === 0) this.usage.delete(queueArn);
  }

  private record(queueArn: string, share: string, now: number): ShareUsage {
    let m = this.usage.get(queueArn);
    if (!m) this.usage.set(queueArn, (m = new Map()));
    let u = m.get(share);
    if (!u) m.set(share, (u = { usage: 0, at: now, runningVcpus: 0, lastActiveAt: now }));
    return u;
  }
}
