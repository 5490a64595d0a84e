/** api/metrics: the usage gauges of one scrape share one read of the store (it goes over every job of the day). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OpenbatchMetrics } from '../../src/api/metrics/openbatch-metrics.js';

void describe('usage gauges', () => {
  void it('read usageByOwner once per scrape, again at the next scrape', async () => {
    let now = 100_000_000;
    const reads: { from: number; to: number }[] = [];
    const m = new OpenbatchMetrics({
      countJobsByQueueAndStatus: async () => [],
      usageByOwner: async (q) => {
        reads.push(q);
        return [
          { pi: 'lab-a', user: 'ann', jobs: 2, vcpuHours: 1.5 },
          { pi: 'lab-a', user: 'bob', jobs: 1, vcpuHours: 0.5 },
        ];
      },
      engineState: () => undefined,
      clock: () => now,
    });
    const first = await m.registry.metrics();
    assert.match(first, /^openbatch_pi_vcpu_hours_24h\{pi="lab-a"\} 2$/m);
    assert.match(first, /^openbatch_pi_jobs_finished_24h\{pi="lab-a"\} 3$/m);
    assert.deepEqual(reads, [{ from: now - 24 * 3600 * 1000, to: now }]);
    now += 60_000;
    await m.registry.metrics();
    assert.equal(reads.length, 2);
    assert.equal(reads[1]!.to, now);
  });
});
