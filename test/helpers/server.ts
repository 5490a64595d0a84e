/**
 * Starts a real openbatch server (bin/openbatch, a separate process) on a free port with its own data directory,
 * and gives tests what the aws CLI, boto3 and the SDK need to reach it. The data directory is kept when a test fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../../..');
export const BIN = join(REPO, 'bin/openbatch');

export interface TestServer {
  url: string;
  dataDir: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Environment for child processes (aws CLI, python) pointing at this server with root credentials. */
  env: NodeJS.ProcessEnv;
  proc: ChildProcess;
  output(): string;
  stop(opts?: { keepData?: boolean; signal?: NodeJS.Signals }): Promise<void>;
}

export interface StartOptions {
  args?: string[];
  env?: NodeJS.ProcessEnv;
  dataDir?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Extra node flags for the server process (e.g. --cpu-prof for profiling). */
  nodeArgs?: string[];
}

export async function startTestServer(opts: StartOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'openbatch-test-'));
  const accessKeyId = opts.accessKeyId ?? 'AKIATESTROOT00000001';
  const secretAccessKey = opts.secretAccessKey ?? 'test-root-secret-key-0000000000000000000';
  // Tests choose their runtime; by default host processes, whatever engine happens to run on this machine.
  const args = opts.args ?? [];
  const runtime = args.includes('--runtime') ? [] : ['--runtime', 'process'];
  const proc = spawn(
    process.execPath,
    [...(opts.nodeArgs ?? []), BIN, 'server', '--port', '0', '--data', dataDir, ...runtime, ...args],
    {
      env: {
        ...process.env,
        OPENBATCH_ROOT_ACCESS_KEY_ID: accessKeyId,
        OPENBATCH_ROOT_SECRET_ACCESS_KEY: secretAccessKey,
        ...opts.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`server did not start in 20 s:\n${out}`)), 20_000);
    const check = () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1]!);
      }
    };
    proc.stdout.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`server exited with ${code}:\n${out}`));
    });
  });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ACCESS_KEY_ID: accessKeyId,
    AWS_SECRET_ACCESS_KEY: secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: url,
    AWS_PAGER: '',
    OPENBATCH_ENDPOINT: url,
  };
  delete env.AWS_PROFILE;
  delete env.AWS_SHARED_CREDENTIALS_FILE;
  return {
    url,
    dataDir,
    accessKeyId,
    secretAccessKey,
    env,
    proc,
    output: () => out,
    async stop({ keepData = false, signal = 'SIGTERM' } = {}) {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill(signal);
        await exited;
      }
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
