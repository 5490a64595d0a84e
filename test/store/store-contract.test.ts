/**
 * The Store contract, on SQLite and on PostgreSQL: every method, fenced writes (a stale epoch writes nothing), the
 * leader lease, intents, tags kept apart from the engine's documents, and change signals (across two store instances
 * on PostgreSQL, as two replicas).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { compactOf } from '../../src/core/compact-runnable.js';
import { FencedError } from '../../src/core/errors.js';
import { readSubmittedSignal } from '../../src/core/submitted-signal.js';
import type { ComputeEnvironment, Job, JobQueue } from '../../src/core/types.js';
import { forEachBackend } from './backends.js';
import { job, jobId, jd, Q, Q2 } from './fixtures.js';

const ids = (jobs: { jobId: string }[]) => jobs.map((j) => j.jobId);

forEachBackend('Store: jobs', (ctx) => {
  const all = Array.from({ length: 25 }, (_, i) => job(i));

  ctx.it('writes whole documents and reads them back; an upsert replaces the state', async () => {
    const s = ctx.stores.store;
    await s.writeJobs(all);
    assert.deepEqual(await s.getJobs([jobId(3), 'missing', jobId(1)]), [job(3), job(1)]);
    await s.writeJobs([
      job(3, { status: 'SUCCEEDED', stoppedAt: 5_000, attempts: [{ container: { exitCode: 0 }, stoppedAt: 5_000 }] }),
    ]);
    const [k] = await s.getJobs([jobId(3)]);
    assert.equal(k!.status, 'SUCCEEDED');
    assert.equal(k!.attempts[0]!.container.exitCode, 0);
    assert.equal((await s.loadActiveJobs()).length, 24);
    assert.ok(!ids(await s.loadActiveJobs()).includes(jobId(3)));
    // the same job twice in one batch: the last version wins
    await s.writeJobs([job(4, { status: 'STARTING' }), job(4, { status: 'RUNNING' })]);
    assert.equal((await s.getJobs([jobId(4)]))[0]!.status, 'RUNNING');
    await s.writeJobs([job(4)]);
  });

  ctx.it('lists newest first with keyset pages that cover every job once', async () => {
    const s = ctx.stores.store;
    const seen: string[] = [];
    let after: { createdAt: number; jobId: string } | undefined;
    for (;;) {
      const page = await s.listJobs({ jobQueueArn: Q, limit: 7, ...(after ? { after } : {}) });
      seen.push(...ids(page.jobs));
      if (!page.last) break;
      after = page.last;
    }
    const expected = [...all].sort((a, b) => b.createdAt - a.createdAt || (a.jobId < b.jobId ? 1 : -1));
    assert.deepEqual(seen, ids(expected));
  });

  ctx.it('filters by status, name, definition, search, time, PI and user', async () => {
    const s = ctx.stores.store;
    const list = async (q: object) => ids((await s.listJobs({ jobQueueArn: Q, limit: 100, ...q })).jobs).sort();
    const where = (f: (i: number) => boolean) =>
      all
        .filter((_, i) => f(i))
        .map((j) => j.jobId)
        .sort();
    assert.deepEqual(await list({ statuses: ['SUCCEEDED'] }), [jobId(3)]);
    assert.deepEqual(await list({ jobName: { value: 'job-ODD-7', prefix: false } }), [jobId(7)]);
    assert.deepEqual(
      await list({ jobName: { value: 'JOB-ODD-1', prefix: true } }),
      where((i) => i % 2 === 1 && String(i).startsWith('1')),
    );
    assert.deepEqual(
      await list({ jobDefinition: { value: 'beta', prefix: false } }),
      where((i) => i % 3 === 0),
    );
    assert.deepEqual(
      await list({ jobDefinition: { value: 'alp', prefix: true } }),
      where((i) => i % 3 !== 0),
    );
    assert.deepEqual(
      await list({ jobDefinition: { value: 'alpha:2', prefix: false } }),
      where((i) => i % 3 !== 0 && i % 2 === 1),
    );
    assert.deepEqual(
      await list({ jobDefinition: { value: jd('beta', 1), prefix: false } }),
      where((i) => i % 3 === 0 && i % 2 === 0),
    );
    assert.deepEqual(
      await list({ search: jobId(12).slice(0, 35) }),
      where((i) => i >= 10 && i < 20),
    );
    assert.deepEqual(
      await list({ search: 'JOB-EVEN-2' }),
      where((i) => i % 2 === 0 && String(i).startsWith('2')),
    );
    assert.deepEqual(await list({ createdAfter: 1_010, createdBefore: 1_012 }), [jobId(22), jobId(23)]);
    assert.deepEqual(
      await list({ pi: 'lab-b' }),
      where((i) => i % 4 === 0),
    );
    assert.deepEqual(
      await list({ user: 'bob' }),
      where((i) => i % 5 === 0),
    );
    assert.deepEqual(await list({ jobQueueArn: Q2 }), []);
  });

  ctx.it('array children: by parent in index order after an index, and left out of queue listings', async () => {
    const s = ctx.stores.store;
    const parent = jobId(100);
    await s.writeJobs([
      job(100, { jobName: 'arr' }),
      ...[0, 1, 2, 3].map((k) => job(100, { jobId: `${parent}:${k}`, jobName: 'arr' })),
    ]);
    const kids = await s.listJobs({ arrayJobId: parent, limit: 2, afterIndex: 0 });
    assert.deepEqual(ids(kids.jobs), [`${parent}:1`, `${parent}:2`]);
    const q = ids((await s.listJobs({ jobQueueArn: Q, jobName: { value: 'arr', prefix: false }, limit: 10 })).jobs);
    assert.deepEqual(q, [parent]);
    const withKids = await s.listJobs({
      jobQueueArn: Q,
      jobName: { value: 'arr', prefix: false },
      limit: 10,
      includeChildren: true,
    });
    assert.equal(withKids.jobs.length, 5);
  });

  ctx.it('counts by queue and status, and sums usage per owner', async () => {
    const s = ctx.stores.store;
    await s.writeJobs([
      job(200, {
        jobQueueArn: Q2,
        status: 'SUCCEEDED',
        stoppedAt: 10_000,
        owner: { user: 'ann', pi: 'lab-c' },
        resources: { vcpus: 2, memoryMiB: 1, gpus: 0 },
        attempts: [
          { container: {}, startedAt: 0, stoppedAt: 3_600_000 },
          { container: {}, startedAt: 0, stoppedAt: 1_800_000 },
        ],
      }),
      job(201, {
        jobQueueArn: Q2,
        status: 'FAILED',
        stoppedAt: 10_000,
        owner: { user: 'cy', pi: 'lab-b' },
        attempts: [{ container: {} }],
      }),
    ]);
    const counts = await s.countJobsByQueueAndStatus();
    const q2 = counts.filter((c) => c.jobQueueArn === Q2).sort((a, b) => a.status.localeCompare(b.status));
    assert.deepEqual(q2, [
      { jobQueueArn: Q2, status: 'FAILED', count: 1 },
      { jobQueueArn: Q2, status: 'SUCCEEDED', count: 1 },
    ]);
    assert.deepEqual(
      (await s.countJobsByQueueAndStatus('lab-b')).filter((c) => c.jobQueueArn === Q2),
      [{ jobQueueArn: Q2, status: 'FAILED', count: 1 }],
    );
    // A state change moves the job between counts; a purge takes it out.
    const q2Of = async () =>
      (await s.countJobsByQueueAndStatus())
        .filter((c) => c.jobQueueArn === Q2)
        .map((c) => `${c.status}=${c.count}`)
        .sort();
    await s.writeJobs([job(202, { jobQueueArn: Q2, status: 'RUNNABLE', owner: { user: 'cy', pi: 'lab-b' } })]);
    assert.deepEqual(await q2Of(), ['FAILED=1', 'RUNNABLE=1', 'SUCCEEDED=1']);
    await s.writeJobs([
      job(202, { jobQueueArn: Q2, status: 'SUCCEEDED', stoppedAt: 1, owner: { user: 'cy', pi: 'lab-b' } }),
    ]);
    assert.deepEqual(await q2Of(), ['FAILED=1', 'SUCCEEDED=2']);
    assert.deepEqual(
      (await s.countJobsByQueueAndStatus('lab-b')).filter((c) => c.jobQueueArn === Q2).map((c) => c.count),
      [1, 1],
    );
    await s.purgeJobs(2);
    assert.deepEqual(await q2Of(), ['FAILED=1', 'SUCCEEDED=1']);
    const usage = await s.usageByOwner({ from: 9_000, to: 11_000 });
    assert.deepEqual(usage, [
      { pi: 'lab-c', user: 'ann', jobs: 1, vcpuHours: 3 },
      { pi: 'lab-b', user: 'cy', jobs: 1, vcpuHours: 0 },
    ]);
    assert.deepEqual(await s.usageByOwner({ from: 9_000, to: 11_000, pi: 'lab-a' }), []);
  });

  ctx.it('tags are kept apart: the engine writing the document does not overwrite them', async () => {
    const s = ctx.stores.store;
    await s.setJobTags(jobId(5), { team: 'x' });
    await s.writeJobs([job(5, { status: 'RUNNING', tags: { stale: 'engine copy' } })]);
    const [j] = await s.getJobs([jobId(5)]);
    assert.deepEqual(j!.tags, { team: 'x' });
    assert.equal(j!.status, 'RUNNING');
    assert.deepEqual(
      (await s.listJobs({ jobQueueArn: Q, jobName: { value: 'job-odd-5', prefix: false }, limit: 1 })).jobs[0]!.tags,
      { team: 'x' },
    );
  });

  ctx.it('insertJobs: SUBMITTED jobs listed oldest first, and the leader is told', async () => {
    const s = ctx.stores.store;
    const heard: string[] = [];
    const off = s.subscribe('jobs-submitted', (p) => heard.push(p));
    await listening(ctx.stores.store);
    const fresh = [job(301, { status: 'SUBMITTED', createdAt: 50 }), job(300, { status: 'SUBMITTED', createdAt: 40 })];
    await s.insertJobs(fresh);
    assert.deepEqual(ids(await s.listSubmittedJobs(10)), [jobId(300), jobId(301)]);
    assert.deepEqual(ids(await s.listSubmittedJobs(1)), [jobId(300)]);
    await until(() => heard.length > 0);
    off();
    const told = heard.map(readSubmittedSignal);
    assert.deepEqual(told.flatMap((t) => t.ids).sort(), [jobId(300), jobId(301)]);
    assert.deepEqual(
      told.flatMap((t) => t.runnable),
      [],
    );
  });

  ctx.it(
    'insertJobs: the signal carries what a leader needs to file a RUNNABLE job that never ran, the id of any other',
    async () => {
      const s = ctx.stores.store;
      const heard: string[] = [];
      const off = s.subscribe('jobs-submitted', (p) => heard.push(p));
      await listening(ctx.stores.store);
      const filed = job(320, {
        createdAt: 60,
        statusChangedAt: 61,
        shareIdentifier: 'blue',
        schedulingPriority: 7,
        resources: { vcpus: 2, memoryMiB: 512, gpus: 1 },
        consumableResourceProperties: { consumableResourceList: [{ consumableResource: 'lic', quantity: 2 }] },
        statusReason: 'MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - too big',
      });
      const plain = job(321, { createdAt: 60, owner: undefined });
      const array = job(322, { createdAt: 60, arrayProperties: { size: 3 } });
      await s.insertJobs([filed, plain, array, job(323, { status: 'SUBMITTED', createdAt: 60 })]);
      await until(() => heard.length > 0);
      off();
      const told = heard.map(readSubmittedSignal);
      assert.deepEqual(told.flatMap((t) => t.ids).sort(), [jobId(322), jobId(323)]);
      const runnable = told.flatMap((t) => t.runnable).sort((a, b) => a.record.jobId.localeCompare(b.record.jobId));
      assert.deepEqual(runnable, [
        { record: compactOf(filed), statusReason: filed.statusReason, pi: filed.owner!.pi },
        { record: compactOf(plain), statusReason: undefined, pi: undefined },
      ]);
    },
  );

  ctx.it(
    'insertJobs: a job inserted RUNNABLE is among the recent RUNNABLE ids, not among the SUBMITTED jobs',
    async () => {
      const s = ctx.stores.store;
      await s.insertJobs([job(310, { status: 'RUNNABLE', createdAt: 30 })]);
      assert.ok((await s.listRunnableJobIds(30)).includes(jobId(310)));
      assert.ok(!(await s.listRunnableJobIds(31)).includes(jobId(310)), 'created before since');
      assert.ok(!ids(await s.listSubmittedJobs(1000)).includes(jobId(310)));
      await s.writeJobs([job(310, { status: 'STARTING', createdAt: 30 })]);
      assert.ok(!(await s.listRunnableJobIds(0)).includes(jobId(310)));
    },
  );

  ctx.it(
    'lists the jobs stopped since a time, oldest stop first (a new leader rebuilds fair-share usage)',
    async () => {
      const s = ctx.stores.store;
      const since5 = ids(await s.listJobsStoppedSince(5_000));
      assert.equal(since5[0], jobId(3));
      assert.deepEqual(since5.slice(1).sort(), [jobId(200), jobId(201)].sort());
      assert.deepEqual(ids(await s.listJobsStoppedSince(10_000)).sort(), [jobId(200), jobId(201)].sort());
      assert.deepEqual(await s.listJobsStoppedSince(10_001), []);
    },
  );

  ctx.it('purges terminal jobs stopped before a time and says which', async () => {
    const s = ctx.stores.store;
    const purged = await s.purgeJobs(6_000);
    assert.deepEqual(purged.sort(), [jobId(3)]);
    assert.deepEqual(await s.getJobs([jobId(3)]), []);
    assert.equal((await s.getJobs([jobId(200)])).length, 1);
  });
});

forEachBackend('Store: resources, replicas, engine state', (ctx) => {
  const ce = (n: string, extra = {}) =>
    ({ computeEnvironmentName: n, computeEnvironmentArn: `arn:ce/${n}`, ...extra }) as unknown as ComputeEnvironment;
  const q = (n: string) => ({ jobQueueName: n, jobQueueArn: `arn:q/${n}` }) as unknown as JobQueue;

  ctx.it('keeps resources in the order they were made; put replaces, delete removes', async () => {
    const s = ctx.stores.store;
    await s.putComputeEnvironment(ce('zeta'));
    await s.putComputeEnvironment(ce('alpha'));
    await s.putComputeEnvironment(ce('zeta', { state: 'DISABLED' }));
    await s.putJobQueue(q('q1'));
    await s.putJobDefinition({
      jobDefinitionName: 'd',
      jobDefinitionArn: 'arn:d:1',
      revision: 1,
      status: 'ACTIVE',
    } as never);
    await s.putJobDefinition({
      jobDefinitionName: 'd',
      jobDefinitionArn: 'arn:d:1',
      revision: 1,
      status: 'INACTIVE',
    } as never);
    await s.putSchedulingPolicy({ name: 'fair', arn: 'arn:p/fair' });
    let r = await s.loadResources();
    assert.deepEqual(
      r.computeEnvironments.map((c) => [c.computeEnvironmentName, (c as unknown as { state?: string }).state]),
      [
        ['zeta', 'DISABLED'],
        ['alpha', undefined],
      ],
    );
    assert.equal(r.jobQueues[0]!.jobQueueName, 'q1');
    assert.equal(r.jobDefinitions[0]!.status, 'INACTIVE');
    assert.equal(r.schedulingPolicies[0]!.name, 'fair');
    await s.deleteComputeEnvironment('arn:ce/zeta');
    await s.deleteJobQueue('arn:q/q1');
    await s.deleteSchedulingPolicy('arn:p/fair');
    r = await s.loadResources();
    assert.deepEqual(
      r.computeEnvironments.map((c) => c.computeEnvironmentName),
      ['alpha'],
    );
    assert.deepEqual([r.jobQueues.length, r.schedulingPolicies.length, r.jobDefinitions.length], [0, 0, 1]);
  });

  ctx.it('replicas heartbeat and are listed, most recently seen first', async () => {
    const s = ctx.stores.store;
    const base = { url: 'http://a', host: 'h', pid: 1, startedAt: 1, role: 'follower' as const };
    await s.heartbeatReplica({ ...base, id: 'a', seenAt: 10 });
    await s.heartbeatReplica({ ...base, id: 'b', seenAt: 20, role: 'leader', epoch: 3 });
    await s.heartbeatReplica({ ...base, id: 'a', seenAt: 30 });
    const list = await s.listReplicas();
    assert.deepEqual(
      list.map((r) => [r.id, r.seenAt]),
      [
        ['a', 30],
        ['b', 20],
      ],
    );
    assert.equal(list[1]!.epoch, 3);
  });

  ctx.it('schema newer than the binary is refused with a clear message', async () => {
    if (ctx.backend === 'sqlite') {
      const Database = (await import('better-sqlite3')).default;
      const file = join(ctx.location.dataDir, 'openbatch.db');
      const db = new Database(file);
      db.prepare('INSERT INTO schema_migrations (id, name, applied_at) VALUES (999, ?, 0)').run('future');
      db.close();
      const { SqliteStore } = await import('../../src/store/sqlite/sqlite-store.js');
      assert.throws(() => new SqliteStore({ file }), /schema version 999, newer than this openbatch knows/);
      const db2 = new Database(file);
      db2.prepare('DELETE FROM schema_migrations WHERE id = 999').run();
      db2.close();
      return;
    }
    const pg = (await import('pg')).default;
    const c = new pg.Client({ connectionString: ctx.location.databaseUrl });
    await c.connect();
    await c.query("INSERT INTO schema_migrations (id, name, applied_at) VALUES (999, 'future', 0)");
    await assert.rejects(ctx.openAnother(), /schema version 999, newer than this openbatch knows/);
    await c.query('DELETE FROM schema_migrations WHERE id = 999');
    await c.end();
  });
});

forEachBackend('Store: leader lease, fencing, intents', (ctx) => {
  ctx.it(
    'a free lease is taken with the next epoch; a live one is refused to others and renewed by its holder',
    async () => {
      const s = ctx.stores.store;
      assert.equal(await s.readLease(), undefined);
      const a = await s.acquireLease('A', 60_000);
      assert.equal(a?.epoch, 1);
      assert.equal(await s.acquireLease('B', 60_000), undefined);
      const again = await s.acquireLease('A', 60_000);
      assert.equal(again?.epoch, 1);
      assert.ok(again.expiresAt >= a.expiresAt);
      assert.deepEqual(await s.readLease(), { holder: 'A', epoch: 1, expiresAt: again.expiresAt });
    },
  );

  ctx.it('fenced writes: the current epoch writes; a stale one throws FencedError and writes nothing', async () => {
    const s = ctx.stores.store;
    await s.writeJobs([job(1)], { epoch: 1 });
    await s.putEngineState('{"v":1}', { epoch: 1 });
    await assert.rejects(s.writeJobs([job(1, { status: 'RUNNING' }), job(2)], { epoch: 0 }), (e: unknown) => {
      assert.ok(e instanceof FencedError);
      assert.equal(e.epoch, 0);
      assert.equal(e.current, 1);
      return true;
    });
    assert.equal((await s.getJobs([jobId(1)]))[0]!.status, 'RUNNABLE');
    assert.deepEqual(await s.getJobs([jobId(2)]), []);
    await assert.rejects(s.putEngineState('{"v":2}', { epoch: 7 }), FencedError);
    assert.equal((await s.getEngineState())!.json, '{"v":1}');
  });

  ctx.it('an expired lease is taken by another holder with a new epoch; the old leader is fenced', async () => {
    const s = ctx.stores.store;
    assert.ok(await s.acquireLease('A', 150));
    await sleep(300);
    const b = await s.acquireLease('B', 60_000);
    assert.equal(b?.epoch, 2);
    assert.equal(await s.acquireLease('A', 60_000), undefined);
    await assert.rejects(s.writeJobs([job(1, { status: 'FAILED' })], { epoch: 1 }), FencedError);
    assert.equal((await s.getJobs([jobId(1)]))[0]!.status, 'RUNNABLE');
    await s.writeJobs([job(1, { status: 'STARTING' })], { epoch: 2 });
    assert.equal((await s.getJobs([jobId(1)]))[0]!.status, 'STARTING');
  });

  ctx.it('a released lease is free at once; releasing with a stale epoch changes nothing', async () => {
    const s = ctx.stores.store;
    await s.releaseLease('B', 1); // stale: B leads with epoch 2
    assert.equal(await s.acquireLease('A', 60_000), undefined);
    await s.releaseLease('B', 2);
    const a = await s.acquireLease('A', 60_000);
    assert.equal(a?.epoch, 3);
  });

  ctx.it('intents: recorded by anyone in order, the leader is told, removed only under the current epoch', async () => {
    const s = ctx.stores.store;
    const heard: string[] = [];
    const off = s.subscribe('job-intents', (p) => heard.push(p));
    await listening(s);
    await s.addJobIntent({ jobId: 'j1', action: 'cancel', reason: 'r1', at: 1 });
    await s.addJobIntent({ jobId: 'j2', action: 'terminate', reason: 'r2', at: 2 });
    const intents = await s.listJobIntents(10);
    assert.deepEqual(
      intents.map((i) => [i.jobId, i.action, i.reason, i.at]),
      [
        ['j1', 'cancel', 'r1', 1],
        ['j2', 'terminate', 'r2', 2],
      ],
    );
    assert.ok(intents[0]!.seq < intents[1]!.seq);
    assert.equal((await s.listJobIntents(1)).length, 1);
    await assert.rejects(s.deleteJobIntents([intents[0]!.seq], { epoch: 2 }), FencedError);
    assert.equal((await s.listJobIntents(10)).length, 2);
    await s.deleteJobIntents([intents[0]!.seq], { epoch: 3 });
    assert.deepEqual(
      (await s.listJobIntents(10)).map((i) => i.jobId),
      ['j2'],
    );
    await until(() => heard.length >= 2);
    off();
    assert.deepEqual(heard.sort(), ['j1', 'j2']);
  });

  ctx.it('signals reach every store instance on the database (two replicas on PostgreSQL)', async () => {
    const other = ctx.backend === 'postgres' ? (await ctx.openAnother()).store : ctx.stores.store;
    const heard: string[] = [];
    const off = other.subscribe('job-changes', (p) => heard.push(p));
    await listening(other);
    const big = JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ jobId: jobId(i), status: 'RUNNING' })));
    await ctx.stores.store.notify('job-changes', '[{"jobId":"x"}]');
    await ctx.stores.store.notify('job-changes', big);
    await until(() => heard.length >= 2 && heard.slice(1).flatMap((h) => JSON.parse(h) as unknown[]).length === 400);
    off();
    assert.equal(heard[0], '[{"jobId":"x"}]');
  });

  ctx.it('channels subscribed at once on a listening connection are each heard, one LISTEN at a time', async () => {
    const other = ctx.backend === 'postgres' ? (await ctx.openAnother()).store : ctx.stores.store;
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    const heard: string[] = [];
    const offs = [other.subscribe('job-changes', (p) => heard.push(`changes:${p}`))];
    await listening(other);
    // Three more channels in one turn of the event loop, on a connection that is up: pg deprecates (and pg 9 will
    // refuse) a query sent on a client that is still running one.
    offs.push(other.subscribe('resources', (p) => heard.push(`resources:${p}`)));
    offs.push(other.subscribe('jobs-submitted', (p) => heard.push(`submitted:${p}`)));
    offs.push(other.subscribe('job-intents', (p) => heard.push(`intents:${p}`)));
    await listening(other);
    for (const ch of ['job-changes', 'resources', 'jobs-submitted', 'job-intents'] as const)
      await ctx.stores.store.notify(ch, 'x');
    await until(() => heard.length >= 4);
    for (const off of offs) off();
    await sleep(20); // a warning is emitted on the next tick
    process.off('warning', onWarning);
    assert.deepEqual(heard.sort(), ['changes:x', 'intents:x', 'resources:x', 'submitted:x']);
    assert.deepEqual(
      warnings.filter((w) => /already executing a query/.test(w)),
      [],
    );
  });
});

/** Waits until the store's LISTEN connection is up (PostgreSQL), so a signal sent next is heard. */
async function listening(s: unknown): Promise<void> {
  const l = (s as { listening?: () => Promise<void> }).listening;
  if (l) await l.call(s);
}

async function until(cond: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

forEachBackend('Store: usage per owner', (ctx) => {
  ctx.it('sums vCPU-hours of every attempt per PI group and user, most first, over the window only', async () => {
    const s = ctx.stores.store;
    const ended = (i: number, user: string, pi: string, vcpus: number, attempts: Partial<Job['attempts'][0]>[]) =>
      job(i, {
        status: 'SUCCEEDED',
        stoppedAt: 30_000,
        owner: { user, pi },
        resources: { vcpus, memoryMiB: 1, gpus: 0 },
        attempts: attempts.map((a) => ({ container: {}, ...a })),
      });
    await s.writeJobs([
      // bo: 4 vCPUs for two half-hour attempts (4 h) and 1 vCPU for an hour after one that never started (1 h)
      ended(400, 'bo', 'lab-d', 4, [
        { startedAt: 0, stoppedAt: 1_800_000 },
        { startedAt: 2_000_000, stoppedAt: 3_800_000 },
      ]),
      ended(401, 'bo', 'lab-d', 1, [{}, { startedAt: 0, stoppedAt: 3_600_000 }]),
      // al and zed tie at 1 h: PI group, then user, break the tie
      ended(402, 'al', 'lab-d', 2, [{ startedAt: 0, stoppedAt: 1_800_000 }]),
      ended(403, 'zed', 'lab-a', 1, [{ startedAt: 0, stoppedAt: 3_600_000 }]),
      // a job that never ran counts as a job with no vCPU-hours
      ended(404, 'cy', 'lab-e', 8, []),
      // outside the window
      { ...ended(405, 'bo', 'lab-d', 64, [{ startedAt: 0, stoppedAt: 3_600_000 }]), stoppedAt: 40_000 },
      job(406, { status: 'RUNNING', owner: { user: 'bo', pi: 'lab-d' }, attempts: [{ container: {}, startedAt: 0 }] }),
    ]);
    assert.deepEqual(await s.usageByOwner({ from: 29_000, to: 31_000 }), [
      { pi: 'lab-d', user: 'bo', jobs: 2, vcpuHours: 5 },
      { pi: 'lab-a', user: 'zed', jobs: 1, vcpuHours: 1 },
      { pi: 'lab-d', user: 'al', jobs: 1, vcpuHours: 1 },
      { pi: 'lab-e', user: 'cy', jobs: 1, vcpuHours: 0 },
    ]);
    assert.deepEqual(await s.usageByOwner({ from: 29_000, to: 31_000, pi: 'lab-d' }), [
      { pi: 'lab-d', user: 'bo', jobs: 2, vcpuHours: 5 },
      { pi: 'lab-d', user: 'al', jobs: 1, vcpuHours: 1 },
    ]);
    assert.deepEqual(await s.usageByOwner({ from: 30_001, to: 50_000 }), [
      { pi: 'lab-d', user: 'bo', jobs: 1, vcpuHours: 64 },
    ]);
  });
});
