/** A rolling in-memory history (last hour) of running vCPUs and queued jobs for the overview chart. */

export interface Sample {
  t: number;
  runningVcpus: number;
  queuedJobs: number;
}

export class UsageHistory {
  private readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly measure: () => { runningVcpus: number; queuedJobs: number },
    private readonly opts: { intervalMs: number; windowMs: number; clock?: () => number } = {
      intervalMs: 30_000,
      windowMs: 3600_000,
    },
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  sample(): void {
    const t = (this.opts.clock ?? Date.now)();
    this.samples.push({ t, ...this.measure() });
    while (this.samples.length && this.samples[0]!.t < t - this.opts.windowMs) this.samples.shift();
  }

  /** The stored samples plus one taken now, so the chart always ends at the present. */
  series(): Sample[] {
    return [...this.samples, { t: (this.opts.clock ?? Date.now)(), ...this.measure() }];
  }
}
