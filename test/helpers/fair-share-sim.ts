/**
 * A discrete-time simulation of one fair-share queue on one host, driving the pure scheduler with an injected clock:
 * every share has an endless backlog of 1-vCPU jobs while it is present; each tick ends the jobs that are due, runs
 * one scheduling pass and charges each share the vCPU-seconds it ran.
 */
import { advanceUsage, decayTau, type FairsharePolicy } from '../../src/scheduler/fair-share.js';
import { schedule, type SchedJob, type SchedShare, type Snapshot } from '../../src/scheduler/schedule.js';

export interface SimShare {
  id: string;
  /** Present (with RUNNABLE jobs) from..until, in seconds of simulated time; `present` overrides both. */
  from?: number;
  until?: number;
  present?: (t: number) => boolean;
  /** Job duration in whole seconds, drawn when the job starts. */
  duration: (t: number) => number;
  vcpus?: number;
}

export interface SimResult {
  /** vCPU-seconds each share ran in [measureFrom, end). */
  vcpuSeconds: Map<string, number>;
  /** Starts per share at each tick (tick -> share -> count), for the ticks asked for. */
  startsAt: Map<number, Map<string, number>>;
  /** Running vCPUs per share at the end. */
  running: Map<string, number>;
}

const isPresent = (s: SimShare, t: number): boolean =>
  s.present ? s.present(t) : (s.from ?? 0) <= t && t < (s.until ?? Infinity);

export function simulate(opts: {
  capacity: number;
  policy: FairsharePolicy;
  shares: SimShare[];
  seconds: number;
  measureFrom?: number;
  recordStartsAt?: number[];
}): SimResult {
  const tau = decayTau(opts.policy);
  const state = opts.shares.map((s) => ({
    spec: s,
    usage: { usage: 0, at: 0, runningVcpus: 0, lastActiveAt: -1e15 },
    /** End tick -> vCPUs ending then. */
    ending: new Map<number, number>(),
    next: 0,
  }));
  const vcpuSeconds = new Map(opts.shares.map((s) => [s.id, 0]));
  const startsAt = new Map<number, Map<string, number>>();
  const record = new Set(opts.recordStartsAt ?? []);
  let hostUsed = 0;
  for (let t = 0; t < opts.seconds; t++) {
    const now = t * 1000;
    for (const s of state) {
      const present = isPresent(s.spec, t);
      advanceUsage(s.usage, now, tau, present || s.usage.runningVcpus > 0);
      const ending = s.ending.get(t);
      if (ending === undefined) continue;
      s.ending.delete(t);
      s.usage.runningVcpus -= ending;
      hostUsed -= ending;
    }
    const shares: SchedShare[] = state.map((s) => {
      const present = isPresent(s.spec, t);
      const vcpus = s.spec.vcpus ?? 1;
      const id = s.spec.id;
      const base = s.next;
      const runnable: Iterable<SchedJob> = {
        *[Symbol.iterator]() {
          if (!present) return;
          for (let k = base; ; k++) yield { jobId: `${id}#${k}`, resources: { vcpus, memoryMiB: 1, gpus: 0 } };
        },
      };
      return { id, usage: { ...s.usage }, runnable, hasJobs: present || s.usage.runningVcpus > 0 };
    });
    const snap: Snapshot = {
      now,
      host: {
        vcpus: opts.capacity,
        memoryMiB: 1e9,
        gpus: 0,
        usedVcpus: hostUsed,
        usedMemoryMiB: 0,
        usedGpus: 0,
        runningJobs: 0,
      },
      computeEnvironments: new Map([
        [
          'ce',
          {
            arn: 'ce',
            name: 'ce',
            enabled: true,
            managed: true,
            maxVcpus: opts.capacity,
            usedVcpus: hostUsed,
            runningJobs: 0,
          },
        ],
      ]),
      queues: [
        {
          arn: 'q',
          name: 'q',
          priority: 1,
          computeEnvironments: ['ce'],
          runnable: [],
          fairshare: { policy: opts.policy, shares },
        },
      ],
    };
    const plan = schedule(snap);
    const counts = new Map<string, number>();
    for (const p of plan.starts) {
      const s = state.find((x) => x.spec.id === p.shareIdentifier)!;
      const vcpus = s.spec.vcpus ?? 1;
      s.next++;
      const end = t + Math.max(1, s.spec.duration(t));
      s.ending.set(end, (s.ending.get(end) ?? 0) + vcpus);
      s.usage.runningVcpus += vcpus;
      hostUsed += vcpus;
      counts.set(s.spec.id, (counts.get(s.spec.id) ?? 0) + 1);
    }
    if (record.has(t)) startsAt.set(t, counts);
    if (t >= (opts.measureFrom ?? 0))
      for (const s of state) vcpuSeconds.set(s.spec.id, vcpuSeconds.get(s.spec.id)! + s.usage.runningVcpus);
  }
  return { vcpuSeconds, startsAt, running: new Map(state.map((s) => [s.spec.id, s.usage.runningVcpus])) };
}

/** A small deterministic generator (mulberry32), so a failing run can be replayed from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
