/** How the engine records an attempt's end (service/engine/attempt-record.ts): AWS Batch's words and fields. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { recordAttemptEnd, ESSENTIAL_EXITED, TIMEOUT_REASON } from '../../src/service/engine/attempt-record.js';
import type { Allocation } from '../../src/service/engine/capacity.js';
import { job } from '../store/fixtures.js';

const alloc = (over: Partial<Allocation> = {}): Allocation => ({
  computeEnvironmentArn: 'arn:aws:batch:us-east-1:123456789012:compute-environment/ce',
  vcpus: 1,
  memoryMiB: 16,
  gpus: 0,
  attempt: 1,
  startedAt: 5_000,
  ...over,
});

const running = () =>
  job(1, {
    status: 'RUNNING',
    startedAt: 4_000,
    container: { logStreamName: 'jd/default/abc', containerInstanceArn: 'ce', taskArn: 'docker/123' },
  });

void describe('recordAttemptEnd', () => {
  void it('exit 0: succeeds with the essential-container reason and an attempt entry from the allocation', () => {
    const j = running();
    const end = recordAttemptEnd(j, { exitCode: 0 }, alloc(), 9_000);
    assert.deepEqual(end, {
      ok: true,
      statusReason: ESSENTIAL_EXITED,
      stopped: false,
      outcome: { exitCode: 0, statusReason: ESSENTIAL_EXITED },
    });
    assert.equal(j.container.exitCode, 0);
    assert.deepEqual(j.attempts, [
      {
        container: {
          exitCode: 0,
          logStreamName: 'jd/default/abc',
          containerInstanceArn: 'ce',
          taskArn: 'docker/123',
          networkInterfaces: [],
        },
        startedAt: 5_000,
        stoppedAt: 9_000,
        statusReason: ESSENTIAL_EXITED,
      },
    ]);
  });

  void it('a timed-out attempt fails with AWS words and is never retried, whatever its exit code', () => {
    const end = recordAttemptEnd(running(), { exitCode: 0 }, alloc({ timedOut: true }), 9_000);
    assert.equal(end.ok, false);
    assert.equal(end.stopped, true);
    assert.equal(end.statusReason, TIMEOUT_REASON);
  });

  void it('a terminated attempt carries the reason TerminateJob gave', () => {
    const j = running();
    j.isTerminated = true;
    const end = recordAttemptEnd(j, { exitCode: 143 }, alloc({ stopReason: 'test stop' }), 9_000);
    assert.deepEqual([end.ok, end.stopped, end.statusReason], [false, true, 'test stop']);
    assert.equal(j.attempts[0]!.container.exitCode, 143);
  });

  void it('an attempt lost without an exit code keeps no stale exit code and takes its start from the job', () => {
    const j = running();
    j.container.exitCode = 3; // from an earlier attempt
    const end = recordAttemptEnd(j, { reason: 'CannotStartContainerError: x', statusReason: 'lost' }, undefined, 9_000);
    assert.deepEqual(end, {
      ok: false,
      statusReason: 'lost',
      stopped: false,
      outcome: { reason: 'CannotStartContainerError: x', statusReason: 'lost' },
    });
    assert.equal(j.container.exitCode, undefined);
    assert.equal(j.container.reason, 'CannotStartContainerError: x');
    assert.equal(j.attempts[0]!.startedAt, 4_000);
  });
});
