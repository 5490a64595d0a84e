/** The log capture sink and the SQLite log store together (a real database file): splitting, paging, retention. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LogCapture, MAX_EVENT_MESSAGE_BYTES } from '../../src/service/log-capture.js';
import { SqliteLogStore } from '../../src/store/sqlite/log-store.js';
import type { LogEventRecord } from '../../src/core/ports.js';

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
    done: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
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
    await t.done();
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
    await t.done();
  });

  void it('packs many interleaved, split and long lines into chunks across flushes and reads every event back in order', async () => {
    const t = setup();
    t.sink.open('m', { jobId: 'j', attempt: 1 });
    const expected: string[] = [];
    const out: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
    let seed = 7;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    // Lines of 0..200 bytes (a few of 100 KB: chunks overflow their usual size), written in random pieces from
    // both sources, with ticks and flushes in between so that chunks are sealed at every kind of boundary.
    for (let i = 0; i < 12_000; i++) {
      const source = rnd(5) === 0 ? 'stderr' : 'stdout';
      const line = `${source[3]}${i} ${'x'.repeat(rnd(40) === 0 ? 100_000 : rnd(200))}`;
      out[source] += `${line}\n`;
      expected.push(line);
      if (rnd(3) === 0) {
        for (const src of ['stdout', 'stderr'] as const) {
          const cut = rnd(out[src].length + 1);
          if (cut > 0) t.sink.write('m', src, Buffer.from(out[src].slice(0, cut)));
          out[src] = out[src].slice(cut);
        }
      }
      if (rnd(50) === 0) t.tick(1);
      if (rnd(400) === 0) t.sink.flush();
    }
    t.sink.write('m', 'stdout', Buffer.from(out.stdout));
    t.sink.write('m', 'stderr', Buffer.from(out.stderr));
    await t.sink.close('m');
    // Lines of one source keep their order; across sources the order is that of arrival, so compare per source.
    const got: LogEventRecord[] = [];
    for (;;) {
      const page = await read(t.store, 'm', { from: got.length });
      if (page.length === 0) break;
      got.push(...page);
    }
    const bySource = (msgs: string[], c: string) => msgs.filter((m) => m[0] === c);
    const msgs = got.map((e) => e.message);
    assert.equal(got.length, expected.length);
    assert.deepEqual(bySource(msgs, 'o'), bySource(expected, 'o'));
    assert.deepEqual(bySource(msgs, 'e'), bySource(expected, 'e'));
    assert.deepEqual(
      got.map((e) => e.seq),
      [...Array(expected.length).keys()],
    );
    assert.ok(got.every((e, i) => i === 0 || e.timestamp >= got[i - 1]!.timestamp));
    assert.equal((await t.store.getStream('m'))?.eventCount, expected.length);
    await t.done();
  });

  void it("never stores a timestamp older than the stream's last one (a re-attached stream with an earlier clock)", async () => {
    const t = setup();
    t.sink.open('r', { jobId: 'j', attempt: 1 });
    t.tick(5_000);
    t.sink.write('r', 'stdout', Buffer.from('late\n'));
    t.sink.flush();
    const early = new LogCapture(t.store, { clock: () => 2_000 });
    early.write('r', 'stdout', Buffer.from('a\nb\n'));
    await early.close('r');
    const events = await read(t.store, 'r');
    assert.deepEqual(
      events.map((e) => [e.message, e.timestamp]),
      [
        ['late', 6_000],
        ['a', 6_000],
        ['b', 6_000],
      ],
    );
    assert.equal((await t.store.seqAtTime('r', 6_000)).valueOf(), 0);
    await t.done();
  });

  void it('checkpoints its WAL on a thread of its own, never inside a commit of the main thread', async () => {
    const t = setup();
    const line = `${'x'.repeat(99)}\n`.repeat(640); // 64 KB of output a stream
    for (let i = 0; i < 50; i++) {
      t.sink.open(`s${i}`, { jobId: `j${i}`, attempt: 1 });
      t.sink.write(`s${i}`, 'stdout', Buffer.from(line));
      await t.sink.close(`s${i}`);
    }
    // 3 MB went to the WAL, far below the main connection's automatic checkpoint (4,096 pages of 64 KiB): only the
    // checkpointer thread copies them into the database file.
    const until = Date.now() + 10_000;
    while (statSync(t.file).size < 3_000_000 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    assert.ok(statSync(t.file).size >= 3_000_000, `logs.db is ${statSync(t.file).size} bytes: nothing checkpointed`);
    assert.equal((await read(t.store, 's49')).length, 640);
    await t.done();
  });
});
