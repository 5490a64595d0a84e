/**
 * PostgreSQL stopped for 10 s under load, then started again, below two replicas (a throwaway PostgreSQL the test
 * owns: the machine's shared server is never stopped). While it is down the API answers 503 with a retryable
 * ServerException and nothing else; once it is back, every acknowledged job is there and finishes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../helpers/clients.js';
import { health, startReplicas, type Replicas } from '../helpers/replicas.js';
import { signedFetch, type RawResponse } from '../helpers/signed.js';
import type { TestServer } from '../helpers/server.js';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../helpers/throwaway-postgres.js';

const OUTAGE_MS = 10_000;

void describe('PostgreSQL stopped for 10 s under load', () => {
  let pg: ThrowawayPostgres;
  let reps: Replicas;
  let passed = false;
  before(async () => {
    pg = await startThrowawayPostgres();
    reps = await startReplicas(2, { databaseUrl: pg.url, args: ['--vcpus', '8'], leaseMs: 2000 });
  });
  after(async () => {
    await reps?.stop({ keepData: !passed });
    pg?.destroy({ keep: !passed });
  });

  /** A signed request; a transport error (a kept-alive connection closed under the client) is status 0. */
  let transportErrors = 0;
  const send = (srv: TestServer, path: string, body: object): Promise<RawResponse> =>
    signedFetch(srv, path, body).catch(() => {
      transportErrors++;
      return { status: 0, headers: new Headers(), text: '', json: undefined };
    });
  const call = async (srv: TestServer, path: string, body: object) => {
    const r = await signedFetch(srv, path, body);
    assert.equal(r.status, 200, `${path}: ${r.text}`);
    return r.json;
  };

  void it('answers 503 ServerException while it is down; afterwards all jobs finish and none is lost', async () => {
    const [a, b] = reps.servers as [TestServer, TestServer];
    await call(a, '/v1/createcomputeenvironment', {
      computeEnvironmentName: 'ce',
      type: 'MANAGED',
      computeResources: { type: 'EC2', maxvCpus: 8 },
    });
    await call(a, '/v1/createjobqueue', {
      jobQueueName: 'q',
      priority: 1,
      computeEnvironmentOrder: [{ order: 1, computeEnvironment: 'ce' }],
    });
    await call(a, '/v1/registerjobdefinition', {
      jobDefinitionName: 'short',
      type: 'container',
      // Attempts the outage interrupts (their leader lost its lease meanwhile) are retried.
      retryStrategy: { attempts: 3 },
      containerProperties: { image: 'busybox', vcpus: 1, memory: 16, command: ['sleep', '1'] },
    });

    const acked: string[] = [];
    const failures: RawResponse[] = [];
    let stop = false;
    const submitter = async (n: number) => {
      for (let i = 0; !stop; i++) {
        const srv = (i + n) % 2 ? a : b;
        const r = await send(srv, '/v1/submitjob', {
          jobName: `o${n}-${i}`,
          jobQueue: 'q',
          jobDefinition: 'short',
        });
        if (r.status === 200) acked.push(r.json.jobId as string);
        else {
          if (r.status !== 0) failures.push(r);
          await sleep(100); // as an SDK backs off
        }
      }
    };
    const submitting = Promise.all(Array.from({ length: 8 }, (_, n) => submitter(n)));
    await waitFor(
      'load under way',
      async () => (await call(a, '/v1/listjobs', { jobQueue: 'q', jobStatus: 'RUNNING' })).jobSummaryList.length,
      (n) => n >= 2 && acked.length >= 150,
      60_000,
    );
    const ackedBefore = acked.length;
    pg.stop();
    const downReads: RawResponse[] = [];
    try {
      const downUntil = Date.now() + OUTAGE_MS;
      while (Date.now() < downUntil) {
        const r = await send(b, '/v1/describejobs', { jobs: acked.slice(0, 5) });
        if (r.status !== 0) downReads.push(r);
        await sleep(500);
      }
    } finally {
      pg.start();
    }
    const ackedWhileDown = acked.length;
    // Once it is back, the API serves again.
    await waitFor(
      'submits accepted again',
      () => acked.length,
      (n) => n >= ackedWhileDown + 20,
      60_000,
    );
    stop = true;
    await submitting;

    // While down: only 503 ServerException, saying that the database is unreachable and to retry.
    assert.ok(downReads.length >= 5, `reads answered while the database was down: ${downReads.length}`);
    assert.ok(failures.length > 0, 'no submit failed while the database was down');
    for (const r of [...downReads, ...failures]) {
      assert.equal(r.status, 503, r.text);
      assert.equal(r.json.__type, 'ServerException');
      assert.match(r.json.message, /unreachable.*retry/i);
    }

    for (const srv of reps.servers) assert.equal(srv.proc.exitCode, null, `a replica exited:\n${srv.output()}`);
    // Exactly one leader again, and every acknowledged job finishes.
    await waitFor(
      'one leader again',
      () => Promise.all(reps.servers.map(health)),
      (hs) => hs.filter((h) => h.role === 'leader').length === 1,
      30_000,
    );
    const all = await waitFor(
      'every acknowledged job finished',
      async () => {
        const out: any[] = [];
        for (let i = 0; i < acked.length; i += 100)
          out.push(...(await call(a, '/v1/describejobs', { jobs: acked.slice(i, i + 100) })).jobs);
        return out;
      },
      (js) => js.length === acked.length && js.every((j) => j.status === 'SUCCEEDED' || j.status === 'FAILED'),
      240_000,
    );
    const found = new Set(all.map((j) => j.jobId));
    assert.deepEqual(
      acked.filter((id) => !found.has(id)),
      [],
      'acknowledged jobs lost',
    );
    assert.deepEqual(
      all.filter((j) => j.status !== 'SUCCEEDED').map((j) => [j.jobId, j.statusReason]),
      [],
    );
    console.log(
      `# outage of ${OUTAGE_MS} ms: ${ackedBefore} jobs acknowledged before, ${acked.length} in all; ` +
        `${failures.length} submits and ${downReads.length} reads answered 503 while down; all ${all.length} SUCCEEDED; ${transportErrors} transport errors`,
    );
    passed = true;
  });
});
