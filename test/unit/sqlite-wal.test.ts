/**
 * The SQLite WAL stays bounded under sustained submission, even while readers keep overlapping (so a PASSIVE
 * checkpoint alone can never rewind it): 50,000 jobs through the writer thread, the -wal file sampled throughout.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Job } from '../../src/core/types.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { WAL_TRUNCATE_BYTES } from '../../src/store/sqlite/wal-policy.js';

const Q = 'arn:aws:batch:us-east-1:123456789012:job-queue/q';

function job(i: number): Job {
  const jobId = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
  return {
    jobId,
    jobArn: `arn:aws:batch:us-east-1:123456789012:job/${jobId}`,
    jobName: `job-${i}`,
    jobQueueArn: Q,
    jobDefinitionArn: 'arn:aws:batch:us-east-1:123456789012:job-definition/d:1',
    status: 'SUBMITTED',
    createdAt: 1_000 + i,
    statusChangedAt: 1_000 + i,
    attempts: [],
    container: {},
    dependsOn: [],
    parameters: { input: `s3://bucket/sample-${i}.fastq.gz`, pad: 'x'.repeat(400) },
    containerProperties: { image: 'i', command: ['sh', '-c', 'align Ref::input'] },
    resources: { vcpus: 1, memoryMiB: 16, gpus: 0 },
    owner: { user: 'u', pi: 'lab-a' },
  };
}

void describe('SQLite write-ahead log', () => {
  void it('stays bounded over 50,000 submitted jobs with overlapping readers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'openbatch-wal-'));
    const file = join(dir, 'openbatch.db');
    const store = new SqliteStore({ file });
    await store.migrate();
    // Two readers (a dashboard, a backup) whose read transactions overlap, so at every moment one of them holds a
    // snapshot of the WAL: a PASSIVE checkpoint never gets to rewind it.
    const readers = [new Database(file, { readonly: true }), new Database(file, { readonly: true })];
    let turn = 0;
    const cycle = setInterval(() => {
      const r = readers[turn++ % 2]!;
      if (r.inTransaction) r.exec('COMMIT');
      r.exec('BEGIN');
      r.prepare('SELECT count(*) FROM jobs').get();
    }, 60);
    let maxWal = 0;
    const sample = () => {
      try {
        maxWal = Math.max(maxWal, statSync(`${file}-wal`).size);
      } catch {
        // not created yet
      }
    };
    try {
      const total = 50_000;
      const batch = 500;
      for (let i = 0; i < total; i += batch) {
        await store.writeJobs(Array.from({ length: batch }, (_, k) => job(i + k)));
        sample();
        await new Promise((r) => setImmediate(r));
      }
      assert.equal((await store.getJobs([job(total - 1).jobId])).length, 1, 'the last job is stored');
      const bound = WAL_TRUNCATE_BYTES + 24 * 1024 * 1024;
      assert.ok(
        maxWal < bound,
        `the WAL reached ${(maxWal / 1e6).toFixed(1)} MB (bound ${(bound / 1e6).toFixed(1)} MB)`,
      );
      assert.ok(maxWal > 0, 'the WAL was sampled');
    } finally {
      clearInterval(cycle);
      for (const r of readers) {
        if (r.inTransaction) r.exec('COMMIT');
        r.close();
      }
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
