/** SqliteStore on a real database file: migrations, group-committed writes, keyset listing, reopen, purge. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { jd, job, Q } from '../store/fixtures.js';

void describe('SqliteStore', () => {
  let dir: string;
  let store: SqliteStore;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'openbatch-sqlite-'));
    store = new SqliteStore({ file: join(dir, 'db', 'openbatch.db') });
    await store.migrate();
    await store.writeJobs(Array.from({ length: 25 }, (_, i) => job(i)));
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  void it('writes and reads whole documents; an upsert replaces the state', async () => {
    const [j] = await store.getJobs([job(3).jobId]);
    assert.deepEqual(j, job(3));
    await store.writeJobs([
      job(3, { status: 'SUCCEEDED', stoppedAt: 5_000, attempts: [{ container: { exitCode: 0 }, stoppedAt: 5_000 }] }),
    ]);
    const [k] = await store.getJobs([job(3).jobId, 'missing']);
    assert.equal(k!.status, 'SUCCEEDED');
    assert.equal(k!.attempts[0]!.container.exitCode, 0);
    assert.equal((await store.loadActiveJobs()).length, 24);
  });

  void it('lists newest first with keyset pages that cover every row once, ties broken by id', async () => {
    const seen: string[] = [];
    let after: { createdAt: number; jobId: string } | undefined;
    for (;;) {
      const page = await store.listJobs({ jobQueueArn: Q, limit: 4, ...(after ? { after } : {}) });
      seen.push(...page.jobs.map((j) => j.jobId));
      if (!page.last) break;
      after = page.last;
    }
    const expected = Array.from({ length: 25 }, (_, i) => job(i))
      .sort((a, b) => b.createdAt - a.createdAt || (a.jobId < b.jobId ? 1 : -1))
      .map((j) => j.jobId);
    assert.deepEqual(seen, expected);
  });

  void it('filters: statuses, name (case-insensitive, prefix), job definition forms, created range, PI', async () => {
    const ids = async (q: Omit<Parameters<SqliteStore['listJobs']>[0], 'limit'>) =>
      (await store.listJobs({ limit: 100, ...q })).jobs.map((j) => Number(j.jobId.slice(-12))).sort((a, b) => a - b);
    assert.deepEqual(await ids({ jobQueueArn: Q, statuses: ['SUCCEEDED'] }), [3]);
    assert.deepEqual(await ids({ jobQueueArn: Q, jobName: { value: 'job-odd-11', prefix: false } }), [11]);
    assert.deepEqual(
      await ids({ jobQueueArn: Q, jobName: { value: 'JOB-ODD-1', prefix: true } }),
      [1, 11, 13, 15, 17, 19],
    );
    assert.deepEqual(
      await ids({ jobQueueArn: Q, jobDefinition: { value: 'beta', prefix: false } }),
      [0, 3, 6, 9, 12, 15, 18, 21, 24],
    );
    assert.deepEqual(await ids({ jobQueueArn: Q, jobDefinition: { value: 'beta:2', prefix: false } }), [3, 9, 15, 21]);
    assert.deepEqual(
      await ids({ jobQueueArn: Q, jobDefinition: { value: jd('beta', 2), prefix: false } }),
      [3, 9, 15, 21],
    );
    assert.deepEqual(
      await ids({ jobQueueArn: Q, jobDefinition: { value: 'al', prefix: true } }).then((a) => a.length),
      16,
    );
    assert.deepEqual(await ids({ jobQueueArn: Q, createdAfter: 1_010, createdBefore: 1_012 }), [22, 23]);
    assert.deepEqual(await ids({ jobQueueArn: Q, pi: 'lab-b' }), [0, 4, 8, 12, 16, 20, 24]);
  });

  void it('answers a commit that landed while the event loop is busy, without waiting for its next turn', async () => {
    let committed = false;
    const write = store.writeJobs([job(30, { status: 'SUCCEEDED', stoppedAt: 9_000 })]).then(() => (committed = true));
    // Busy as a turn that handles a hundred requests: only microtasks run, so the thread's answer waits on its port
    // unless deliverCommitted reads it.
    const until = Date.now() + 5_000;
    let withoutDelivery = false;
    while (!committed && Date.now() < until) {
      const t = Date.now() + 20;
      while (Date.now() < t); // the writer thread commits meanwhile
      await Promise.resolve();
      withoutDelivery ||= committed;
      store.deliverCommitted();
      for (let i = 0; i < 5; i++) await Promise.resolve();
    }
    assert.equal(withoutDelivery, false, 'nothing but deliverCommitted can have resolved it within the turn');
    assert.equal(committed, true, 'deliverCommitted resolved the commit within the same turn');
    await write;
    assert.equal((await store.getJobs([job(30).jobId])).length, 1);
  });

  void it('survives a reopen and purges old terminal jobs', async () => {
    await store.close();
    store = new SqliteStore({ file: join(dir, 'db', 'openbatch.db') });
    await store.migrate();
    assert.equal((await store.loadActiveJobs()).length, 24);
    assert.deepEqual(await store.purgeJobs(4_000), []);
    assert.deepEqual(await store.purgeJobs(6_000), [job(3).jobId]);
    assert.deepEqual(await store.getJobs([job(3).jobId]), []);
  });
});
