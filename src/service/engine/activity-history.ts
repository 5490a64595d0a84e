/**
 * The last hour of activity (running vCPUs, queued jobs), sampled by the leader's engine and published with its
 * engine state, so the dashboard's chart is the same on every replica and survives restarts: a new leader starts
 * from the history the previous one published.
 */

export interface ActivitySample {
  t: number;
  runningVcpus: number;
  queuedJobs: number;
}

export const HISTORY_WINDOW_MS = 3600_000;
export const HISTORY_SAMPLE_MS = 30_000;

export class ActivityHistory {
  private samples: ActivitySample[] = [];

  constructor(private readonly windowMs = HISTORY_WINDOW_MS) {}

  /** Takes over a previously published history: the samples of the last window before `now`, oldest first. */
  restore(previous: readonly ActivitySample[] | undefined, now: number): void {
    const kept = (previous ?? []).filter(
      (s) =>
        Number.isFinite(s.t) &&
        s.t <= now &&
        s.t >= now - this.windowMs &&
        Number.isFinite(s.runningVcpus + s.queuedJobs),
    );
    this.samples = [...kept, ...this.samples].sort((a, b) => a.t - b.t);
  }

  add(sample: ActivitySample): void {
    this.samples.push(sample);
    const from = sample.t - this.windowMs;
    while (this.samples.length && this.samples[0]!.t < from) this.samples.shift();
  }

  list(): ActivitySample[] {
    return [...this.samples];
  }
}
