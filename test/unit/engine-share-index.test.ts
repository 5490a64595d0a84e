/**
 * The engine's fair-share bookkeeping (src/service/engine/runnable-queues.ts, share-ledger.ts): RUNNABLE ids filed per
 * share in run order and removed wherever they were filed; each start and stop moves its share's usage record; a new
 * leader seeds the records from the jobs in the store.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compactOf, compactRunnable, isCompact } from '../../src/core/compact-runnable.js';
import type { Job } from '../../src/core/types.js';
import { compactFields } from '../helpers/compact-fields.js';
import { attemptUsage, decayTau, usageAt } from '../../src/scheduler/fair-share.js';
import { RunnableQueues } from '../../src/service/engine/runnable-queues.js';
import { ShareLedger } from '../../src/service/engine/share-ledger.js';
import { rebuildShareUsage } from '../../src/service/engine/usage-rebuild.js';

void describe('RunnableQueues', () => {
  const entry = (jobId: string, jobQueueArn: string, shareIdentifier?: string, schedulingPriority?: number) =>
    compactRunnable(jobId, jobQueueArn, 1_000, 2_000, shareIdentifier, schedulingPriority, res, undefined);
  const res = { vcpus: 1, memoryMiB: 128, gpus: 0 };

  void it('keeps FIFO queues in arrival order and shares by schedulingPriority then arrival', () => {
    const r = new RunnableQueues();
    r.add(entry('f1', 'fifo', 'A', 5), false); // a queue without a policy ignores share and priority
    r.add(entry('f2', 'fifo'), false);
    r.add(entry('a-low', 'fair', 'A'), true);
    r.add(entry('a-high', 'fair', 'A', 9), true);
    r.add(entry('a-low2', 'fair', 'A', 0), true);
    r.add(entry('b1', 'fair', 'B'), true);
    r.add(entry('none', 'fair'), true); // no share identifier: the '' share
    r.add(entry('f1', 'fifo'), false); // filed again: keeps its place
    assert.deepEqual([...r.fifo('fifo')], ['f1', 'f2']);
    assert.deepEqual([...r.shares('fair').keys()], ['A', 'B', '']);
    assert.deepEqual([...r.shares('fair').get('A')!], ['a-high', 'a-low', 'a-low2']);
    assert.deepEqual([...r.ids('fair')], ['a-high', 'a-low', 'a-low2', 'b1', 'none']);
    assert.deepEqual([...r.fronts(2)], ['f1', 'f2', 'a-high', 'a-low', 'b1', 'none']);
    assert.equal(r.size('fair'), 5);
    assert.equal(r.queueOf('b1'), 'fair');
    // Removed by id alone, wherever it was filed; an emptied share and queue disappear.
    r.delete('a-high');
    r.delete('b1');
    r.delete('none');
    assert.deepEqual([...r.shares('fair').keys()], ['A']);
    r.delete('a-low');
    r.delete('a-low2');
    assert.equal(r.has('fair'), false);
    r.delete('f1');
    r.delete('f2');
    assert.equal(r.empty, true);
    assert.equal(r.compactSize, 0);
  });

  void it('files each id with one entry: swapping a whole job for its compact record keeps its place', () => {
    const r = new RunnableQueues();
    const whole = { jobId: 'j2', jobQueueArn: 'fair', shareIdentifier: 'A', schedulingPriority: 3 } as Job;
    r.add(entry('j1', 'fair', 'A', 3), true);
    r.add(whole, true);
    r.add(entry('j3', 'fair', 'A', 3), true);
    assert.equal(r.compactSize, 2);
    assert.equal(r.get('j2'), whole);
    const held = compactOf({ ...whole, createdAt: 1, statusChangedAt: 2, resources: res });
    assert.equal(r.swap(held), true);
    assert.equal(r.get('j2'), held);
    assert.equal(r.compactSize, 3);
    assert.deepEqual([...r.ids('fair')], ['j1', 'j2', 'j3']);
    // Read back whole: the same place again, one compact fewer.
    assert.equal(r.swap(whole), true);
    assert.equal(r.compactSize, 2);
    assert.equal(r.swap(entry('nobody', 'fair', 'A', 3)), false, 'an id not filed is not filed by a swap');
    assert.equal(r.get('nobody'), undefined);
    r.delete('j1');
    r.delete('j2');
    assert.equal(r.compactSize, 1);
    assert.deepEqual([...r.ids('fair')], ['j3']);
  });
});

void describe('compact records (core/compact-runnable.ts)', () => {
  const res = { vcpus: 2, memoryMiB: 512, gpus: 0 };
  const lic = { consumableResourceList: [{ consumableResource: 'lic', quantity: 1 }] };

  void it('return every field they were made with, a far createdAt included', () => {
    const now = 1_780_000_000_123;
    const day = 86_400_000;
    for (const [created, changed] of [
      [now, now],
      [now - 5, now],
      [now - 20 * day, now], // waited 20 days: beyond a small integer
      [now + 7, now], // a clock step back
    ] as const) {
      const c = compactRunnable('id', 'q', created, changed, 's', 4, res, lic);
      assert.deepEqual(compactFields(c), {
        jobId: 'id',
        jobQueueArn: 'q',
        createdAt: created,
        statusChangedAt: changed,
        shareIdentifier: 's',
        schedulingPriority: 4,
        resources: res,
        consumableResourceProperties: lic,
      });
      assert.ok(isCompact(c));
    }
    const none = compactRunnable('id', 'q', 1, 1, undefined, undefined, res, undefined);
    assert.equal(none.shareIdentifier, undefined);
    assert.equal(none.schedulingPriority, undefined);
    assert.equal(none.consumableResourceProperties, undefined);
  });

  void it('share one object for the parts jobs hold equal, and keep different ones apart', () => {
    const a = compactRunnable('a', 'q', 1, 2, 's', undefined, res, undefined);
    const b = compactRunnable('b', 'q', 3, 4, 's', undefined, { ...res }, undefined);
    assert.equal(a.resources, b.resources, 'equal resources: one object');
    assert.deepEqual(Object.keys(a), Object.keys(b));
    const differ = [
      compactRunnable('c', 'q2', 1, 2, 's', undefined, res, undefined),
      compactRunnable('c', 'q', 1, 2, '', undefined, res, undefined),
      compactRunnable('c', 'q', 1, 2, undefined, undefined, res, undefined),
      compactRunnable('c', 'q', 1, 2, 's', 0, res, undefined),
      compactRunnable('c', 'q', 1, 2, 's', undefined, { ...res, gpus: 1 }, undefined),
      compactRunnable('c', 'q', 1, 2, 's', undefined, res, lic),
    ];
    const seen = differ.map((c) => [
      c.jobQueueArn,
      c.shareIdentifier,
      c.schedulingPriority,
      c.resources.gpus,
      c.consumableResourceProperties,
    ]);
    assert.deepEqual(seen, [
      ['q2', 's', undefined, 0, undefined],
      ['q', '', undefined, 0, undefined],
      ['q', undefined, undefined, 0, undefined],
      ['q', 's', 0, 0, undefined],
      ['q', 's', undefined, 1, undefined],
      ['q', 's', undefined, 0, lic],
    ]);
    // Many kinds in one share (more than it compares before starting over): each record keeps its own.
    const many = Array.from({ length: 40 }, (_, i) =>
      compactRunnable(`m${i}`, 'q', 1, 2, 'many', i % 3, { vcpus: 1, memoryMiB: 100 + i, gpus: 0 }, undefined),
    );
    assert.deepEqual(
      many.map((c) => [c.resources.memoryMiB, c.schedulingPriority]),
      many.map((_, i) => [100 + i, i % 3]),
    );
    const again = compactRunnable('m40', 'q', 1, 2, 'many', 39 % 3, { vcpus: 1, memoryMiB: 139, gpus: 0 }, undefined);
    assert.equal(again.resources, many[39]!.resources, 'a recent kind is shared');
  });
});

void describe('ShareLedger', () => {
  const policy = { shareDecaySeconds: 600 };
  const tau = decayTau(policy);

  void it('counts running vCPUs per queue and share; a stop undoes exactly its start', () => {
    const l = new ShareLedger();
    l.start('j1', 'q', 2, 0, { id: 'A', policy });
    l.start('j2', 'q', 1, 0, { id: 'B', policy });
    l.start('j3', 'fifo', 4, 0);
    l.start('j1', 'q', 2, 0, { id: 'A', policy }); // counted once
    assert.equal(l.runningVcpus('q'), 3);
    assert.equal(l.runningVcpus('fifo'), 4);
    assert.equal(l.shares('q').get('A')!.runningVcpus, 2);
    l.stop('j1', 60_000);
    l.stop('j1', 60_000); // stopped once
    const a = l.shares('q').get('A')!;
    assert.equal(a.runningVcpus, 0);
    // 2 vCPUs for 60 s, decayed: what usageAt integrates.
    assert.ok(Math.abs(a.usage - usageAt({ usage: 0, at: 0, runningVcpus: 2, lastActiveAt: 0 }, 60_000, tau)) < 1e-9);
    assert.ok(a.usage > 100 && a.usage < 120, `usage ${a.usage}`);
    assert.equal(l.runningVcpus('q'), 1);
    l.stop('j3', 60_000);
    assert.equal(l.runningVcpus('fifo'), 0);
  });

  void it('forgets a share idle for a whole window, keeps a running one', () => {
    const l = new ShareLedger();
    l.start('j1', 'q', 1, 0, { id: 'A', policy });
    l.stop('j1', 1000);
    l.start('j2', 'q', 1, 0, { id: 'B', policy });
    l.prune('q', 1000 + 599_000, 600);
    assert.deepEqual([...l.shares('q').keys()], ['A', 'B']);
    l.prune('q', 1000 + 600_000, 600);
    assert.deepEqual([...l.shares('q').keys()], ['B']);
  });
});

void describe('rebuildShareUsage (a new leader)', () => {
  const policy = { shareDecaySeconds: 600 };
  const tau = decayTau(policy);
  const now = 10_000_000;
  const base = {
    jobQueueArn: 'fair',
    resources: { vcpus: 2, memoryMiB: 1, gpus: 0 },
    container: {},
  };
  const job = (id: string, share: string, status: Job['status'], extra: Partial<Job>): Job =>
    ({ jobId: id, shareIdentifier: share, status, attempts: [], ...base, ...extra }) as unknown as Job;

  void it('adds the attempts that ended within the window, decayed, and what running jobs ran so far', () => {
    const ledger = new ShareLedger();
    const jobs = [
      // Two attempts of a retried job: both within the window.
      job('a1', 'A', 'FAILED', {
        attempts: [
          { container: {}, startedAt: now - 300_000, stoppedAt: now - 240_000 },
          { container: {}, startedAt: now - 200_000, stoppedAt: now - 100_000 },
        ],
      }),
      // Ended before the window: forgotten, as the scheduler would have.
      job('a2', 'A', 'SUCCEEDED', {
        attempts: [{ container: {}, startedAt: now - 900_000, stoppedAt: now - 700_000 }],
      }),
      // Running for 30 s on the old leader.
      job('b1', 'B', 'RUNNING', { startedAt: now - 30_000 }),
      // Queue without a policy, and a job that never ran: nothing.
      job('c1', 'C', 'SUCCEEDED', {
        jobQueueArn: 'fifo',
        attempts: [{ container: {}, startedAt: now - 10_000, stoppedAt: now }],
      }),
      job('d1', 'D', 'FAILED', { attempts: [] }),
    ];
    rebuildShareUsage(ledger, jobs, (q) => (q === 'fair' ? policy : undefined), now);
    const shares = ledger.shares('fair');
    assert.deepEqual([...shares.keys()].sort(), ['A', 'B']);
    const a = shares.get('A')!;
    const expectA =
      attemptUsage(2, now - 300_000, now - 240_000, now, tau) + attemptUsage(2, now - 200_000, now - 100_000, now, tau);
    assert.ok(Math.abs(a.usage - expectA) < 1e-9, `A ${a.usage} vs ${expectA}`);
    assert.equal(a.lastActiveAt, now - 100_000, 'active until its last attempt ended');
    assert.equal(a.runningVcpus, 0);
    // The same figure as the ledger's own curve: 2 vCPUs for 100 s, then 100 s of decay.
    const viaCurve = usageAt(
      {
        usage: usageAt({ usage: 0, at: 0, runningVcpus: 2, lastActiveAt: 0 }, 100_000, tau),
        at: 0,
        runningVcpus: 0,
        lastActiveAt: 0,
      },
      100_000,
      tau,
    );
    assert.ok(Math.abs(attemptUsage(2, now - 200_000, now - 100_000, now, tau) - viaCurve) < 1e-9);
    const b = shares.get('B')!;
    assert.ok(Math.abs(b.usage - attemptUsage(2, now - 30_000, now, now, tau)) < 1e-9);
    assert.equal(b.lastActiveAt, now);
    assert.equal(ledger.shares('fifo').size, 0);
    // A recovered running job is then counted as usual, on top of the seeded usage.
    ledger.start('b1', 'fair', 2, now, { id: 'B', policy });
    assert.equal(shares.get('B')!.runningVcpus, 2);
    assert.ok(Math.abs(shares.get('B')!.usage - attemptUsage(2, now - 30_000, now, now, tau)) < 1e-9);
  });
});
