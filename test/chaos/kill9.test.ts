/**
 * Chaos: kill -9 of the server while submits are in flight and jobs run (process runtime). Every submit that was
 * answered 200 is there after the restart (SubmitJob answers only after its commit), none twice, the database passes
 * SQLite's integrity check, and the attempts that were running are settled as AWS settles a lost instance.
 * (Running containers surviving a kill -9 and being re-attached: test/docker/server.test.ts.)
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/clients.js';
import { createQueue } from '../helpers/setup.js';
import { sdkClient, signedFetch } from '../helpers/signed.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

void describe('chaos: kill -9 with submits in flight', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ args: ['--vcpus', '2'] });
    await createQueue(sdkClient(srv), {
      queue: 'q',
      maxvCpus: 2,
      definition: { name: 'sleepy', command: ['sleep', '60'] },
    });
  });
  after(async () => srv?.stop());

  void it('loses no acknowledged job and settles the running ones', async () => {
    const acknowledged: string[] = [];
    let stop = false;
    const submitter = async (n: number) => {
      for (let i = 0; !stop; i++) {
        try {
          const r = await signedFetch(srv, '/v1/submitjob', {
            jobName: `k${n}-${i}`,
            jobQueue: 'q',
            jobDefinition: 'sleepy',
          });
          if (r.status === 200) acknowledged.push(r.json.jobId as string);
        } catch {
          return; // the server is gone: whatever had no answer may or may not be there
        }
      }
    };
    const running = Promise.all(Array.from({ length: 16 }, (_, n) => submitter(n)));
    await waitFor(
      'jobs running and submits under way',
      async () => {
        const r = await signedFetch(srv, '/v1/listjobs', { jobQueue: 'q', jobStatus: 'RUNNING' });
        return { running: r.json?.jobSummaryList?.length ?? 0, acknowledged: acknowledged.length };
      },
      (v) => v.running >= 2 && v.acknowledged >= 50,
      60_000,
    );
    await srv.stop({ keepData: true, signal: 'SIGKILL' });
    stop = true;
    await running;
    const db = new Database(join(srv.dataDir, 'openbatch.db'), { readonly: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    } finally {
      db.close();
    }
    srv = await startTestServer({ dataDir: srv.dataDir, args: ['--vcpus', '2'] });
    const found = new Map<string, any>();
    for (let i = 0; i < acknowledged.length; i += 100) {
      const r = await signedFetch(srv, '/v1/describejobs', { jobs: acknowledged.slice(i, i + 100) });
      assert.equal(r.status, 200, r.text);
      for (const j of r.json.jobs) found.set(j.jobId, j);
    }
    const lost = acknowledged.filter((id) => !found.has(id));
    assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.length} acknowledged jobs lost`);
    assert.equal(new Set(acknowledged).size, acknowledged.length);
    // Attempts that were running when the server died are settled as a lost host, never left RUNNING forever.
    const settled = await waitFor(
      'the interrupted attempts settled',
      async () => {
        const r = await signedFetch(srv, '/v1/describejobs', { jobs: acknowledged.slice(0, 100) });
        return (r.json.jobs as any[]).filter((j) =>
          j.attempts?.some((a: any) => /terminated/.test(a.statusReason ?? '')),
        );
      },
      (v) => v.length >= 1,
      60_000,
    );
    assert.ok(settled.length >= 1);
  });
});
