/**
 * The researcher commands against a real server (process runtime): `openbatch submit` from flags and from the seeds'
 * job.json, `--wait` on success, failure and terminate (exit statuses), an array's progress bar on a pseudo-terminal
 * (`script -qec`) and plain lines through a pipe, `openbatch jobs` as a table and as JSON with its filters,
 * `openbatch wait`, and the completion scripts loaded by bash and zsh.
 */
/* eslint-disable no-control-regex -- the terminal escape sequences are what these tests check */
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as B from '@aws-sdk/client-batch';
import { requireBinary, run, waitFor } from '../helpers/clients.js';
import { BIN, startTestServer, type TestServer } from '../helpers/server.js';
import { createQueue } from '../helpers/setup.js';

let srv: TestServer;
let sdk: B.BatchClient;
let ok = false;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const dir = mkdtempSync(join(tmpdir(), 'openbatch-cli-'));
const POLL = ['--poll-ms', '200'];

const openbatch = (args: string[], env: NodeJS.ProcessEnv = srv.env) => run(process.execPath, [BIN, ...args], env);
/** Runs a command line on a pseudo-terminal (stdin, stdout and stderr are the terminal); returns what it showed. */
const onTerminal = (line: string) => run('script', ['-qec', line, '/dev/null'], { ...srv.env, TERM: 'xterm' });
const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const status = async (id: string) =>
  (await sdk.send(new B.DescribeJobsCommand({ jobs: [id] }))).jobs?.[0]?.status ?? 'missing';

before(async () => {
  requireBinary('script', 'apt-get install bsdutils (script(1) runs a command on a pseudo-terminal)');
  requireBinary('zsh', 'apt-get install zsh');
  srv = await startTestServer({ args: ['--vcpus', '4'] });
  sdk = new B.BatchClient({
    endpoint: srv.url,
    region: 'us-east-1',
    credentials: { accessKeyId: srv.accessKeyId, secretAccessKey: srv.secretAccessKey },
  });
  await createQueue(sdk, {
    queue: 'mixed',
    maxvCpus: 4,
    definition: { name: 'myJobDef', command: ['true'] },
  });
});
after(async () => {
  sdk?.destroy();
  await srv?.stop({ keepData: !ok });
});

describe('openbatch submit', () => {
  it("submits the seeds' job.json (--cli-input-json file://) and prints only the job id", async () => {
    // The shape of the seeds' job.json: aws batch submit-job --generate-cli-skeleton, edited.
    const file = join(dir, 'job.json');
    writeFileSync(
      file,
      JSON.stringify({
        jobName: 'jdoe-test-job',
        jobQueue: 'mixed',
        jobDefinition: 'myJobDef:1',
        containerOverrides: {
          command: ['sh', '-c', 'test "$FAVORITE_COLOR $FAVORITE_MONTH" = "blue December"'],
          environment: [
            { name: 'FAVORITE_COLOR', value: 'blue' },
            { name: 'FAVORITE_MONTH', value: 'December' },
          ],
        },
      }),
    );
    const r = openbatch(['submit', '--cli-input-json', `file://${file}`, '--wait', ...POLL]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.trim(), UUID, 'stdout is the job id and nothing else');
    assert.equal(await status(r.stdout.trim()), 'SUCCEEDED');
    assert.match(r.stderr, /jdoe-test-job\tSUCCEEDED/);
    // Flags win over the file's fields.
    const r2 = openbatch(['submit', '--cli-input-json', file, '--name', 'renamed', '--env', 'FAVORITE_MONTH=May']);
    assert.equal(r2.status, 0, r2.stderr);
    const j = (await sdk.send(new B.DescribeJobsCommand({ jobs: [r2.stdout.trim()] }))).jobs![0]!;
    assert.equal(j.jobName, 'renamed');
    assert.deepEqual(
      j.container?.environment
        ?.filter((e) => e.name?.startsWith('FAVORITE_'))
        .sort((a, b) => a.name!.localeCompare(b.name!)),
      [
        { name: 'FAVORITE_COLOR', value: 'blue' },
        { name: 'FAVORITE_MONTH', value: 'May' },
      ],
    );
  });

  it('--wait exits with the exit code of a failed job', () => {
    const r = openbatch([
      'submit',
      '-q',
      'mixed',
      '-d',
      'myJobDef',
      '-n',
      'fails',
      '--wait',
      ...POLL,
      '--',
      'sh',
      '-c',
      'exit 7',
    ]);
    assert.equal(r.status, 7, r.stderr);
    assert.match(r.stderr, /fails\tFAILED\texit 7/);
  });

  it('--wait exits 143 when the job is terminated', async () => {
    const child = spawn(
      process.execPath,
      [BIN, 'submit', '-q', 'mixed', '-d', 'myJobDef', '-n', 'stopped', '--wait', ...POLL, '--', 'sleep', '120'],
      { env: srv.env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const id = await waitFor(
      'the job id on stdout',
      () => out.trim(),
      (s) => UUID.test(s),
      60_000,
    );
    await waitFor(
      `${id} to run`,
      () => status(id),
      (s) => s === 'RUNNING',
      60_000,
    );
    await sdk.send(new B.TerminateJobCommand({ jobId: id, reason: 'stopped by the test' }));
    assert.equal(await exited, 143, err);
    assert.match(err, /FAILED \(terminated\)/);
  });

  it("shows an array's children as a progress bar on a terminal, and as plain lines through a pipe", () => {
    const args = [
      'submit',
      '-q',
      'mixed',
      '-d',
      'myJobDef',
      '-n',
      'arr',
      '-a',
      '6',
      '--wait',
      ...POLL,
      '--',
      'sleep',
      '0.5',
    ];
    const tty = onTerminal([process.execPath, BIN, ...args].map(sh).join(' '));
    assert.equal(tty.status, 0, tty.stdout + tty.stderr);
    assert.match(tty.stdout, /6\/6 children \| \S*SUCCEEDED 6/, 'the bar ends with every child done');
    assert.match(tty.stdout, /[█░]{30}/, 'a bar is drawn');
    assert.match(tty.stdout, /\x1b\[32mSUCCEEDED/, 'states are coloured on a terminal');
    const piped = openbatch(args);
    assert.equal(piped.status, 0, piped.stderr);
    assert.match(piped.stdout, /^[0-9a-f-]{36}\n$/, 'stdout through a pipe is only the id');
    assert.doesNotMatch(piped.stderr, /[█░]|\x1b\[/, 'no bar and no colour through a pipe');
    assert.match(piped.stderr, /SUCCEEDED: 6 children: SUCCEEDED 6/);
  });

  it('says what is missing, with exit status 2', () => {
    const r = openbatch(['submit', '-q', 'mixed']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /missing jobName, jobDefinition: give --name, --queue and --definition/);
    const bad = openbatch(['submit', '-q', 'nope', '-d', 'myJobDef', '-n', 'x']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /ClientException: .*"nope" does not exist/);
  });
});

describe('openbatch jobs and wait', () => {
  let done: string;
  let waiting: string;
  before(async () => {
    await createQueue(sdk, { queue: 'held', maxvCpus: 4, ceState: 'DISABLED' });
    done = openbatch(['submit', '-q', 'held', '-d', 'myJobDef', '-n', 'later-1']).stdout.trim();
    waiting = openbatch(['submit', '-q', 'held', '-d', 'myJobDef', '-n', 'other-2']).stdout.trim();
    await waitFor(
      'jobs to wait RUNNABLE',
      () => status(waiting),
      (s) => s === 'RUNNABLE',
      60_000,
    );
  });

  it('prints a table through a pipe without colour, and JSON that parses, with filters', () => {
    const t = openbatch(['jobs', '-q', 'held']);
    assert.equal(t.status, 0, t.stderr);
    const lines = t.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^JOBID\s+QUEUE\s+NAME\s+STATE\s+TIME\s+REASON$/);
    assert.equal(lines.length, 3);
    assert.match(t.stdout, new RegExp(`${waiting}\\s+held\\s+other-2\\s+RUNNABLE\\s+-\\s+MISCONFIGURATION`));
    assert.doesNotMatch(t.stdout, /\x1b\[/);
    const json = (args: string[]) => {
      const r = openbatch(['jobs', '--json', ...args]);
      assert.equal(r.status, 0, r.stderr);
      return (JSON.parse(r.stdout) as { jobId: string; jobQueue: string; status: string }[]).map((j) => j.jobId);
    };
    assert.deepEqual(json(['-q', 'held', '--name', 'later']), [done]);
    assert.deepEqual(json(['-q', 'held', '--user', 'root']).sort(), [done, waiting].sort());
    assert.deepEqual(json(['-q', 'held', '--user', 'someone-else']), []);
    assert.deepEqual(json(['-q', 'held', '--state', 'succeeded']), []);
    assert.ok(json(['--all']).length >= 8, 'every queue, every state');
    const arr = JSON.parse(openbatch(['jobs', '--json', '--all', '--name', 'arr']).stdout) as { jobId: string }[];
    assert.equal(arr.length, 2, 'the two array submissions');
    assert.equal(json(['--array', arr[0]!.jobId, '--state', 'SUCCEEDED']).length, 6, 'the children of an array');
    const bad = openbatch(['jobs', '--state', 'DONE']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--state DONE: states are SUBMITTED, PENDING/);
  });

  it('colours states on a terminal and redraws with --watch', () => {
    const r = onTerminal(`timeout 5 ${sh(process.execPath)} ${sh(BIN)} jobs -q held --watch 1`);
    assert.match(r.stdout, /\x1b\[33mRUNNABLE/, 'RUNNABLE in yellow');
    assert.ok((r.stdout.match(/\x1b\[H\x1b\[2J/g) ?? []).length >= 2, 'redrawn at least twice');
  });

  it('wait exits 0 when every job succeeded, else the status of the first that did not', async () => {
    const a = openbatch(['submit', '-q', 'mixed', '-d', 'myJobDef', '-n', 'w-ok']).stdout.trim();
    const b = openbatch([
      'submit',
      '-q',
      'mixed',
      '-d',
      'myJobDef',
      '-n',
      'w-bad',
      '--',
      'sh',
      '-c',
      'exit 4',
    ]).stdout.trim();
    const r = openbatch(['wait', ...POLL, a, b]);
    assert.equal(r.status, 4, r.stderr);
    assert.match(r.stdout, new RegExp(`${a}\tw-ok\tSUCCEEDED`));
    assert.match(r.stdout, new RegExp(`${b}\tw-bad\tFAILED\texit 4`));
    assert.equal(openbatch(['wait', ...POLL, a]).status, 0);
    await sdk.send(new B.CancelJobCommand({ jobId: waiting, reason: 'not needed' }));
    assert.equal(openbatch(['wait', ...POLL, '--quiet', waiting]).status, 143);
    const unknown = openbatch(['wait', '00000000-0000-0000-0000-000000000000']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /no such job: 00000000-0000-0000-0000-000000000000/);
  });
});

describe('openbatch completion', () => {
  const script = (shell: string) => {
    const r = openbatch(['completion', shell]);
    assert.equal(r.status, 0, r.stderr);
    const file = join(dir, `completion.${shell}`);
    writeFileSync(file, r.stdout);
    return file;
  };

  it('bash completes commands, options, nested commands and states', () => {
    const file = script('bash');
    const complete = (words: string[]) => {
      // As bash calls it on <Tab>: COMP_WORDS/COMP_CWORD set, the function registered with `complete`.
      const r = run(
        'bash',
        [
          '-c',
          `source ${file}; complete -p openbatch; COMP_WORDS=(openbatch ${words.map(sh).join(' ')}); COMP_CWORD=${words.length}; $(complete -p openbatch | sed -E 's/.*-F ([^ ]+) .*/\\1/'); printf '%s\\n' "\${COMPREPLY[@]}"`,
        ],
        srv.env,
      );
      assert.equal(r.status, 0, r.stderr);
      const [registration, ...words2] = r.stdout.trimEnd().split('\n');
      assert.equal(registration, 'complete -F _openbatch openbatch');
      return words2;
    };
    assert.deepEqual(complete(['su']), ['submit']);
    assert.ok(complete(['']).includes('jobs') && complete(['']).includes('admin'));
    assert.deepEqual(complete(['submit', '--cli']), ['--cli-input-json']);
    assert.deepEqual(complete(['jobs', '--state', 'RUN']), ['RUNNABLE', 'RUNNING']);
    assert.deepEqual(complete(['completion', '']), ['bash', 'zsh']);
    assert.ok(complete(['admin', '']).length > 2, 'admin subcommands');
  });

  it('zsh loads it after compinit and completes the same way', () => {
    const file = script('zsh');
    const r = run(
      'zsh',
      [
        '-fc',
        `autoload -Uz compinit && compinit -u -d ${join(dir, 'zcompdump')} && source ${file} && print -r -- "$_comps[openbatch]" && _openbatch_candidates su && _openbatch_candidates jobs --state RUN && _openbatch_candidates submit --cli`,
      ],
      srv.env,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trimEnd().split('\n'), [
      '_openbatch',
      'submit',
      'RUNNABLE',
      'RUNNING',
      '--cli-input-json',
    ]);
    ok = true;
  });
});
