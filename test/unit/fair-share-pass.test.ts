/** One scheduling pass over fair-share queues and consumable resources; front of queue; why fair share holds a job. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { explainFairshareWait, shareStandings } from '../../src/scheduler/explain-fairshare.js';
import { frontOfQueue } from '../../src/scheduler/front-of-queue.js';
import type { FairsharePolicy, ShareUsage } from '../../src/scheduler/fair-share.js';
import { QueueRunnable } from '../../src/scheduler/runnable-index.js';
import {
  schedule,
  type SchedComputeEnvironment,
  type SchedHost,
  type SchedJob,
  type SchedQueue,
  type Snapshot,
} from '../../src/scheduler/schedule.js';

const host = (vcpus: number, used = 0): SchedHost => ({
  vcpus,
  memoryMiB: 1e6,
  gpus: 0,
  usedVcpus: used,
  usedMemoryMiB: 0,
  usedGpus: 0,
  runningJobs: 0,
});
const ce = (maxVcpus: number, used = 0): SchedComputeEnvironment => ({
  arn: 'ce',
  name: 'ce',
  enabled: true,
  managed: true,
  maxVcpus,
  usedVcpus: used,
  runningJobs: 0,
});
const usage = (runningVcpus = 0, u = 0): ShareUsage => ({ usage: u, at: 0, runningVcpus, lastActiveAt: 0 });
const job = (jobId: string, vcpus = 1, consumables?: SchedJob['consumables']): SchedJob => ({
  jobId,
  resources: { vcpus, memoryMiB: 1, gpus: 0 },
  ...(consumables ? { consumables } : {}),
});

function fsQueue(
  policy: FairsharePolicy,
  index: QueueRunnable<SchedJob>,
  running: Record<string, number> = {},
): SchedQueue {
  const ids = new Set([...index.shares.keys(), ...Object.keys(running)]);
  return {
    arn: 'q',
    name: 'q',
    priority: 1,
    computeEnvironments: ['ce'],
    runnable: [],
    fairshare: {
      policy,
      shares: [...ids].map((id) => ({
        id,
        usage: usage(running[id] ?? 0),
        runnable: index.shares.get(id) ?? [],
        hasJobs: true,
      })),
    },
  };
}
const snap = (
  h: SchedHost,
  c: SchedComputeEnvironment,
  queues: SchedQueue[],
  extra: Partial<Snapshot> = {},
): Snapshot => ({
  host: h,
  computeEnvironments: new Map([[c.arn, c]]),
  queues,
  now: 0,
  ...extra,
});

void describe('a fair-share pass', () => {
  void it('alternates shares by weight and takes each share by schedulingPriority, then FIFO', () => {
    const idx = new QueueRunnable<SchedJob>();
    for (let i = 0; i < 10; i++) idx.add(`a${i}`, job(`a${i}`), 'A', i === 7 ? 10 : 0);
    for (let i = 0; i < 10; i++) idx.add(`b${i}`, job(`b${i}`), 'B');
    const policy = { shareDistribution: [{ shareIdentifier: 'B', weightFactor: 0.25 }] };
    const plan = schedule(snap(host(10), ce(10), [fsQueue(policy, idx)]));
    const a = plan.starts.filter((p) => p.shareIdentifier === 'A').map((p) => p.jobId);
    const b = plan.starts.filter((p) => p.shareIdentifier === 'B').map((p) => p.jobId);
    assert.deepEqual(a, ['a7', 'a0'], 'A (weight 1) gets 2 of 10, its priority-10 job first');
    assert.deepEqual(b, ['b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7'], 'B (weight 0.25) gets 8 of 10, FIFO');
  });

  void it('a consumable resource lets only as many jobs start as there is free', () => {
    const lic = [{ consumableResource: 'matlab', quantity: 2 }];
    const q: SchedQueue = {
      arn: 'q',
      name: 'q',
      priority: 1,
      computeEnvironments: ['ce'],
      runnable: [job('j1', 1, lic), job('j2', 1, lic), job('j3', 1, lic), job('plain')],
    };
    const plan = schedule(snap(host(10), ce(10), [q], { consumables: new Map([['matlab', 5]]) }));
    assert.deepEqual(
      plan.starts.map((p) => p.jobId),
      ['j1', 'j2', 'plain'],
    );
  });

  void it('skips a shape that failed: a million same-shape jobs behind a full queue cost a bounded look', () => {
    const many: Iterable<SchedJob> = {
      *[Symbol.iterator]() {
        for (let i = 0; i < 1_000_000; i++) yield job(`j${i}`, 4);
      },
    };
    let looked = 0;
    const counted: Iterable<SchedJob> = {
      *[Symbol.iterator]() {
        for (const j of many) {
          looked++;
          yield j;
        }
      },
    };
    const q: SchedQueue = { arn: 'q', name: 'q', priority: 1, computeEnvironments: ['ce'], runnable: counted };
    const plan = schedule(snap(host(64, 62), ce(64, 62), [q]));
    assert.equal(plan.starts.length, 0);
    assert.ok(looked <= 10_001, `looked at ${looked} jobs`);
  });
});

void describe('front of queue and why fair share holds a job', () => {
  void it('frontOfQueue follows the fair-share picks; FIFO queues keep submission order', () => {
    const idx = new QueueRunnable<SchedJob>();
    for (let i = 0; i < 5; i++) idx.add(`a${i}`, job(`a${i}`), 'A');
    for (let i = 0; i < 5; i++) idx.add(`b${i}`, job(`b${i}`), 'B');
    const policy = { shareDistribution: [{ shareIdentifier: 'A', weightFactor: 0.5 }] };
    const front = frontOfQueue(fsQueue(policy, idx), host(100), [ce(100)], 0, 6);
    assert.deepEqual(
      front.map((p) => p.job.jobId),
      // Ties go by share identifier; A (weight 0.5) is charged half per vCPU, so it gets two picks to B's one.
      ['a0', 'b0', 'a1', 'a2', 'b1', 'a3'],
    );
    const fifo: SchedQueue = {
      arn: 'f',
      name: 'f',
      priority: 1,
      computeEnvironments: ['ce'],
      runnable: [job('x'), job('y')],
    };
    assert.deepEqual(
      frontOfQueue(fifo, host(1), [ce(1)], 0).map((p) => p.job.jobId),
      ['x', 'y'],
    );
  });

  void it('names the share over its due and by how much, and the reservation when that is what holds', () => {
    const idx = new QueueRunnable<SchedJob>();
    idx.add('a', job('a'), 'A');
    idx.add('b', job('b'), 'B');
    const policy = { computeReservation: 50 };
    const q = fsQueue(policy, idx, { A: 60, B: 10 });
    const st = shareStandings(q, host(100, 70), [ce(100, 70)], 0);
    assert.equal(st.limit, 75);
    const whyA = explainFairshareWait(q, host(100, 70), [ce(100, 70)], 0, 'A', 1);
    assert.match(whyA!.text, /share A is over its due: it runs 60 vCPUs, 22.5 over the 37.5/);
    assert.match(whyA!.text, /share B \(10 of 37.5 due\) go first/);
    assert.equal(explainFairshareWait(q, host(100, 70), [ce(100, 70)], 0, 'B', 1), undefined);
    const whyBig = explainFairshareWait(q, host(100, 70), [ce(100, 70)], 0, 'B', 8);
    assert.match(
      whyBig!.text,
      /keeps 25 of its 100 vCPUs for share identifiers that are not active \(computeReservation 50, 2 active shares\)/,
    );
  });
});
