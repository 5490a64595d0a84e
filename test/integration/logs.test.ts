/**
 * Job logs end to end: a real server (process runtime), the seeds' aws CLI commands (v1 and v2), boto3 paging,
 * `aws logs tail`, and `openbatch logs` (whole output, --follow, --timestamps, | head, a job not yet started).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AWS_V1, AWS_V2, aws, python, requireBinary, run, waitFor } from '../helpers/clients.js';
import { BIN, startTestServer, type TestServer } from '../helpers/server.js';

const GROUP = '/aws/batch/job';
let srv: TestServer;
let ok = false;

const batch = (args: string[]) => aws(AWS_V1, srv.url, srv.env, ['batch', ...args]);
function submit(name: string, command: string[], queue = 'logs-q'): string {
  const r = batch([
    'submit-job',
    '--job-name',
    name,
    '--job-queue',
    queue,
    '--job-definition',
    'logsdef',
    '--container-overrides',
    JSON.stringify({ command }),
  ]);
  return r.jobId as string;
}
const describeJob = (id: string) => batch(['describe-jobs', '--jobs', id]).jobs[0];
const waitDone = (id: string) =>
  waitFor(
    `job ${id} to finish`,
    () => describeJob(id),
    (j) => j.status === 'SUCCEEDED' || j.status === 'FAILED',
    60_000,
  );
const openbatch = (args: string[]) => run(process.execPath, [BIN, ...args], srv.env);

const lines = (n: number, prefix = 'line ') => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
const BIG = 25_000;
let big: { id: string; stream: string };
let small: { id: string; stream: string };
let wide: { id: string; stream: string };

before(async () => {
  requireBinary(AWS_V1, 'pip install awscli');
  requireBinary(AWS_V2, 'apt-get install awscli');
  requireBinary('jq', 'apt-get install jq');
  srv = await startTestServer({ args: ['--runtime', 'process', '--vcpus', '4'] });
  const ce = (name: string, state: string) =>
    batch([
      'create-compute-environment',
      '--compute-environment-name',
      name,
      '--type',
      'MANAGED',
      '--state',
      state,
      '--compute-resources',
      'type=EC2,minvCpus=0,maxvCpus=4,instanceTypes=optimal,subnets=s,securityGroupIds=g,instanceRole=r',
    ]);
  ce('logs-ce', 'ENABLED');
  ce('logs-off', 'DISABLED');
  for (const [q, c] of [
    ['logs-q', 'logs-ce'],
    ['logs-waiting', 'logs-off'],
  ] as const)
    batch([
      'create-job-queue',
      '--job-queue-name',
      q,
      '--priority',
      '1',
      '--compute-environment-order',
      `order=1,computeEnvironment=${c}`,
    ]);
  batch([
    'register-job-definition',
    '--job-definition-name',
    'logsdef',
    '--type',
    'container',
    '--container-properties',
    JSON.stringify({ image: 'busybox', vcpus: 1, memory: 64, command: ['true'] }),
  ]);
  const ids = {
    big: submit('big', ['awk', `BEGIN { for (i = 1; i <= ${BIG}; i++) print "line " i }`]),
    small: submit('small', ['sh', '-c', 'echo hello; echo "héllo wörld" >&2; printf "no newline at end"']),
    // 2,000 lines of 1,000 bytes: the 1 MB page limit binds before the 10,000-event one.
    wide: submit('wide', [
      'awk',
      'BEGIN { s = sprintf("%995s", ""); gsub(/ /, "x", s); for (i = 1; i <= 2000; i++) printf "%04d %s\\n", i, s }',
    ]),
  };
  for (const [k, id] of Object.entries(ids)) {
    const j = await waitDone(id);
    assert.equal(j.status, 'SUCCEEDED', `${k}: ${JSON.stringify(j)}`);
    assert.match(j.container.logStreamName, /^logsdef\/default\/[0-9a-f]{32}$/);
    assert.equal(j.attempts[0].container.logStreamName, j.container.logStreamName);
    const v = { id, stream: j.container.logStreamName as string };
    if (k === 'big') big = v;
    else if (k === 'small') small = v;
    else wide = v;
  }
});

after(async () => {
  await srv?.stop({ keepData: !ok });
});

void describe('CloudWatch Logs API with the real clients', () => {
  void it("the seeds' get-log-events | jq command prints the output with CLI v1 and v2", () => {
    for (const bin of [AWS_V1, AWS_V2]) {
      const r = spawnSync(
        'bash',
        [
          '-o',
          'pipefail',
          '-c',
          `"${bin}" logs get-log-events --log-group-name ${GROUP} --log-stream-name "${small.stream}" --endpoint-url ${srv.url} | jq -r '.events[]| .message'`,
        ],
        { env: srv.env, encoding: 'utf8' },
      );
      assert.equal(r.status, 0, `${bin}: ${r.stderr}`);
      assert.equal(r.stdout, 'hello\nhéllo wörld\nno newline at end\n', bin);
    }
  });

  void it('reads the newest 10,000 events by default (startFromHead false)', () => {
    const r = aws(AWS_V1, srv.url, srv.env, [
      'logs',
      'get-log-events',
      '--log-group-name',
      GROUP,
      '--log-stream-name',
      big.stream,
    ]);
    assert.equal(r.events.length, 10_000);
    assert.equal(r.events[0].message, `line ${BIG - 9_999}`);
    assert.equal(r.events.at(-1).message, `line ${BIG}`);
    assert.match(r.nextForwardToken, /^f\//);
    assert.match(r.nextBackwardToken, /^b\//);
    const head = aws(AWS_V2, srv.url, srv.env, [
      'logs',
      'get-log-events',
      '--log-group-name',
      GROUP,
      '--log-stream-name',
      big.stream,
      '--start-from-head',
      '--limit',
      '3',
    ]);
    assert.deepEqual(
      head.events.map((e: any) => e.message),
      lines(3),
    );
  });

  void it('boto3 pages forward through 25,000 lines: pages <= 10,000 events, ends on a repeated token, all in order', () => {
    const r = python(
      `
import boto3, json, os
c = boto3.client('logs', endpoint_url=os.environ['AWS_ENDPOINT_URL'])
kw = dict(logGroupName='${GROUP}', logStreamName='${big.stream}', startFromHead=True)
pages, msgs, token = [], [], None
while True:
    r = c.get_log_events(**kw, **({'nextToken': token} if token else {}))
    pages.append(len(r['events'])); msgs += [e['message'] for e in r['events']]
    if r['nextForwardToken'] == token: break
    token = r['nextForwardToken']
back = c.get_log_events(logGroupName='${GROUP}', logStreamName='${big.stream}', nextToken=r['nextBackwardToken'], limit=2)
print(json.dumps({'pages': pages, 'msgs': msgs, 'back': [e['message'] for e in back['events']]}))
`,
      srv.env,
    );
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.pages, [10_000, 10_000, 5_000, 0]);
    assert.deepEqual(out.msgs, lines(BIG));
    assert.deepEqual(out.back, [`line ${BIG - 1}`, `line ${BIG}`]);
  });

  void it('stops a page at 1 MB (message bytes + 26 per event)', () => {
    const r = aws(AWS_V1, srv.url, srv.env, [
      'logs',
      'get-log-events',
      '--log-group-name',
      GROUP,
      '--log-stream-name',
      wide.stream,
      '--start-from-head',
    ]);
    const bytes = r.events.reduce((n: number, e: any) => n + Buffer.byteLength(e.message) + 26, 0);
    assert.ok(bytes <= 1024 * 1024, `${bytes} bytes`);
    assert.equal(r.events.length, Math.floor((1024 * 1024) / (1000 + 26)));
  });

  void it('startTime is inclusive and endTime exclusive', () => {
    const all = aws(AWS_V1, srv.url, srv.env, [
      'logs',
      'get-log-events',
      '--log-group-name',
      GROUP,
      '--log-stream-name',
      small.stream,
      '--start-from-head',
    ]);
    const t = all.events[0].timestamp as number;
    const at = (args: string[]) =>
      aws(AWS_V1, srv.url, srv.env, [
        'logs',
        'get-log-events',
        '--log-group-name',
        GROUP,
        '--log-stream-name',
        small.stream,
        '--start-from-head',
        ...args,
      ]).events.length;
    assert.equal(at(['--start-time', String(t)]), all.events.length);
    assert.equal(at(['--end-time', String(t)]), 0);
    assert.equal(at(['--end-time', String(t + 1)]), all.events.filter((e: any) => e.timestamp === t).length);
  });

  void it('names unknown groups and streams as the model does', () => {
    const r = run(
      AWS_V1,
      [
        'logs',
        'get-log-events',
        '--log-group-name',
        GROUP,
        '--log-stream-name',
        'logsdef/default/nope',
        '--endpoint-url',
        srv.url,
      ],
      srv.env,
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /ResourceNotFoundException/);
    const g = run(
      AWS_V1,
      ['logs', 'describe-log-streams', '--log-group-name', '/aws/other', '--endpoint-url', srv.url],
      srv.env,
    );
    assert.match(g.stderr, /ResourceNotFoundException/);
    const t = run(
      AWS_V1,
      [
        'logs',
        'get-log-events',
        '--log-group-name',
        GROUP,
        '--log-stream-name',
        small.stream,
        '--next-token',
        'garbage',
        '--endpoint-url',
        srv.url,
      ],
      srv.env,
    );
    assert.match(t.stderr, /InvalidParameterException/);
  });

  void it('describe-log-streams and describe-log-groups list the job streams', () => {
    const r = aws(AWS_V2, srv.url, srv.env, [
      'logs',
      'describe-log-streams',
      '--log-group-name',
      GROUP,
      '--log-stream-name-prefix',
      'logsdef/',
    ]);
    const names = r.logStreams.map((s: any) => s.logStreamName);
    for (const s of [big.stream, small.stream, wide.stream]) assert.ok(names.includes(s), s);
    assert.deepEqual(names, [...names].sort());
    const bigInfo = r.logStreams.find((s: any) => s.logStreamName === big.stream);
    assert.ok(bigInfo.lastEventTimestamp >= bigInfo.firstEventTimestamp);
    const paged = aws(AWS_V1, srv.url, srv.env, [
      'logs',
      'describe-log-streams',
      '--log-group-name',
      GROUP,
      '--page-size',
      '1',
      '--order-by',
      'LastEventTime',
      '--descending',
    ]);
    assert.equal(paged.logStreams.length, names.length);
    const g = aws(AWS_V1, srv.url, srv.env, ['logs', 'describe-log-groups']);
    assert.deepEqual(
      g.logGroups.map((x: any) => x.logGroupName),
      [GROUP],
    );
  });

  void it('filter-log-events matches plain terms across streams', () => {
    const r = aws(AWS_V1, srv.url, srv.env, [
      'logs',
      'filter-log-events',
      '--log-group-name',
      GROUP,
      '--filter-pattern',
      '"line 2499"',
    ]);
    assert.deepEqual(
      r.events.map((e: any) => e.message),
      ['line 2499', ...Array.from({ length: 10 }, (_, i) => `line 2499${i}`)],
    );
    const h = aws(AWS_V1, srv.url, srv.env, [
      'logs',
      'filter-log-events',
      '--log-group-name',
      GROUP,
      '--log-stream-names',
      small.stream,
      '--filter-pattern',
      '?hello ?newline -wörld',
    ]);
    assert.deepEqual(
      h.events.map((e: any) => e.message),
      ['hello', 'no newline at end'],
    );
    assert.equal(h.events[0].logStreamName, small.stream);
  });

  void it('aws logs tail (CLI v2) prints the stream', () => {
    const r = run(
      AWS_V2,
      [
        'logs',
        'tail',
        GROUP,
        '--log-stream-names',
        small.stream,
        '--since',
        '1h',
        '--format',
        'short',
        '--endpoint-url',
        srv.url,
      ],
      srv.env,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => l.replace(/^\S+ /, '')),
      ['hello', 'héllo wörld', 'no newline at end'],
    );
    const all = run(AWS_V2, ['logs', 'tail', GROUP, '--endpoint-url', srv.url], srv.env);
    assert.equal(all.status, 0, all.stderr);
    assert.equal(all.stdout.trim().split('\n').length, BIG + 3 + 2000);
  });
});

void describe('openbatch logs', () => {
  void it('prints a finished job whole, in order, across pages', () => {
    const r = openbatch(['logs', big.id]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, lines(BIG).join('\n') + '\n');
    const s = openbatch(['logs', small.stream, '--timestamps']);
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stdout.split('\n')[0]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} hello$/);
    const future = openbatch(['logs', small.id, '--since', new Date(Date.now() + 3_600_000).toISOString()]);
    assert.equal(future.stdout, '');
    const past = openbatch(['logs', small.id, '--since', '1h', '--attempt', '1']);
    assert.equal(past.stdout, 'hello\nhéllo wörld\nno newline at end\n');
    const bad = openbatch(['logs', small.id, '--attempt', '2']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /has 1 attempt: --attempt must be 1\.\.1/);
  });

  void it('| head -1 exits 0 without error output', () => {
    const r = spawnSync('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${BIN}" logs ${big.id} | head -1`], {
      env: srv.env,
      encoding: 'utf8',
    });
    assert.equal(r.stdout, 'line 1\n');
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
  });

  void it('--follow streams a running job live and exits with its status', async () => {
    // The job cannot end before the test has seen its first line through --follow: it waits for a file the test
    // writes only then. A follower that printed nothing until the end would never let it finish.
    const gate = join(mkdtempSync(join(tmpdir(), 'openbatch-follow-')), 'seen-first-line');
    const id = submit('ticker', [
      'sh',
      '-c',
      `echo tick 1; while [ ! -e ${gate} ]; do sleep 0.1; done; for i in 2 3 4 5 6; do echo tick $i; done`,
    ]);
    const child = spawn(process.execPath, [BIN, 'logs', '--follow', id], { env: srv.env });
    const seen: string[] = [];
    let buf = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        seen.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (seen.length === 1) writeFileSync(gate, '');
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    assert.equal(code, 0, err);
    assert.deepEqual(seen, lines(6, 'tick '));
  });

  void it('says RUNNABLE: <reason> for a job that has not started', () => {
    const id = submit('waiting', ['echo', 'never'], 'logs-waiting');
    const r = openbatch(['logs', id]);
    assert.equal(r.status, 3);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^(SUBMITTED|PENDING|RUNNABLE): /);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    ok = true;
  });
});
