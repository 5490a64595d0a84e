/**
 * `openbatch logs JOB_ID_OR_STREAM`: prints a job attempt's output, in order, across all GetLogEvents pages, and with
 * `--follow` keeps printing until the job ends. A thin client: the Batch API finds the stream, the CloudWatch Logs
 * API reads it, with credentials found the way the aws CLI finds them (environment, then ~/.aws profiles).
 *
 * Exit status: 0 printed (with --follow: the job SUCCEEDED); 1 with --follow the job FAILED; 2 bad usage or an
 * error from the server; 3 the job has not started, so there is no output yet.
 */
import { BatchClient, DescribeJobsCommand, type JobDetail } from '@aws-sdk/client-batch';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { Option, type Command } from 'commander';
import { clientConfig, withClientOptions } from './client.js';

const LOG_GROUP = '/aws/batch/job';
const POLL_MS = 1000;

interface LogsOptions {
  attempt?: string;
  follow?: boolean;
  timestamps?: boolean;
  since?: string;
  until?: string;
  endpointUrl?: string;
  profile?: string;
  region?: string;
}

class UsageError extends Error {}

/** `10m`, `2h`, `90s`, `1d`, `1w` before now, or an ISO 8601 time. */
export function parseTime(flag: string, v: string, now = Date.now()): number {
  const rel = /^(\d+)\s*(s|m|h|d|w)$/.exec(v.trim());
  if (rel) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 }[rel[2] as 's' | 'm' | 'h' | 'd' | 'w'];
    return now - Number(rel[1]) * unit;
  }
  const t = Date.parse(v);
  if (Number.isNaN(t))
    throw new UsageError(
      `--${flag} ${JSON.stringify(v)}: give a time like 2024-05-01T12:00:00Z or a duration ago like 10m, 2h, 1d`,
    );
  return t;
}

/** Local time as `YYYY-MM-DD HH:MM:SS.mmm`. */
export function localTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function out(text: string): Promise<void> {
  if (text !== '' && !process.stdout.write(text)) await new Promise((r) => process.stdout.once('drain', r));
}

/** The stream of the wanted attempt, or undefined when the job has not run yet. */
function pickStream(job: JobDetail, attempt: number | undefined): string | undefined {
  const attempts = job.attempts ?? [];
  const running = job.status === 'STARTING' || job.status === 'RUNNING';
  if (attempt === undefined)
    return running
      ? job.container?.logStreamName
      : (attempts.at(-1)?.container?.logStreamName ?? job.container?.logStreamName);
  const max = attempts.length + (running ? 1 : 0);
  if (attempt < 1 || attempt > max)
    throw new UsageError(
      max === 0
        ? `job ${job.jobId} has not run yet, so it has no attempt ${attempt}`
        : `job ${job.jobId} has ${max} attempt${max === 1 ? '' : 's'}: --attempt must be 1..${max}`,
    );
  return attempt <= attempts.length ? attempts[attempt - 1]?.container?.logStreamName : job.container?.logStreamName;
}

export function registerLogsCommand(program: Command): void {
  withClientOptions(program.command('logs'))
    .description("print a job's output (CloudWatch Logs group /aws/batch/job), all of it, in order")
    .argument('<job-id-or-stream>', 'a job id, or a log stream name like jobdef/default/0123...')
    .addOption(new Option('--attempt <n>', 'which attempt (1-based); default: the latest'))
    .addOption(
      new Option('-f, --follow', 'keep printing new output until the job ends; exit 0 if it SUCCEEDED, 1 if it FAILED'),
    )
    .addOption(new Option('-t, --timestamps', 'prefix each line with its time (local time zone)'))
    .addOption(
      new Option('--since <time>', 'only output at or after this time: ISO 8601 or a duration ago (10m, 2h, 1d)'),
    )
    .addOption(new Option('--until <time>', 'only output before this time: ISO 8601 or a duration ago'))
    .action(async (target: string, o: LogsOptions) => {
      // `openbatch logs ... | head`: the reader went away, which is not an error.
      process.stdout.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? 0 : 2));
      try {
        process.exitCode = await runLogs(target, o);
      } catch (err) {
        const e = err as Error & { name?: string; $metadata?: unknown; code?: string };
        const msg =
          err instanceof UsageError
            ? e.message
            : e.code === 'ECONNREFUSED' || (e as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED'
              ? `cannot reach openbatch at ${endpointOf(o)}: is the server running? (set --endpoint-url or OPENBATCH_ENDPOINT)`
              : `${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e.message}`;
        console.error(`openbatch logs: ${msg}`);
        process.exitCode = 2;
      }
    });
}

const endpointOf = (o: LogsOptions) => clientConfig(o).endpoint;

async function runLogs(target: string, o: LogsOptions): Promise<number> {
  const attempt = o.attempt !== undefined ? Number(o.attempt) : undefined;
  if (attempt !== undefined && !(Number.isInteger(attempt) && attempt >= 1))
    throw new UsageError(`--attempt must be a whole number from 1; got ${JSON.stringify(o.attempt)}`);
  const startTime = o.since !== undefined ? parseTime('since', o.since) : undefined;
  const endTime = o.until !== undefined ? parseTime('until', o.until) : undefined;
  const config = clientConfig(o);
  const batch = new BatchClient(config);
  const logs = new CloudWatchLogsClient(config);

  const describe = async (jobId: string): Promise<JobDetail> => {
    const job = (await batch.send(new DescribeJobsCommand({ jobs: [jobId] }))).jobs?.[0];
    if (!job)
      throw new UsageError(
        `no job with id ${JSON.stringify(jobId)} (a log stream name has the form jobdef/default/<id>)`,
      );
    return job;
  };

  /** Prints everything after `token` (or from the start); returns the token to continue from. */
  const drain = async (stream: string, token: string | undefined): Promise<string | undefined> => {
    for (;;) {
      const r = await logs.send(
        new GetLogEventsCommand({
          logGroupName: LOG_GROUP,
          logStreamName: stream,
          startFromHead: true,
          ...(token ? { nextToken: token } : {}),
          ...(startTime !== undefined ? { startTime } : {}),
          ...(endTime !== undefined ? { endTime } : {}),
        }),
      );
      let text = '';
      for (const e of r.events ?? [])
        text += o.timestamps ? `${localTime(e.timestamp ?? 0)} ${e.message ?? ''}\n` : `${e.message ?? ''}\n`;
      await out(text);
      const next = r.nextForwardToken;
      if (!next || next === token) return next ?? token;
      token = next;
    }
  };

  if (target.includes('/')) {
    // A stream name: print it; with --follow keep polling until interrupted (the stream does not name its job).
    let token = await drain(target, undefined);
    while (o.follow) {
      await sleep(POLL_MS);
      token = await drain(target, token);
    }
    return 0;
  }

  let job = await describe(target);
  let stream = pickStream(job, attempt);
  let lastNote = '';
  while (!stream) {
    const note = `${job.status}: ${job.statusReason ?? 'the job has not started yet, so it has no output'}`;
    if (note !== lastNote) console.error(note);
    lastNote = note;
    if (!o.follow) return job.status === 'FAILED' ? 1 : 3;
    if (job.status === 'FAILED' || job.status === 'SUCCEEDED') return job.status === 'FAILED' ? 1 : 0;
    await sleep(POLL_MS);
    job = await describe(target);
    stream = pickStream(job, attempt);
  }
  let current: string = stream;
  let token = await drain(current, undefined);
  if (!o.follow) return 0;
  for (;;) {
    job = await describe(target);
    const terminal = job.status === 'SUCCEEDED' || job.status === 'FAILED';
    // The job's state is committed after its output is stored: one more read after seeing the end gets it all.
    token = await drain(current, token);
    if (terminal) return job.status === 'SUCCEEDED' ? 0 : 1;
    const latest: string | undefined = attempt === undefined ? pickStream(job, undefined) : current;
    if (latest && latest !== current && (job.status === 'RUNNING' || job.status === 'STARTING')) {
      console.error(`openbatch logs: attempt ${(job.attempts?.length ?? 0) + 1} started (${latest})`);
      current = latest;
      token = await drain(current, undefined);
    }
    await sleep(POLL_MS);
  }
}
