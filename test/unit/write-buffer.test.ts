/**
 * WriteBuffer (service/write-buffer.ts): group commit with lanes. Batches of independent changes may commit side by
 * side up to the number of lanes (a job's versions still in order); ordered changes commit after everything before them; a write or a barrier resolves only once everything
 * queued before it is committed (a job's version, or a later one). Random schedules check the same rules.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import type { Job } from '../../src/core/types.js';
import { WriteBuffer } from '../../src/service/write-buffer.js';

/** A job reduced to what the buffer looks at (its id) plus a version the test reads back. */
const job = (id: string, v = 0): Job => ({ jobId: id, v }) as unknown as Job;
const version = (j: Job) => (j as unknown as { v: number }).v;

/** A commit function the test drives: each batch waits until the test ends it. */
function store(onStart: (rows: { id: string; v: number }[]) => void = () => {}) {
  const open: { jobs: { id: string; v: number }[]; end: (err?: Error) => void }[] = [];
  const committed = new Map<string, number>();
  let concurrent = 0;
  let maxConcurrent = 0;
  const commit = (jobs: readonly Job[]) => {
    // Serialized when the batch starts, as the stores do.
    const rows = jobs.map((j) => ({ id: j.jobId, v: version(j) }));
    onStart(rows);
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    return new Promise<void>((resolve, reject) => {
      const entry = {
        jobs: rows,
        end: (err?: Error) => {
          open.splice(open.indexOf(entry), 1);
          concurrent--;
          if (err) return reject(err);
          for (const r of rows) {
            const before = committed.get(r.id);
            assert.ok(before === undefined || before <= r.v, `job ${r.id}: v${r.v} committed after v${before}`);
            committed.set(r.id, r.v);
          }
          resolve();
        },
      };
      open.push(entry);
    });
  };
  return {
    commit,
    open,
    committed,
    get maxConcurrent() {
      return maxConcurrent;
    },
  };
}

const settled = async () => {
  for (let i = 0; i < 5; i++) await tick();
};

describe('WriteBuffer', () => {
  it('a deferred change is written after the delay, or not at all when a later change of the job comes first; a barrier flushes it', async () => {
    const s = store();
    // A delay far longer than the few event-loop turns `settled` waits, even on a loaded machine.
    const w = new WriteBuffer(s.commit, 4, 1000);
    w.enqueueDeferred(job('run', 1)); // RUNNING of a job that keeps running
    w.enqueueDeferred(job('short', 1)); // RUNNING of a job that ends at once
    w.enqueueIndependent(job('short', 2)); // its end
    await settled();
    assert.deepEqual(
      s.open.map((o) => o.jobs),
      [[{ id: 'short', v: 2 }]],
    ); // the superseded RUNNING is never written
    s.open[0]!.end();
    await sleep(1100);
    assert.deepEqual(
      s.open.map((o) => o.jobs),
      [[{ id: 'run', v: 1 }]],
    );
    s.open[0]!.end();
    await settled();
    w.enqueueDeferred(job('later', 1));
    const b = w.barrier();
    await settled();
    assert.deepEqual(
      s.open.map((o) => o.jobs),
      [[{ id: 'later', v: 1 }]],
    ); // a barrier does not wait out the delay
    s.open[0]!.end();
    await b;
    assert.deepEqual(
      [...s.committed],
      [
        ['short', 2],
        ['run', 1],
        ['later', 1],
      ],
    );
  });

  it('one lane: one batch at a time; what is queued meanwhile goes in the next batch', async () => {
    const s = store();
    const w = new WriteBuffer(s.commit);
    const a = w.writeIndependent(job('a'));
    await settled();
    const b = w.writeIndependent(job('b'));
    const c = w.writeIndependent(job('c'));
    await settled();
    assert.equal(s.open.length, 1);
    s.open[0]!.end();
    await a;
    await settled();
    assert.deepEqual(
      s.open.map((o) => o.jobs.map((j) => j.id)),
      [['b', 'c']],
    );
    s.open[0]!.end();
    await Promise.all([b, c]);
    assert.equal(s.maxConcurrent, 1);
  });

  it('lanes: independent changes commit side by side up to the lanes; a write resolves once all before it are committed', async () => {
    const s = store();
    const w = new WriteBuffer(s.commit, 3);
    const done: string[] = [];
    const ins = (id: string) => w.writeIndependent(job(id)).then(() => done.push(id));
    const all = [];
    for (const id of ['a', 'b', 'c', 'd']) {
      all.push(ins(id));
      await settled();
    }
    assert.equal(s.open.length, 3); // d waits for a free lane
    s.open[1]!.end(); // b's batch
    await settled();
    assert.deepEqual(done, []); // a write resolves once everything queued before it is committed too
    assert.deepEqual(
      s.open.map((o) => o.jobs[0]!.id),
      ['a', 'c', 'd'],
    ); // d took the free lane
    s.open[0]!.end(); // a's batch
    await settled();
    assert.deepEqual(done, ['a', 'b']);
    for (const o of [...s.open]) o.end();
    await Promise.all(all);
    assert.deepEqual(done.sort(), ['a', 'b', 'c', 'd']);
    assert.equal(s.maxConcurrent, 3);
  });

  it('an ordered change commits after the batches in flight; independent ones queued behind it wait for it', async () => {
    const s = store();
    const w = new WriteBuffer(s.commit, 4);
    const a = w.writeIndependent(job('a', 1));
    await settled();
    const b = w.write(job('a', 2)); // a's second version, ordered
    await settled();
    const c = w.writeIndependent(job('c'));
    await settled();
    assert.equal(s.open.length, 1); // neither the update nor c starts beside a's first write
    s.open[0]!.end();
    await a;
    await settled();
    assert.deepEqual(
      s.open.map((o) => o.jobs),
      [
        [
          { id: 'a', v: 2 },
          { id: 'c', v: 0 },
        ],
      ],
    );
    s.open[0]!.end();
    await Promise.all([b, c]);
    assert.equal(s.committed.get('a'), 2);
  });

  it("an independent change of a job in flight waits for that batch; other jobs' go beside it", async () => {
    const s = store();
    const w = new WriteBuffer(s.commit, 4);
    const a1 = w.writeIndependent(job('a', 1));
    await settled();
    const a2 = w.writeIndependent(job('a', 2));
    const b = w.writeIndependent(job('b'));
    await settled();
    assert.deepEqual(
      s.open.map((o) => o.jobs),
      [[{ id: 'a', v: 1 }], [{ id: 'b', v: 0 }]],
    );
    s.open[0]!.end();
    await a1;
    await settled();
    assert.deepEqual(
      s.open.map((o) => o.jobs),
      [[{ id: 'b', v: 0 }], [{ id: 'a', v: 2 }]],
    );
    for (const o of [...s.open]) o.end();
    await Promise.all([a2, b]);
    assert.equal(s.committed.get('a'), 2);
  });

  it('a failed batch rejects those who waited for it, not the writes of other batches', async () => {
    const s = store();
    const w = new WriteBuffer(s.commit, 2);
    const a = w.writeIndependent(job('a'));
    await settled();
    const b = w.writeIndependent(job('b'));
    await settled();
    assert.equal(s.open.length, 2);
    s.open[0]!.end(new Error('disk full'));
    s.open[0]!.end();
    await assert.rejects(a, /disk full/);
    await b;
    await w.barrier();
  });

  it('with retryFailed, a failed batch is written again in its place: its waiters wait on, a later version is written once', async () => {
    const s = store();
    const retried: unknown[] = [];
    const w = new WriteBuffer(s.commit, 2, 0, (err) => (retried.push(err), true));
    const a = w.writeIndependent(job('a', 1));
    await settled();
    const b = w.write(job('b', 1)); // ordered: waits for the batch in flight
    w.enqueueIndependent(job('a', 2)); // a changed again while its first version commits
    await settled();
    assert.equal(s.open.length, 1);
    s.open[0]!.end(new Error('too many clients'));
    let aDone = false;
    void a.then(() => (aDone = true));
    await settled();
    assert.equal(retried.length, 1);
    assert.equal(s.open.length, 0, 'nothing starts before the retry delay');
    assert.equal(aDone, false, "a's writer waits for the retry instead of failing");
    await sleep(150);
    // a's latest version, as old as its first: ahead of b (ordered, queued after it), in one batch with it.
    assert.deepEqual(
      s.open.map((o) => o.jobs),
      [
        [
          { id: 'a', v: 2 },
          { id: 'b', v: 1 },
        ],
      ],
    );
    s.open[0]!.end();
    await Promise.all([a, b]);
    assert.equal(s.committed.get('a'), 2);
  });

  it('barrierFor and barrierWhere wait only while a change of the jobs they name is pending', async () => {
    const s = store();
    const w = new WriteBuffer(s.commit, 1);
    const ofQueue = (q: string) => (j: Job) => (j as unknown as { q?: string }).q === q;
    const inQ = (id: string, q: string) => ({ jobId: id, v: 1, q }) as unknown as Job;
    void w.writeIndependent(inQ('a', 'qa'));
    await settled();
    w.enqueueIndependent(inQ('b', 'qb')); // queued behind a's batch
    let forA = false;
    let forB = false;
    let forQb = false;
    void w.barrierFor(['a']).then(() => (forA = true));
    void w.barrierFor(['b']).then(() => (forB = true));
    void w.barrierWhere(ofQueue('qb')).then(() => (forQb = true));
    await w.barrierFor(['c']); // nothing pending for c: at once
    await w.barrierWhere(ofQueue('qc'));
    s.open[0]!.end(); // a's batch
    await settled();
    assert.deepEqual([forA, forB, forQb], [true, false, false], "a's wait ends with its batch; b's waits for its own");
    s.open[0]!.end(); // b's batch
    await settled();
    assert.deepEqual([forA, forB, forQb], [true, true, true]);
  });

  it('random schedules: versions commit in order, a write resolves after its version, a barrier after all before it', async () => {
    for (let round = 0; round < 40; round++) {
      let seed = round + 1;
      const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      // An ordered version starts committing only once everything queued before it is committed (or in its batch).
      const orderedAfter = new Map<string, Map<string, number>>();
      const s = store((rows) => {
        const inBatch = new Map(rows.map((r) => [r.id, r.v]));
        for (const r of rows)
          for (const [id, v] of orderedAfter.get(`${r.id}@${r.v}`) ?? [])
            assert.ok(
              Math.max(s.committed.get(id) ?? -1, inBatch.get(id) ?? -1) >= v,
              `${r.id}@${r.v} started before ${id}@${v}`,
            );
      });
      const lanes = 1 + Math.floor(rand() * 4);
      const w = new WriteBuffer(s.commit, lanes);
      const latest = new Map<string, number>();
      const checks: Promise<void>[] = [];
      let nextJob = 0;
      for (let step = 0; step < 120; step++) {
        const r = rand();
        if (r < 0.3) {
          const id = `j${nextJob++}`;
          latest.set(id, 0);
          checks.push(w.writeIndependent(job(id, 0)).then(() => assert.ok((s.committed.get(id) ?? -1) >= 0)));
        } else if (r < 0.55 && latest.size > 0) {
          const ids = [...latest.keys()];
          const id = ids[Math.floor(rand() * ids.length)]!;
          const v = latest.get(id)! + 1;
          latest.set(id, v);
          const ordered = rand() < 0.5;
          if (ordered) orderedAfter.set(`${id}@${v}`, new Map(latest));
          const write = ordered ? w.write(job(id, v)) : w.writeIndependent(job(id, v));
          checks.push(write.then(() => assert.ok(s.committed.get(id)! >= v, `${id} v${v}`)));
        } else if (r < 0.6) {
          const want = new Map(latest);
          checks.push(
            w.barrier().then(() => {
              for (const [id, v] of want) assert.ok(s.committed.get(id)! >= v, `barrier: ${id} v${v}`);
            }),
          );
        } else if (r < 0.9 && s.open.length > 0) {
          s.open[Math.floor(rand() * s.open.length)]!.end();
        }
        await tick();
      }
      while (s.open.length > 0 || checks.length) {
        await settled();
        while (s.open.length) s.open[0]!.end();
        await settled();
        if (s.open.length === 0) break;
      }
      await Promise.all(checks);
      for (const [id, v] of latest) assert.equal(s.committed.get(id), v);
      assert.ok(s.maxConcurrent <= lanes);
    }
  });
});
