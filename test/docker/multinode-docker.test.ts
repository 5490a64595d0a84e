/**
 * Multi-node parallel jobs in containers (`--runtime docker`), through the real server and the real aws CLI: each
 * node a container of its node range's image, all on one Docker network made for the attempt and removed after it.
 * The other nodes reach the main node at AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS over that network (busybox
 * `nc`); the main node's exit decides the job's status, and a node still running when it exits is stopped.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AWS_V2, requireBinary, waitFor, jobsCli } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startTestEngine, TEST_IMAGE, type TestEngine } from '../helpers/docker.js';

void describe('multi-node parallel jobs in containers on one network (docker runtime)', () => {
  let engine: TestEngine;
  let server: TestServer;
  let dataDir: string;
  const args = () => ['--runtime', 'docker', '--docker-host', engine.host, '--vcpus', '8', '--stop-grace-seconds', '2'];
  const cli = jobsCli(() => server);
  const { batch, describe1, logOf } = cli;
  const until = (id: string, states: string[], ms = 120_000) => cli.until(id, states, ms);
  const container = (command: string) => ({
    image: TEST_IMAGE,
    command: ['sh', '-c', command],
    resourceRequirements: [
      { type: 'VCPU', value: '1' },
      { type: 'MEMORY', value: '64' },
    ],
  });
  const whoami =
    'echo "node $AWS_BATCH_JOB_NODE_INDEX of $AWS_BATCH_JOB_NUM_NODES main $AWS_BATCH_JOB_MAIN_NODE_INDEX"';
  // The main node listens until every other node's line has arrived, and prints them. A listen that fails (the port
  // still held by the previous connection) is tried again, not counted. busybox nc stops reading when its stdin ends,
  // so a listener with an empty stdin could lose a line: its stdin ("ack", then nothing for 5 s) stays open a while.
  const main = `${whoami}; : > /tmp/got; while [ $(wc -l < /tmp/got) -lt $((AWS_BATCH_JOB_NUM_NODES - 1)) ]; do (echo ack; sleep 5) | nc -l -p 5000 >> /tmp/got || sleep 0.2; done; echo "got $(sort /tmp/got | tr '\\n' ' ')"; sleep \${HOLD:-0}; exit \${EXIT:-0}`;
  // The others send their index to the main node's address until its listener answers "ack"; node 2 then stays up.
  // nc's exit status is not enough: a connection the kernel queued while the listener served another node completes
  // (nc exits 0, its line sent) and is then reset unread when that listener exits.
  const other = `${whoami}; until echo "from-$AWS_BATCH_JOB_NODE_INDEX" | nc $AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS 5000 2>/dev/null | grep -q ack; do sleep 0.2; done; echo "sent to $AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"; if [ $AWS_BATCH_JOB_NODE_INDEX = 2 ]; then sleep 300; fi`;
  // What is left on the engine of these jobs (a shared engine, OPENBATCH_TEST_DOCKER_HOST, may hold others').
  const leftOf = async (ids: string[]) => ({
    networks: (await engine.docker.listNetworks({ filters: { label: ['openbatch.network'] } }))
      .filter((n) => ids.includes(n.Labels?.['openbatch.network'] ?? ''))
      .map((n) => n.Name),
    containers: (await engine.docker.listContainers({ all: true }))
      .filter((c) => ids.some((id) => (c.Labels['openbatch.job-id'] ?? '').startsWith(`${id}#`)))
      .map((c) => c.Names[0]),
  });

  /** A 2-node job whose main node, once it heard from node 1 over the network, stays up. */
  const submitHeld = async (): Promise<string> => {
    const jobId = batch([
      'submit-job',
      '--job-name',
      'held',
      '--job-queue',
      'here',
      '--job-definition',
      'mpi',
      '--node-overrides',
      JSON.stringify({
        numNodes: 2,
        nodePropertyOverrides: [
          { targetNodes: '0', containerOverrides: { environment: [{ name: 'HOLD', value: '300' }] } },
        ],
      }),
    ]).jobId;
    await until(jobId, ['RUNNING']);
    await waitFor(
      'the main node got node 1',
      () => logOf(describe1(`${jobId}#0`).container.logStreamName),
      (log) => log.includes('got from-1 '),
      60_000,
    );
    assert.equal((await leftOf([jobId])).networks.length, 1);
    return jobId;
  };

  before(async () => {
    requireBinary(AWS_V2, 'install Debian package awscli (apt-get install -y awscli)');
    engine = await startTestEngine({ containersTalk: true });
    dataDir = mkdtempSync(join(tmpdir(), 'openbatch-mnd-'));
    server = await startTestServer({ dataDir, args: args() });
    batch([
      'create-compute-environment',
      '--compute-environment-name',
      'here',
      '--type',
      'MANAGED',
      '--compute-resources',
      'type=EC2,maxvCpus=8,subnets=s,instanceRole=r',
    ]);
    batch([
      'create-job-queue',
      '--job-queue-name',
      'here',
      '--priority',
      '1',
      '--compute-environment-order',
      'order=1,computeEnvironment=here',
    ]);
    batch([
      'register-job-definition',
      '--job-definition-name',
      'mpi',
      '--type',
      'multinode',
      '--node-properties',
      JSON.stringify({
        numNodes: 3,
        mainNode: 0,
        nodeRangeProperties: [
          { targetNodes: '0', container: container(main) },
          { targetNodes: '1:', container: container(other) },
        ],
      }),
    ]);
  });

  after(async () => {
    await server?.stop();
    await engine?.stop();
  });

  it('runs 3 nodes on one network: the others reach the main node, whose exit decides the job', async () => {
    const ok = batch(['submit-job', '--job-name', 'ok', '--job-queue', 'here', '--job-definition', 'mpi']).jobId;
    const failed = batch([
      'submit-job',
      '--job-name',
      'failed',
      '--job-queue',
      'here',
      '--job-definition',
      'mpi',
      '--node-overrides',
      JSON.stringify({
        nodePropertyOverrides: [
          { targetNodes: '0', containerOverrides: { environment: [{ name: 'EXIT', value: '3' }] } },
        ],
      }),
    ]).jobId;

    const job = await until(ok, ['SUCCEEDED', 'FAILED']);
    assert.equal(job.status, 'SUCCEEDED', job.statusReason);
    const nodes = batch(['describe-jobs', '--jobs', `${ok}#0`, `${ok}#1`, `${ok}#2`]).jobs;
    assert.equal(nodes.length, 3);
    const mainLog = logOf(nodes[0].container.logStreamName);
    assert.deepEqual(mainLog, ['node 0 of 3 main 0', 'got from-1 from-2 ']);
    const address = /^sent to (\d+\.\d+\.\d+\.\d+)$/.exec(logOf(nodes[1].container.logStreamName)[1] ?? '')?.[1];
    assert.ok(address && address !== '127.0.0.1', `node 1 sent to the main node's container address: ${address}`);
    assert.deepEqual(logOf(nodes[1].container.logStreamName), ['node 1 of 3 main 0', `sent to ${address}`]);
    assert.deepEqual(logOf(nodes[2].container.logStreamName), ['node 2 of 3 main 0', `sent to ${address}`]);
    // Node 1 ended on its own; node 2 (sleeping) was stopped when the main node exited.
    assert.deepEqual(
      nodes.map((n: { status: string; container: { exitCode?: number } }) => [n.status, n.container.exitCode]),
      [
        ['SUCCEEDED', 0],
        ['SUCCEEDED', 0],
        ['FAILED', nodes[2].container.exitCode],
      ],
    );
    assert.notEqual(nodes[2].container.exitCode, 0);

    const bad = await until(failed, ['SUCCEEDED', 'FAILED']);
    assert.equal(bad.status, 'FAILED');
    assert.equal(bad.attempts.at(-1).container.exitCode, 3);
    const badMain = describe1(`${failed}#0`);
    assert.deepEqual(logOf(badMain.container.logStreamName), ['node 0 of 3 main 0', 'got from-1 from-2 ']);

    // Each attempt's network is removed with its last container.
    assert.deepEqual(await leftOf([ok, failed]), { networks: [], containers: [] });
  });

  it('terminating a running multi-node job stops every node and removes its network', async () => {
    const jobId = await submitHeld();
    batch(['terminate-job', '--job-id', jobId, '--reason', 'enough']);
    const job = await until(jobId, ['SUCCEEDED', 'FAILED']);
    assert.equal(job.status, 'FAILED');
    assert.equal(job.statusReason, 'enough');
    assert.deepEqual(await leftOf([jobId]), { networks: [], containers: [] });
  });

  it('a main node that cannot start fails the job with the reason, starts no other node, leaves no network', async () => {
    batch([
      'register-job-definition',
      '--job-definition-name',
      'mpi-noimage',
      '--type',
      'multinode',
      '--node-properties',
      JSON.stringify({
        numNodes: 2,
        mainNode: 0,
        nodeRangeProperties: [
          { targetNodes: '0', container: { ...container(main), image: 'registry.invalid/openbatch/none:1' } },
          { targetNodes: '1', container: container(other) },
        ],
      }),
    ]);
    const jobId = batch([
      'submit-job',
      '--job-name',
      'noimage',
      '--job-queue',
      'here',
      '--job-definition',
      'mpi-noimage',
    ]).jobId;
    const job = await until(jobId, ['SUCCEEDED', 'FAILED']);
    assert.equal(job.status, 'FAILED');
    assert.match(job.attempts.at(-1).container.reason, /^CannotPullContainerError: /);
    // Node 1 never ran: it ends with the job, without an exit code of its own.
    const node1 = describe1(`${jobId}#1`);
    assert.equal(node1.status, 'FAILED');
    assert.equal(node1.container.exitCode, undefined);
    assert.deepEqual(await leftOf([jobId]), { networks: [], containers: [] });
  });

  it('a restart does not re-attach a running multi-node job: it fails, its containers and network are removed', async () => {
    const jobId = await submitHeld();
    // SIGKILL: the server cannot tidy anything up.
    await server.stop({ keepData: true, signal: 'SIGKILL' });
    server = await startTestServer({ dataDir, args: args() });
    const job = await until(jobId, ['SUCCEEDED', 'FAILED']);
    assert.equal(job.status, 'FAILED');
    assert.deepEqual(await leftOf([jobId]), { networks: [], containers: [] });
  });
});
