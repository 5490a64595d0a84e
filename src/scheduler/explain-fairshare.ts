/**
 * Why fair share holds a RUNNABLE job back (why-waits): its queue is at the cap the compute reservation leaves, or its
 * share is over its due while another share is served first. Pure, like explain.ts.
 */
import { dueFractions } from './fair-share.js';
import { fairshareStanding, type SchedComputeEnvironment, type SchedHost, type SchedQueue } from './schedule.js';

export const FAIRSHARE_WAIT = 'FAIRSHARE:SHARE_OVER_DUE';
export const RESERVATION_WAIT = 'FAIRSHARE:COMPUTE_RESERVATION';

const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(2).replace(/\.?0+$/, ''));

/** One share's standing for dashboards and why-waits: what it runs against what its weight makes due. */
export interface ShareStanding {
  shareIdentifier: string;
  weightFactor: number;
  runningVcpus: number;
  dueVcpus: number;
  /** Decayed vCPU-seconds. */
  usage: number;
  active: boolean;
}

/** Every share's standing in a fair-share queue, most over its due first. */
export function shareStandings(
  q: SchedQueue,
  host: SchedHost,
  ces: readonly SchedComputeEnvironment[],
  now: number,
): { limit: number; maxVcpus: number; activeShares: number; usedVcpus: number; shares: ShareStanding[] } {
  const st = fairshareStanding(host, ces, q.fairshare!, now);
  const due = dueFractions(new Map(st.shares.filter((s) => s.active).map((s) => [s.id, s.weight])));
  const shares = st.shares.map((s) => ({
    shareIdentifier: s.id,
    weightFactor: s.weight,
    runningVcpus: s.running,
    dueVcpus: (due.get(s.id) ?? 0) * st.limit,
    usage: s.usage,
    active: s.active,
  }));
  shares.sort((a, b) => b.runningVcpus - b.dueVcpus - (a.runningVcpus - a.dueVcpus));
  return { limit: st.limit, maxVcpus: st.maxVcpus, activeShares: st.activeShares, usedVcpus: st.usedVcpus, shares };
}

/**
 * The fair-share reason a job of `share` needing `vcpus` waits, or undefined when fair share is not what holds it
 * (capacity, resources: see explain.ts).
 */
export function explainFairshareWait(
  q: SchedQueue,
  host: SchedHost,
  ces: readonly SchedComputeEnvironment[],
  now: number,
  share: string,
  vcpus: number,
): { code: string; text: string } | undefined {
  const s = shareStandings(q, host, ces, now);
  const cr = q.fairshare!.policy.computeReservation ?? 0;
  if (s.usedVcpus + vcpus > s.limit + 1e-9 && s.limit < s.maxVcpus) {
    const reserved = s.maxVcpus - s.limit;
    return {
      code: RESERVATION_WAIT,
      text: `${RESERVATION_WAIT} - queue ${q.name} runs ${fmt(s.usedVcpus)} vCPUs and keeps ${fmt(reserved)} of its ${fmt(s.maxVcpus)} vCPUs for share identifiers that are not active (computeReservation ${cr}, ${s.activeShares} active share${s.activeShares === 1 ? '' : 's'}); this job needs ${fmt(vcpus)}`,
    };
  }
  const mine = s.shares.find((x) => x.shareIdentifier === share);
  if (!mine || mine.runningVcpus <= mine.dueVcpus + 1e-9) return undefined;
  const under = s.shares.filter((x) => x.active && x.runningVcpus < x.dueVcpus - 1e-9 && x.shareIdentifier !== share);
  const others = under.length
    ? `; share${under.length === 1 ? '' : 's'} ${under
        .slice(0, 3)
        .map((x) => `${x.shareIdentifier} (${fmt(x.runningVcpus)} of ${fmt(x.dueVcpus)} due)`)
        .join(', ')}${under.length > 3 ? ` and ${under.length - 3} more` : ''} go first`
    : '';
  return {
    code: FAIRSHARE_WAIT,
    text: `${FAIRSHARE_WAIT} - share ${share} is over its due: it runs ${fmt(mine.runningVcpus)} vCPUs, ${fmt(mine.runningVcpus - mine.dueVcpus)} over the ${fmt(mine.dueVcpus)} its weightFactor ${mine.weightFactor} makes due in queue ${q.name}${others}`,
  };
}
