/**
 * Fair share on the pure scheduler, with an injected clock: the documented arithmetic (weights, wildcards,
 * reservation, decay) and its consequences over long simulated runs (test/helpers/fair-share-sim.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  advanceUsage,
  decayTau,
  decayWindowSeconds,
  reservedRatio,
  usageAt,
  weightOf,
  type FairsharePolicy,
  type ShareUsage,
} from '../../src/scheduler/fair-share.js';
import { QueueRunnable } from '../../src/scheduler/runnable-index.js';
import { rng, simulate } from '../helpers/fair-share-sim.js';

void describe('fair-share arithmetic as AWS documents it', () => {
  void it('weights: exact identifier, then the UserA* prefix entry, else 1', () => {
    const p: FairsharePolicy = {
      shareDistribution: [
        { shareIdentifier: 'UserA*', weightFactor: 0.5 },
        { shareIdentifier: 'UserB', weightFactor: 0.125 },
        { shareIdentifier: 'UserC' },
      ],
    };
    assert.equal(weightOf(p, 'UserA1'), 0.5);
    assert.equal(weightOf(p, 'UserA'), 0.5);
    assert.equal(weightOf(p, 'UserB'), 0.125);
    assert.equal(weightOf(p, 'UserB2'), 1);
    assert.equal(weightOf(p, 'UserC'), 1);
    assert.equal(weightOf(p, 'Other'), 1);
  });

  void it('reserved ratio is (computeReservation/100)^ActiveFairShares (the API reference examples)', () => {
    const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-4, `${a} != ${b}`);
    close(reservedRatio({ computeReservation: 50 }, 1), 0.5);
    close(reservedRatio({ computeReservation: 50 }, 2), 0.25);
    close(reservedRatio({ computeReservation: 50 }, 3), 0.125);
    close(reservedRatio({ computeReservation: 25 }, 1), 0.25);
    close(reservedRatio({ computeReservation: 25 }, 2), 0.0625);
    close(reservedRatio({ computeReservation: 25 }, 3), 0.015625);
    assert.equal(reservedRatio({}, 3), 0);
  });

  void it('shareDecaySeconds 0 means the default window of 600 s', () => {
    assert.equal(decayWindowSeconds({ shareDecaySeconds: 0 }), 600);
    assert.equal(decayWindowSeconds({}), 600);
    assert.equal(decayWindowSeconds({ shareDecaySeconds: 3600 }), 3600);
  });

  void it('decay forgets: usage one window old weighs under 5%, and decay is monotone', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 604_800 }),
        fc.double({ min: 1, max: 1e9, noNaN: true }),
        fc.double({ min: 0, max: 3, noNaN: true }),
        (decay, usage, windows) => {
          const p = { shareDecaySeconds: decay };
          const w = decayWindowSeconds(p);
          const u: ShareUsage = { usage, at: 0, runningVcpus: 0, lastActiveAt: 0 };
          const later = usageAt(u, windows * w * 1000, decayTau(p));
          assert.ok(later <= usage * (1 + 1e-12));
          if (windows >= 1) assert.ok(later <= usage * 0.0499, `${later} of ${usage} after ${windows} windows`);
        },
      ),
    );
  });

  void it('usage is the exact decayed integral: advancing in many steps equals advancing once', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 5000 }), vcpus: fc.integer({ min: 0, max: 64 }) }), {
          minLength: 1,
          maxLength: 30,
        }),
        fc.integer({ min: 1, max: 7200 }),
        (steps, decay) => {
          const tau = decayTau({ shareDecaySeconds: decay });
          const u: ShareUsage = { usage: 0, at: 0, runningVcpus: 0, lastActiveAt: 0 };
          // Reference: a fine numerical integral of running vCPUs × e^{-(now - s)/τ}.
          // A share that ran nothing for a whole window (3τ) since its last change has its usage forgotten
          // (decision 0006): the reference forgets it too.
          let t = 0;
          let ref = 0;
          let prev: { dt: number; vcpus: number } | undefined;
          for (const s of steps) {
            if (prev && prev.vcpus === 0 && prev.dt >= tau * 3 * 1000) ref = 0;
            prev = s;
            advanceUsage(u, t, tau, true);
            u.runningVcpus = s.vcpus;
            const dt = s.dt / 1000;
            ref = ref * Math.exp(-dt / tau) + s.vcpus * tau * (1 - Math.exp(-dt / tau));
            t += s.dt;
          }
          const got = usageAt(u, t, tau);
          assert.ok(Math.abs(got - ref) <= 1e-6 * Math.max(1, ref), `${got} vs ${ref}`);
        },
      ),
    );
  });

  void it('within a share: higher schedulingPriority first, then first in, first out', () => {
    const q = new QueueRunnable<string>();
    q.add('a', 'a', 'S', 0);
    q.add('b', 'b', 'S', 5);
    q.add('c', 'c', 'S', 0);
    q.add('d', 'd', 'S', 9999);
    q.add('e', 'e', 'S', 5);
    assert.deepEqual([...q.shares.get('S')!], ['d', 'b', 'e', 'a', 'c']);
    assert.ok(q.delete('b', 'S', 5));
    assert.ok(!q.delete('b', 'S', 5));
    assert.deepEqual([...q.shares.get('S')!], ['d', 'e', 'a', 'c']);
    assert.equal(q.size, 4);
  });
});

void describe('fair share over long simulated runs (injected clock)', () => {
  void it('shares of weights 1, 0.5 and 0.125 get vCPU-seconds within 5% of what weights and reservation prescribe', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 }),
        fc.constantFrom(0, 120, 600, 1800),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 5, max: 90 }),
        (cr, decay, seed, maxDuration) => {
          const r = rng(seed);
          const policy: FairsharePolicy = {
            computeReservation: cr,
            shareDecaySeconds: decay,
            shareDistribution: [
              { shareIdentifier: 'w1', weightFactor: 1 },
              { shareIdentifier: 'w05', weightFactor: 0.5 },
              { shareIdentifier: 'lab*', weightFactor: 0.125 },
            ],
          };
          const capacity = 352;
          const duration = () => 1 + Math.floor(r() * maxDuration);
          const seconds = Math.max(2 * 3600, 6 * decayWindowSeconds(policy));
          const res = simulate({
            capacity,
            policy,
            seconds,
            shares: [
              { id: 'w1', duration },
              { id: 'w05', duration },
              { id: 'lab-x', duration },
            ],
          });
          const usable = capacity * (1 - reservedRatio(policy, 3));
          const inv = { w1: 1, w05: 2, 'lab-x': 8 } as Record<string, number>;
          for (const [id, got] of res.vcpuSeconds) {
            const due = (usable * seconds * inv[id]!) / 11;
            if (process.env.FAIRSHARE_SIM_VERBOSE)
              console.log(id, cr, decay, maxDuration, ((got - due) / due).toFixed(4));
            assert.ok(
              Math.abs(got - due) <= 0.05 * due,
              `share ${id}: ${got} vCPU-s, due ${due.toFixed(0)} (cr ${cr}, decay ${decay})`,
            );
          }
        },
      ),
      { numRuns: 4 },
    );
  });

  void it('an idle share gets the reserved capacity in the pass where it becomes active', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 99 }), fc.integer({ min: 8, max: 400 }), (cr, capacity) => {
        const policy: FairsharePolicy = { computeReservation: cr };
        const long = () => 1e6;
        fc.pre(Math.floor(capacity * (1 - reservedRatio(policy, 1)) + 1e-9) >= 1);
        const res = simulate({
          capacity,
          policy,
          seconds: 12,
          recordStartsAt: [10],
          shares: [
            { id: 'busy', duration: long },
            { id: 'late', from: 10, duration: long },
          ],
        });
        const r1 = reservedRatio(policy, 1);
        const r2 = reservedRatio(policy, 2);
        const busyCap = Math.floor(capacity * (1 - r1) + 1e-9);
        assert.equal(res.running.get('busy'), busyCap, 'one active share keeps the reservation free');
        const lateGot = res.startsAt.get(10)?.get('late') ?? 0;
        const released = Math.floor(capacity * (1 - r2) + 1e-9) - busyCap;
        assert.equal(lateGot, released, `late share got ${lateGot} at once; the reservation released ${released}`);
      }),
      { numRuns: 40 },
    );
  });

  void it('old usage is forgotten once a share has been idle a whole window; recent usage still counts', () => {
    const policy: FairsharePolicy = { shareDecaySeconds: 600 };
    const firstPass = (gap: number) => {
      const back = 1200 + gap;
      const res = simulate({
        capacity: 100,
        policy,
        seconds: back + 1,
        recordStartsAt: [back],
        shares: [
          { id: 'A', present: (t) => t < 1200 || t >= back, duration: (t) => (t < 1200 ? 10 : 1e6) },
          { id: 'B', from: back, duration: () => 1e6 },
        ],
      });
      const starts = res.startsAt.get(back)!;
      return { a: starts.get('A') ?? 0, b: starts.get('B') ?? 0 };
    };
    // Idle for more than the window: A is inactive, its 1,200 s at 100 vCPUs are forgotten; equal weights split evenly.
    const forgotten = firstPass(700);
    assert.equal(forgotten.a + forgotten.b, 100);
    assert.ok(
      Math.abs(forgotten.a - forgotten.b) <= 1,
      `after a whole idle window: A ${forgotten.a}, B ${forgotten.b}`,
    );
    // Back after 60 s: A's decayed usage still counts, so B (no usage) is served first and gets most.
    const recent = firstPass(60);
    assert.equal(recent.a + recent.b, 100);
    assert.ok(recent.b >= 80, `60 s after a heavy run: A ${recent.a}, B ${recent.b}`);
  });
});
