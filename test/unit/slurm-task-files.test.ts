/** Reading back what a Slurm task's batch script leaves on the shared disk (runtime/slurm/task-files.ts). */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  exitCodeIn,
  newMarkers,
  ranMsOf,
  readOffsets,
  tailFiles,
  wasSignalled,
  type Markers,
} from '../../src/runtime/slurm/task-files.js';

void describe('Slurm task files', () => {
  const root = mkdtempSync(join(tmpdir(), 'openbatch-taskfiles-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  const taskDir = () => {
    const d = join(root, `t${n++}`);
    mkdirSync(d);
    return d;
  };

  void it('hands over only what was appended since the offsets, and keeps them beside the files', () => {
    const dir = taskDir();
    const got: string[] = [];
    const emit = (stream: string, data: Buffer) => got.push(`${stream}:${data.toString()}`);
    const offsets = readOffsets(dir);
    assert.deepEqual(offsets, [0, 0], 'nothing read yet');
    tailFiles(dir, offsets, emit);
    assert.deepEqual(got, [], 'no files yet: nothing, and no error');
    writeFileSync(join(dir, 'out'), 'one\n');
    writeFileSync(join(dir, 'err'), 'oops\n');
    tailFiles(dir, offsets, emit);
    appendFileSync(join(dir, 'out'), 'two\n');
    tailFiles(dir, offsets, emit);
    tailFiles(dir, offsets, emit);
    assert.deepEqual(got, ['stdout:one\n', 'stderr:oops\n', 'stdout:two\n']);
    // A restart resumes where the last read stopped.
    assert.deepEqual(readOffsets(dir), [8, 5]);
  });

  void it('reads the exit code, the SIGTERM mark and how long the task ran', () => {
    const dir = taskDir();
    assert.equal(exitCodeIn(dir), undefined, 'no rc yet');
    assert.equal(ranMsOf(dir), undefined);
    assert.equal(wasSignalled(dir), false);
    writeFileSync(join(dir, 'started'), 'node1');
    writeFileSync(join(dir, 'rc'), 'garbage');
    assert.equal(exitCodeIn(dir), undefined, 'an rc being written is not an exit code');
    writeFileSync(join(dir, 'rc'), '3\n');
    writeFileSync(join(dir, 'term'), '');
    utimesSync(join(dir, 'started'), 1000, 1000);
    utimesSync(join(dir, 'rc'), 1090, 1090);
    assert.equal(exitCodeIn(dir), 3);
    assert.equal(wasSignalled(dir), true);
    assert.equal(ranMsOf(dir), 90_000);
  });

  void it('lists new start and end markers once, removing them, and says when every task must be looked at', () => {
    const dir = join(taskDir(), 'ev');
    mkdirSync(dir);
    const m: Markers = { dir, mtimeMs: 0, listedAt: 0, scanAll: true };
    assert.equal(newMarkers(m), undefined, 'a re-attached group: look at every task once');
    writeFileSync(join(dir, 's3'), '');
    writeFileSync(join(dir, 'e7'), '');
    assert.deepEqual([...newMarkers(m)!].sort(), [3, 7]);
    assert.deepEqual(readdirSync(dir), [], 'markers read are removed');
    assert.deepEqual([...newMarkers(m)!], [], 'nothing new');
  });
});
