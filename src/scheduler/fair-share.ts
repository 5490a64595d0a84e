/**
 * Fair share as AWS Batch documents it (user guide: fair-share scheduling, share identifiers; API: FairsharePolicy,
 * ShareAttributes). Pure arithmetic; the scheduler (schedule.ts) and why-waits (explain.ts) both use it.
 *
 * Terms
 * - share: the jobs of one `shareIdentifier` in one job queue (shares are never aggregated across queues).
 * - weight: `weightFactor` of the share's `shareDistribution` entry (exact identifier first, then a `prefix*` entry,
 *   else 1). A LOWER weight gets proportionally MORE: 0.125 gets 8 times what 1 gets.
 * - usage: the share's vCPU-seconds, decayed (docs/decisions/0006-fair-share-decay.md): exponential with time constant
 *   τ = window / 3, where window = `shareDecaySeconds` (0 means AWS's default minimum, 600 s).
 * - charge: weight × (usage + running vCPUs × τ). The scheduler always serves the share with the lowest charge; the
 *   running term makes a pass balance at once (a start raises the charge immediately), the usage term over time. In a
 *   steady state usage = running × τ, so equal charges mean running vCPUs proportional to 1 / weight.
 * - active share: one with jobs RUNNABLE..RUNNING, or whose last job ended less than one window ago; jobs that only
 *   wait for their dependencies (SUBMITTED, PENDING) make no share active. An inactive share's usage is forgotten.
 * - reservation: `(computeReservation / 100) ^ activeShares` of the queue's maximum vCPUs stays free for shares that
 *   are not active yet; a share that becomes active raises activeShares and so releases part of it at once.
 */

export interface ShareAttributes {
  shareIdentifier: string;
  weightFactor?: number;
}

export interface FairsharePolicy {
  shareDecaySeconds?: number;
  computeReservation?: number;
  shareDistribution?: ShareAttributes[];
}

/** AWS: "A value of zero (0) indicates the default minimum time window (600 seconds)". */
export const DEFAULT_DECAY_WINDOW_SECONDS = 600;

/** The decay window of a policy, in seconds. */
export function decayWindowSeconds(policy: FairsharePolicy): number {
  const s = policy.shareDecaySeconds ?? 0;
  return s > 0 ? s : DEFAULT_DECAY_WINDOW_SECONDS;
}

/** The decay time constant τ in seconds: usage one window old weighs e^-3 ≈ 5%. */
export function decayTau(policy: FairsharePolicy): number {
  return decayWindowSeconds(policy) / 3;
}

const weightCache = new WeakMap<FairsharePolicy, (share: string) => number>();

/** The weightFactor for a share identifier: exact entry, else the `prefix*` entry it starts with, else 1. */
export function weightOf(policy: FairsharePolicy, share: string): number {
  let fn = weightCache.get(policy);
  if (!fn) {
    const exact = new Map<string, number>();
    const prefixes: [string, number][] = [];
    for (const a of policy.shareDistribution ?? []) {
      const w = a.weightFactor ?? 1;
      if (a.shareIdentifier.endsWith('*')) prefixes.push([a.shareIdentifier.slice(0, -1), w]);
      else exact.set(a.shareIdentifier, w);
    }
    // Longest prefix first, in case a policy was stored before overlap was refused.
    prefixes.sort((a, b) => b[0].length - a[0].length);
    fn = (s) => exact.get(s) ?? prefixes.find(([p]) => s.startsWith(p))?.[1] ?? 1;
    weightCache.set(policy, fn);
  }
  return fn(share);
}

/** The fraction of the queue's maximum vCPUs kept for inactive shares. */
export function reservedRatio(policy: FairsharePolicy, activeShares: number): number {
  const cr = policy.computeReservation ?? 0;
  if (cr <= 0) return 0;
  return Math.pow(cr / 100, Math.max(1, activeShares));
}

/** One share's usage record: decayed vCPU-seconds as of `at` (epoch ms), and what it runs since then. */
export interface ShareUsage {
  usage: number;
  at: number;
  runningVcpus: number;
  /** When the share last had a job SUBMITTED..RUNNING (epoch ms); drives "active" and forgetting. */
  lastActiveAt: number;
}

/** Usage at `now`: the old usage decayed, plus what ran at `runningVcpus` since `at` (exact for a constant rate). */
export function usageAt(u: ShareUsage, now: number, tau: number): number {
  const dt = Math.max(0, now - u.at) / 1000;
  const k = Math.exp(-dt / tau);
  return u.usage * k + u.runningVcpus * tau * (1 - k);
}

/**
 * What one attempt that ran `vcpus` from `startedAt` to `stoppedAt` (epoch ms) still weighs at `now`: its
 * vCPU-seconds, each decayed by its age (the same curve as usageAt, integrated over the attempt).
 */
export function attemptUsage(vcpus: number, startedAt: number, stoppedAt: number, now: number, tau: number): number {
  const end = Math.min(stoppedAt, now);
  if (end <= startedAt) return 0;
  return vcpus * tau * (Math.exp(-(now - end) / 1000 / tau) - Math.exp(-(now - startedAt) / 1000 / tau));
}

/** Usage at `now` as the scheduler counts it: zero once the share has been inactive a whole window (forgotten). */
export function effectiveUsage(u: ShareUsage, now: number, tau: number): number {
  if (u.runningVcpus <= 0 && now - u.lastActiveAt >= tau * 3 * 1000) return 0;
  return usageAt(u, now, tau);
}

/** Moves a record to `now` (call before changing runningVcpus). Returns the same object. */
export function advanceUsage(u: ShareUsage, now: number, tau: number, hasJobs: boolean): ShareUsage {
  u.usage = effectiveUsage(u, now, tau);
  u.at = now;
  if (hasJobs || u.runningVcpus > 0) u.lastActiveAt = now;
  return u;
}

/** Whether a share counts as active at `now`. */
export function isActive(u: ShareUsage, hasJobs: boolean, now: number, windowSeconds: number): boolean {
  return hasJobs || u.runningVcpus > 0 || now - u.lastActiveAt < windowSeconds * 1000;
}

/** The charge that orders shares: lowest is served first. */
export function charge(weight: number, usage: number, runningVcpus: number, tau: number): number {
  return weight * (usage + runningVcpus * tau);
}

/**
 * Each active share's due fraction of the queue's usable vCPUs: proportional to 1 / weight
 * (AWS: "jobs that use a share identifier with a weight factor of 0.125 (1/8) get 8 times the compute resources").
 */
export function dueFractions(weights: ReadonlyMap<string, number>): Map<string, number> {
  let total = 0;
  for (const w of weights.values()) total += 1 / w;
  const out = new Map<string, number>();
  for (const [s, w] of weights) out.set(s, total > 0 ? 1 / w / total : 0);
  return out;
}
