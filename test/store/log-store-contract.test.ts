/**
 * The LogStore contract on SQLite and PostgreSQL, fed by the real sink (LogCapture): streams, appends in order,
 * forward/backward reads with time bounds and byte budgets, seqAtTime, listings with keyset pages, retention.
 */
import assert from 'node:assert/strict';
import { LogCapture } from '../../src/service/log-capture.js';
import { forEachBackend } from './backends.js';

const read = (ctx: { stores: { logStore: import('../../src/core/ports.js').LogStore } }, stream: string, extra = {}) =>
  ctx.stores.logStore.readEvents({
    stream,
    from: 0,
    direction: 'forward',
    limit: 10_000,
    maxBytes: 1 << 20,
    perEventOverhead: 26,
    ...extra,
  });

forEachBackend('LogStore', (ctx) => {
  let now = 1_000;
  const sink = () => new LogCapture(ctx.stores.logStore, { clock: () => now });

  ctx.it('stores lines in order with their stream; reads see creations and closings issued before them', async () => {
    const s = sink();
    s.open('d/default/a', { jobId: 'j1', attempt: 1, pi: 'lab' });
    s.write('d/default/a', 'stdout', Buffer.from('one\ntw'));
    s.write('d/default/a', 'stdout', Buffer.from('o\n\nthr'));
    await s.close('d/default/a');
    assert.deepEqual(
      (await read(ctx, 'd/default/a')).map((e) => e.message),
      ['one', 'two', '', 'thr'],
    );
    const st = await ctx.stores.logStore.getStream('d/default/a');
    assert.equal(st?.jobId, 'j1');
    assert.equal(st?.pi, 'lab');
    assert.equal(st?.eventCount, 4);
    assert.equal(st?.closedAt, 1_000);
    assert.equal(st?.storedBytes, 9);
    assert.equal(await ctx.stores.logStore.getStream('missing'), undefined);
    assert.deepEqual(await read(ctx, 'missing'), []);
  });

  ctx.it(
    'reads forward and backward with inclusive startTime, exclusive endTime, limits and byte budgets',
    async () => {
      const s = sink();
      s.open('s', { jobId: 'j2', attempt: 1 });
      for (let i = 0; i < 3000; i++) {
        s.write('s', 'stdout', Buffer.from(`l${i}\n`));
        if (i % 1000 === 999) now += 10;
        if (i % 700 === 0) s.flush();
      }
      await s.close('s');
      const all = await read(ctx, 's');
      assert.deepEqual(
        all.map((e) => e.seq),
        [...Array(3000).keys()],
      );
      assert.equal(all[2999]!.message, 'l2999');
      const back = await ctx.stores.logStore.readEvents({
        stream: 's',
        from: 3000,
        direction: 'backward',
        limit: 3,
        maxBytes: 1 << 20,
        perEventOverhead: 26,
      });
      assert.deepEqual(
        back.map((e) => e.message),
        ['l2997', 'l2998', 'l2999'],
      );
      const mid = await read(ctx, 's', { startTime: 1_010, endTime: 1_020 });
      assert.equal(mid.length, 1000);
      assert.equal(mid[0]!.message, 'l1000');
      assert.equal(await ctx.stores.logStore.seqAtTime('s', 1_010), 1000);
      assert.equal(await ctx.stores.logStore.seqAtTime('s', 99_999), 3000);
      const budget = await read(ctx, 's', { maxBytes: 100 });
      assert.equal(budget.length, 3); // 'l0'+26, 'l1'+26, 'l2'+26 = 84; a fourth would pass 100
      const from = await read(ctx, 's', { from: 2990, limit: 5 });
      assert.deepEqual(
        from.map((e) => e.seq),
        [2990, 2991, 2992, 2993, 2994],
      );
    },
  );

  ctx.it('lists streams by name or last event, with prefixes, PI, names and keyset pages', async () => {
    const s = sink();
    for (const [name, t] of [
      ['p/b', 5_000],
      ['p/a', 6_000],
      ['p/c', 4_000],
    ] as const) {
      now = t;
      s.open(name, { jobId: name, attempt: 1, pi: name === 'p/c' ? 'lab-c' : 'lab' });
      s.write(name, 'stdout', Buffer.from('x\n'));
      await s.close(name);
    }
    const ls = ctx.stores.logStore;
    const names = async (q: object) =>
      (await ls.listStreams({ orderBy: 'LogStreamName', descending: false, limit: 50, ...q })).map((r) => r.name);
    assert.deepEqual(await names({ prefix: 'p/' }), ['p/a', 'p/b', 'p/c']);
    assert.deepEqual(await names({ prefix: 'p/', descending: true, limit: 2 }), ['p/c', 'p/b']);
    assert.deepEqual(await names({ prefix: 'p/', after: { key: 'p/a', name: 'p/a' } }), ['p/b', 'p/c']);
    assert.deepEqual(await names({ pi: 'lab-c' }), ['p/c']);
    assert.deepEqual(await names({ names: ['p/c', 'p/a', 'nope'] }), ['p/a', 'p/c']);
    assert.deepEqual(await names({ prefix: 'p/', startTime: 4_500, endTime: 5_500 }), ['p/b']);
    const byTime = await ls.listStreams({ orderBy: 'LastEventTime', descending: true, limit: 2, prefix: 'p/' });
    assert.deepEqual(
      byTime.map((r) => r.name),
      ['p/a', 'p/b'],
    );
    const next = await ls.listStreams({
      orderBy: 'LastEventTime',
      descending: true,
      limit: 2,
      prefix: 'p/',
      after: { key: 5_000, name: 'p/b' },
    });
    assert.deepEqual(
      next.map((r) => r.name),
      ['p/c'],
    );
  });

  ctx.it('purges streams closed before a time with their events; open streams stay', async () => {
    const s = sink();
    now = 100;
    s.open('open', { jobId: 'o', attempt: 1 });
    s.write('open', 'stdout', Buffer.from('still running\n'));
    s.flush();
    const n = await ctx.stores.logStore.purge(5_500);
    assert.equal(n, 4); // closed before 5_500: d/default/a (1_000), s (1_020), p/c (4_000), p/b (5_000)
    assert.equal(await ctx.stores.logStore.getStream('p/b'), undefined);
    assert.deepEqual(await read(ctx, 'p/b'), []);
    assert.ok(await ctx.stores.logStore.getStream('p/a'));
    assert.equal((await read(ctx, 'open')).length, 1);
    await s.shutdown();
  });
});
