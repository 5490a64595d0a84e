/**
 * Following jobs to their end over the API (DescribeJobs, 100 ids a call), and what a finished job means as a shell
 * exit status. Shared by `openbatch submit --wait` and `openbatch wait`.
 *
 * Exit status of a finished job: 0 SUCCEEDED; the job's own exit code (1..255) when it FAILED with one; 1 when it
 * FAILED without one (timeout, lost host, a failed dependency, an array with failed children); 143 when it was
 * cancelled or terminated (as a shell reports a command stopped by SIGTERM), whatever its exit code.
 */
import { DescribeJobsCommand, type BatchClient, type JobDetail } from '@aws-sdk/client-batch';

export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_STOPPED = 143;

export const TERMINAL = new Set(['SUCCEEDED', 'FAILED']);
/** The order states are shown in, from waiting to done. */
export const STATES = ['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING', 'SUCCEEDED', 'FAILED'] as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The shell exit status that stands for a finished job (see the file comment). */
export function exitStatusOf(job: JobDetail): number {
  if (job.status === 'SUCCEEDED') return 0;
  if (job.isCancelled || job.isTerminated) return EXIT_STOPPED;
  const code = job.container?.exitCode ?? job.attempts?.at(-1)?.container?.exitCode;
  if (code !== undefined && code > 0 && code < 256) return code;
  return EXIT_FAILED;
}

/** A one-line account of a finished job: `<id> <name> FAILED exit 3: reason`. */
export function describeEnd(job: JobDetail): string {
  const code = job.container?.exitCode ?? job.attempts?.at(-1)?.container?.exitCode;
  const stopped = job.isTerminated ? ' (terminated)' : job.isCancelled ? ' (cancelled)' : '';
  const parts = [`${job.jobId}\t${job.jobName}\t${job.status}${stopped}`];
  if (code !== undefined) parts.push(`exit ${code}`);
  const why = job.statusReason ?? job.container?.reason;
  if (job.status !== 'SUCCEEDED' && why) parts.push(why);
  return parts.join('\t');
}

/** DescribeJobs for any number of ids (100 per call); ids the server does not know are missing from the map. */
export async function describeAll(client: BatchClient, ids: readonly string[]): Promise<Map<string, JobDetail>> {
  const out = new Map<string, JobDetail>();
  for (let i = 0; i < ids.length; i += 100) {
    const r = await client.send(new DescribeJobsCommand({ jobs: ids.slice(i, i + 100) }));
    for (const j of r.jobs ?? []) if (j.jobId) out.set(j.jobId, j);
  }
  return out;
}

export interface FollowOptions {
  pollMs?: number;
  /** Called after every poll with the latest view of each job still followed or just finished. */
  onUpdate?: (jobs: Map<string, JobDetail>) => void;
  /** Called once per job when it finishes, in the order they are seen to finish. */
  onEnd?: (job: JobDetail) => void;
}

/** Polls until every job has finished; resolves their final views. Unknown ids reject with a message naming them. */
export async function followJobs(
  client: BatchClient,
  ids: readonly string[],
  o: FollowOptions = {},
): Promise<Map<string, JobDetail>> {
  const done = new Map<string, JobDetail>();
  let pending = [...new Set(ids)];
  let first = true;
  while (pending.length > 0) {
    const seen = await describeAll(client, pending);
    if (first) {
      const unknown = pending.filter((id) => !seen.has(id));
      if (unknown.length) throw new Error(`no such job: ${unknown.join(', ')} (check the id with openbatch jobs)`);
      first = false;
    }
    for (const [id, j] of seen)
      if (TERMINAL.has(j.status ?? '')) {
        done.set(id, j);
        o.onEnd?.(j);
      }
    o.onUpdate?.(seen);
    pending = pending.filter((id) => !done.has(id));
    if (pending.length) await sleep(o.pollMs ?? 1000);
  }
  return done;
}
