/** The job state machine: the table is the only authority, and a final state is final. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canTransition, checkTransition, IllegalTransitionError, JOB_TRANSITIONS } from '../../src/core/job-states.js';
import { JOB_STATUSES, isTerminal, type JobStatus } from '../../src/core/types.js';

const status = fc.constantFrom(...JOB_STATUSES);

test('checkTransition throws exactly for moves missing from the table', () => {
  fc.assert(
    fc.property(status, status, (from, to) => {
      const legal = JOB_TRANSITIONS[from].includes(to);
      assert.equal(canTransition(from, to), legal);
      if (legal) checkTransition('j', from, to);
      else assert.throws(() => checkTransition('j', from, to), IllegalTransitionError);
    }),
  );
});

test('random walks of legal moves start at SUBMITTED, never leave SUCCEEDED/FAILED, and never skip back to SUBMITTED', () => {
  fc.assert(
    fc.property(fc.array(fc.nat(), { maxLength: 40 }), (choices) => {
      let s: JobStatus = 'SUBMITTED';
      for (const c of choices) {
        const next: readonly JobStatus[] = JOB_TRANSITIONS[s];
        if (isTerminal(s)) {
          assert.equal(next.length, 0);
          break;
        }
        const to: JobStatus = next[c % next.length]!;
        checkTransition('j', s, to);
        if (s !== 'SUBMITTED') assert.notEqual(to, 'SUBMITTED');
        s = to;
      }
    }),
  );
  for (const from of JOB_STATUSES) if (from !== 'SUBMITTED') assert.ok(!canTransition(from, 'SUBMITTED'));
  assert.ok(!canTransition('RUNNING', 'STARTING') && !canTransition('RUNNABLE', 'RUNNING'));
});
