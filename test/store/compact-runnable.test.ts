/**
 * Store.loadCompactRunnable and loadActiveJobs({ exceptCompact }), on SQLite and on PostgreSQL: together they return
 * every active job once; the compact rows are exactly the jobs core's mayBeCompact accepts, oldest first, with the
 * fields scheduling reads.
 */
import assert from 'node:assert/strict';
import { compactOf, mayBeCompact } from '../../src/core/compact-runnable.js';
import type { Job } from '../../src/core/types.js';
import { compactFields } from '../helpers/compact-fields.js';
import { forEachBackend } from './backends.js';
import { job, jobId, Q2 } from './fixtures.js';

const jobs: Job[] = [
  job(0),
  job(1, { shareIdentifier: 'labA', schedulingPriority: 7, jobQueueArn: Q2, statusChangedAt: 4_321 }),
  job(2, { resources: { vcpus: 2.5, memoryMiB: 2048, gpus: 1 } }),
  job(3, { consumableResourceProperties: { consumableResourceList: [{ consumableResource: 'lic', quantity: 2 }] } }),
  // Not compact: it ran before (a retry), an array child, an array parent, a multi-node job, not RUNNABLE.
  job(4, { attempts: [{ container: { exitCode: 1 }, startedAt: 1_100, stoppedAt: 1_200 }] }),
  job(5, { jobId: `${jobId(5)}:3`, arrayProperties: { index: 3 } }),
  job(6, { status: 'PENDING', arrayProperties: { size: 4 } }),
  job(7, {
    nodeProperties: { numNodes: 2, mainNode: 0, nodeRangeProperties: [{ targetNodes: '0:1', container: {} }] },
  }),
  job(8, { status: 'PENDING' }),
  job(9, { status: 'RUNNING', startedAt: 1_100 }),
  job(10, { status: 'SUCCEEDED', stoppedAt: 1_300 }),
  job(11, { createdAt: 500 }), // the oldest
  job(12, { createdAt: 500 }), // same time: the id orders
];

forEachBackend('Store: RUNNABLE jobs without their documents', (ctx) => {
  ctx.it('returns exactly the jobs mayBeCompact accepts, oldest first, and the rest whole', async () => {
    const s = ctx.stores.store;
    // Array children are stored with their parent (array_parent), as the engine writes them.
    await s.writeJobs(jobs);
    const compact = await s.loadCompactRunnable();
    const active = jobs.filter((j) => j.status !== 'SUCCEEDED' && j.status !== 'FAILED');
    const byAge = (a: Job, b: Job) => a.createdAt - b.createdAt || (a.jobId < b.jobId ? -1 : 1);
    const expected = active.filter(mayBeCompact).sort(byAge);
    assert.deepEqual(
      compact.map(compactFields),
      expected.map((j) => compactFields(compactOf(j))),
    );
    assert.deepEqual(
      compact.map((c) => [c.createdAt, c.statusChangedAt, c.shareIdentifier, c.schedulingPriority]),
      expected.map((j) => [j.createdAt, j.statusChangedAt, j.shareIdentifier, j.schedulingPriority]),
    );
    const whole = await s.loadActiveJobs({ exceptCompact: true });
    assert.deepEqual(
      whole.map((j) => j.jobId),
      active
        .filter((j) => !mayBeCompact(j))
        .sort(byAge)
        .map((j) => j.jobId),
    );
    assert.equal((await s.loadActiveJobs()).length, compact.length + whole.length);
    // Equal parts are shared across rows of one load.
    const [a, b] = compact.filter((c) => c.resources.vcpus === 1);
    assert.equal(a!.resources, b!.resources);
  });
});
