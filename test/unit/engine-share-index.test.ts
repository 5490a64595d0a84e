/**
 * The engine's fair-share bookkeeping (src/service/engine/runnable-queues.ts, share-ledger.ts): RUNNABLE ids filed per
 * share in run order and removed wherever they were filed; each start and stop moves its share's usage record; a new
 * leader seeds the records from the jobs in the store.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Job } from '../../src/core/types.js';
import { attemptUsage, decayTau, usageAt } from '../../src/scheduler/fair-share.js';
import { RunnableQueues } from '../../src/service/engine/runnable-queues.js';
import { ShareLedger } from '../../src/service/engine/share-ledger.js';
import { rebuildShareUsage } from '../../src/service/engine/usage-rebuild.js';

void describe('RunnableQueues', () => {
  void it('keeps FIFO queues in arrival order and shares by schedulingPriority then arrival', () => {
    const r = new RunnableQueues();
    r.add('fifo', 'f1');
    r.add('fifo', 'f2');
    r.add('fair', 'a-low', 'A', 0);
    r.add('fair', 'a-high', 'A', 9);
    r.add('fair', 'a-low2', 'A', 0);
    r.add('fair', 'b1', 'B', 0);
    r.add('fifo', 'f1'); // filed again: keeps its place
    assert.deepEqual([...r.fifo('fifo')], ['f1', 'f2']);
    assert.deepEqual([...r.shares('fair').keys()], ['A', 'B']);
    assert.deepEqual(
      [...r.shares('fair').get('A')!.entries()].map(([id]) => id),
      ['a-high', 'a-low', 'a-low2'],
    );
    assert.deepEqual([...r.ids('fair')], ['a-high', 'a-low', 'a-low2', 'b1']);
    // Removed by id alone, wherever it was filed; an emptied share and queue disappear.
    r.delete('a-high');
    r.delete('b1');
    assert.deepEqual([...r.shares('fair').keys()], ['A']);
    r.delete('a-low');
    r.delete('a-low2');
    assert.equal(r.has('fair'), false);
    r.delete('f1');
    r.delete('f2');
    assert.equal(r.empty, true);
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
