/**
 * Fair-share scheduling on a real server (host processes): the running split follows the shares' weightFactors,
 * schedulingPriority orders jobs inside a share, the compute reservation keeps capacity for a share that is not active
 * yet (a share whose jobs only wait for dependencies is not active), held-back jobs say why (DescribeJobs statusReason), and GetJobQueueSnapshot (boto3) shows the run order and
 * the capacity per share, and the first-in-first-out order of a queue without a policy. Counts, not times.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as B from '@aws-sdk/client-batch';
import { python, waitFor } from '../helpers/clients.js';
import { sdkClient } from '../helpers/signed.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let sdk: B.BatchClient;

function boto(code: string): any {
  const r = python(
    `import boto3, json, os\nbatch = boto3.client('batch', endpoint_url=os.environ['AWS_ENDPOINT_URL'])\n${code}`,
    srv.env,
  );
  if (r.status !== 0) throw new Error(`python failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout);
}

async function submit(name: string, queue: string, share?: string, priority?: number): Promise<string> {
  const out = await sdk.send(
    new B.SubmitJobCommand({
      jobName: name,
      jobQueue: queue,
      jobDefinition: 'sleep',
      ...(share !== undefined ? { shareIdentifier: share } : {}),
      ...(priority !== undefined ? { schedulingPriorityOverride: priority } : {}),
    }),
  );
  return out.jobId!;
}

async function describeAll(ids: string[]): Promise<B.JobDetail[]> {
  const out: B.JobDetail[] = [];
  for (let i = 0; i < ids.length; i += 100)
    out.push(...(await sdk.send(new B.DescribeJobsCommand({ jobs: ids.slice(i, i + 100) }))).jobs!);
  return out;
}

const busy = (j: B.JobDetail) => j.status === 'RUNNING' || j.status === 'STARTING';

async function policy(name: string, computeReservation: number, shares: B.ShareAttributes[]): Promise<string> {
  return (
    await sdk.send(
      new B.CreateSchedulingPolicyCommand({
        name,
        fairsharePolicy: { shareDecaySeconds: 600, computeReservation, shareDistribution: shares },
      }),
    )
  ).arn!;
}

async function queue(name: string, maxvCpus: number, state: 'ENABLED' | 'DISABLED', policyArn?: string) {
  await sdk.send(
    new B.CreateComputeEnvironmentCommand({
      computeEnvironmentName: name,
      type: 'MANAGED',
      state,
      computeResources: { type: 'EC2', maxvCpus },
    }),
  );
  await sdk.send(
    new B.CreateJobQueueCommand({
      jobQueueName: name,
      priority: 1,
      computeEnvironmentOrder: [{ order: 1, computeEnvironment: name }],
      ...(policyArn ? { schedulingPolicyArn: policyArn } : {}),
    }),
  );
}

void describe('fair-share scheduling on a real server', () => {
  const all: string[] = [];
  before(async () => {
    srv = await startTestServer({ args: ['--runtime', 'process', '--vcpus', '24'] });
    sdk = sdkClient(srv);
    await sdk.send(
      new B.RegisterJobDefinitionCommand({
        jobDefinitionName: 'sleep',
        type: 'container',
        containerProperties: { image: 'busybox', vcpus: 1, memory: 16, command: ['sleep', '120'] },
      }),
    );
  });
  after(async () => {
    // Stop the sleepers before the server goes.
    for (const id of all) await sdk.send(new B.TerminateJobCommand({ jobId: id, reason: 'test over' })).catch(() => {});
    await srv?.stop();
  });

  void it('runs shares by weight (0.25 gets 4 times what 1 gets), by schedulingPriority inside a share; a held-back job says why; GetJobQueueSnapshot shows it', async () => {
    const arn = await policy('weights', 0, [
      { shareIdentifier: 'labA', weightFactor: 1 },
      { shareIdentifier: 'labB', weightFactor: 0.25 },
    ]);
    // The environment starts DISABLED, so that every job is RUNNABLE before the first is placed.
    await queue('fair', 10, 'DISABLED', arn);
    const a: string[] = [];
    const b: string[] = [];
    for (let i = 0; i < 10; i++) a.push(await submit(`a${i}`, 'fair', 'labA'));
    const urgent = [await submit('a-urgent1', 'fair', 'labA', 9), await submit('a-urgent2', 'fair', 'labA', 9)];
    for (let i = 0; i < 12; i++) b.push(await submit(`b${i}`, 'fair', 'labB'));
    all.push(...a, ...urgent, ...b);
    await sdk.send(new B.UpdateComputeEnvironmentCommand({ computeEnvironment: 'fair', state: 'ENABLED' }));
    const jobs = await waitFor(
      'the fair queue to fill its 10 vCPUs',
      () => describeAll([...a, ...urgent, ...b]),
      (js) => js.filter(busy).length >= 10,
    );
    const runA = jobs.filter((j) => busy(j) && j.shareIdentifier === 'labA');
    const runB = jobs.filter((j) => busy(j) && j.shareIdentifier === 'labB');
    // Due: labA 1/(1+4) of 10 = 2, labB 8.
    assert.equal(runA.length + runB.length, 10);
    assert.ok(runB.length >= 3 * runA.length && runA.length >= 1, `split A=${runA.length} B=${runB.length}`);
    assert.equal(runA.length, 2, `labA runs its due 2 of 10 vCPUs (A=${runA.length} B=${runB.length})`);
    // Inside labA the two jobs with schedulingPriority 9 (submitted last) ran first.
    assert.deepEqual(runA.map((j) => j.jobId).sort(), [...urgent].sort());

    // A third share arrives: now labA (2 running, due 10/6) and labB (8, due 6.67) are over their due.
    const c = await submit('c0', 'fair', 'labC');
    all.push(c);
    const held = await waitFor(
      'a labA job to say fair share holds it',
      async () => (await describeAll([a[0]!]))[0]!,
      (j) => /FAIRSHARE:SHARE_OVER_DUE/.test(j.statusReason ?? ''),
    );
    assert.equal(held.status, 'RUNNABLE');
    assert.match(held.statusReason!, /share labA is over its due: it runs 2 vCPUs/);
    assert.match(held.statusReason!, /labC \(0 of 1\.67 due\)/);

    // GetJobQueueSnapshot through boto3: the run order and the capacity per share, as the leader published it.
    const snap = boto(`print(json.dumps(batch.get_job_queue_snapshot(jobQueue='fair'), default=str))`);
    const front = (snap.frontOfQueue.jobs as { jobArn: string; earliestTimeAtPosition: number }[]).map((j) =>
      j.jobArn.split('/').pop()!,
    );
    // labC has used nothing: its job is first; the rest are the RUNNABLE jobs of labA and labB.
    assert.equal(front[0], c);
    assert.equal(front.length, 1 + 10 + 4);
    assert.ok(snap.frontOfQueue.jobs.every((j: any) => j.earliestTimeAtPosition > 0));
    const util = snap.queueUtilization;
    assert.deepEqual(util.totalCapacityUsage, [{ capacityUnit: 'VCPU', quantity: 10 }]);
    assert.equal(util.fairshareUtilization.activeShareCount, 3);
    assert.deepEqual(
      util.fairshareUtilization.topCapacityUtilization.map((s: any) => [
        s.shareIdentifier,
        s.capacityUsage[0].quantity,
      ]),
      [
        ['labB', runB.length],
        ['labA', runA.length],
      ],
    );
  });

  void it('computeReservation keeps capacity for a share that is not active: its first job starts at once', async () => {
    const arn = await policy('reserve', 50, []);
    await queue('resv', 10, 'ENABLED', arn);
    const x: string[] = [];
    for (let i = 0; i < 6; i++) x.push(await submit(`x${i}`, 'resv', 'labX'));
    all.push(...x);
    // One active share: 50% of 10 vCPUs stays free.
    let jobs = await waitFor(
      'labX to run 5',
      () => describeAll(x),
      (js) => js.filter(busy).length >= 5,
    );
    const y: string[] = [];
    for (let i = 0; i < 6; i++) y.push(await submit(`y${i}`, 'resv', 'labY'));
    all.push(...y);
    // Two active shares: 25% (2.5 vCPUs) stays free, so 7 run.
    jobs = await waitFor(
      'labY to start',
      () => describeAll([...x, ...y]),
      (js) => js.filter(busy).length >= 7,
    );
    const waiting = jobs.find((j) => j.status === 'RUNNABLE')!;
    const reason = await waitFor(
      'a waiting job to name the reservation',
      async () => (await describeAll([waiting.jobId!]))[0]!.statusReason ?? '',
      // The leader publishes its state at most every 100 ms: wait for the one with both shares active.
      (r) => /FAIRSHARE:COMPUTE_RESERVATION .* keeps 2\.5 of its 10 vCPUs/.test(r),
    );
    assert.match(reason, /runs 7 vCPUs and keeps 2\.5 of its 10 vCPUs for share identifiers that are not active/);
    assert.equal((await describeAll([...x, ...y])).filter(busy).length, 7, 'the reserved capacity stays free');
    // A third share arrives: 12.5% stays free (limit 8.75), so its job starts at once.
    const z = await submit('z0', 'resv', 'labZ');
    all.push(z);
    await waitFor('labZ starts', async () => (await describeAll([z]))[0]!, busy, 20_000);
    assert.equal((await describeAll([...x, ...y])).filter(busy).length, 7);
  });

  void it('a share whose jobs only wait for dependencies (PENDING) is not active: the reservation stays as for one share', async () => {
    const arn = await policy('pending', 50, []);
    await queue('pend', 10, 'ENABLED', arn);
    await queue('blocker', 4, 'DISABLED');
    const blocker = await submit('blocker', 'blocker');
    const waiter = (
      await sdk.send(
        new B.SubmitJobCommand({
          jobName: 'p0',
          jobQueue: 'pend',
          jobDefinition: 'sleep',
          shareIdentifier: 'labP',
          dependsOn: [{ jobId: blocker }],
        }),
      )
    ).jobId!;
    const x: string[] = [];
    for (let i = 0; i < 6; i++) x.push(await submit(`x${i}`, 'pend', 'labX'));
    all.push(blocker, waiter, ...x);
    assert.equal((await describeAll([waiter]))[0]!.status, 'PENDING');
    // One active share (labX): 50% of 10 vCPUs stays free. Were labP active, 25% would, and 7 would run.
    await waitFor(
      'labX to run 5',
      () => describeAll(x),
      (js) => js.filter(busy).length >= 5,
    );
    const waiting = (await describeAll(x)).find((j) => j.status === 'RUNNABLE')!;
    const reason = await waitFor(
      'a waiting labX job to name the reservation',
      async () => (await describeAll([waiting.jobId!]))[0]!.statusReason ?? '',
      (r) => /FAIRSHARE:COMPUTE_RESERVATION/.test(r),
    );
    assert.match(reason, /runs 5 vCPUs and keeps 5 of its 10 vCPUs for share identifiers that are not active/);
    const snap = await sdk.send(new B.GetJobQueueSnapshotCommand({ jobQueue: 'pend' }));
    assert.equal(snap.queueUtilization?.fairshareUtilization?.activeShareCount, 1);
    assert.equal((await describeAll(x)).filter(busy).length, 5);
    assert.equal((await describeAll([waiter]))[0]!.status, 'PENDING');
    // Give the host's vCPUs back for the tests that follow.
    for (const id of [...x, waiter, blocker])
      await sdk.send(new B.TerminateJobCommand({ jobId: id, reason: 'test over' }));
    await waitFor(
      'the labX jobs to end',
      () => describeAll(x),
      (js) => !js.some(busy),
    );
  });

  void it("array children run under their parent's share", async () => {
    const arn = await policy('arrays', 0, [
      { shareIdentifier: 'labA', weightFactor: 1 },
      { shareIdentifier: 'labB', weightFactor: 0.25 },
    ]);
    await queue('arr', 5, 'DISABLED', arn);
    const a: string[] = [];
    for (let i = 0; i < 4; i++) a.push(await submit(`a${i}`, 'arr', 'labA'));
    const parent = (
      await sdk.send(
        new B.SubmitJobCommand({
          jobName: 'b-array',
          jobQueue: 'arr',
          jobDefinition: 'sleep',
          shareIdentifier: 'labB',
          arrayProperties: { size: 8 },
        }),
      )
    ).jobId!;
    const children = Array.from({ length: 8 }, (_, i) => `${parent}:${i}`);
    all.push(...a, parent);
    await sdk.send(new B.UpdateComputeEnvironmentCommand({ computeEnvironment: 'arr', state: 'ENABLED' }));
    const jobs = await waitFor(
      'the arr queue to fill its 5 vCPUs',
      () => describeAll([...a, ...children]),
      (js) => js.filter(busy).length >= 5,
    );
    const runA = jobs.filter((j) => busy(j) && a.includes(j.jobId!)).length;
    const runB = jobs.filter((j) => busy(j) && children.includes(j.jobId!)).length;
    // Due: labA 1/(1+4) of 5 = 1, labB (the array's children) 4.
    assert.deepEqual({ runA, runB }, { runA: 1, runB: 4 });
    assert.ok(jobs.filter((j) => children.includes(j.jobId!)).every((j) => j.shareIdentifier === 'labB'));
  });

  void it('GetJobQueueSnapshot on a FIFO queue lists RUNNABLE jobs in submission order; an unknown queue is a 400', async () => {
    await queue('fifo', 4, 'DISABLED');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await submit(`f${i}`, 'fifo'));
    all.push(...ids);
    const snap = await waitFor(
      'the FIFO front to be published',
      () => sdk.send(new B.GetJobQueueSnapshotCommand({ jobQueue: 'fifo' })),
      (s) => (s.frontOfQueue?.jobs?.length ?? 0) === 3,
    );
    assert.deepEqual(
      snap.frontOfQueue!.jobs!.map((j) => j.jobArn!.split('/').pop()),
      ids,
    );
    assert.equal(snap.queueUtilization?.fairshareUtilization, undefined);
    const r = boto(`
try:
    batch.get_job_queue_snapshot(jobQueue='nope')
    print(json.dumps(None))
except batch.exceptions.ClientException as e:
    print(json.dumps(e.response['Error']['Message']))
`);
    assert.match(r, /jobQueue "nope" does not exist/);
  });
});
