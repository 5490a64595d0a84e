/** Runs the real clients (aws CLI v1 and v2, python with boto3) against a test server. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { runWarm } from './warm-clients.js';

/** aws CLI v1 comes with the machine's Python (pip); v2 is Debian's awscli package at /usr/bin/aws. */
export const AWS_V1 = process.env.OPENBATCH_TEST_AWS_V1 ?? 'aws';
export const AWS_V2 = process.env.OPENBATCH_TEST_AWS_V2 ?? '/usr/bin/aws';

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; the aws CLI and `python3 -c` run in a warm interpreter (warm-clients.ts). */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: string): RunResult {
  const warm = runWarm(cmd, args, env, input, 120_000);
  if (warm?.error) throw new Error(`${cmd} ${args.join(' ').slice(0, 200)}: ${warm.error}`);
  if (warm) return warm;
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', input, timeout: 120_000, maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs `aws <args> --endpoint-url <url>` and parses JSON output; throws with stderr on failure. */
export function aws(bin: string, url: string, env: NodeJS.ProcessEnv, args: string[]): any {
  const r = run(bin, [...args, '--endpoint-url', url, '--output', 'json'], env);
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim() ? JSON.parse(r.stdout) : {};
}

/** Whether a binary is present; under CI=true a missing one is an error, never a silent skip. */
export function requireBinary(path: string, install: string): void {
  const found = path.includes('/') ? existsSync(path) : spawnSync('sh', ['-c', `command -v ${path}`]).status === 0;
  if (!found) throw new Error(`${path} is missing: ${install}`);
}

export function python(code: string, env: NodeJS.ProcessEnv): RunResult {
  return run('python3', ['-c', code], env);
}

export async function waitFor<T>(
  what: string,
  fn: () => T | Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < end) {
    last = await fn();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
}

/**
 * The aws CLI calls a test of jobs keeps making against one server: `batch <args>`, one job's description, waiting for
 * a job to reach a state, and a log stream's messages. `target` is read at each call (servers start in before()).
 *
 * `statusOf` (a job's status by a cheaper client, the in-process SDK) makes `until` wait with it and only then ask the
 * CLI for the description it returns: even in the warm interpreter (warm-clients.ts) each aws CLI call builds a
 * session and parses its arguments, CPU that a wait of minutes spent polling with it takes from the jobs it waits for.
 */
export function jobsCli(
  target: () => { url: string; env: NodeJS.ProcessEnv },
  bin = AWS_V2,
  statusOf?: (id: string) => Promise<string | undefined>,
) {
  const batch = (args: string[]) => aws(bin, target().url, target().env, ['batch', ...args]);
  const describe1 = (id: string) => batch(['describe-jobs', '--jobs', id]).jobs[0];
  const until = async (id: string, states: string[], ms = 90_000) => {
    if (statusOf)
      await waitFor(
        `job ${id} in ${states.join('/')}`,
        () => statusOf(id),
        (s) => s !== undefined && states.includes(s),
        ms,
      );
    return waitFor(
      `job ${id} in ${states.join('/')}`,
      () => describe1(id),
      (j) => states.includes(j.status),
      ms,
    );
  };
  const logOf = (stream: string): string[] =>
    aws(bin, target().url, target().env, [
      'logs',
      'get-log-events',
      '--log-group-name',
      '/aws/batch/job',
      '--log-stream-name',
      stream,
      '--start-from-head',
    ]).events.map((e: { message: string }) => e.message);
  return { batch, describe1, until, logOf };
}
