/**
 * The server's memory bounds that a long soak depends on (BENCHMARKS.md, chaos.soak): the API's SQLite read
 * connection keeps a small page cache instead of better-sqlite3's 16 MB default, and the heap-growth setting is read
 * from its flag and variable with 30% by default (decision 0014).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../src/config.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

void describe('server memory bounds', () => {
  void it("bounds the read connection's page cache to 2 MiB", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'openbatch-cache-'));
    const store = new SqliteStore({ file: join(dir, 'openbatch.db') });
    try {
      const db = (store as unknown as { db: { pragma(s: string, o: { simple: true }): unknown } }).db;
      // Negative: KiB. better-sqlite3's default is -16000.
      assert.equal(db.pragma('cache_size', { simple: true }), -2048);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void it('takes the heap growth from --heap-growth-percent or OPENBATCH_HEAP_GROWTH_PERCENT, 30 by default', () => {
    const saved = process.env.OPENBATCH_HEAP_GROWTH_PERCENT;
    try {
      delete process.env.OPENBATCH_HEAP_GROWTH_PERCENT;
      assert.equal(resolveConfig({}).heapGrowthPercent, 30);
      process.env.OPENBATCH_HEAP_GROWTH_PERCENT = '0';
      assert.equal(resolveConfig({}).heapGrowthPercent, 0);
      assert.equal(resolveConfig({ heapGrowthPercent: '50' }).heapGrowthPercent, 50);
      assert.throws(() => resolveConfig({ heapGrowthPercent: '-5' }), /heap-growth-percent/);
    } finally {
      if (saved === undefined) delete process.env.OPENBATCH_HEAP_GROWTH_PERCENT;
      else process.env.OPENBATCH_HEAP_GROWTH_PERCENT = saved;
    }
  });
});
