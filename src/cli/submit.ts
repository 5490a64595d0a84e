/**
 * `openbatch submit`: SubmitJob from flags, from the `aws batch submit-job --cli-input-json` file researchers already
 * keep (`--cli-input-json file://job.json`), or both (flags win). Prints the job id on stdout, nothing else, so
 * `id=$(openbatch submit ...)` works. `--wait` then follows the job to its end (states on stderr; for an array a
 * progress bar of its children by state when stderr is a terminal) and exits with the job's status (job-follow.ts).
 */
import { readFileSync } from 'node:fs';
import { SubmitJobCommand, type JobDetail, type SubmitJobCommandInput } from '@aws-sdk/client-batch';
import cliProgress from 'cli-progress';
import { Option, type Command } from 'commander';
import { batchClient, clientErrorMessage, UsageError, withClientOptions, type ClientOptions } from './client.js';
import { describeEnd, EXIT_USAGE, exitStatusOf, followJobs, STATES } from './job-follow.js';
import { painter, stateColour } from './terminal.js';

interface SubmitOptions extends ClientOptions {
  cliInputJson?: string;
  name?: string;
  queue?: string;
  definition?: string;
  arraySize?: string;
  env: string[];
  parameter: string[];
  dependsOn: string[];
  vcpus?: string;
  memory?: string;
  timeout?: string;
  attempts?: string;
  wait?: boolean;
  pollMs?: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** `file://job.json`, `job.json`, `-` (stdin) or inline JSON, as the aws CLI reads --cli-input-json. */
export function readCliInputJson(arg: string): Record<string, unknown> {
  let text: string;
  let where: string;
  if (arg.trimStart().startsWith('{')) {
    text = arg;
    where = 'the inline JSON';
  } else {
    const path = arg === '-' ? '/dev/stdin' : arg.replace(/^file:\/\//, '');
    where = arg === '-' ? 'standard input' : path;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new UsageError(
        `--cli-input-json: cannot read ${where}: ${(err as Error).message} (give file://job.json, a path, - or JSON)`,
      );
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--cli-input-json: ${where} is not JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new UsageError(`--cli-input-json: ${where} must hold one JSON object, as aws batch submit-job takes`);
  return parsed as Record<string, unknown>;
}

function pairs(flag: string, values: string[]): [string, string][] {
  return values.map((v) => {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new UsageError(`--${flag} ${JSON.stringify(v)}: give NAME=VALUE`);
    return [v.slice(0, eq), v.slice(eq + 1)];
  });
}

function positiveInt(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} must be a whole number from 1; got ${v}`);
  return n;
}

/** The SubmitJob request: the JSON file's fields, then the flags over them. */
export function submitInput(o: SubmitOptions, command: string[]): SubmitJobCommandInput {
  const input = (o.cliInputJson ? readCliInputJson(o.cliInputJson) : {}) as Record<string, any>;
  if (o.name) input.jobName = o.name;
  if (o.queue) input.jobQueue = o.queue;
  if (o.definition) input.jobDefinition = o.definition;
  const size = positiveInt('array-size', o.arraySize);
  if (size !== undefined) input.arrayProperties = { size };
  const overrides: Record<string, any> = { ...(input.containerOverrides ?? {}) };
  if (command.length) overrides.command = command;
  if (o.env.length) {
    const env = new Map<string, string>(
      ((overrides.environment ?? []) as { name: string; value: string }[]).map((e) => [e.name, e.value]),
    );
    for (const [k, v] of pairs('env', o.env)) env.set(k, v);
    overrides.environment = [...env].map(([name, value]) => ({ name, value }));
  }
  const resources = ((overrides.resourceRequirements ?? []) as { type: string; value: string }[]).filter(
    (r) => !(o.vcpus && r.type === 'VCPU') && !(o.memory && r.type === 'MEMORY'),
  );
  if (o.vcpus) resources.push({ type: 'VCPU', value: o.vcpus });
  if (o.memory) resources.push({ type: 'MEMORY', value: String(positiveInt('memory', o.memory)) });
  if (resources.length) overrides.resourceRequirements = resources;
  if (Object.keys(overrides).length) input.containerOverrides = overrides;
  if (o.parameter.length)
    input.parameters = { ...(input.parameters ?? {}), ...Object.fromEntries(pairs('parameter', o.parameter)) };
  if (o.dependsOn.length) input.dependsOn = [...(input.dependsOn ?? []), ...o.dependsOn.map((jobId) => ({ jobId }))];
  const timeout = positiveInt('timeout', o.timeout);
  if (timeout !== undefined) input.timeout = { attemptDurationSeconds: timeout };
  const attempts = positiveInt('attempts', o.attempts);
  if (attempts !== undefined) input.retryStrategy = { ...(input.retryStrategy ?? {}), attempts };
  const missing = ['jobName', 'jobQueue', 'jobDefinition'].filter((k) => !input[k]);
  if (missing.length)
    throw new UsageError(
      `missing ${missing.join(', ')}: give --name, --queue and --definition, or a --cli-input-json file://job.json that has them`,
    );
  return input as SubmitJobCommandInput;
}

export function registerSubmit(program: Command): void {
  withClientOptions(
    program
      .command('submit')
      .description('submit a job (flags, or a job.json as aws batch submit-job --cli-input-json takes); prints its id')
      .argument('[command...]', "command to run instead of the job definition's (after --)")
      .option('--cli-input-json <file>', 'a SubmitJob request: file://job.json, a path, - for stdin, or JSON')
      .option('-n, --name <name>', 'job name')
      .option('-q, --queue <queue>', 'job queue (name or ARN)')
      .option('-d, --definition <def>', 'job definition: name, name:revision or ARN')
      .option('-a, --array-size <n>', 'submit an array job of n children (2..10000)')
      .option('-e, --env <NAME=VALUE>', 'environment variable for the job (repeatable)', collect, [])
      .option('-p, --parameter <NAME=VALUE>', 'job definition parameter (repeatable)', collect, [])
      .option('--depends-on <jobId>', 'start only after this job succeeded (repeatable)', collect, [])
      .option('--vcpus <n>', 'vCPUs for the job (overrides the definition)')
      .option('--memory <MiB>', 'memory in MiB (overrides the definition)')
      .option('--timeout <seconds>', 'stop an attempt after this many seconds')
      .option('--attempts <n>', 'attempts before the job fails (1..10)')
      .option(
        '-w, --wait',
        'follow the job to its end; exit 0 if it succeeded, its exit code if it failed, 143 if cancelled or terminated',
      )
      .addOption(new Option('--poll-ms <ms>', 'how often --wait asks (milliseconds)').default('1000').hideHelp()),
  ).action(async (command: string[], o: SubmitOptions) => {
    try {
      const client = batchClient(o);
      const input = submitInput(o, command);
      const r = await client.send(new SubmitJobCommand(input));
      console.log(r.jobId);
      if (!o.wait) return;
      const job = await follow(client, r.jobId!, Number(o.pollMs) || 1000);
      console.error(describeEnd(job));
      process.exitCode = exitStatusOf(job);
    } catch (err) {
      console.error(`openbatch submit: ${clientErrorMessage(err, o)}`);
      process.exitCode = EXIT_USAGE;
    }
  });
}

/** The children's counts by state, in STATES order: `RUNNING 3  SUCCEEDED 5`. */
export function childCounts(job: JobDetail, paint: (c: any, t: string) => string = (_c, t) => t): string {
  const s = job.arrayProperties?.statusSummary ?? {};
  return STATES.filter((st) => (s[st] ?? 0) > 0)
    .map((st) => paint(stateColour(st), `${st} ${s[st]}`))
    .join('  ');
}

/** Follows one job: state changes as lines on stderr; an array's children as a progress bar on a terminal. */
async function follow(client: ReturnType<typeof batchClient>, id: string, pollMs: number): Promise<JobDetail> {
  const paint = painter(process.stderr);
  const tty = process.stderr.isTTY === true;
  let bar: cliProgress.SingleBar | undefined;
  let last = '';
  const done = await followJobs(client, [id], {
    pollMs,
    onUpdate: (jobs) => {
      const j = jobs.get(id);
      if (!j) return;
      const size = j.arrayProperties?.size;
      if (size !== undefined && tty) {
        const s = j.arrayProperties?.statusSummary ?? {};
        const finished = (s.SUCCEEDED ?? 0) + (s.FAILED ?? 0);
        if (!bar) {
          bar = new cliProgress.SingleBar(
            {
              format: '{bar} {value}/{total} children | {states}',
              stream: process.stderr,
              hideCursor: true,
              barsize: 30,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(size, finished, { states: childCounts(j, paint) });
        } else bar.update(finished, { states: childCounts(j, paint) });
        if (j.status === 'SUCCEEDED' || j.status === 'FAILED') bar.stop();
        return;
      }
      const line =
        size !== undefined ? `${j.status}: ${size} children: ${childCounts(j) || 'none started'}` : `${j.status}`;
      if (line !== last) console.error(`${id}\t${paint(stateColour(j.status), line)}`);
      last = line;
    },
  });
  return done.get(id)!;
}
