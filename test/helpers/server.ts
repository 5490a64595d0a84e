/**
 * Starts a real openbatch server (bin/openbatch, a separate process) on a free port with its own data directory,
 * and gives tests what the aws CLI, boto3 and the SDK need to reach it. The data directory is kept when a test fails.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createTestDatabase, databaseAt, type TestDatabase } from './postgres.js';
import { reapOnExit } from './reap.js';

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
  /** The PostgreSQL database it keeps its state in; undefined on SQLite (the files in dataDir). */
  databaseUrl?: string;
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
  /**
   * Where the state lives: 'sqlite' (files in the data directory) or 'postgres' (a fresh database, dropped when the
   * server is stopped without keepData). Default: OPENBATCH_TEST_STORE, else sqlite; ignored when args give
   * --database-url.
   */
  store?: 'sqlite' | 'postgres';
  /** How long to wait for "listening" (default 60 s; a benchmark restarting with 1,000,000 jobs may need more). */
  startTimeoutMs?: number;
}

/** The backend tests run on: OPENBATCH_TEST_STORE=postgres runs the integration suite on PostgreSQL. */
export function testStoreBackend(): 'sqlite' | 'postgres' {
  return process.env.OPENBATCH_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';
}

export async function startTestServer(opts: StartOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'openbatch-test-'));
  const accessKeyId = opts.accessKeyId ?? 'AKIATESTROOT00000001';
  const secretAccessKey = opts.secretAccessKey ?? 'test-root-secret-key-0000000000000000000';
  // Tests choose their runtime; by default host processes, whatever engine happens to run on this machine.
  const args = [...(opts.args ?? [])];
  const runtime = args.includes('--runtime') ? [] : ['--runtime', 'process'];
  let database: TestDatabase | undefined;
  if ((opts.store ?? testStoreBackend()) === 'postgres' && !args.includes('--database-url')) {
    // A restarted server (same dataDir) keeps its database: the URL is remembered in the data directory.
    database = await reuseOrCreateDatabase(dataDir);
    args.push('--database-url', database.url);
  }
  const proc = spawn(
    process.execPath,
    [...(opts.nodeArgs ?? []), BIN, 'server', '--port', '0', '--data', dataDir, ...runtime, ...args],
    {
      env: {
        ...process.env,
        OPENBATCH_ROOT_ACCESS_KEY_ID: accessKeyId,
        OPENBATCH_ROOT_SECRET_ACCESS_KEY: secretAccessKey,
        // Test servers share the machine's PostgreSQL (max_connections 100) with other suites running at once.
        OPENBATCH_DATABASE_POOL_SIZE: process.env.OPENBATCH_DATABASE_POOL_SIZE ?? '5',
        ...opts.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  reapOnExit(proc);
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((res, rej) => {
    // Generous: a loaded CI machine (and a fresh PostgreSQL database to create and migrate) can take tens of seconds.
    const limit = opts.startTimeoutMs ?? 60_000;
    const timer = setTimeout(() => rej(new Error(`server did not start in ${limit / 1000} s:\n${out}`)), limit);
    const check = () => {
      const m = /listening on (https?:\/\/\S+)/.exec(out);
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
    ...(database
      ? { databaseUrl: database.url }
      : args.includes('--database-url')
        ? { databaseUrl: args[args.indexOf('--database-url') + 1]! }
        : {}),
    output: () => out,
    async stop({ keepData = false, signal = 'SIGTERM' } = {}) {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill(signal);
        await exited;
      }
      if (!keepData) {
        rmSync(dataDir, { recursive: true, force: true });
        await database?.drop();
      }
    },
  };
}

async function reuseOrCreateDatabase(dataDir: string): Promise<TestDatabase> {
  const file = join(dataDir, 'test-database.json');
  if (existsSync(file)) return databaseAt(JSON.parse(readFileSync(file, 'utf8')) as { name: string; url: string });
  const db = await createTestDatabase();
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify({ name: db.name, url: db.url }));
  return db;
}

/**
 * Everything a server stored, as bytes: its SQLite database files, or a plain pg_dump of its PostgreSQL database
 * (for tests that check what is, or is not, kept at rest).
 */
export function storedBytes(srv: TestServer): Buffer {
  if (srv.databaseUrl) return execFileSync('pg_dump', ['--data-only', srv.databaseUrl], { maxBuffer: 1 << 30 });
  const files = ['openbatch.db', 'identity.db'].flatMap((f) => [f, `${f}-wal`]);
  return Buffer.concat(
    files.filter((f) => existsSync(join(srv.dataDir, f))).map((f) => readFileSync(join(srv.dataDir, f))),
  );
}
