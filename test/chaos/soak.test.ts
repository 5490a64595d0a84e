/**
 * Chaos: 100 concurrent clients mixing the Batch and Logs operations for 15 s against a server that really runs the
 * jobs (process runtime). Not one error, and the server's memory stays bounded. Latency is a benchmark figure
 * (`npm run bench`, 60 s, BENCHMARKS.md), not a pass/fail here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestServer } from '../helpers/server.js';
import { soakAgainst, startSoakServer } from './soak-load.js';

void describe('chaos: soak of 100 concurrent clients', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startSoakServer();
  });
  after(async () => srv?.stop());

  void it('serves every request without an error and with bounded memory', async () => {
    const r = await soakAgainst(srv, { warmupMs: 3_000, durationMs: 15_000 });
    assert.equal(r.errorCount, 0, r.errors.join('\n'));
    assert.ok(r.requests > 100, `requests served: ${r.requests}`);
    // Cancel, terminate and tag wait for a first job, so a slow machine may not reach them in 15 s.
    assert.ok(Object.keys(r.byOperation).length >= 8, JSON.stringify(r.byOperation));
    // Bounded, not flat: 15 s still includes caches filling; the 60 s benchmark holds it to 10%.
    const growth = (r.rssEndBytes - r.rssStartBytes) / r.rssStartBytes;
    assert.ok(growth < 0.5, `RSS grew ${(growth * 100).toFixed(1)}% (${r.rssStartBytes} -> ${r.rssEndBytes})`);
    assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
    // Started as a user starts it (bin/openbatch), the server capped V8's young generation before loading (0017).
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    const young = /^openbatch_nodejs_heap_space_size_total_bytes\{space="new"\} (\S+)/m.exec(metrics)?.[1];
    assert.ok(young !== undefined && Number(young) <= 16 * 2 ** 20, `young generation: ${young} bytes`);
  });
});
