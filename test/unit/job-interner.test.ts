/**
 * The engine's JobInterner (src/service/engine/job-interner.ts): jobs with equal parts end up sharing one value, jobs
 * with different parts keep their own, and no job's document changes (what is written back is what was read).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Job } from '../../src/core/types.js';
import { JobInterner } from '../../src/service/engine/job-interner.js';

const job = (id: string, extra: Partial<Job> = {}): Job =>
  JSON.parse(
    JSON.stringify({
      jobId: id,
      jobArn: `arn:job/${id}`,
      jobName: id,
      jobQueueArn: 'arn:q/q1',
      jobDefinitionArn: 'arn:jd/d:1',
      status: 'RUNNABLE',
      statusReason: 'CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - all in use',
      createdAt: 1,
      statusChangedAt: 1,
      attempts: [],
      container: {},
      dependsOn: [],
      parameters: {},
      shareIdentifier: 'labA',
      containerProperties: { image: 'busybox', vcpus: 1, memory: 16, command: ['true'], environment: [] },
      resources: { vcpus: 1, memoryMiB: 16, gpus: 0 },
      owner: { user: 'ann', pi: 'lab-a' },
      ...extra,
    }),
  ) as Job;

void describe('JobInterner', () => {
  void it('shares equal parts, keeps different ones, and leaves every document as it was', () => {
    const it = new JobInterner();
    const a = job('a');
    const b = job('b');
    const c = job('c', {
      containerProperties: { image: 'busybox', vcpus: 1, memory: 16, command: ['false'], environment: [] },
      resources: { vcpus: 2, memoryMiB: 16, gpus: 0 },
      owner: { user: 'bo', pi: 'lab-a' },
      dependsOn: [{ jobId: 'a' }],
    });
    const before = [a, b, c].map((j) => JSON.stringify(j));
    for (const j of [a, b, c]) it.intern(j);
    assert.deepEqual(
      [a, b, c].map((j) => JSON.stringify(j)),
      before,
      'the documents are unchanged',
    );
    assert.equal(a.containerProperties, b.containerProperties);
    assert.equal(a.resources, b.resources);
    assert.equal(a.owner, b.owner);
    assert.equal(a.parameters, b.parameters);
    assert.equal(a.dependsOn, b.dependsOn);
    assert.notEqual(a.containerProperties, c.containerProperties);
    assert.notEqual(a.resources, c.resources);
    assert.notEqual(a.owner, c.owner);
    assert.deepEqual(c.dependsOn, [{ jobId: 'a' }]);
    // What the engine changes in place stays each job's own.
    assert.notEqual(a.container, b.container);
    assert.notEqual(a.attempts, b.attempts);
    // A job whose definition part differs after one that matched: each keeps its own, later equal ones share again.
    const d = job('d', { parameters: { x: '1' } });
    const e = job('e', { parameters: { x: '1' } });
    it.intern(d);
    it.intern(e);
    assert.deepEqual(d.parameters, { x: '1' });
    assert.equal(d.parameters, e.parameters);
    assert.deepEqual(a.parameters, {});
  });
});
