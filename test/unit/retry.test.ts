/** core/retry.ts: attempts bound, evaluateOnExit order and globs, default retry. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { globMatch, shouldRetry } from '../../src/core/retry.js';

void describe('globMatch', () => {
  void it('matches exactly, or by prefix with a trailing *', () => {
    assert.ok(globMatch('137', '137'));
    assert.ok(!globMatch('13', '137'));
    assert.ok(globMatch('13*', '137'));
    assert.ok(globMatch('*', ''));
    assert.ok(globMatch('Host EC2*', 'Host EC2 (instance i-1) terminated.'));
    assert.ok(!globMatch('host ec2*', 'Host EC2 (instance i-1) terminated.'), 'case-sensitive');
    assert.ok(!globMatch('*', undefined));
  });
});

void describe('shouldRetry', () => {
  void it('without a strategy there is one attempt', () => {
    assert.equal(shouldRetry(undefined, 1, { exitCode: 1 }), false);
  });
  void it('retries any failure until attempts are used up (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 255 }),
        (attempts, n, code) => {
          assert.equal(shouldRetry({ attempts }, n, { exitCode: code }), n < attempts);
        },
      ),
    );
  });
  void it('the first matching evaluateOnExit entry decides; all its conditions must match', () => {
    const s = {
      attempts: 5,
      evaluateOnExit: [
        { onExitCode: '1', onReason: 'OutOfMemory*', action: 'RETRY' },
        { onExitCode: '1', action: 'exit' },
        { onStatusReason: 'Host EC2*', action: 'RETRY' },
        { onReason: '*', action: 'EXIT' },
      ],
    };
    assert.equal(shouldRetry(s, 1, { exitCode: 1, reason: 'OutOfMemoryError: killed' }), true);
    assert.equal(shouldRetry(s, 1, { exitCode: 1 }), false, 'EXIT is case-insensitive');
    assert.equal(shouldRetry(s, 1, { statusReason: 'Host EC2 (instance x) terminated.' }), true);
    assert.equal(shouldRetry(s, 1, { exitCode: 2, reason: 'anything' }), false);
    assert.equal(shouldRetry(s, 1, { exitCode: 2 }), true, 'no entry matches (no reason): retry');
    assert.equal(shouldRetry(s, 5, { exitCode: 1, reason: 'OutOfMemoryError' }), false, 'attempts exhausted');
  });
});
