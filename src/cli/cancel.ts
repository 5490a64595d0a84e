/**
 * `openbatch cancel`: stops many jobs in one command (AWS users script one CancelJob/TerminateJob call per job).
 * Each job gets TerminateJob: one that has not started is cancelled, a STARTING/RUNNING one is stopped. `--dry-run`
 * lists what it would stop.
 */
import { ListJobsCommand, TerminateJobCommand, type JobStatus, type JobSummary } from '@aws-sdk/client-batch';
import type { Command } from 'commander';
import { batchClient, withClientOptions, type ClientOptions } from './client.js';

const ACTIVE: JobStatus[] = ['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING'];

interface CancelOptions extends ClientOptions {
  queue?: string;
  array?: string;
  namePrefix?: string;
  status?: string;
  reason: string;
  dryRun?: boolean;
  concurrency: string;
}

export function registerCancel(program: Command): void {
  withClientOptions(
    program
      .command('cancel')
      .description('cancel or terminate many jobs at once: by queue, array, name prefix and status')
      .option('--queue <name>', 'jobs of this job queue')
      .option('--array <jobId>', 'children of this array job')
      .option('--name-prefix <prefix>', 'only jobs whose name starts with this (case-insensitive)')
      .option('--status <list>', `only these statuses, comma-separated (default: ${ACTIVE.join(',')})`)
      .option('--reason <text>', 'reason recorded on each job', 'Cancelled with openbatch cancel')
      .option('--dry-run', 'list what would be stopped, stop nothing')
      .option('--concurrency <n>', 'calls in flight at once', '16'),
  ).action(async (o: CancelOptions) => {
    if (!o.queue && !o.array) {
      console.error('openbatch cancel: give --queue NAME or --array JOB_ID (and optionally --name-prefix, --status)');
      process.exit(2);
    }
    const statuses = (o.status ? o.status.split(',').map((s) => s.trim().toUpperCase()) : ACTIVE) as JobStatus[];
    const bad = statuses.filter((s) => !ACTIVE.includes(s));
    if (bad.length) {
      console.error(`openbatch cancel: --status ${bad.join(',')}: only ${ACTIVE.join(', ')} jobs can be stopped`);
      process.exit(2);
    }
    const client = batchClient(o);
    const jobs: JobSummary[] = [];
    const prefix = o.namePrefix?.toLowerCase();
    for (const status of statuses) {
      let nextToken: string | undefined;
      do {
        const page = await client.send(
          new ListJobsCommand({
            ...(o.array ? { arrayJobId: o.array } : { jobQueue: o.queue }),
            jobStatus: status,
            maxResults: 1000,
            ...(nextToken ? { nextToken } : {}),
          }),
        );
        for (const j of page.jobSummaryList ?? [])
          if (!prefix || j.jobName?.toLowerCase().startsWith(prefix)) jobs.push(j);
        nextToken = page.nextToken;
      } while (nextToken);
    }
    if (o.dryRun) {
      for (const j of jobs)
        console.log(`would ${isStarted(j) ? 'terminate' : 'cancel'}\t${j.jobId}\t${j.jobName}\t${j.status}`);
      console.log(`${jobs.length} job(s) would be stopped`);
      return;
    }
    let done = 0;
    let failed = 0;
    const queue = [...jobs];
    const worker = async () => {
      for (let j = queue.shift(); j; j = queue.shift()) {
        try {
          const input = { jobId: j.jobId!, reason: o.reason };
          // TerminateJob, not CancelJob, even for a job listed as waiting: it cancels a job that has not started and
          // stops one that started after the listing (CancelJob would leave that one running).
          await client.send(new TerminateJobCommand(input));
          done++;
        } catch (err) {
          failed++;
          console.error(`${j.jobId}: ${(err as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Number(o.concurrency) || 16) }, worker));
    console.log(`stopped ${done} job(s)${failed ? `, ${failed} failed` : ''}`);
    if (failed) process.exitCode = 1;
  });
}

const isStarted = (j: JobSummary): boolean => j.status === 'STARTING' || j.status === 'RUNNING';
