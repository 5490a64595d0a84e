/**
 * A change of leader while Slurm jobs run: two replicas on one PostgreSQL database, both pointed at the same real
 * Slurm cluster (test/helpers/slurm.ts) and the same shared --slurm-state-dir. kill -9 of the leader while its Slurm
 * jobs run; the other replica takes over and re-attaches to them by their Slurm ids: each finishes SUCCEEDED once,
 * ran once, and its whole log (written before and after the kill) is readable.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as B from '@aws-sdk/client-batch';
import { AWS_V2, jobsCli, requireBinary, waitFor } from '../helpers/clients.js';
import { leaderOf, startReplicas, type Replicas } from '../helpers/replicas.js';
import { sdkClient } from '../helpers/signed.js';
import { startTestSlurm, type TestSlurm } from '../helpers/slurm.js';
import type { TestServer } from '../helpers/server.js';

void describe('Slurm jobs across a change of leader', () => {
  let slurm: TestSlurm;
  let reps: Replicas;
  let passed = false;
  let survivor: TestServer;
  const { until, logOf } = jobsCli(() => survivor);

  before(async () => {
    requireBinary(AWS_V2, 'install Debian package awscli (apt-get install -y awscli)');
    slurm = await startTestSlurm();
    reps = await startReplicas(2, {
      leaseMs: 2000,
      args: [
        '--vcpus',
        '1',
        '--slurm-conf',
        slurm.conf,
        '--slurm-account',
        'nobody',
        // The same directory for both replicas: the new leader finds the Slurm ids and output files there.
        '--slurm-state-dir',
        join(slurm.dir, 'openbatch'),
      ],
    });
  });
  after(async () => {
    await reps?.stop({ keepData: !passed });
    await slurm?.stop();
  });

  it('kill -9 of the leader: the new leader re-attaches, each job SUCCEEDED once, ran once, its log whole', async () => {
    const { leader } = await waitFor(
      'a leader',
      () => leaderOf(reps.servers).catch(() => undefined),
      (l) => l !== undefined,
    ).then((l) => l!);
    survivor = reps.servers.find((s) => s !== leader)!;
    const sdk = sdkClient(leader);
    await sdk.send(
      new B.CreateComputeEnvironmentCommand({
        computeEnvironmentName: 'mixed',
        type: 'UNMANAGED',
        unmanagedvCpus: 12,
        tags: { 'openbatch:slurm-partition': slurm.partition },
      }),
    );
    await sdk.send(
      new B.CreateJobQueueCommand({
        jobQueueName: 'mixed',
        priority: 1,
        computeEnvironmentOrder: [{ order: 1, computeEnvironment: 'mixed' }],
      }),
    );
    await sdk.send(
      new B.RegisterJobDefinitionCommand({
        jobDefinitionName: 'def',
        type: 'container',
        containerProperties: {
          image: 'busybox',
          command: ['true'],
          resourceRequirements: [
            { type: 'VCPU', value: '1' },
            { type: 'MEMORY', value: '64' },
          ],
        },
      }),
    );
    // Every run leaves a line in a file of its own on the shared disk, so a second run of a job would show. The jobs
    // run until the test opens the gate (after the take-over): however late their first line reaches the log store,
    // they are still running when the leader dies.
    const ran = join(slurm.dir, 'ran');
    mkdirSync(ran);
    chmodSync(ran, 0o777);
    const gate = join(slurm.dir, 'gate');
    const ids = await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        const r = await sdk.send(
          new B.SubmitJobCommand({
            jobName: `survivor-${i}`,
            jobQueue: 'mixed',
            jobDefinition: 'def',
            containerOverrides: {
              command: [
                'sh',
                '-c',
                `echo "$SLURM_JOB_ID" >> ${ran}/$AWS_BATCH_JOB_ID; echo begin; while [ ! -e ${gate} ]; do sleep 0.2; done; echo end`,
              ],
            },
          }),
        );
        return r.jobId!;
      }),
    );
    // All four running on Slurm, and their first line in the log store, before the leader dies.
    const running = await waitFor(
      'all four RUNNING',
      async () => (await sdk.send(new B.DescribeJobsCommand({ jobs: ids }))).jobs!,
      (js) =>
        js.every((j) => j.status === 'RUNNING') || js.some((j) => j.status === 'SUCCEEDED' || j.status === 'FAILED'),
      90_000,
    );
    assert.deepEqual(
      running.map((j) => j.status),
      ['RUNNING', 'RUNNING', 'RUNNING', 'RUNNING'],
    );
    await waitFor(
      "every job's first line in the log store",
      () => running.map((j) => logOf(j.container!.logStreamName!)),
      (logs) => logs.every((l) => l.length === 1),
      60_000,
    );

    leader.proc.kill('SIGKILL');
    await waitFor(
      'the other replica leading',
      () => leaderOf(reps.servers).catch(() => undefined),
      (l) => l?.leader === survivor,
      60_000,
    );
    writeFileSync(gate, '');
    for (const id of ids) {
      const j = await until(id, ['SUCCEEDED', 'FAILED'], 120_000);
      assert.equal(j.status, 'SUCCEEDED', j.statusReason);
      assert.equal(j.attempts.length, 1, JSON.stringify(j.attempts));
      assert.deepEqual(logOf(j.container.logStreamName), ['begin', 'end']);
    }
    const runs = readdirSync(ran).map((f) => [f, readFileSync(join(ran, f), 'utf8').trim().split('\n')] as const);
    assert.deepEqual(runs.map(([f]) => f).sort(), [...ids].sort());
    for (const [f, lines] of runs) assert.equal(lines.length, 1, `${f} ran ${lines.length} times: ${lines.join(', ')}`);
    // Slurm ran each once too: four jobs, none still queued or running.
    const left = slurm.cmd('squeue', ['-h', '-t', 'PENDING,RUNNING', '-o', '%i']).trim();
    assert.equal(left, '');
    passed = true;
  });
});
