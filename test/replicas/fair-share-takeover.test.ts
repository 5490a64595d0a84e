/**
 * Fair share across a leader change: two replicas on one PostgreSQL database. Jobs of share labA run (and end) under
 * the first leader; it is killed (kill -9); the new leader rebuilds each share's usage from the store instead of
 * starting from zero, so labA still counts as active and still carries its usage: a labB job submitted after the
 * take-over runs before a labA job submitted before it (with equal usage labA would come first, by name).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/clients.js';
import { leaderOf, startReplicas, type Replicas } from '../helpers/replicas.js';
import { signedFetch } from '../helpers/signed.js';
import type { TestServer } from '../helpers/server.js';

void describe('fair-share usage after a leader change (replicas on PostgreSQL)', () => {
  let reps: Replicas;
  let passed = false;
  before(async () => {
    reps = await startReplicas(2, { leaseMs: 2000 });
  });
  after(async () => {
    await reps?.stop({ keepData: !passed });
  });

  const call = async (srv: TestServer, path: string, body: object) => {
    const r = await signedFetch(srv, path, body);
    assert.equal(r.status, 200, `${path} on ${srv.url}: ${r.text}`);
    return r.json;
  };
  const submit = async (srv: TestServer, share: string) =>
    (
      await call(srv, '/v1/submitjob', {
        jobName: share,
        jobQueue: 'fs',
        jobDefinition: 'quick',
        shareIdentifier: share,
      })
    ).jobId as string;

  void it('the new leader rebuilds usage from the attempts in the store: labA stays active and keeps its usage', async () => {
    const { leader: first } = await leaderOf(reps.servers);
    const other = reps.servers.find((s) => s !== first)!;
    const policy = await call(other, '/v1/createschedulingpolicy', {
      name: 'labs',
      fairsharePolicy: { shareDecaySeconds: 600, computeReservation: 50 },
    });
    await call(other, '/v1/createcomputeenvironment', {
      computeEnvironmentName: 'fs',
      type: 'MANAGED',
      computeResources: { type: 'EC2', maxvCpus: 2 },
    });
    await call(other, '/v1/createjobqueue', {
      jobQueueName: 'fs',
      priority: 1,
      schedulingPolicyArn: policy.arn,
      computeEnvironmentOrder: [{ order: 1, computeEnvironment: 'fs' }],
    });
    await call(other, '/v1/registerjobdefinition', {
      jobDefinitionName: 'quick',
      type: 'container',
      containerProperties: { image: 'busybox', vcpus: 1, memory: 16, command: ['sleep', '1'] },
    });
    const ran = [await submit(other, 'labA'), await submit(other, 'labA')];
    await waitFor(
      "labA's jobs to succeed under the first leader",
      async () => (await call(other, '/v1/describejobs', { jobs: ran })).jobs as { status: string }[],
      (js) => js.every((j) => j.status === 'SUCCEEDED'),
      60_000,
    );
    // Nothing runs from now on: the take-over is judged on what the store holds.
    await call(other, '/v1/updatecomputeenvironment', { computeEnvironment: 'fs', state: 'DISABLED' });

    first.proc.kill('SIGKILL');
    await new Promise((r) =>
      first.proc.exitCode === null && first.proc.signalCode === null ? first.proc.once('exit', r) : r(0),
    );
    const killedAt = Date.now();
    await waitFor(
      'the other replica to lead',
      async () => leaderOf([other]).catch(() => undefined),
      (v) => v !== undefined,
      30_000,
    );
    // labA ended less than a window ago: still active for computeReservation under the new leader.
    const idle = await waitFor(
      "the new leader's published state",
      async () => call(other, '/v1/getjobqueuesnapshot', { jobQueue: 'fs' }),
      (s) => s.queueUtilization.lastUpdatedAt > killedAt && s.queueUtilization.fairshareUtilization !== undefined,
      30_000,
    );
    assert.equal(idle.queueUtilization.fairshareUtilization.activeShareCount, 1);

    // labA has used 2 vCPU-seconds, labB nothing: labB runs first although it was submitted last.
    const a = await submit(other, 'labA');
    const b = await submit(other, 'labB');
    const snap = await waitFor(
      'both jobs at the front',
      async () => call(other, '/v1/getjobqueuesnapshot', { jobQueue: 'fs' }),
      (s) => s.frontOfQueue.jobs.length === 2,
      30_000,
    );
    assert.deepEqual(
      (snap.frontOfQueue.jobs as { jobArn: string }[]).map((j) => j.jobArn.split('/').pop()),
      [b, a],
      'labB (no usage) before labA (usage rebuilt from the store)',
    );
    assert.equal(snap.queueUtilization.fairshareUtilization.activeShareCount, 2);
    passed = true;
  });
});
