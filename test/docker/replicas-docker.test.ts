/**
 * Two replicas on one PostgreSQL database and one Docker engine: the containers the leader starts are labelled with
 * the cluster's id (stored in the database), not with the leader's data directory, so after kill -9 of the leader
 * the replica that takes over re-attaches to them: the attempt ends with the container's own exit code, not as a
 * lost host, and runs once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { waitFor } from '../helpers/clients.js';
import { startTestEngine, TEST_IMAGE, type TestEngine } from '../helpers/docker.js';
import { leaderOf, startReplicas, type Replicas } from '../helpers/replicas.js';
import { signedFetch } from '../helpers/signed.js';
import type { TestServer } from '../helpers/server.js';

void describe('replicas on one Docker engine', () => {
  let engine: TestEngine;
  let reps: Replicas;
  let passed = false;
  before(async () => {
    engine = await startTestEngine();
    reps = await startReplicas(2, {
      args: ['--runtime', 'docker', '--docker-host', engine.host, '--vcpus', '4', '--stop-grace-seconds', '1'],
      leaseMs: 2000,
    });
  });
  after(async () => {
    await reps?.stop({ keepData: !passed });
    await engine?.stop();
  });

  const call = async (srv: TestServer, path: string, body: object) => {
    const r = await signedFetch(srv, path, body);
    assert.equal(r.status, 200, `${path}: ${r.text}`);
    return r.json;
  };

  void it('a new leader re-attaches to the containers the old one started (kill -9)', async () => {
    const { leader: old } = await leaderOf(reps.servers);
    const follower = reps.servers.find((s) => s !== old)!;
    await call(follower, '/v1/createcomputeenvironment', {
      computeEnvironmentName: 'ce',
      type: 'MANAGED',
      computeResources: { type: 'EC2', maxvCpus: 4 },
    });
    await call(follower, '/v1/createjobqueue', {
      jobQueueName: 'q',
      priority: 1,
      computeEnvironmentOrder: [{ order: 1, computeEnvironment: 'ce' }],
    });
    await call(follower, '/v1/registerjobdefinition', {
      jobDefinitionName: 'slow',
      type: 'container',
      containerProperties: {
        image: TEST_IMAGE,
        vcpus: 1,
        memory: 32,
        command: ['sh', '-c', 'echo begin; sleep 8; echo end; exit 3'],
      },
    });
    const id = (await call(follower, '/v1/submitjob', { jobName: 'slow', jobQueue: 'q', jobDefinition: 'slow' }))
      .jobId as string;
    await waitFor(
      'the job running under the first leader',
      async () => (await call(follower, '/v1/describejobs', { jobs: [id] })).jobs[0].status,
      (s) => s === 'RUNNING',
      60_000,
    );
    // Its container carries the cluster's id, which every replica reads from the database.
    const c = new pg.Client({ connectionString: reps.db.url });
    await c.connect();
    const clusterId = (await c.query<{ cluster_id: string }>('SELECT cluster_id FROM cluster')).rows[0]!.cluster_id;
    await c.end();
    const labelled = await engine.docker.listContainers({
      filters: { label: [`openbatch.server=openbatch-cluster:${clusterId}`] },
    });
    assert.equal(labelled.length, 1);
    assert.equal(labelled[0]!.Labels['openbatch.job-id'], id);

    old.proc.kill('SIGKILL');
    await waitFor(
      'the follower leads',
      async () => (await leaderOf([follower]).catch(() => undefined))?.leader,
      (l) => l === follower,
      30_000,
    );
    const done = await waitFor(
      'the job ended',
      async () => (await call(follower, '/v1/describejobs', { jobs: [id] })).jobs[0],
      (j) => j.status === 'SUCCEEDED' || j.status === 'FAILED',
      60_000,
    );
    // Re-attached: the container's own exit code was collected by the new leader; one attempt, not a lost host.
    assert.equal(done.status, 'FAILED');
    assert.equal(done.attempts.length, 1, JSON.stringify(done.attempts));
    assert.equal(done.attempts[0].container.exitCode, 3);
    assert.doesNotMatch(done.statusReason ?? '', /terminated/);
    // Collected and removed: nothing of the cluster is left on the engine. The container goes once the job's end is
    // durable, a moment after that end is visible to describe-jobs.
    await waitFor(
      'no container of the cluster left on the engine',
      () =>
        engine.docker.listContainers({
          all: true,
          filters: { label: [`openbatch.server=openbatch-cluster:${clusterId}`] },
        }),
      (left) => left.length === 0,
      10_000,
    );
    passed = true;
  });
});
