/** The log capture sink and the SQLite log store together (a real database file): splitting, paging, retention. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LogCapture, MAX_EVENT_MESSAGE_BYTES } from '../../src/service/log-capture.js';
import { SqliteLogStore } from '../../src/store/sqlite/log-store.js';

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'openbatch-logs-'));
  const file = join(dir, 'logs.db');
  let now = 1_000;
  const store = new SqliteLogStore({ file });
  const sink = new LogCapture(store, { clock: () => now });
  return {
    dir,
    file,
    store,
    sink,
    tick: (ms: number) => (now += ms),
    done: () => rmSync(dir, { recursive: true, force: true }),
  };
}
const read = (store: SqliteLogStore, stream: string, extra: object = {}) =>
  store.readEvents({
    stream,
    from: 0,
    direction: 'forward',
    limit: 10_000,
    maxBytes: 1 << 20,
    perEventOverhead: 26,
    ...extra,
  });

void describe('LogCapture + SqliteLogStore', () => {
  void it('splits by line, keeps partial lines per source until newline or close, cuts long lines at a UTF-8 boundary', async () => {
    const t = setup();
    t.sink.open('d/default/a', { jobId: 'j', attempt: 1 });
    t.sink.write('d/default/a', 'stdout', Buffer.from('one\ntw'));
    t.sink.write('d/default/a', 'stderr', Buffer.from('err\r\n'));
    t.sink.write('d/default/a', 'stdout', Buffer.from('o\n\nthr'));
    const long = 'é'.repeat(MAX_EVENT_MESSAGE_BYTES); // 2 bytes each: cut must not split one
    t.sink.open('d/default/b', { jobId: 'j', attempt: 2 });
    t.sink.write('d/default/b', 'stdout', Buffer.from(long + '\n'));
    await t.sink.close('d/default/a');
    const msgs = (await read(t.store, 'd/default/a')).map((e) => e.message);
    assert.deepEqual(msgs, ['one', 'err', 'two', '', 'thr']);
    t.sink.flush();
    const parts = await read(t.store, 'd/default/b');
    assert.ok(parts.every((e) => e.bytes <= MAX_EVENT_MESSAGE_BYTES && !e.message.includes('\uFFFD')));
    assert.equal(parts.length, 2);
    assert.ok(parts.map((e) => e.message).join('') === long, 'the pieces rejoin to the line');
    assert.equal((await t.store.getStream('d/default/a'))?.closedAt, 1_000);
    t.done();
  });

  void it('reads forward/backward with inclusive startTime, exclusive endTime and limits; survives reopening', async () => {
    const t = setup();
    t.sink.open('s', { jobId: 'j', attempt: 1, pi: 'lab' });
    for (let i = 0; i < 5000; i++) {
      t.sink.write('s', 'stdout', Buffer.from(`l${i}\n`));
      if (i % 1000 === 999) t.tick(10);
    }
    await t.sink.close('s');
    await t.store.close();
    const store = new SqliteLogStore({ file: t.file });
    const all = await read(store, 's');
    assert.equal(all.length, 5000);
    assert.deepEqual(
      all.map((e) => e.seq),
      [...Array(5000).keys()],
    );
    const back = await store.readEvents({
      stream: 's',
      from: 5000,
      direction: 'backward',
      limit: 3,
      maxBytes: 1 << 20,
      perEventOverhead: 26,
    });
    assert.deepEqual(
      back.map((e) => e.message),
      ['l4997', 'l4998', 'l4999'],
    );
    const inRange = await read(store, 's', { startTime: 1_010, endTime: 1_020 });
    assert.deepEqual([inRange[0]?.message, inRange.at(-1)?.message, inRange.length], ['l1000', 'l1999', 1000]);
    assert.equal(await store.seqAtTime('s', 1_020), 2000);
    const small = await read(store, 's', { maxBytes: 300 });
    assert.equal(small.length, Math.floor(300 / (2 + 26)));
    assert.equal(
      (await store.listStreams({ orderBy: 'LogStreamName', descending: false, pi: 'other', limit: 10 })).length,
      0,
    );
    assert.equal((await store.purge(1_000)).valueOf(), 0, 'closed at 1050: not before 1000');
    assert.equal(await store.purge(2_000), 1);
    assert.equal(await store.getStream('s'), undefined);
    assert.deepEqual(await read(store, 's'), []);
    await store.close();
    t.done();
  });
});
