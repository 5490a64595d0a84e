/**
 * Slurm jobs in their images: with --slurm-docker-host, each attempt on a Slurm pool runs `docker run` of its image on
 * the node Slurm gave it, through the nodes' Docker engine (here one real engine whose socket every node's namespace
 * sees, as a node-local /var/run/docker.sock would be), with the job's environment and resources.
 */
import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AWS_V2, requireBinary, run, waitFor, jobsCli } from '../helpers/clients.js';
import { startTestEngine, TEST_IMAGE, type TestEngine } from '../helpers/docker.js';
import { startTestSlurm, type TestSlurm } from '../helpers/slurm.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('Slurm jobs in their container images (--slurm-docker-host)', () => {
  let slurm: TestSlurm;
  let engine: TestEngine;
  let server: TestServer;
  const { batch, describe1, logOf } = jobsCli(() => server);

  before(async () => {
    requireBinary(AWS_V2, 'install Debian package awscli (apt-get install -y awscli)');
    requireBinary('/usr/bin/docker', 'install Debian package docker.io (apt-get install -y docker.io)');
    [slurm, engine] = await Promise.all([startTestSlurm(), startTestEngine()]);
    // Jobs run as `nobody`: on a real cluster their accounts are in the group that owns the nodes' docker.sock.
    const sock = engine.host.replace(/^unix:\/\//, '');
    chmodSync(dirname(sock), 0o711);
    chmodSync(sock, 0o666);
    server = await startTestServer({
      args: [
        '--vcpus',
        '1',
        '--slurm-conf',
        slurm.conf,
        '--slurm-account',
        'nobody',
        '--slurm-state-dir',
        join(slurm.dir, 'openbatch'),
        '--slurm-docker-host',
        engine.host,
        '--stop-grace-seconds',
        '1',
      ],
    });
    batch([
      'create-compute-environment',
      '--compute-environment-name',
      'mixed',
      '--type',
      'UNMANAGED',
      '--unmanagedv-cpus',
      '8',
      '--tags',
      `openbatch:slurm-partition=${slurm.partition}`,
    ]);
    batch([
      'create-job-queue',
      '--job-queue-name',
      'mixed',
      '--priority',
      '1',
      '--compute-environment-order',
      'order=1,computeEnvironment=mixed',
    ]);
    batch([
      'register-job-definition',
      '--job-definition-name',
      'inImage',
      '--type',
      'container',
      '--container-properties',
      JSON.stringify({
        image: TEST_IMAGE,
        command: ['sh', '-c', 'test -f /.dockerenv && echo "in a container of job $AWS_BATCH_JOB_ID"; exit ${RC:-0}'],
        resourceRequirements: [
          { type: 'VCPU', value: '1' },
          { type: 'MEMORY', value: '64' },
        ],
      }),
    ]);
  });
  after(async () => {
    await server?.stop();
    await slurm?.stop();
    await engine?.stop();
  });

  it("runs the job in its image on a node, with the job's environment, and its exit code decides the status", async () => {
    const ok = batch(['submit-job', '--job-name', 'img', '--job-queue', 'mixed', '--job-definition', 'inImage']).jobId;
    const bad = batch([
      'submit-job',
      '--job-name',
      'img-fails',
      '--job-queue',
      'mixed',
      '--job-definition',
      'inImage',
      '--container-overrides',
      JSON.stringify({ environment: [{ name: 'RC', value: '3' }] }),
    ]).jobId;
    const done = await waitFor(
      'both jobs done',
      () => [describe1(ok), describe1(bad)],
      (js) => js.every((j) => ['SUCCEEDED', 'FAILED'].includes(j.status)),
      120_000,
    );
    assert.equal(done[0].status, 'SUCCEEDED', done[0].statusReason);
    assert.deepEqual(logOf(done[0].container.logStreamName), [`in a container of job ${ok}`]);
    assert.equal(done[1].status, 'FAILED');
    assert.equal(done[1].container.exitCode, 3);
    // The containers were the engine's, and are gone (docker run --rm).
    const left = await engine.docker.listContainers({ all: true, filters: { label: [`openbatch.job=${ok}`] } });
    assert.equal(left.length, 0);
  });

  it('refuses a malformed --slurm-docker-host at start, naming the forms it takes', () => {
    const r = run(
      process.execPath,
      ['bin/openbatch', 'server', '--slurm-docker-host', '/var/run/docker.sock'],
      process.env,
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--slurm-docker-host takes .*unix:\/\/\/path\/to\/docker\.sock/);
  });
});
