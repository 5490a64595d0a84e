/**
 * A write of the engine that fails for a moment (a store error that is not a lost lease: no free PostgreSQL
 * connection, a disk full for a second) is written again until it lands. Before, the change stayed in memory only:
 * the job ended on the leader while the store, which DescribeJobs reads on every replica, showed it RUNNING forever.
 * The service runs for real (SQLite store, process runtime); the store refuses one batch, as a busy database would.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { discardLogs } from '../../src/core/ports.js';
import type { Caller } from '../../src/core/caller.js';
import type { Job } from '../../src/core/types.js';
import { ProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import { JobService } from '../../src/service/jobs/job-service.js';
import { ResourceRegistry } from '../../src/service/resources.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { waitFor } from '../helpers/clients.js';

const admin: Caller = { user: 'root', pi: '', admin: true };
const dir = mkdtempSync(join(tmpdir(), 'openbatch-store-error-'));
const store = new SqliteStore({ file: join(dir, 'db.sqlite'), durable: false });
const arn = { region: 'us-east-1', accountId: '123456789012' };
const registry = new ResourceRegistry(store, arn, Date.now);
const jobs = new JobService(store, registry, { arn, host: { vcpus: 2, memoryMiB: 1024, gpus: 0 }, clock: Date.now });
jobs.runtime = new ProcessRuntime({ scratchRoot: join(dir, 'scratch'), stateDir: join(dir, 'run') }, jobs.host);
jobs.logs = discardLogs;

/** Batches the store refused: the statuses they carried. */
const refused: string[][] = [];
const writeJobs = store.writeJobs.bind(store);
store.writeJobs = (batch: readonly Job[], fence) => {
  // The first batch that records an end, and the first that records a start, fail as a busy database's would.
  const ends = batch.some((j) => j.status === 'SUCCEEDED') && !refused.some((r) => r.includes('SUCCEEDED'));
  const starts = batch.some((j) => j.status === 'STARTING') && !refused.some((r) => r.includes('STARTING'));
  if (ends || starts) {
    refused.push(batch.map((j) => j.status));
    return Promise.reject(new Error('sorry, too many clients already (injected)'));
  }
  return writeJobs(batch, fence);
};

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
  });
  await registry.registerJobDefinition(
    {
      jobDefinitionName: 'd',
      type: 'container',
      containerProperties: { image: 'x', command: ['sleep', '0.2'], vcpus: 1, memory: 64 },
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

test('refused writes of the engine are written again: the job starts once STARTING lands, and the store shows it SUCCEEDED', async () => {
  const { jobId } = await jobs.submit(admin, { jobName: 'j', jobQueue: 'q', jobDefinition: 'd' }, 100);
  const stored = await waitFor(
    'the stored job to end',
    async () => (await store.getJobs([jobId]))[0],
    (j) => j?.status === 'SUCCEEDED' || j?.status === 'FAILED',
    15_000,
  );
  assert.deepEqual(
    refused.map((r) => r.find((s) => s === 'STARTING' || s === 'SUCCEEDED')),
    ['STARTING', 'SUCCEEDED'],
    'both a start and an end were refused once',
  );
  // The attempt started once its STARTING was written (nothing runs before), and ran once.
  assert.equal(stored!.status, 'SUCCEEDED', `stored ${stored!.status}: ${stored!.statusReason ?? ''}`);
  assert.equal(stored!.attempts.length, 1);
  assert.equal(stored!.attempts[0]!.container.exitCode, 0);
  const seen = (await jobs.describe(admin, { jobs: [jobId] })).jobs[0] as { status: string };
  assert.equal(seen.status, 'SUCCEEDED');
});
