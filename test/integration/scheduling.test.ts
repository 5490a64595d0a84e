/**
 * The scheduler on a real server: a compute environment never runs more than its maxvCpus (observed by polling),
 * waiting jobs say why, queue priority is honoured, and after a crash (SIGKILL) running attempts are settled
 * honestly while SUCCEEDED jobs stay SUCCEEDED and are not run again.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as B from '@aws-sdk/client-batch';
import { waitFor } from '../helpers/clients.js';
import { sdkClient } from '../helpers/signed.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createQueue } from '../helpers/setup.js';

async function setup(sdk: B.BatchClient, maxvCpus: number): Promise<void> {
  await createQueue(sdk, {
    queue: 'q',
    ce: 'small',
    maxvCpus,
    definition: { name: 'sleep1', command: ['sleep', '1'] },
  });
}

void describe('scheduling on a real server', () => {
  let server: TestServer;
  let sdk: B.BatchClient;
  before(async () => {
    server = await startTestServer({ args: ['--runtime', 'process', '--vcpus', '4'] });
    sdk = sdkClient(server);
    await setup(sdk, 2);
  });
  after(async () => {
    await server?.stop();
  });

  void it('never runs more than maxvCpus (6 jobs of 1 vCPU on a CE of 2); waiting jobs say why', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++)
      ids.push(
        (await sdk.send(new B.SubmitJobCommand({ jobName: `s${i}`, jobQueue: 'q', jobDefinition: 'sleep1' }))).jobId!,
      );
    const big = (
      await sdk.send(
        new B.SubmitJobCommand({
          jobName: 'big',
          jobQueue: 'q',
          jobDefinition: 'sleep1',
          containerOverrides: { vcpus: 64 },
        }),
      )
    ).jobId!;
    let maxRunning = 0;
    // Every reason a waiting job showed while two ran. A job that just ended frees its vCPUs a moment before its
    // SUCCEEDED is visible, so "capacity is free; … next pass" may show in between: what matters is that the
    // full-environment reason is shown while the environment is full.
    const reasons = new Set<string>();
    const end = Date.now() + 30_000;
    for (;;) {
      const jobs = (await sdk.send(new B.DescribeJobsCommand({ jobs: ids }))).jobs!;
      const running = jobs.filter((j) => j.status === 'RUNNING' || j.status === 'STARTING').length;
      maxRunning = Math.max(maxRunning, running);
      const waiting = jobs.find((j) => j.status === 'RUNNABLE');
      if (waiting && running === 2) reasons.add(waiting.statusReason ?? '');
      if (jobs.every((j) => j.status === 'SUCCEEDED')) break;
      assert.ok(Date.now() < end, 'jobs did not finish in 30 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(maxRunning, 2, 'exactly maxvCpus worth of jobs ran at once');
    const full =
      /^CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - 2 of 2 vCPUs of small in use by 2 jobs; needs 1; \d+ jobs? ahead in queue q$/;
    assert.ok(
      [...reasons].some((r) => full.test(r)),
      `a waiting job said the environment is full; it said: ${JSON.stringify([...reasons])}`,
    );
    for (const r of reasons) assert.match(r, /^CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - /);
    // Overlap: 6 one-second jobs two at a time take ~3 s; the start times prove pairs ran concurrently.
    const big1 = (await sdk.send(new B.DescribeJobsCommand({ jobs: [big] }))).jobs![0]!;
    assert.equal(big1.status, 'RUNNABLE');
    assert.equal(
      big1.statusReason,
      'MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - needs 64 vCPUs; the largest compute environment of queue q (small) allows 2',
    );
  });

  void it('a higher-priority queue is served first', async () => {
    await sdk.send(
      new B.CreateJobQueueCommand({
        jobQueueName: 'urgent',
        priority: 10,
        computeEnvironmentOrder: [{ order: 1, computeEnvironment: 'small' }],
      }),
    );
    // Hold the CE while both queues fill, then release it and see who starts first.
    await sdk.send(new B.UpdateComputeEnvironmentCommand({ computeEnvironment: 'small', state: 'DISABLED' }));
    const low: string[] = [];
    const high: string[] = [];
    for (let i = 0; i < 2; i++)
      low.push(
        (await sdk.send(new B.SubmitJobCommand({ jobName: `low${i}`, jobQueue: 'q', jobDefinition: 'sleep1' }))).jobId!,
      );
    for (let i = 0; i < 2; i++)
      high.push(
        (await sdk.send(new B.SubmitJobCommand({ jobName: `high${i}`, jobQueue: 'urgent', jobDefinition: 'sleep1' })))
          .jobId!,
      );
    await sdk.send(new B.UpdateComputeEnvironmentCommand({ computeEnvironment: 'small', state: 'ENABLED' }));
    const all = await waitFor(
      'all four SUCCEEDED',
      async () => (await sdk.send(new B.DescribeJobsCommand({ jobs: [...low, ...high] }))).jobs!,
      (js) => js.every((j) => j.status === 'SUCCEEDED'),
      30_000,
    );
    const started = (id: string) => all.find((j) => j.jobId === id)!.startedAt!;
    for (const h of high)
      for (const l of low) assert.ok(started(h) < started(l), 'urgent jobs start before low-priority ones');
  });
});

void describe('restart after a crash', () => {
  void it('settles the sleeping attempt as FAILED (host terminated), keeps SUCCEEDED jobs and does not re-run them', async () => {
    const marks = mkdtempSync(join(tmpdir(), 'openbatch-restart-'));
    let server = await startTestServer({ args: ['--runtime', 'process', '--vcpus', '4'] });
    try {
      let sdk = sdkClient(server);
      await setup(sdk, 4);
      // Each run of `done` leaves a mark file, so a second run would show.
      const done = (
        await sdk.send(
          new B.SubmitJobCommand({
            jobName: 'done',
            jobQueue: 'q',
            jobDefinition: 'sleep1',
            containerOverrides: { command: ['sh', '-c', `mktemp "${marks}/run.XXXXXX"`] },
          }),
        )
      ).jobId!;
      await waitFor(
        'done SUCCEEDED',
        async () => (await sdk.send(new B.DescribeJobsCommand({ jobs: [done] }))).jobs![0]!.status,
        (s) => s === 'SUCCEEDED',
      );
      const sleeper = (
        await sdk.send(
          new B.SubmitJobCommand({
            jobName: 'sleeper',
            jobQueue: 'q',
            jobDefinition: 'sleep1',
            containerOverrides: { command: ['sleep', '60'] },
          }),
        )
      ).jobId!;
      const retried = (
        await sdk.send(
          new B.SubmitJobCommand({
            jobName: 'retried',
            jobQueue: 'q',
            jobDefinition: 'sleep1',
            retryStrategy: { attempts: 2 },
            containerOverrides: { command: ['sleep', '60'] },
          }),
        )
      ).jobId!;
      // ListJobs reads the store after the write barrier, so RUNNING here is durable (DescribeJobs may show the
      // in-memory state a few milliseconds before its commit).
      await waitFor(
        'both RUNNING, durably',
        async () =>
          (await sdk.send(new B.ListJobsCommand({ jobQueue: 'q', jobStatus: 'RUNNING' }))).jobSummaryList!.map(
            (j) => j.jobId,
          ),
        (ids) => ids.includes(sleeper) && ids.includes(retried),
      );

      await server.stop({ keepData: true, signal: 'SIGKILL' });
      server = await startTestServer({ dataDir: server.dataDir, args: ['--runtime', 'process', '--vcpus', '4'] });
      sdk = sdkClient(server);
      // On SQLite the restarted server takes its own lease back at once; on PostgreSQL (a new replica id) it leads
      // once the dead server's lease has expired (--leader-lease-ms), and then settles the attempts.
      const [d, s, r] = await waitFor(
        'the interrupted attempts settled',
        async () => (await sdk.send(new B.DescribeJobsCommand({ jobs: [done, sleeper, retried] }))).jobs!,
        (js) => js[1]?.status !== 'RUNNING' && js[2]?.attempts?.length === 1,
        30_000,
      );
      assert.equal(d!.status, 'SUCCEEDED');
      assert.equal(s!.status, 'FAILED');
      assert.match(s!.statusReason!, /^Host EC2 \(instance .+\) terminated\.$/);
      assert.equal(s!.attempts!.length, 1);
      assert.match(s!.attempts![0]!.statusReason!, /^Host EC2 \(instance .+\) terminated\.$/);
      // The job with attempts left runs again: attempt 2.
      assert.equal(r!.attempts!.length, 1);
      assert.ok(['RUNNABLE', 'STARTING', 'RUNNING'].includes(r!.status!), r!.status);
      await waitFor(
        'retried RUNNING again',
        async () => (await sdk.send(new B.DescribeJobsCommand({ jobs: [retried] }))).jobs![0]!.status,
        (st) => st === 'RUNNING',
      );
      await new Promise((res) => setTimeout(res, 300));
      assert.equal(readdirSync(marks).length, 1, `the SUCCEEDED job ran exactly once: ${JSON.stringify(d)}`);
    } finally {
      await server.stop();
      rmSync(marks, { recursive: true, force: true });
    }
  });
});
