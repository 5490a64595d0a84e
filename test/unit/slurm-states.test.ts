/** Slurm's terminal states in AWS Batch's words, and squeue's output as the runtime reads it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTasks } from '../../src/runtime/slurm/slurm-client.js';
import { exitReportOf } from '../../src/runtime/slurm/slurm-states.js';
import { arrayBatchScript, shq, taskScript } from '../../src/runtime/slurm/batch-script.js';

describe('Slurm states → exit reports', () => {
  const base = { slurmId: '7_0', node: 'n2' };
  it('maps each terminal state', () => {
    assert.deepEqual(exitReportOf({ ...base, state: 'COMPLETED', exitCode: 0 }), { exitCode: 0 });
    assert.deepEqual(exitReportOf({ ...base, state: 'FAILED', exitCode: 3 }), { exitCode: 3 });
    assert.match(exitReportOf({ ...base, state: 'FAILED' }).reason!, /^CannotStartContainerError: .*node n2/);
    assert.deepEqual(exitReportOf({ ...base, state: 'TIMEOUT' }), {
      statusReason: 'Job attempt duration exceeded timeout',
    });
    assert.deepEqual(exitReportOf({ ...base, state: 'OUT_OF_MEMORY' }), {
      exitCode: 137,
      reason: 'OutOfMemoryError: Container killed due to memory usage',
    });
    for (const state of ['NODE_FAIL', 'BOOT_FAIL', 'PREEMPTED'])
      assert.deepEqual(exitReportOf({ ...base, state }), { statusReason: 'Host EC2 (instance n2) terminated.' });
    assert.equal(
      exitReportOf({ ...base, state: 'CANCELLED', exitCode: 143, stopRequested: true }).reason,
      'Slurm job cancelled (scancel) at openbatch request',
    );
    assert.match(exitReportOf({ ...base, state: 'CANCELLED' }).statusReason!, /cancelled outside openbatch/);
  });

  it('parses squeue lines, array tasks one per line, a job that is no array as index -1', () => {
    const out = '12|0|RUNNING|None|n1\n12|1|PENDING|Resources|\n13|N/A|RUNNING|None|n[1-3]\nx|y|z\n';
    assert.deepEqual(parseTasks(out), [
      { arrayId: '12', index: 0, state: 'RUNNING', reason: 'None', node: 'n1' },
      { arrayId: '12', index: 1, state: 'PENDING', reason: 'Resources', node: '' },
      { arrayId: '13', index: -1, state: 'RUNNING', reason: 'None', node: 'n[1-3]' },
    ]);
  });

  it('quotes every word of the command and environment for bash', () => {
    assert.equal(shq(`it's`), `'it'\\''s'`);
    const script = taskScript(
      {
        jobId: 'j',
        attempt: 1,
        command: ['echo', `a b'c`],
        environment: { X: '$(rm -rf /)' },
        containerProperties: {},
        resources: { vcpus: 1, memoryMiB: 1, gpus: 0 },
        logStreamName: 's',
      },
      '/d/0',
    );
    assert.match(script, /'X=\$\(rm -rf \/\)' 'echo' 'a b'\\''c'\n$/);
    assert.match(arrayBatchScript('/d'), /d='\/d'\/"\$SLURM_ARRAY_TASK_ID"/);
  });
});
