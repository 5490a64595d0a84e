/**
 * A reload of resources (another replica's change signal, or the periodic resync) that reads the store while this
 * replica creates a resource must not drop the new resource from memory.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ResourceRegistry } from '../../src/service/resources.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'openbatch-reload-'));
const store = new SqliteStore({ file: join(dir, 'db.sqlite'), durable: false });
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a resource created while a reload reads the store is still there after the reload', async () => {
  await store.migrate();
  const registry = new ResourceRegistry(store, { region: 'us-east-1', accountId: '123456789012' }, Date.now);
  await registry.load();
  // The read of the reload starts before the create and returns after it: what it read lacks the new environment.
  const read = store.loadResources.bind(store);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let reads = 0;
  store.loadResources = async () => {
    const snapshot = await read();
    if (reads++ === 0) await gate;
    return snapshot;
  };
  const reload = registry.reload();
  await new Promise((r) => setImmediate(r));
  await registry.createComputeEnvironment({
    computeEnvironmentName: 'made-during-reload',
    type: 'UNMANAGED',
    unmanagedvCpus: 4,
  });
  release();
  await reload;
  assert.ok(registry.ceByNameOrArn('made-during-reload'), 'the environment created during the reload was dropped');
  assert.equal(reads, 2, 'the reload read the store again after the change');
});
