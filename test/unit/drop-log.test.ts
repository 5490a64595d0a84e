import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DropLog } from '../../src/service/engine/drop-log.js';

void test('DropLog: a job dropped while a read is in flight is refused from that read, not from later ones', () => {
  const log = new DropLog();
  log.drop('before'); // no read in flight: nothing to remember
  const a = log.begin();
  log.drop('x');
  const b = log.begin();
  log.drop('y');
  assert.equal(log.droppedSince('before', a), false);
  assert.equal(log.droppedSince('x', a), true);
  assert.equal(log.droppedSince('x', b), false, 'x was dropped before read b began: b saw its terminal state');
  assert.equal(log.droppedSince('y', a), true);
  assert.equal(log.droppedSince('y', b), true);
  log.end(a);
  assert.equal(log.droppedSince('y', b), true, 'still remembered for the read in flight');
  log.end(b);
  const c = log.begin();
  assert.equal(log.droppedSince('y', c), false);
  log.end(c);
});
