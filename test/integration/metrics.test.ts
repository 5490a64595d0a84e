/**
 * /metrics scraped by a real Prometheus (Debian's prometheus package): jobs by state, transitions, submissions,
 * capacity, API errors and log ingest answer PromQL queries with the values the test caused. And the guard: an
 * address outside --metrics-allow is refused unless the request is signed by an admin.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as B from '@aws-sdk/client-batch';
import { requireBinary, waitFor } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createQueue } from '../helpers/setup.js';
import { signedFetch } from '../helpers/signed.js';

const PROMETHEUS = '/usr/bin/prometheus';
let srv: TestServer;
let sdk: B.BatchClient;
let prom: ChildProcess | undefined;
let promOut = '';
let promUrl = '';
const promDir = mkdtempSync(join(tmpdir(), 'openbatch-prometheus-'));
let ok = false;

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** A PromQL instant query through Prometheus's HTTP API: the vector's samples as {labels, value}. */
async function query(q: string): Promise<{ metric: Record<string, string>; value: number }[]> {
  const r = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await r.json()) as {
    status: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  assert.equal(body.status, 'success', JSON.stringify(body));
  return body.data.result.map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
}

const valueOf = async (q: string) => (await query(q))[0]?.value;

before(async () => {
  requireBinary(PROMETHEUS, 'apt-get install prometheus');
  srv = await startTestServer({ args: ['--vcpus', '2'] });
  sdk = new B.BatchClient({
    endpoint: srv.url,
    region: 'us-east-1',
    credentials: { accessKeyId: srv.accessKeyId, secretAccessKey: srv.secretAccessKey },
  });
  await createQueue(sdk, { queue: 'metered', maxvCpus: 2, definition: { name: 'm', command: ['echo', 'one line'] } });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++)
    ids.push(
      (await sdk.send(new B.SubmitJobCommand({ jobName: `ok-${i}`, jobQueue: 'metered', jobDefinition: 'm' }))).jobId!,
    );
  ids.push(
    (
      await sdk.send(
        new B.SubmitJobCommand({
          jobName: 'bad',
          jobQueue: 'metered',
          jobDefinition: 'm',
          containerOverrides: { command: ['sh', '-c', 'exit 1'] },
        }),
      )
    ).jobId!,
  );
  await assert.rejects(sdk.send(new B.SubmitJobCommand({ jobName: 'x', jobQueue: 'absent', jobDefinition: 'm' })));
  await waitFor(
    'the jobs to finish',
    async () => (await sdk.send(new B.DescribeJobsCommand({ jobs: ids }))).jobs!.map((j) => j.status),
    (s) => s.every((x) => x === 'SUCCEEDED' || x === 'FAILED'),
    60_000,
  );

  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  const target = new URL(srv.url).host;
  writeFileSync(
    join(promDir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: openbatch\n    static_configs:\n      - targets: ['${target}']\n`,
  );
  prom = spawn(
    PROMETHEUS,
    [
      `--config.file=${join(promDir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(promDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prom.stdout!.on('data', (d: Buffer) => (promOut += d.toString()));
  prom.stderr!.on('data', (d: Buffer) => (promOut += d.toString()));
  await waitFor(
    `Prometheus to scrape openbatch (${promOut.slice(-500)})`,
    () => valueOf('up{job="openbatch"}').catch(() => undefined),
    (v) => v === 1,
    60_000,
  );
});

after(async () => {
  if (prom && prom.exitCode === null) {
    const exited = new Promise((r) => prom!.once('exit', r));
    prom.kill('SIGTERM');
    await exited;
  }
  if (ok) rmSync(promDir, { recursive: true, force: true });
  sdk?.destroy();
  await srv?.stop({ keepData: !ok });
});

describe('Prometheus scrapes /metrics', () => {
  it('answers PromQL queries with what happened', async () => {
    assert.equal(await valueOf('openbatch_jobs{queue="metered",status="SUCCEEDED"}'), 3);
    assert.equal(await valueOf('openbatch_jobs{queue="metered",status="FAILED"}'), 1);
    assert.equal(await valueOf('openbatch_jobs_submitted_total{queue="metered"}'), 4);
    assert.equal(await valueOf('openbatch_job_transitions_total{queue="metered",status="RUNNING"}'), 4);
    assert.equal(await valueOf('sum(openbatch_job_transitions_total{status=~"SUCCEEDED|FAILED"})'), 4);
    assert.equal(await valueOf('openbatch_api_errors_total{operation="SubmitJob",code="ClientException"}'), 1);
    assert.ok((await valueOf('openbatch_api_request_duration_seconds_count{operation="SubmitJob"}'))! >= 5);
    assert.ok((await valueOf('openbatch_scheduling_pass_seconds_count'))! >= 1);
    assert.equal(await valueOf('openbatch_scheduling_starts_total'), 4);
    assert.equal(await valueOf('openbatch_compute_environment_vcpus_max{compute_environment="metered"}'), 2);
    assert.equal(await valueOf('openbatch_compute_environment_vcpus_used{compute_environment="metered"}'), 0);
    assert.equal(await valueOf('openbatch_leader'), 1);
    assert.equal(await valueOf('openbatch_pi_jobs_finished_24h{pi=""}'), 4);
    assert.equal(await valueOf('openbatch_log_events_ingested_total'), 3, 'one line from each echo');
  });
});

describe('the /metrics guard', () => {
  it('serves loopback by default; elsewhere only admins who sign', async () => {
    const open = await fetch(`${srv.url}/metrics`);
    assert.equal(open.status, 200);
    assert.match(open.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const closed = await startTestServer({ args: ['--metrics-allow', '10.0.0.0/8'] });
    try {
      const refused = await fetch(`${closed.url}/metrics`);
      assert.equal(refused.status, 403);
      const body = (await refused.json()) as { __type: string; message: string };
      assert.equal(body.__type, 'AccessDeniedException');
      assert.match(body.message, /metrics are not served to 127\.0\.0\.1: add its network to --metrics-allow/);
      const signed = await signedFetch(closed, '/metrics', '', { method: 'GET' });
      assert.equal(signed.status, 200, signed.text);
      assert.match(signed.text, /^# HELP openbatch_jobs /m);
    } finally {
      await closed.stop();
    }
    const bad = await startTestServer({ args: ['--metrics-allow', '10.0.0.0/33'] }).then(
      () => 'started',
      (err: Error) => err.message,
    );
    assert.match(bad, /--metrics-allow: "10\.0\.0\.0\/33" is not an address or CIDR block/);
    ok = true;
  });
});
