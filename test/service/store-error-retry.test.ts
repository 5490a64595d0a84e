/**
 * A write of the engine that fails for a moment (a store error that is not a lost lease: no free PostgreSQL
 * connection, a disk full for a second) is written again until it lands. Before, the change stayed in memory only:
 * the job ended on the leader while the store, which DescribeJobs reads on every replica, showed it RUNNING forever.
 * The service runs for real (SQLite store, process runtime); the store refuses one batch, as a busy database would.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Job } from '../../src/core/types.js';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { waitFor } from '../helpers/clients.js';
import { admin, startLocalService, type LocalService } from '../helpers/local-service.js';

/** Batches the store refused: the statuses they carried. */
const refused: string[][] = [];

/** The first batch that records a start, and the first that records an end, fail as a busy database's would. */
function refuseOnce(store: SqliteStore): void {
  const writeJobs = store.writeJobs.bind(store);
  store.writeJobs = (batch: readonly Job[], fence) => {
    const ends = batch.some((j) => j.status === 'SUCCEEDED') && !refused.some((r) => r.includes('SUCCEEDED'));
    const starts = batch.some((j) => j.status === 'STARTING') && !refused.some((r) => r.includes('STARTING'));
    if (ends || starts) {
      refused.push(batch.map((j) => j.status));
      return Promise.reject(new Error('sorry, too many clients already (injected)'));
    }
    return writeJobs(batch, fence);
  };
}

let svc: LocalService;
before(async () => {
  svc = await startLocalService({ clock: Date.now, command: ['sleep', '0.2'], beforeStart: refuseOnce });
});
after(async () => {
  await svc.close();
});

test('refused writes of the engine are written again: the job starts once STARTING lands, and the store shows it SUCCEEDED', async () => {
  const { jobId } = await svc.jobs.submit(admin, { jobName: 'j', jobQueue: 'q', jobDefinition: 'd' }, 100);
  const stored = await waitFor(
    'the stored job to end',
    async () => (await svc.store.getJobs([jobId]))[0],
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
  const seen = (await svc.jobs.describe(admin, { jobs: [jobId] })).jobs[0] as { status: string };
  assert.equal(seen.status, 'SUCCEEDED');
});
