/**
 * The job lifecycle through real clients: SubmitJob with overrides and parameters, the AWS_BATCH_* environment the
 * process sees, DescribeJobs, ListJobs with every filter and pagination, CancelJob and TerminateJob semantics.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as B from '@aws-sdk/client-batch';
import { AWS_V1, aws, python, requireBinary, waitFor } from '../helpers/clients.js';
import { sdkClient } from '../helpers/signed.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

void describe('jobs', () => {
  let server: TestServer;
  let sdk: B.BatchClient;
  let outDir: string;

  const describeJob = async (id: string) => (await sdk.send(new B.DescribeJobsCommand({ jobs: [id] }))).jobs![0]!;
  const until = (id: string, statuses: string[]) =>
    waitFor(
      `job ${id} in ${statuses.join('/')}`,
      () => describeJob(id),
      (j) => statuses.includes(j.status!),
      30_000,
    );

  before(async () => {
    requireBinary(AWS_V1, 'install aws CLI v1: pip install awscli');
    server = await startTestServer({ args: ['--runtime', 'process', '--vcpus', '4'] });
    sdk = sdkClient(server);
    outDir = mkdtempSync(join(tmpdir(), 'openbatch-jobs-out-'));
    await sdk.send(
      new B.CreateComputeEnvironmentCommand({
        computeEnvironmentName: 'ce',
        type: 'MANAGED',
        computeResources: { type: 'EC2', maxvCpus: 4 },
      }),
    );
    await sdk.send(
      new B.CreateJobQueueCommand({
        jobQueueName: 'q',
        priority: 1,
        computeEnvironmentOrder: [{ order: 1, computeEnvironment: 'ce' }],
      }),
    );
    // A CE that runs nothing, so jobs stay RUNNABLE for the filter and cancel tests.
    await sdk.send(
      new B.CreateComputeEnvironmentCommand({
        computeEnvironmentName: 'off',
        type: 'MANAGED',
        state: 'DISABLED',
        computeResources: { type: 'EC2', maxvCpus: 4 },
      }),
    );
    await sdk.send(
      new B.CreateJobQueueCommand({
        jobQueueName: 'held',
        priority: 1,
        computeEnvironmentOrder: [{ order: 1, computeEnvironment: 'off' }],
      }),
    );
    await sdk.send(
      new B.RegisterJobDefinitionCommand({
        jobDefinitionName: 'envdump',
        type: 'container',
        parameters: { greeting: 'hello', target: 'default' },
        containerProperties: {
          image: 'busybox',
          vcpus: 1,
          memory: 64,
          command: [
            'sh',
            '-c',
            'env > "$OUT_DIR/$AWS_BATCH_JOB_ID.env"; echo Ref::greeting Ref::target > "$OUT_DIR/$AWS_BATCH_JOB_ID.args"',
            'Ref::greeting',
          ],
          environment: [{ name: 'FROM_DEF', value: 'def' }],
        },
      }),
    );
    await sdk.send(
      new B.RegisterJobDefinitionCommand({
        jobDefinitionName: 'sleeper',
        type: 'container',
        containerProperties: { image: 'busybox', vcpus: 1, memory: 32, command: ['sleep', '30'] },
      }),
    );
  });
  after(async () => {
    await server?.stop();
    rmSync(outDir, { recursive: true, force: true });
  });

  void it('SubmitJob: overrides, Ref:: parameters and the AWS_BATCH_* variables reach the process', async () => {
    const { jobId } = await sdk.send(
      new B.SubmitJobCommand({
        jobName: 'env-job',
        jobQueue: 'q',
        jobDefinition: 'envdump',
        parameters: { target: 'world' },
        containerOverrides: {
          environment: [
            { name: 'OUT_DIR', value: outDir },
            { name: 'FROM_JOB', value: 'job' },
          ],
          resourceRequirements: [
            { type: 'VCPU', value: '2' },
            { type: 'MEMORY', value: '256' },
          ],
        },
      }),
    );
    const done = await until(jobId!, ['SUCCEEDED', 'FAILED']);
    assert.equal(done.status, 'SUCCEEDED', done.statusReason);
    const env = Object.fromEntries(
      readFileSync(join(outDir, `${jobId}.env`), 'utf8')
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    assert.equal(env.AWS_BATCH_JOB_ID, jobId);
    assert.equal(env.AWS_BATCH_JOB_ATTEMPT, '1');
    assert.equal(env.AWS_BATCH_JQ_NAME, 'q');
    assert.equal(env.AWS_BATCH_CE_NAME, 'ce');
    assert.equal(env.FROM_DEF, 'def');
    assert.equal(env.FROM_JOB, 'job');
    assert.equal(readFileSync(join(outDir, `${jobId}.args`), 'utf8').trim(), 'hello world');
    assert.deepEqual(done.parameters, { greeting: 'hello', target: 'world' });
    assert.equal(done.container!.command![3], 'hello');
    assert.equal(done.attempts!.length, 1);
    assert.equal(done.attempts![0]!.container!.exitCode, 0);
    assert.ok(done.createdAt! <= done.startedAt! && done.startedAt! <= done.stoppedAt!);
    assert.deepEqual(done.container!.resourceRequirements!.map((r) => `${r.type}=${r.value}`).sort(), [
      'MEMORY=256',
      'VCPU=2',
    ]);
  });

  void it('SubmitJob: deprecated vcpus/memory overrides and command override (aws CLI v1)', async () => {
    const out = aws(AWS_V1, server.url, server.env, [
      'batch',
      'submit-job',
      '--job-name',
      'legacy',
      '--job-queue',
      'held',
      '--job-definition',
      'sleeper',
      '--container-overrides',
      JSON.stringify({ vcpus: 3, memory: 512, command: ['echo', 'x'] }),
    ]);
    const d = aws(AWS_V1, server.url, server.env, ['batch', 'describe-jobs', '--jobs', out.jobId]).jobs[0];
    const vcpu =
      d.container.vcpus ?? Number(d.container.resourceRequirements.find((r: any) => r.type === 'VCPU')?.value);
    const mem =
      d.container.memory ?? Number(d.container.resourceRequirements.find((r: any) => r.type === 'MEMORY')?.value);
    assert.equal(vcpu, 3);
    assert.equal(mem, 512);
    assert.deepEqual(d.container.command, ['echo', 'x']);
    assert.equal(d.status, 'RUNNABLE');
  });

  void it('the AWS_BATCH_ prefix is reserved', async () => {
    const before = (
      await sdk.send(new B.ListJobsCommand({ jobQueue: 'q', filters: [{ name: 'JOB_NAME', values: ['reserved'] }] }))
    ).jobSummaryList!.length;
    await assert.rejects(
      sdk.send(
        new B.SubmitJobCommand({
          jobName: 'reserved',
          jobQueue: 'q',
          jobDefinition: 'sleeper',
          containerOverrides: { environment: [{ name: 'AWS_BATCH_JOB_ID', value: 'x' }] },
        }),
      ),
      (e: Error) => e.name === 'ClientException' && /AWS_BATCH_/.test(e.message),
    );
    const after = (
      await sdk.send(new B.ListJobsCommand({ jobQueue: 'q', filters: [{ name: 'JOB_NAME', values: ['reserved'] }] }))
    ).jobSummaryList!.length;
    assert.equal(after, before);
  });

  void it('ListJobs: default status RUNNING, filters, newest first, pagination without repeats', async () => {
    const t0 = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const { jobId } = await sdk.send(
        new B.SubmitJobCommand({
          jobName: `list-${i % 2 ? 'odd' : 'even'}-${i}`,
          jobQueue: 'held',
          jobDefinition: i < 3 ? 'sleeper' : 'envdump',
        }),
      );
      ids.push(jobId!);
      await new Promise((r) => setTimeout(r, 3));
    }
    const t1 = Date.now();
    // No status and no filter: RUNNING only (none here).
    assert.equal((await sdk.send(new B.ListJobsCommand({ jobQueue: 'held' }))).jobSummaryList!.length, 0);
    const runnable = (await sdk.send(new B.ListJobsCommand({ jobQueue: 'held', jobStatus: 'RUNNABLE' })))
      .jobSummaryList!;
    const ours = runnable.filter((j) => ids.includes(j.jobId!)).map((j) => j.jobId);
    assert.deepEqual(ours, [...ids].reverse(), 'newest first');
    assert.match(runnable[0]!.statusReason!, /MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE/);

    const list = async (filters: B.KeyValuesPair[]) =>
      (await sdk.send(new B.ListJobsCommand({ jobQueue: 'held', filters }))).jobSummaryList!.map((j) => j.jobName);
    assert.deepEqual(await list([{ name: 'JOB_NAME', values: ['list-odd-3'] }]), ['list-odd-3']);
    assert.deepEqual(await list([{ name: 'JOB_NAME', values: ['LIST-ODD*'] }]), [
      'list-odd-5',
      'list-odd-3',
      'list-odd-1',
    ]);
    assert.deepEqual(
      (await list([{ name: 'JOB_DEFINITION', values: ['sleeper'] }])).filter((n) => n!.startsWith('list-')),
      ['list-even-2', 'list-odd-1', 'list-even-0'],
    );
    assert.deepEqual(
      (await list([{ name: 'JOB_DEFINITION', values: ['env*'] }])).filter((n) => n!.startsWith('list-')).length,
      4,
    );
    assert.deepEqual(
      (await list([{ name: 'JOB_DEFINITION', values: ['sleeper:1'] }])).filter((n) => n!.startsWith('list-')).length,
      3,
    );
    const afterT0 = await list([{ name: 'AFTER_CREATED_AT', values: [String(t0 - 1)] }]);
    assert.equal(afterT0.length, 7);
    assert.equal(
      (await list([{ name: 'BEFORE_CREATED_AT', values: [String(t0 - 1)] }])).filter((n) => n!.startsWith('list-'))
        .length,
      0,
    );
    assert.equal((await list([{ name: 'AFTER_CREATED_AT', values: [String(t1 + 1000)] }])).length, 0);

    // Pagination: every job exactly once, tokens never repeat.
    const seen: string[] = [];
    const tokens = new Set<string>();
    let nextToken: string | undefined;
    do {
      const page = await sdk.send(
        new B.ListJobsCommand({
          jobQueue: 'held',
          jobStatus: 'RUNNABLE',
          maxResults: 2,
          ...(nextToken ? { nextToken } : {}),
        }),
      );
      seen.push(...page.jobSummaryList!.map((j) => j.jobId!));
      nextToken = page.nextToken;
      if (nextToken) {
        assert.ok(!tokens.has(nextToken));
        tokens.add(nextToken);
      }
    } while (nextToken);
    assert.equal(new Set(seen).size, seen.length);
    for (const id of ids) assert.ok(seen.includes(id));

    // boto3's paginator walks the same pages.
    const r = python(
      `import boto3\nb = boto3.client('batch')\nn = 0\nfor p in b.get_paginator('list_jobs').paginate(jobQueue='held', jobStatus='RUNNABLE', PaginationConfig={'PageSize': 3}):\n    n += len(p['jobSummaryList'])\nprint(n)`,
      server.env,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(Number(r.stdout.trim()), seen.length);
  });

  void it('DescribeJobs takes up to 100 ids and omits unknown ones', async () => {
    const { jobId } = await sdk.send(
      new B.SubmitJobCommand({ jobName: 'd1', jobQueue: 'held', jobDefinition: 'sleeper' }),
    );
    const ids = [
      jobId!,
      ...Array.from({ length: 99 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`),
    ];
    const d = await sdk.send(new B.DescribeJobsCommand({ jobs: ids }));
    assert.deepEqual(
      d.jobs!.map((j) => j.jobId),
      [jobId],
    );
    await assert.rejects(sdk.send(new B.DescribeJobsCommand({ jobs: [...ids, 'one-more'] })), /100/);
  });

  void it('CancelJob: RUNNABLE -> FAILED with isCancelled; a RUNNING job is left alone', async () => {
    const { jobId: queued } = await sdk.send(
      new B.SubmitJobCommand({ jobName: 'c1', jobQueue: 'held', jobDefinition: 'sleeper' }),
    );
    await until(queued!, ['RUNNABLE']);
    await sdk.send(new B.CancelJobCommand({ jobId: queued!, reason: 'not needed' }));
    const c = await describeJob(queued!);
    assert.equal(c.status, 'FAILED');
    assert.equal(c.statusReason, 'not needed');
    assert.equal(c.isCancelled, true);

    const { jobId: running } = await sdk.send(
      new B.SubmitJobCommand({ jobName: 'c2', jobQueue: 'q', jobDefinition: 'sleeper' }),
    );
    await until(running!, ['RUNNING']);
    await sdk.send(new B.CancelJobCommand({ jobId: running!, reason: 'too late' }));
    await new Promise((r) => setTimeout(r, 300));
    const still = await describeJob(running!);
    assert.equal(still.status, 'RUNNING');
    assert.notEqual(still.isCancelled, true);

    // TerminateJob stops it: FAILED, isTerminated, the reason given.
    await sdk.send(new B.TerminateJobCommand({ jobId: running!, reason: 'stop it' }));
    const t = await until(running!, ['FAILED', 'SUCCEEDED']);
    assert.equal(t.status, 'FAILED');
    assert.equal(t.isTerminated, true);
    assert.equal(t.statusReason, 'stop it');
    assert.equal(t.attempts!.length, 1);
    assert.notEqual(t.attempts![0]!.container!.exitCode, 0);

    // TerminateJob on a RUNNABLE job fails it like a cancel.
    const { jobId: q2 } = await sdk.send(
      new B.SubmitJobCommand({ jobName: 'c3', jobQueue: 'held', jobDefinition: 'sleeper' }),
    );
    await sdk.send(new B.TerminateJobCommand({ jobId: q2!, reason: 'gone' }));
    const t2 = await describeJob(q2!);
    assert.equal(t2.status, 'FAILED');
    assert.equal(t2.statusReason, 'gone');
    await assert.rejects(sdk.send(new B.CancelJobCommand({ jobId: 'no-such-job', reason: 'x' })), /does not exist/);
  });

  void it('a job whose command exits non-zero FAILS with its exit code', async () => {
    const { jobId } = await sdk.send(
      new B.SubmitJobCommand({
        jobName: 'fails',
        jobQueue: 'q',
        jobDefinition: 'sleeper',
        containerOverrides: { command: ['sh', '-c', 'exit 3'] },
      }),
    );
    const j = await until(jobId!, ['FAILED', 'SUCCEEDED']);
    assert.equal(j.status, 'FAILED');
    assert.equal(j.container!.exitCode, 3);
    assert.equal(j.statusReason, 'Essential container in task exited');
  });
});
