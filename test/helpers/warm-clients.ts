/**
 * The tests' aws CLI (v1 and v2) and `python3 -c` boto3 snippets, run in a warm interpreter instead of a new process
 * per call (decision 0015). Each start of the CLI or of boto3 costs 1.2-1.8 s of CPU on the 2-core CI machine, and
 * the suite makes hundreds of such calls: they were minutes of its run. The code that runs is the same (the CLI's own
 * entry point, the snippet as `python -c` runs it, with the call's environment and working directory); only the
 * interpreter's start-up is shared. Calls that feed stdin, and every call when OPENBATCH_TEST_WARM_CLIENTS=0, start a
 * process as before; the seeds' walkthrough and other shell-driven tests always run the real `aws` executable.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createSyncFn } from 'synckit';
const REPO = resolve(import.meta.dirname, '../../..');

export interface WarmRequest {
  interpreter: string;
  script: string;
  kind: 'cli' | 'exec';
  argv?: string[];
  code?: string;
  env: Record<string, string>;
  cwd: string;
  timeoutMs: number;
}

export interface WarmResult {
  status: number;
  stdout: string;
  stderr: string;
  /** Set when the call could not complete (timed out, the interpreter died). */
  error?: string;
}

const SCRIPT = join(REPO, 'test/helpers/warm_clients.py');
const enabled = process.env.OPENBATCH_TEST_WARM_CLIENTS !== '0';
let callWorker: ((req: WarmRequest) => WarmResult) | undefined;
const interpreters = new Map<string, string | undefined>();

/** The path `command -v` finds, through a pyenv shim to the executable it runs. */
function resolveExecutable(cmd: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v "$1"`, 'sh', cmd], { encoding: 'utf8' }).stdout.trim();
  if (!found) return undefined;
  if (!found.includes('/.pyenv/shims/')) return found;
  const real = spawnSync('pyenv', ['which', cmd], { encoding: 'utf8' });
  return real.status === 0 ? real.stdout.trim() : undefined;
}

/**
 * The Python interpreter that runs `cmd` when it is an aws CLI script (its `#!` line), or `cmd` itself when it is a
 * Python; undefined for anything else (it then runs as a process).
 */
function interpreterOf(cmd: string, kind: WarmRequest['kind']): string | undefined {
  const key = `${kind} ${cmd}`;
  if (interpreters.has(key)) return interpreters.get(key);
  let interpreter: string | undefined;
  const path = resolveExecutable(cmd);
  if (path && kind === 'exec') interpreter = path;
  else if (path) {
    try {
      const head = readFileSync(path, 'utf8').slice(0, 4096);
      const shebang = /^#!(\S+)\s*\n/.exec(head)?.[1];
      if (shebang && head.includes('import awscli.clidriver')) interpreter = shebang;
    } catch {
      // a binary or unreadable executable: not a Python script
    }
  }
  interpreters.set(key, interpreter);
  return interpreter;
}

/**
 * Runs `cmd args` in a warm interpreter when it is the aws CLI or `python3 -c CODE` and no stdin is given;
 * undefined when it must run as a process.
 */
export function runWarm(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  input: string | undefined,
  timeoutMs: number,
): WarmResult | undefined {
  if (!enabled || input !== undefined) return undefined;
  const isPython = /(^|\/)python3?$/.test(cmd) && args.length === 2 && args[0] === '-c';
  const isAws = /(^|\/)aws$/.test(cmd);
  if (!isPython && !isAws) return undefined;
  const interpreter = interpreterOf(cmd, isPython ? 'exec' : 'cli');
  if (!interpreter) return undefined;
  callWorker ??= createSyncFn(new URL('./warm-clients-worker.js', import.meta.url), { timeout: timeoutMs + 60_000 });
  const cleanEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) cleanEnv[k] = v;
  return callWorker({
    interpreter,
    script: SCRIPT,
    kind: isPython ? 'exec' : 'cli',
    ...(isPython ? { code: args[1]! } : { argv: args }),
    env: cleanEnv,
    cwd: process.cwd(),
    timeoutMs,
  });
}
