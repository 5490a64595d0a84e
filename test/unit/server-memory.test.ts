/**
 * The server's memory bounds that a long soak depends on (BENCHMARKS.md, chaos.soak): the API's SQLite read
 * connection keeps a small page cache instead of better-sqlite3's 16 MB default, the heap-growth setting is read
 * from its flag and variable with 30% by default (decision 0014), and V8's young generation stops growing at 16 MiB
 * (decision 0017).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../src/config.js';
import { youngGenerationMibOf } from '../../src/heap-growth.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

/**
 * The young generation's size (MiB) after a process capped it at `mib` and then allocated for 2 s, keeping a share of
 * what it allocated alive (so that V8 would grow it to its own limit, 32 MiB).
 */
function youngGenerationAfterLoad(mib: number): number {
  const module = new URL('../../src/heap-growth.js', import.meta.url).href;
  const script = `
    import { getHeapSpaceStatistics } from 'node:v8';
    const { limitYoungGeneration } = await import(${JSON.stringify(module)});
    limitYoungGeneration(${mib});
    let keep = [];
    for (const end = Date.now() + 2000; Date.now() < end; ) {
      for (let i = 0; i < 1000; i++) keep.push({ a: i, b: 'x' + i, c: [i, i] });
      if (keep.length > 200000) keep = keep.slice(100000);
      await new Promise((r) => setImmediate(r));
    }
    console.log(getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 2 ** 20);`;
  return Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }).trim());
}

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

  void it('stops the young generation at 16 MiB by default, or at OPENBATCH_YOUNG_GENERATION_MIB (0: V8 own limit)', () => {
    assert.equal(youngGenerationMibOf({}), 16);
    assert.equal(youngGenerationMibOf({ OPENBATCH_YOUNG_GENERATION_MIB: '0' }), 0);
    assert.equal(youngGenerationMibOf({ OPENBATCH_YOUNG_GENERATION_MIB: ' 64 ' }), 64);
    assert.throws(
      () => youngGenerationMibOf({ OPENBATCH_YOUNG_GENERATION_MIB: '16MB' }),
      /OPENBATCH_YOUNG_GENERATION_MIB must be a whole number of MiB, 0 or more.*got '16MB'/,
    );
    // The same load grows an uncapped young generation past 16 MiB (V8's limit is 32 here).
    assert.ok(youngGenerationAfterLoad(16) <= 16);
    assert.ok(youngGenerationAfterLoad(0) > 16);
  });
});
