/**
 * `openbatch jobs`: the jobs of one or every queue as a table, as `squeue` shows them (id, queue, name, state, run
 * time, why it waits or how it ended). Filters: queue, state, name prefix, array, user. `--watch` redraws it,
 * `--json` prints the ListJobs summaries (each with its jobQueue) for scripts. Colour only on a terminal.
 */
import {
  DescribeJobQueuesCommand,
  ListJobsCommand,
  type BatchClient,
  type JobStatus,
  type JobSummary,
  type ListJobsCommandInput,
} from '@aws-sdk/client-batch';
import type { Command } from 'commander';
import { batchClient, clientErrorMessage, UsageError, withClientOptions, type ClientOptions } from './client.js';
import { EXIT_USAGE, STATES } from './job-follow.js';
import { exitQuietlyOnClosedPipe, painter, stateColour, writeOut } from './terminal.js';

const ACTIVE: JobStatus[] = ['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING'];

interface JobsOptions extends ClientOptions {
  queue?: string;
  state?: string;
  all?: boolean;
  name?: string;
  array?: string;
  user?: string;
  json?: boolean;
  watch?: string | boolean;
}

export type ListedJob = JobSummary & { jobQueue?: string };

/** The states asked for: `--state a,b`, every state with `--all`, else the unfinished ones. */
export function wantedStates(o: { state?: string; all?: boolean }): JobStatus[] {
  if (!o.state) return o.all ? [...STATES] : ACTIVE;
  const states = o.state.split(',').map((s) => s.trim().toUpperCase());
  const bad = states.filter((s) => !(STATES as readonly string[]).includes(s));
  if (bad.length) throw new UsageError(`--state ${bad.join(',')}: states are ${STATES.join(', ')}`);
  return states as JobStatus[];
}

async function allPages(client: BatchClient, input: ListJobsCommandInput): Promise<JobSummary[]> {
  const out: JobSummary[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      new ListJobsCommand({ ...input, maxResults: 1000, ...(nextToken ? { nextToken } : {}) }),
    );
    out.push(...(page.jobSummaryList ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return out;
}

async function queueNames(client: BatchClient): Promise<string[]> {
  const names: string[] = [];
  let nextToken: string | undefined;
  do {
    const r = await client.send(new DescribeJobQueuesCommand({ ...(nextToken ? { nextToken } : {}) }));
    for (const q of r.jobQueues ?? []) if (q.jobQueueName) names.push(q.jobQueueName);
    nextToken = r.nextToken;
  } while (nextToken);
  return names;
}

/** Every job matching the filters, oldest first. */
export async function listJobs(client: BatchClient, o: JobsOptions): Promise<ListedJob[]> {
  const states = wantedStates(o);
  const jobs: ListedJob[] = [];
  if (o.array) {
    for (const jobStatus of states)
      for (const j of await allPages(client, { arrayJobId: o.array, jobStatus })) jobs.push(j);
  } else {
    const queues = o.queue ? o.queue.split(',').map((q) => q.trim()) : await queueNames(client);
    // Name and user are filters; with a filter ListJobs returns every state (as AWS documents), so states are
    // picked here. Without one, one listing per state.
    const filters = [
      ...(o.name ? [{ name: 'JOB_NAME', values: [`${o.name}*`] }] : []),
      ...(o.user ? [{ name: 'USER', values: [o.user] }] : []),
    ];
    for (const jobQueue of queues) {
      if (filters.length) {
        for (const j of await allPages(client, { jobQueue, filters }))
          if (states.includes(j.status!)) jobs.push({ ...j, jobQueue });
      } else
        for (const jobStatus of states)
          for (const j of await allPages(client, { jobQueue, jobStatus })) jobs.push({ ...j, jobQueue });
    }
  }
  if (o.name && o.array) {
    const p = o.name.toLowerCase();
    return jobs.filter((j) => j.jobName?.toLowerCase().startsWith(p));
  }
  return jobs.sort((a, b) => (a.createdAt ?? 0) - (b.createdAt ?? 0) || (a.jobId ?? '').localeCompare(b.jobId ?? ''));
}

/** `1-02:03:04` / `2:03:04` / `3:04`, as squeue shows run time. */
export function runTime(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const p = (n: number) => String(n).padStart(2, '0');
  const hms = h || d ? `${h}:${p(m)}:${p(s % 60)}` : `${m}:${p(s % 60)}`;
  return d ? `${d}-${d && h < 10 ? '0' : ''}${hms}` : hms;
}

function detail(j: JobSummary): string {
  if (j.status === 'SUCCEEDED' || j.status === 'FAILED') {
    const code = j.container?.exitCode;
    const why = j.statusReason ?? j.container?.reason;
    return [code !== undefined ? `exit ${code}` : '', j.status === 'FAILED' ? (why ?? '') : '']
      .filter(Boolean)
      .join(' ');
  }
  return j.statusReason ?? '';
}

/** The table, one job a line, columns aligned; states coloured when `paint` colours. */
export function table(jobs: ListedJob[], now: number, paint = painter(process.stdout)): string {
  const rows = jobs.map((j) => {
    const size = j.arrayProperties?.size;
    const time = j.startedAt ? runTime((j.stoppedAt ?? now) - j.startedAt) : '-';
    return [
      j.jobId ?? '',
      j.jobQueue ?? '',
      `${j.jobName ?? ''}${size !== undefined && j.arrayProperties?.index === undefined ? `[${size}]` : ''}`,
      j.status ?? '',
      time,
      detail(j),
    ];
  });
  const head = ['JOBID', 'QUEUE', 'NAME', 'STATE', 'TIME', 'REASON'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[], colourState: boolean) =>
    r
      .map((c, i) => {
        const padded = i === r.length - 1 ? c : c.padEnd(widths[i]!);
        return colourState && i === 3 ? paint(stateColour(c), padded) : padded;
      })
      .join('  ')
      .trimEnd();
  return [line(head, false), ...rows.map((r) => line(r, true))].join('\n') + '\n';
}

export function registerJobs(program: Command): void {
  withClientOptions(
    program
      .command('jobs')
      .alias('status')
      .description('list jobs as a table like squeue (default: unfinished jobs of every queue)')
      .option('-q, --queue <names>', 'only these job queues (comma-separated)')
      .option('-s, --state <states>', `only these states, comma-separated (${STATES.join(',')})`)
      .option('--all', 'every state, finished jobs too')
      .option('-n, --name <prefix>', 'only jobs whose name starts with this')
      .option('--array <jobId>', "an array job's children")
      .option('-u, --user <name>', 'only jobs this user submitted')
      .option('--json', 'print the jobs as JSON (ListJobs summaries with jobQueue)')
      .option('-w, --watch [seconds]', 'redraw every few seconds (default 2) until interrupted'),
  ).action(async (o: JobsOptions) => {
    exitQuietlyOnClosedPipe();
    try {
      const client = batchClient(o);
      wantedStates(o);
      const every = o.watch === undefined ? 0 : o.watch === true ? 2 : Number(o.watch);
      if (o.watch !== undefined && !(every > 0)) throw new UsageError(`--watch takes seconds above 0; got ${o.watch}`);
      const tty = process.stdout.isTTY === true;
      for (;;) {
        const jobs = await listJobs(client, o);
        if (o.json) await writeOut(every ? `${JSON.stringify(jobs)}\n` : `${JSON.stringify(jobs, null, 2)}\n`);
        else {
          const now = Date.now();
          const header = every ? `${new Date(now).toISOString()}  ${jobs.length} job(s), every ${every}s\n` : '';
          await writeOut(
            `${every && tty ? '\x1b[H\x1b[2J' : ''}${header}${table(jobs, now)}${every && !tty ? '\n' : ''}`,
          );
        }
        if (!every) return;
        await new Promise((r) => setTimeout(r, every * 1000));
      }
    } catch (err) {
      console.error(`openbatch jobs: ${clientErrorMessage(err, o)}`);
      process.exitCode = EXIT_USAGE;
    }
  });
}
