/**
 * Leader election over a real store (SQLite): one holder at a time, epochs that grow only when the lease changes
 * hands, a pause (store unreachable) that resumes with the same epoch when nobody took over, and fenced writes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FencedError } from '../../src/core/errors.js';
import type { Store } from '../../src/core/ports.js';
import type { Job } from '../../src/core/types.js';
import { Leadership } from '../../src/service/engine/leadership.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

/** A store whose lease calls fail while `down` is set (as an unreachable database does). */
function flaky(store: SqliteStore): Store & { down: boolean } {
  const s = Object.create(store) as Store & { down: boolean };
  s.down = false;
  s.acquireLease = (h, ttl) => (s.down ? Promise.reject(new Error('connection refused')) : store.acquireLease(h, ttl));
  return s;
}

function recorder() {
  const log: string[] = [];
  return {
    log,
    events: {
      elected: async (epoch: number) => void log.push(`elected ${epoch}`),
      lost: async (_r: string, handedOver: boolean) => void log.push(`lost ${handedOver ? 'handed-over' : 'paused'}`),
      handedOver: async () => void log.push('handed-over'),
    },
  };
}

const job = (id: string): Job => ({
  jobId: id,
  jobArn: `arn:aws:batch:us-east-1:1:job/${id}`,
  jobName: id,
  jobQueueArn: 'q',
  jobDefinitionArn: 'arn:aws:batch:us-east-1:1:job-definition/d:1',
  status: 'RUNNABLE',
  createdAt: 1,
  statusChangedAt: 1,
  attempts: [],
  container: {},
  dependsOn: [],
  parameters: {},
  containerProperties: {},
  resources: { vcpus: 1, memoryMiB: 16, gpus: 0 },
});

test('one leader; the other takes over only after the lease expires, with the next epoch; old writes are fenced', async () => {
  const store = new SqliteStore({ file: ':memory:' });
  const a = recorder();
  const b = recorder();
  const la = new Leadership(store, { holder: 'a', ttlMs: 300, renewMs: 50 }, a.events);
  const lb = new Leadership(store, { holder: 'b', ttlMs: 300, renewMs: 50 }, b.events);
  await la.tryRound();
  await lb.tryRound();
  assert.deepEqual(a.log, ['elected 1']);
  assert.deepEqual(b.log, []);
  await store.writeJobs([job('j1')], { epoch: 1 });
  // a stops renewing (it "died"): b takes over after the lease expired.
  await new Promise((r) => setTimeout(r, 350));
  await lb.tryRound();
  assert.deepEqual(b.log, ['elected 2']);
  await assert.rejects(store.writeJobs([job('j2')], { epoch: 1 }), FencedError);
  assert.deepEqual(await store.getJobs(['j2']), [], 'a fenced write writes nothing');
  await store.writeJobs([job('j2')], { epoch: 2 });
  // a comes back: it sees another holder and steps down, handing over.
  await la.tryRound();
  assert.deepEqual(a.log, ['elected 1', 'lost handed-over']);
  await lb.stop();
  await la.stop();
  await store.close();
});

test('a leader that cannot reach the store pauses, and resumes with the same epoch when nobody took over', async () => {
  const store = new SqliteStore({ file: ':memory:' });
  const s = flaky(store);
  const a = recorder();
  const la = new Leadership(s, { holder: 'a', ttlMs: 200, renewMs: 50 }, a.events);
  await la.tryRound();
  s.down = true;
  await new Promise((r) => setTimeout(r, 220));
  await la.tryRound();
  assert.deepEqual(a.log, ['elected 1', 'lost paused']);
  s.down = false;
  await la.tryRound();
  assert.deepEqual(a.log, ['elected 1', 'lost paused', 'elected 1'], 'same epoch: nobody else wrote meanwhile');
  await la.stop();
  await store.close();
});

test('a paused leader whose lease another replica took hands its attempts over', async () => {
  const store = new SqliteStore({ file: ':memory:' });
  const s = flaky(store);
  const a = recorder();
  const b = recorder();
  const la = new Leadership(s, { holder: 'a', ttlMs: 200, renewMs: 50 }, a.events);
  const lb = new Leadership(store, { holder: 'b', ttlMs: 200, renewMs: 50 }, b.events);
  await la.tryRound();
  s.down = true;
  await new Promise((r) => setTimeout(r, 220));
  await la.tryRound();
  await lb.tryRound();
  assert.deepEqual(b.log, ['elected 2']);
  s.down = false;
  await la.tryRound();
  assert.deepEqual(a.log, ['elected 1', 'lost paused', 'handed-over']);
  await lb.stop();
  await la.stop();
  await store.close();
});
