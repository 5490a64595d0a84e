/** Property tests for the compact array-child state that dependency rules drive. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ArrayState, ChildCode, deriveChild, parseChildId } from '../../src/service/array-state.js';
import type { Job } from '../../src/core/types.js';

const parent = (size: number): Job => ({
  jobId: 'p',
  jobArn: 'arn:aws:batch:us-east-1:1:job/p',
  jobName: 'arr',
  jobQueueArn: 'q',
  jobDefinitionArn: 'd',
  status: 'PENDING',
  createdAt: 1,
  statusChangedAt: 1,
  attempts: [],
  container: {},
  dependsOn: [{ type: 'SEQUENTIAL' }],
  parameters: {},
  containerProperties: { command: ['true'] },
  resources: { vcpus: 1, memoryMiB: 4, gpus: 0 },
  arrayProperties: { size },
});

const code = fc.constantFrom(ChildCode.PENDING, ChildCode.RUNNABLE, ChildCode.SUCCEEDED, ChildCode.FAILED);

test('counters, statusSummary and runnableIndices agree with the codes after any sequence of changes', () => {
  fc.assert(
    fc.property(
      fc
        .integer({ min: 2, max: 60 })
        .chain((size) =>
          fc.tuple(
            fc.constant(size),
            fc.array(fc.tuple(fc.integer({ min: 0, max: size - 1 }), code), { maxLength: 200 }),
          ),
        ),
      ([size, ops]) => {
        const st = new ArrayState(parent(size), size, 'PARALLEL');
        const final = new Map<number, number>();
        for (const [i, c] of ops) {
          // Once ended, a child stays ended (as the service never revives it).
          const cur = st.codes[i];
          if (cur === ChildCode.SUCCEEDED || cur === ChildCode.FAILED) continue;
          st.set(i, c);
          final.set(i, c);
        }
        const codes = Array.from(st.codes);
        assert.equal(st.settled, codes.filter((c) => c === ChildCode.SUCCEEDED || c === ChildCode.FAILED).length);
        assert.equal(st.failed, codes.filter((c) => c === ChildCode.FAILED).length);
        const summary = st.statusSummary();
        assert.equal(
          Object.values(summary).reduce((a, b) => a + b, 0),
          size,
        );
        assert.equal(summary.SUCCEEDED, codes.filter((c) => c === ChildCode.SUCCEEDED).length);
        const runnable = [...st.runnableIndices()];
        assert.deepEqual(
          runnable,
          codes.flatMap((c, i) => (c === ChildCode.RUNNABLE ? [i] : [])),
        );
      },
    ),
  );
});

test('derived children keep the spec and get their own id, index and fresh lifecycle', () => {
  const p = { ...parent(3), startedAt: 5, attempts: [{ container: {} }], statusReason: 'x' };
  const c = deriveChild(p, 2, 'RUNNABLE', 9);
  assert.equal(c.jobId, 'p:2');
  assert.equal(c.jobArn, 'arn:aws:batch:us-east-1:1:job/p:2');
  assert.deepEqual(c.arrayProperties, { index: 2 });
  assert.deepEqual(c.attempts, []);
  assert.equal(c.startedAt, undefined);
  assert.equal(c.statusReason, undefined);
  assert.deepEqual(c.dependsOn, []);
  assert.deepEqual(c.containerProperties, p.containerProperties);
  assert.deepEqual(parseChildId('p:2'), { parentId: 'p', index: 2 });
  assert.equal(parseChildId('plain-id'), undefined);
  fc.assert(
    fc.property(fc.uuid(), fc.integer({ min: 0, max: 9999 }), (id, i) =>
      assert.deepEqual(parseChildId(`${id}:${i}`), { parentId: id, index: i }),
    ),
  );
});
