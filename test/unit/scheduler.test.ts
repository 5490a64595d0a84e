/** The pure scheduler and explain(): property-based (fast-check) and worked examples. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { explainWait, neverFits, WaitCode } from '../../src/scheduler/explain.js';
import {
  fits,
  schedule,
  type SchedComputeEnvironment,
  type SchedHost,
  type SchedQueue,
  type Snapshot,
} from '../../src/scheduler/schedule.js';

const host = (vcpus: number, memoryMiB = 1_000_000, gpus = 0): SchedHost => ({
  vcpus,
  memoryMiB,
  gpus,
  usedVcpus: 0,
  usedMemoryMiB: 0,
  usedGpus: 0,
  runningJobs: 0,
});
const ce = (name: string, maxVcpus: number, extra: Partial<SchedComputeEnvironment> = {}): SchedComputeEnvironment => ({
  arn: `ce/${name}`,
  name,
  enabled: true,
  managed: true,
  maxVcpus,
  usedVcpus: 0,
  runningJobs: 0,
  ...extra,
});
const job = (jobId: string, vcpus: number, memoryMiB = 1, gpus = 0) => ({
  jobId,
  resources: { vcpus, memoryMiB, gpus },
});
const snap = (h: SchedHost, ces: SchedComputeEnvironment[], queues: SchedQueue[]): Snapshot => ({
  host: h,
  computeEnvironments: new Map(ces.map((c) => [c.arn, c])),
  queues,
});

/** An arbitrary snapshot: up to 4 CEs (some disabled/unmanaged, some partly used), up to 4 queues of up to 12 jobs. */
const arbSnapshot = fc
  .record({
    hostVcpus: fc.integer({ min: 1, max: 16 }),
    hostMem: fc.integer({ min: 64, max: 4096 }),
    hostGpus: fc.integer({ min: 0, max: 2 }),
    ces: fc.array(
      fc.record({
        max: fc.integer({ min: 0, max: 16 }),
        used: fc.integer({ min: 0, max: 8 }),
        enabled: fc.boolean(),
        managed: fc.boolean(),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    queues: fc.array(
      fc.record({
        priority: fc.integer({ min: 0, max: 5 }),
        ceIdx: fc.uniqueArray(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 3 }),
        jobs: fc.array(
          fc.record({
            vcpus: fc.constantFrom(0.25, 0.5, 1, 2, 3, 4, 8, 32),
            mem: fc.integer({ min: 1, max: 2048 }),
            gpus: fc.constantFrom(0, 0, 0, 1),
          }),
          { maxLength: 12 },
        ),
      }),
      { minLength: 1, maxLength: 4 },
    ),
  })
  .map((r) => {
    const ces = r.ces.map((c, i) =>
      ce(`c${i}`, c.max, { usedVcpus: Math.min(c.used, c.max), enabled: c.enabled, managed: c.managed }),
    );
    const used = ces.reduce((s, c) => s + c.usedVcpus, 0);
    const h = { ...host(Math.max(r.hostVcpus, used), r.hostMem, r.hostGpus), usedVcpus: used };
    let n = 0;
    const queues: SchedQueue[] = r.queues.map((q, qi) => ({
      arn: `q/${qi}`,
      name: `q${qi}`,
      priority: q.priority,
      computeEnvironments: q.ceIdx.filter((i) => i < ces.length).map((i) => ces[i]!.arn),
      runnable: q.jobs.map((j) => job(`j${n++}`, j.vcpus, j.mem, j.gpus)),
    }));
    return snap(h, ces, queues);
  });

void describe('schedule() properties', () => {
  void it('never over-commits a compute environment or the host, and places each job once on an allowed CE', () => {
    fc.assert(
      fc.property(arbSnapshot, (s) => {
        const plan = schedule(s);
        const jobs = new Map(s.queues.flatMap((q) => [...q.runnable].map((j) => [j.jobId, { j, q }] as const)));
        const ceUse = new Map([...s.computeEnvironments.values()].map((c) => [c.arn, c.usedVcpus]));
        let v = s.host.usedVcpus;
        let m = s.host.usedMemoryMiB;
        let g = s.host.usedGpus;
        const seen = new Set<string>();
        for (const p of plan.starts) {
          assert.ok(!seen.has(p.jobId), 'placed twice');
          seen.add(p.jobId);
          const { j, q } = jobs.get(p.jobId)!;
          assert.equal(p.queueArn, q.arn);
          assert.ok(q.computeEnvironments.includes(p.computeEnvironmentArn), 'placed on a CE of its queue');
          const c = s.computeEnvironments.get(p.computeEnvironmentArn)!;
          assert.ok(c.enabled && c.managed, 'only ENABLED MANAGED environments receive jobs');
          ceUse.set(c.arn, ceUse.get(c.arn)! + j.resources.vcpus);
          v += j.resources.vcpus;
          m += j.resources.memoryMiB;
          g += j.resources.gpus;
        }
        for (const c of s.computeEnvironments.values())
          assert.ok(ceUse.get(c.arn)! <= Math.max(c.maxVcpus, c.usedVcpus) + 1e-9);
        assert.ok(v <= s.host.vcpus + 1e-9 && m <= s.host.memoryMiB && g <= s.host.gpus);
        // Purity: the snapshot was not modified.
        assert.equal(v - plan.starts.reduce((a, p) => a + jobs.get(p.jobId)!.j.resources.vcpus, 0), s.host.usedVcpus);
      }),
      { numRuns: 500 },
    );
  });

  void it('is work-conserving (backfill): after the plan, no waiting job would fit any environment of its queue', () => {
    fc.assert(
      fc.property(arbSnapshot, (s) => {
        const plan = schedule(s);
        const placed = new Map(plan.starts.map((p) => [p.jobId, p]));
        const h = { ...s.host };
        const ces = new Map([...s.computeEnvironments].map(([a, c]) => [a, { ...c }]));
        for (const q of s.queues)
          for (const j of q.runnable) {
            const p = placed.get(j.jobId);
            if (!p) continue;
            ces.get(p.computeEnvironmentArn)!.usedVcpus += j.resources.vcpus;
            h.usedVcpus += j.resources.vcpus;
            h.usedMemoryMiB += j.resources.memoryMiB;
            h.usedGpus += j.resources.gpus;
          }
        // Capacity only shrinks during a pass, so a job that did not fit at its turn cannot fit now.
        for (const q of s.queues)
          for (const j of q.runnable)
            if (!placed.has(j.jobId))
              for (const arn of q.computeEnvironments)
                assert.ok(!fits(j.resources, h, ces.get(arn)!), `job ${j.jobId} waits although it fits ${arn}`);
      }),
      { numRuns: 500 },
    );
  });

  void it('serves higher priority first: with one shared CE, no lower-priority job starts while a higher one that fits waits', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 10 }),
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 10 }),
        (max, hi, lo) => {
          const c = ce('c', max);
          const plan = schedule(
            snap(
              host(64),
              [c],
              [
                {
                  arn: 'q/lo',
                  name: 'lo',
                  priority: 1,
                  computeEnvironments: [c.arn],
                  runnable: lo.map((v, i) => job(`lo${i}`, v)),
                },
                {
                  arn: 'q/hi',
                  name: 'hi',
                  priority: 9,
                  computeEnvironments: [c.arn],
                  runnable: hi.map((v, i) => job(`hi${i}`, v)),
                },
              ],
            ),
          );
          const firstLo = plan.starts.findIndex((p) => p.queueArn === 'q/lo');
          if (firstLo >= 0)
            assert.ok(
              plan.starts.slice(firstLo).every((p) => p.queueArn === 'q/lo'),
              'all hi placements come first',
            );
          const hiPlacedVcpus = plan.starts
            .filter((p) => p.queueArn === 'q/hi')
            .reduce((a, p) => a + hi[Number(p.jobId.slice(2))]!, 0);
          // Every hi job that is not placed could not fit in what hi left over.
          hi.forEach((v, i) => {
            if (!plan.starts.some((p) => p.jobId === `hi${i}`)) assert.ok(hiPlacedVcpus + v > max);
          });
        },
      ),
    );
  });

  void it('FIFO within a queue, with backfill of smaller jobs behind a big one', () => {
    const c = ce('c', 4);
    const plan = schedule(
      snap(
        host(8),
        [c],
        [
          {
            arn: 'q/a',
            name: 'a',
            priority: 1,
            computeEnvironments: [c.arn],
            runnable: [job('a', 2), job('big', 4), job('b', 1), job('c', 1), job('d', 1)],
          },
        ],
      ),
    );
    assert.deepEqual(
      plan.starts.map((p) => p.jobId),
      ['a', 'b', 'c'],
    );
  });

  void it('tries environments in order, skipping DISABLED and UNMANAGED ones', () => {
    const off = ce('off', 8, { enabled: false });
    const un = ce('un', 8, { managed: false });
    const first = ce('first', 1);
    const second = ce('second', 4);
    const plan = schedule(
      snap(
        host(16),
        [off, un, first, second],
        [
          {
            arn: 'q/a',
            name: 'a',
            priority: 1,
            computeEnvironments: [off.arn, un.arn, first.arn, second.arn],
            runnable: [job('x', 1), job('y', 1), job('z', 2)],
          },
        ],
      ),
    );
    assert.deepEqual(
      plan.starts.map((p) => `${p.jobId}@${p.computeEnvironmentArn}`),
      ['x@ce/first', 'y@ce/second', 'z@ce/second'],
    );
  });

  void it('respects host memory and GPUs', () => {
    const c = ce('c', 16);
    const plan = schedule(
      snap(
        host(16, 1000, 1),
        [c],
        [
          {
            arn: 'q/a',
            name: 'a',
            priority: 1,
            computeEnvironments: [c.arn],
            runnable: [job('m1', 1, 600), job('m2', 1, 600), job('g1', 1, 100, 1), job('g2', 1, 100, 1)],
          },
        ],
      ),
    );
    assert.deepEqual(
      plan.starts.map((p) => p.jobId),
      ['m1', 'g1'],
    );
  });
});

void describe('explain()', () => {
  const q = { name: 'mixed', computeEnvironments: ['ce/mixed'] };
  void it('JOB_RESOURCE_REQUIREMENT when a job can never fit, naming the largest environment', () => {
    const c = ce('mixed', 2);
    const r = neverFits({ vcpus: 64, memoryMiB: 1, gpus: 0 }, host(32), 'mixed', [c]);
    assert.equal(r?.code, WaitCode.JOB_RESOURCE_REQUIREMENT);
    assert.equal(
      r?.text,
      'MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - needs 64 vCPUs; the largest compute environment of queue mixed (mixed) allows 2',
    );
    assert.match(
      neverFits({ vcpus: 1, memoryMiB: 99999, gpus: 0 }, host(4, 1000), 'mixed', [c])!.text,
      /needs 99999 MiB of memory; this host has 1000 MiB/,
    );
    assert.equal(neverFits({ vcpus: 2, memoryMiB: 1, gpus: 0 }, host(4), 'mixed', [c]), undefined);
  });
  void it('COMPUTE_ENVIRONMENT_MAX_RESOURCE when no environment can run anything', () => {
    const r = neverFits({ vcpus: 1, memoryMiB: 1, gpus: 0 }, host(4), 'mixed', [
      ce('mixed', 4, { enabled: false }),
      ce('u', 4, { managed: false }),
    ]);
    assert.equal(r?.code, WaitCode.COMPUTE_ENVIRONMENT_MAX_RESOURCE);
    assert.match(r.text, /mixed \(DISABLED\), u \(UNMANAGED with no capacity attached\)/);
    assert.match(r.text, /tagging it openbatch:slurm-partition=<partition>/);
  });
  void it('CAPACITY with the facts: vCPUs in use, jobs, and how many wait ahead', () => {
    const c = ce('mixed', 2, { usedVcpus: 2, runningJobs: 2 });
    const r = explainWait(
      snap({ ...host(32), usedVcpus: 2, runningJobs: 2 }, [c], []),
      q,
      { vcpus: 1, memoryMiB: 1, gpus: 0 },
      37,
    );
    assert.equal(
      r.text,
      'CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - 2 of 2 vCPUs of mixed in use by 2 jobs; needs 1; 37 jobs ahead in queue mixed',
    );
    const h = explainWait(
      snap({ ...host(4), usedVcpus: 4, runningJobs: 4 }, [ce('mixed', 16, { usedVcpus: 0 })], []),
      q,
      { vcpus: 1, memoryMiB: 1, gpus: 0 },
      1,
    );
    assert.match(h.text, /4 of 4 host vCPUs in use by 4 jobs; needs 1; 1 job ahead/);
  });
});

void describe('capacity pools (an UNMANAGED environment bound to a Slurm partition)', () => {
  const pool = (name: string, maxVcpus: number, extra: Partial<SchedComputeEnvironment> = {}) =>
    ce(name, maxVcpus, { managed: false, pool: `slurm:${name}`, ...extra });
  const queueOn = (ceNames: string[], jobs: ReturnType<typeof job>[]): SchedQueue => ({
    arn: 'q/pooled',
    name: 'pooled',
    priority: 1,
    computeEnvironments: ceNames.map((n) => `ce/${n}`),
    runnable: jobs,
  });

  void it('places on a pool up to its vCPUs although this host is full, and never past them', () => {
    const full = { ...host(2), usedVcpus: 2, usedMemoryMiB: 1_000_000, runningJobs: 2 };
    const jobs = Array.from({ length: 10 }, (_, i) => job(`j${i}`, 2, 4096, 1));
    const plan = schedule(snap(full, [pool('batch', 12)], [queueOn(['batch'], jobs)]));
    assert.deepEqual(
      plan.starts.map((p) => p.jobId),
      ['j0', 'j1', 'j2', 'j3', 'j4', 'j5'],
    );
    assert.ok(plan.starts.every((p) => p.computeEnvironmentArn === 'ce/batch'));
  });

  void it('fills this host first when the queue lists it first, then the pool', () => {
    const plan = schedule(
      snap(
        host(2),
        [ce('local', 2), pool('batch', 4)],
        [
          queueOn(
            ['local', 'batch'],
            [1, 2, 3, 4].map((i) => job(`j${i}`, 1)),
          ),
        ],
      ),
    );
    assert.deepEqual(
      plan.starts.map((p) => [p.jobId, p.computeEnvironmentArn]),
      [
        ['j1', 'ce/local'],
        ['j2', 'ce/local'],
        ['j3', 'ce/batch'],
        ['j4', 'ce/batch'],
      ],
    );
  });

  void it('an UNMANAGED environment with nothing attached takes nothing; a DISABLED pool neither', () => {
    const plan = schedule(
      snap(
        host(8),
        [ce('bare', 8, { managed: false }), pool('off', 8, { enabled: false })],
        [queueOn(['bare', 'off'], [job('j', 1)])],
      ),
    );
    assert.deepEqual(plan.starts, []);
  });
});
