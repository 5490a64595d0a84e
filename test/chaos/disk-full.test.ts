/**
 * Chaos: the data directory's disk fills up during submits (a real 8 MiB tmpfs). Submits get a clear 503 in AWS's
 * shape, the server stays up, every acknowledged job is kept, the database passes SQLite's integrity check, and once
 * space returns submits succeed again, also after a restart.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createQueue } from '../helpers/setup.js';
import { sdkClient, signedFetch } from '../helpers/signed.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

void describe('chaos: disk full', () => {
  let mnt: string;
  let srv: TestServer | undefined;
  before(() => {
    mnt = mkdtempSync(join(tmpdir(), 'openbatch-diskfull-'));
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt], { encoding: 'utf8' });
    if (m.status !== 0)
      throw new Error(
        `this test mounts a small tmpfs as the data directory and must run as root (CI does): mount failed: ${m.stderr}`,
      );
  });
  after(async () => {
    await srv?.stop({ keepData: true });
    spawnSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });

  void it('answers 503 while full, keeps every acknowledged job, recovers once space returns', async () => {
    const dataDir = join(mnt, 'data');
    mkdirSync(dataDir);
    srv = await startTestServer({ dataDir });
    const sdk = sdkClient(srv);
    await createQueue(sdk, {
      queue: 'q',
      ce: 'held',
      maxvCpus: 0,
      ceState: 'DISABLED',
      definition: { name: 'jd', command: ['true'] },
    });
    const filler = join(mnt, 'filler');
    try {
      writeFileSync(filler, Buffer.alloc(8 * 1024 * 1024));
    } catch {
      // ENOSPC: the file took what there was
    }
    const accepted: string[] = [];
    const refused: any[] = [];
    const submit = (i: number) =>
      signedFetch(srv!, '/v1/submitjob', {
        jobName: `j${i}`,
        jobQueue: 'q',
        jobDefinition: 'jd',
        parameters: { pad: 'x'.repeat(2000) },
      });
    for (let i = 0; i < 150; i++) {
      const r = await submit(i);
      if (r.status === 200) accepted.push(r.json.jobId);
      else refused.push(r);
    }
    assert.ok(refused.length > 100, `most submits refused while full (${refused.length} of 150)`);
    for (const r of refused) {
      assert.equal(r.status, 503, r.text);
      assert.equal(r.json.__type, 'ServerException');
      assert.equal(r.headers.get('x-amzn-errortype'), 'ServerException');
      assert.equal(r.headers.get('retry-after'), '1');
      assert.match(r.json.message, /data directory is full.*nothing was changed/);
    }
    assert.equal(srv.proc.exitCode, null, 'the server is still up');
    assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);

    // Space returns: submits succeed at once, no restart needed.
    rmSync(filler);
    const after1 = await submit(1000);
    assert.equal(after1.status, 200, after1.text);
    accepted.push(after1.json.jobId);

    // Nothing half-written: what was acknowledged is there, what was refused is not, across a restart too.
    const listed = async () => {
      const ids: string[] = [];
      for (const jobStatus of ['SUBMITTED', 'PENDING', 'RUNNABLE']) {
        let nextToken: string | undefined;
        do {
          const r = await signedFetch(srv!, '/v1/listjobs', {
            jobQueue: 'q',
            jobStatus,
            maxResults: 100,
            ...(nextToken ? { nextToken } : {}),
          });
          assert.equal(r.status, 200, r.text);
          ids.push(...(r.json.jobSummaryList as { jobId: string }[]).map((j) => j.jobId));
          nextToken = r.json.nextToken;
        } while (nextToken);
      }
      return ids.sort();
    };
    assert.deepEqual(await listed(), [...accepted].sort());
    await srv.stop({ keepData: true, signal: 'SIGKILL' });
    const db = new Database(join(dataDir, 'openbatch.db'), { readonly: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    } finally {
      db.close();
    }
    srv = await startTestServer({ dataDir });
    assert.deepEqual(await listed(), [...accepted].sort(), 'the same jobs after a kill -9 and restart');
    const after2 = await submit(1001);
    assert.equal(after2.status, 200, after2.text);
  });
});
