/**
 * jobStateTimeLimitActions with an injected clock: the service runs for real (SQLite store, process runtime) but
 * time is ours, since AWS's minimum maxTimeSeconds is 600.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { discardLogs } from '../../src/core/ports.js';
import { ProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import type { Caller } from '../../src/core/caller.js';
import { JobService } from '../../src/service/jobs/job-service.js';
import { ResourceRegistry } from '../../src/service/resources.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

let now = 1_800_000_000_000;
const clock = () => now;
const admin: Caller = { user: 'root', pi: '', admin: true };
const dir = mkdtempSync(join(tmpdir(), 'openbatch-limits-'));
const store = new SqliteStore({ file: join(dir, 'db.sqlite'), durable: false });
const arn = { region: 'us-east-1', accountId: '123456789012' };
const registry = new ResourceRegistry(store, arn, clock);
const jobs = new JobService(store, registry, { arn, host: { vcpus: 2, memoryMiB: 1024, gpus: 0 }, clock });
jobs.runtime = new ProcessRuntime({ scratchRoot: join(dir, 'scratch'), stateDir: join(dir, 'run') }, jobs.host);
jobs.logs = discardLogs;

before(async () => {
  await jobs.start();
  await registry.createComputeEnvironment({
    computeEnvironmentName: 'ce',
    type: 'MANAGED',
    computeResources: { type: 'EC2', maxvCpus: 2 },
  });
  await registry.createJobQueue({
    jobQueueName: 'q',
    priority: 1,
    computeEnvironmentOrder: [{ order: 1, computeEnvironment: 'ce' }],
    jobStateTimeLimitActions: [
      { reason: 'MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT', state: 'RUNNABLE', maxTimeSeconds: 600, action: 'CANCEL' },
    ],
  });
  await registry.registerJobDefinition(
    {
      jobDefinitionName: 'd',
      type: 'container',
      containerProperties: { image: 'x', command: ['sleep', '60'], vcpus: 1, memory: 64 },
    },
    undefined,
  );
});
after(async () => {
  await jobs.close();
  await jobs.runtime.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const submit = (name: string, vcpus: number, extra: Record<string, unknown> = {}) =>
  jobs.submit(
    admin,
    { jobName: name, jobQueue: 'q', jobDefinition: 'd', containerOverrides: { vcpus }, ...extra },
    100,
  );
const describe = async (id: string) => (await jobs.describe(admin, { jobs: [id] })).jobs[0] as Record<string, any>;
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
  assert.equal(jobs.applyTimeLimits(), 0, 'nothing is cancelled before maxTimeSeconds');
  now += 2_000;
  assert.equal(jobs.applyTimeLimits(), 4, 'the big job and the 3 array children');
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
  await jobs.terminate(admin, { jobId: fill1.jobId, reason: 'done' });
  await jobs.terminate(admin, { jobId: fill2.jobId, reason: 'done' });
  await jobs.cancel(admin, { jobId: waiting.jobId, reason: 'done' });
});
