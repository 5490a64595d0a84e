/**
 * jobStateTimeLimitActions with an injected clock: the service runs for real (SQLite store, process runtime) but
 * time is ours, since AWS's minimum maxTimeSeconds is 600.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { admin, startLocalService, type LocalService } from '../helpers/local-service.js';

let now = 1_800_000_000_000;
let svc: LocalService;

before(async () => {
  svc = await startLocalService({
    clock: () => now,
    command: ['sleep', '60'],
    queue: {
      jobStateTimeLimitActions: [
        {
          reason: 'MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT',
          state: 'RUNNABLE',
          maxTimeSeconds: 600,
          action: 'CANCEL',
        },
      ],
    },
  });
});
after(async () => {
  await svc.close();
});

const submit = (name: string, vcpus: number, extra: Record<string, unknown> = {}) =>
  svc.jobs.submit(
    admin,
    { jobName: name, jobQueue: 'q', jobDefinition: 'd', containerOverrides: { vcpus }, ...extra },
    100,
  );
const describe = async (id: string) => (await svc.jobs.describe(admin, { jobs: [id] })).jobs[0] as Record<string, any>;
const settle = () => new Promise((r) => setTimeout(r, 50));

test('a job that can never fit is cancelled after maxTimeSeconds; a capacity-blocked one is not', async () => {
  const big = await submit('too-big', 8);
  const arr = await submit('too-big-array', 8, { arrayProperties: { size: 3 } });
  const fill1 = await submit('fill-1', 1);
  const fill2 = await submit('fill-2', 1);
  const waiting = await submit('waits-for-capacity', 1);
  // Both fillers reach RUNNING (STARTING is committed first, so give a loaded machine time).
  for (let i = 0; i < 200; i++) {
    if ((await describe(fill1.jobId)).status === 'RUNNING' && (await describe(fill2.jobId)).status === 'RUNNING') break;
    await settle();
  }
  assert.equal((await describe(fill1.jobId)).status, 'RUNNING');
  assert.equal((await describe(fill2.jobId)).status, 'RUNNING');
  // Reasons are read from the state the engine publishes (every 100 ms): on a fast machine the first ones may
  // predate the compute environment.
  let w = await describe(waiting.jobId);
  for (let i = 0; i < 100 && !/^CAPACITY:/.test(w.statusReason ?? ''); i++) {
    await settle();
    w = await describe(waiting.jobId);
  }
  assert.equal(w.status, 'RUNNABLE');
  assert.match(w.statusReason, /^CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - 2 of 2 vCPUs/);
  const b = await describe(big.jobId);
  assert.match(
    b.statusReason,
    /^MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - needs 8 vCPUs; the largest compute environment of queue q \(ce\) allows 2/,
  );

  now += 599_000;
  assert.equal(svc.jobs.applyTimeLimits(), 0, 'nothing is cancelled before maxTimeSeconds');
  now += 2_000;
  assert.equal(svc.jobs.applyTimeLimits(), 4, 'the big job and the 3 array children');
  await settle();
  const after = await describe(big.jobId);
  assert.equal(after.status, 'FAILED');
  assert.equal(after.isCancelled, true);
  assert.equal(
    after.statusReason,
    'Canceled by JobStateTimeLimit action due to reason: MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT',
    "AWS's words for a job its queue's jobStateTimeLimitActions cancelled",
  );
  const parent = await describe(arr.jobId);
  assert.equal(parent.status, 'FAILED');
  assert.equal(parent.arrayProperties.statusSummary.FAILED, 3);
  assert.equal((await describe(waiting.jobId)).status, 'RUNNABLE', 'CAPACITY is not the action reason');
  await svc.jobs.terminate(admin, { jobId: fill1.jobId, reason: 'done' });
  await svc.jobs.terminate(admin, { jobId: fill2.jobId, reason: 'done' });
  await svc.jobs.cancel(admin, { jobId: waiting.jobId, reason: 'done' });
});
