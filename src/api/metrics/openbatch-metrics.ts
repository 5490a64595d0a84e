/**
 * openbatch's Prometheus metrics (prom-client). Three kinds of source:
 * - read from the store when scraped, so every replica answers them alike: jobs by queue and state, usage per PI
 *   group over the last 24 hours;
 * - told by this replica as things happen: API calls (latency, errors) and submissions on any replica; status
 *   transitions and scheduling passes only where the engine runs (the leader);
 * - read from the leader's engine when scraped: capacity in use per compute environment (absent on followers).
 * Labels are bounded: queue and compute environment names, PI groups, API operation names, states, error codes.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { UsageRow } from '../../core/ports.js';
import type { EngineState } from '../../service/engine/engine-state.js';

/** What the metrics read when scraped. */
export interface MetricSources {
  countJobsByQueueAndStatus(): Promise<{ jobQueueArn: string; status: string; count: number }[]>;
  usageByOwner(q: { from: number; to: number }): Promise<UsageRow[]>;
  /** The engine's state when this replica leads, else undefined. */
  engineState(): EngineState | undefined;
  /** Log events and bytes stored by this replica so far. */
  logIngest?(): { events: number; bytes: number };
  clock?: () => number;
}

const USAGE_WINDOW_MS = 24 * 3600 * 1000;
/** A usage read serves the scrape it was made for (both gauges), not later ones. */
const USAGE_REUSE_MS = 1000;
/** The name at the end of a queue or compute environment ARN (`arn:...:job-queue/NAME`). */
const nameOf = (arn: string) => arn.slice(arn.lastIndexOf('/') + 1);

export class OpenbatchMetrics {
  readonly registry = new Registry();
  private readonly submitted: Counter<'queue'>;
  private readonly transitions: Counter<'queue' | 'status'>;
  private readonly passSeconds: Histogram;
  private readonly passStarts: Counter;
  private readonly apiSeconds: Histogram<'operation'>;
  private readonly apiErrors: Counter<'operation' | 'code'>;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    const clock = sources.clock ?? Date.now;
    collectDefaultMetrics({ register: this.registry, prefix: 'openbatch_' });
    new Gauge({
      name: 'openbatch_jobs',
      help: 'Stored jobs by queue and state (array children count once they have started; history kept per --retention-days)',
      labelNames: ['queue', 'status'],
      registers,
      async collect() {
        this.reset();
        for (const r of await sources.countJobsByQueueAndStatus())
          this.set({ queue: nameOf(r.jobQueueArn), status: r.status }, r.count);
      },
    });
    this.submitted = new Counter({
      name: 'openbatch_jobs_submitted_total',
      help: 'SubmitJob calls answered 200 by this replica, by queue (an array job counts once)',
      labelNames: ['queue'],
      registers,
    });
    this.transitions = new Counter({
      name: 'openbatch_job_transitions_total',
      help: "Job status changes made by this replica's engine (the leader), by queue and the state entered",
      labelNames: ['queue', 'status'],
      registers,
    });
    this.passSeconds = new Histogram({
      name: 'openbatch_scheduling_pass_seconds',
      help: "Time of one scheduling pass of the leader's engine: plan and hand-off of the jobs it starts",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    });
    this.passStarts = new Counter({
      name: 'openbatch_scheduling_starts_total',
      help: 'Attempts started by scheduling passes',
      registers,
    });
    new Gauge({
      name: 'openbatch_leader',
      help: '1 when this replica leads (runs the engine), else 0',
      registers,
      collect() {
        this.set(sources.engineState() ? 1 : 0);
      },
    });
    const ceGauge = (name: string, help: string, pick: (c: EngineState['computeEnvironments'][number]) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['compute_environment'],
        registers,
        collect() {
          this.reset();
          for (const c of sources.engineState()?.computeEnvironments ?? [])
            this.set({ compute_environment: c.name }, pick(c));
        },
      });
    ceGauge(
      'openbatch_compute_environment_vcpus_used',
      'vCPUs held by running attempts (leader only)',
      (c) => c.usedVcpus,
    );
    ceGauge(
      'openbatch_compute_environment_vcpus_max',
      'maxvCpus of the compute environment (leader only)',
      (c) => c.maxVcpus,
    );
    ceGauge('openbatch_compute_environment_jobs_running', 'Attempts running (leader only)', (c) => c.runningJobs);
    new Gauge({
      name: 'openbatch_queue_runnable_jobs',
      help: 'RUNNABLE jobs waiting in each queue, array children included (leader only)',
      labelNames: ['queue'],
      registers,
      collect() {
        this.reset();
        for (const [arn, q] of Object.entries(sources.engineState()?.queues ?? {}))
          this.set({ queue: nameOf(arn) }, q.runnable);
      },
    });
    const readUsage = async (now: number) => {
      const byPi = new Map<string, { jobs: number; vcpuHours: number }>();
      for (const r of await sources.usageByOwner({ from: now - USAGE_WINDOW_MS, to: now })) {
        const u = byPi.get(r.pi) ?? { jobs: 0, vcpuHours: 0 };
        u.jobs += r.jobs;
        u.vcpuHours += r.vcpuHours;
        byPi.set(r.pi, u);
      }
      return byPi;
    };
    // Both usage gauges of one scrape share one read: it goes over every job that ended in the last 24 hours.
    let lastUsage: { at: number; byPi: ReturnType<typeof readUsage> } | undefined;
    const usage = () => {
      const now = clock();
      if (!lastUsage || now - lastUsage.at >= USAGE_REUSE_MS) lastUsage = { at: now, byPi: readUsage(now) };
      return lastUsage.byPi;
    };
    new Gauge({
      name: 'openbatch_pi_vcpu_hours_24h',
      help: 'vCPU-hours of jobs that ended in the last 24 hours, per PI group (root is "")',
      labelNames: ['pi'],
      registers,
      async collect() {
        this.reset();
        for (const [pi, u] of await usage()) this.set({ pi }, u.vcpuHours);
      },
    });
    new Gauge({
      name: 'openbatch_pi_jobs_finished_24h',
      help: 'Jobs that ended in the last 24 hours, per PI group',
      labelNames: ['pi'],
      registers,
      async collect() {
        this.reset();
        for (const [pi, u] of await usage()) this.set({ pi }, u.jobs);
      },
    });
    this.apiSeconds = new Histogram({
      name: 'openbatch_api_request_duration_seconds',
      help: 'Batch and Logs API requests served by this replica, by operation',
      labelNames: ['operation'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.apiErrors = new Counter({
      name: 'openbatch_api_errors_total',
      help: 'API requests answered with an error, by operation and error code (ClientException, ThrottlingException, ...)',
      labelNames: ['operation', 'code'],
      registers,
    });
    if (sources.logIngest) {
      const ingest = () => sources.logIngest!();
      new Counter({
        name: 'openbatch_log_events_ingested_total',
        help: 'Log events (lines) of job output stored by this replica',
        registers,
        collect() {
          this.reset();
          this.inc(ingest().events);
        },
      });
      new Counter({
        name: 'openbatch_log_bytes_ingested_total',
        help: 'Bytes of job output stored by this replica',
        registers,
        collect() {
          this.reset();
          this.inc(ingest().bytes);
        },
      });
    }
  }

  /** A Batch call verified and answered (the audit hook): counts submissions. */
  batchCall(e: { operation: string; input: Record<string, any>; outcome: string }): void {
    if (e.operation === 'SubmitJob' && e.outcome === 'OK' && typeof e.input.jobQueue === 'string')
      this.submitted.inc({ queue: nameOf(e.input.jobQueue) });
  }

  /** An API request answered: its operation, time and error code (undefined for success). */
  apiCall(e: { operation: string; seconds: number; errorCode: string | undefined }): void {
    this.apiSeconds.observe({ operation: e.operation }, e.seconds);
    if (e.errorCode) this.apiErrors.inc({ operation: e.operation, code: e.errorCode });
  }

  transition(job: { jobQueueArn: string; status: string }): void {
    this.transitions.inc({ queue: nameOf(job.jobQueueArn), status: job.status });
  }

  schedulePass(seconds: number, starts: number): void {
    this.passSeconds.observe(seconds);
    if (starts) this.passStarts.inc(starts);
  }
}
