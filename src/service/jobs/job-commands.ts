/**
 * SubmitJob, CancelJob, TerminateJob and job tags on any replica. A submitted job is durable before the answer: on
 * the leader's replica the engine takes it directly (committed already admitted); elsewhere it is inserted (group
 * commit) and the leader takes it up: a job without dependencies that is not an array is inserted RUNNABLE (its
 * admission follows from the submission alone, as the leader would write it), so the leader only files it in its
 * queue; any other is inserted SUBMITTED and the leader admits it (PENDING, RUNNABLE or FAILED). Cancel and terminate are recorded as intents the leader applies; on the
 * leader's replica the engine applies them directly, durable before the answer.
 */
import type { ArnContext } from '../../core/arn.js';
import type { Caller } from '../../core/caller.js';
import { ClientException, FencedError } from '../../core/errors.js';
import type { Clock, JobIntent, Store } from '../../core/ports.js';
import type { Job } from '../../core/types.js';
import type { ResourceRegistry } from '../resources.js';
import { buildJob } from '../submission.js';
import { WriteBuffer } from '../write-buffer.js';
import type { JobReader } from './job-reader.js';

type Input = Record<string, any>;

/** What commands need of this replica's engine, when it leads. */
export interface LocalEngine {
  readonly epoch: number | undefined;
  submitLocal(job: Job): Promise<void>;
  applyIntents(): Promise<void>;
  stopLocal(jobId: string, action: JobIntent['action'], reason: string): Promise<void>;
  barrier(): Promise<void>;
}

export class JobCommands {
  private readonly inserts: WriteBuffer;

  constructor(
    private readonly store: Store,
    private readonly registry: ResourceRegistry,
    private readonly reader: JobReader,
    private readonly engine: () => LocalEngine | undefined,
    private readonly opts: { arn: ArnContext; clock: Clock },
    /** The reason the leader would make a job RUNNABLE with (see JobQueries.runnableReasonGuess). */
    private readonly runnableReason: (job: Job) => string | undefined = () => undefined,
  ) {
    this.inserts = new WriteBuffer((jobs) => store.insertJobs(jobs), store.writeLanes);
  }

  async submit(
    caller: Caller,
    input: Input,
    bodyBytes: number,
  ): Promise<{ jobArn: string; jobName: string; jobId: string }> {
    const build = () =>
      buildJob(
        {
          registry: this.registry,
          arn: this.opts.arn,
          now: this.opts.clock(),
          caller,
          // Dependencies: their existence, owner and array size, which never change once SubmitJob answered.
          findJobs: (ids) => this.reader.findJobs(ids, { settle: false }),
        },
        input,
        bodyBytes,
      );
    let job: Job;
    try {
      job = await build();
    } catch (err) {
      // The queue or definition may have been created on another replica a moment ago: look once more.
      if (!(err instanceof ClientException) || !/does not exist/.test(err.message)) throw err;
      await this.registry.reload();
      job = await build();
    }
    const engine = this.engine();
    let taken = false;
    if (engine?.epoch !== undefined) {
      try {
        await engine.submitLocal(job);
        taken = true;
      } catch (err) {
        if (!(err instanceof FencedError)) throw err;
        // This replica no longer leads: hand the job to the new leader through the store.
        job.status = 'SUBMITTED';
        delete job.statusReason;
      }
    }
    if (!taken) {
      admitHere(job, this.runnableReason);
      await this.inserts.writeIndependent(job);
    }
    return { jobArn: job.jobArn, jobName: job.jobName, jobId: job.jobId };
  }

  private async requireOwnJob(caller: Caller, jobId: string): Promise<Job> {
    // Existence and owner are durable before SubmitJob answers and never change: no need to wait for the engine's
    // pending commits (under load each is an fsync away).
    const job = (await this.reader.findJobs([jobId], { settle: false })).get(jobId);
    if (!job || (!caller.admin && job.owner?.pi !== caller.pi))
      throw new ClientException(
        `jobId ${JSON.stringify(jobId)} does not exist; check the id with list-jobs or describe-jobs`,
      );
    return job;
  }

  async cancel(caller: Caller, input: Input): Promise<Record<string, never>> {
    return this.stop(caller, input, 'cancel');
  }

  async terminate(caller: Caller, input: Input): Promise<Record<string, never>> {
    return this.stop(caller, input, 'terminate');
  }

  private async stop(caller: Caller, input: Input, action: JobIntent['action']): Promise<Record<string, never>> {
    const jobId = input.jobId as string;
    await this.requireOwnJob(caller, jobId);
    const reason = (input.reason as string).slice(0, 1024);
    const engine = this.engine();
    if (engine?.epoch !== undefined) {
      try {
        await engine.stopLocal(jobId, action, reason);
        return {};
      } catch (err) {
        if (!(err instanceof FencedError)) throw err;
        // This replica no longer leads: the new leader applies the intent.
      }
    }
    await this.store.addJobIntent({ jobId, action, reason, at: this.opts.clock() });
    return {};
  }

  /** Terminates every unfinished job of a queue (DeleteJobQueue). */
  async terminateQueue(queueArn: string, reason: string): Promise<void> {
    await this.reader.settle();
    let after: { createdAt: number; jobId: string } | undefined;
    for (;;) {
      const page = await this.store.listJobs({
        jobQueueArn: queueArn,
        statuses: ['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING'],
        limit: 1000,
        ...(after ? { after } : {}),
      });
      for (const j of page.jobs)
        await this.store.addJobIntent({ jobId: j.jobId, action: 'terminate', reason, at: this.opts.clock() });
      if (!page.last) break;
      after = page.last;
    }
    await this.engine()?.applyIntents();
  }

  async jobForTags(arn: string): Promise<Job | undefined> {
    const id = arn.slice(arn.lastIndexOf('/') + 1);
    // Tags and owner are written apart from the engine's job documents: its pending commits do not change them.
    return (await this.reader.findJobs([id], { settle: false })).get(id);
  }

  async saveJobTags(job: Job, tags: Record<string, string>): Promise<void> {
    await this.store.setJobTags(job.jobId, tags);
  }
}

/**
 * SUBMITTED -> RUNNABLE for a job whose admission follows from its submission alone (no dependencies, not an array):
 * the state and time the leader's admission gives it (submitted and admitted at once), with the reason the leader
 * gives a job that can never fit, as the capacity it published last says. The leader writes the job again only if it
 * finds another reason (its capacity changed since).
 */
function admitHere(job: Job, reason: (job: Job) => string | undefined): void {
  if (job.dependsOn.length > 0 || job.arrayProperties !== undefined) return;
  job.status = 'RUNNABLE';
  job.statusChangedAt = job.createdAt;
  const r = reason(job);
  if (r === undefined) delete job.statusReason;
  else job.statusReason = r;
}
