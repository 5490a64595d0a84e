/**
 * Multi-node parallel jobs (`type: multinode`) on a Slurm pool, through the real server and the real aws CLI: one
 * Slurm allocation of three nodes, each node with AWS's variables and its own log stream, node children `<id>#<n>`
 * in DescribeJobs and ListJobs (`--multi-node-job-id`), the main node deciding the job's status.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AWS_V2, requireBinary, run, jobsCli } from '../helpers/clients.js';
import { startTestSlurm, type TestSlurm } from '../helpers/slurm.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('multi-node parallel jobs on a Slurm pool', () => {
  let slurm: TestSlurm;
  let server: TestServer;
  const cli = jobsCli(() => server);
  const { batch, logOf } = cli;
  const until = (id: string, states: string[], ms = 120_000) => cli.until(id, states, ms);
  const container = (command: string) => ({
    image: 'busybox',
    command: ['sh', '-c', command],
    resourceRequirements: [
      { type: 'VCPU', value: '1' },
      { type: 'MEMORY', value: '64' },
    ],
  });
  const report =
    'echo "node $AWS_BATCH_JOB_NODE_INDEX of $AWS_BATCH_JOB_NUM_NODES main $AWS_BATCH_JOB_MAIN_NODE_INDEX on $SLURMD_NODENAME addr ${AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS:-none} x ${X:-}"';

  before(async () => {
    requireBinary(AWS_V2, 'install Debian package awscli (apt-get install -y awscli)');
    slurm = await startTestSlurm();
    server = await startTestServer({
      args: [
        '--vcpus',
        '2',
        '--slurm-conf',
        slurm.conf,
        '--slurm-account',
        'nobody',
        '--slurm-state-dir',
        join(slurm.dir, 'openbatch'),
      ],
    });
    batch([
      'create-compute-environment',
      '--compute-environment-name',
      'cluster',
      '--type',
      'UNMANAGED',
      '--tags',
      `openbatch:slurm-partition=${slurm.partition}`,
    ]);
    batch([
      'create-job-queue',
      '--job-queue-name',
      'mnp',
      '--priority',
      '1',
      '--compute-environment-order',
      'order=1,computeEnvironment=cluster',
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
          // The main node outlives the others, which report and end at once.
          { targetNodes: '0:', container: container(`${report}; exit 5`) },
          { targetNodes: '0', container: container(`${report}; sleep 4; exit \${MAIN_RC:-0}`) },
        ],
      }),
    ]);
  });
  after(async () => {
    await server?.stop();
    await slurm?.stop();
  });

  it('runs one allocation of three nodes; the main node decides the status; nodes are <id>#<n>', async () => {
    const { jobId } = batch([
      'submit-job',
      '--job-name',
      'mpi-run',
      '--job-queue',
      'mnp',
      '--job-definition',
      'mpi',
      '--node-overrides',
      JSON.stringify({
        nodePropertyOverrides: [
          { targetNodes: '2', containerOverrides: { environment: [{ name: 'X', value: 'two' }] } },
        ],
      }),
    ]);
    const job = await until(jobId, ['SUCCEEDED', 'FAILED']);
    // Nodes 1 and 2 exited 5, the main node 0: the job SUCCEEDED, as on AWS.
    assert.equal(job.status, 'SUCCEEDED', job.statusReason);
    assert.equal(job.nodeProperties.numNodes, 3);
    assert.equal(job.nodeProperties.mainNode, 0);
    assert.equal(job.container, undefined);
    assert.equal(job.attempts.length, 1);
    // One Slurm job spanning the three nodes.
    const slurmJobs = slurm
      .cmd('squeue', ['-h', '-t', 'all', '-n', `openbatch-${jobId}`, '-o', '%i|%D'])
      .trim()
      .split('\n');
    assert.deepEqual(
      slurmJobs.map((l) => l.split('|')[1]),
      ['3'],
    );

    const nodes = batch(['describe-jobs', '--jobs', `${jobId}#0`, `${jobId}#1`, `${jobId}#2`]).jobs;
    assert.deepEqual(
      nodes.map((n: { jobId: string }) => n.jobId),
      [0, 1, 2].map((i) => `${jobId}#${i}`),
    );
    assert.deepEqual(
      nodes.map((n: { nodeDetails: unknown }) => n.nodeDetails),
      [
        { nodeIndex: 0, isMainNode: true },
        { nodeIndex: 1, isMainNode: false },
        { nodeIndex: 2, isMainNode: false },
      ],
    );
    assert.deepEqual(
      nodes.map((n: { status: string }) => n.status),
      ['SUCCEEDED', 'FAILED', 'FAILED'],
    );
    assert.deepEqual(
      nodes.map((n: { container: { exitCode?: number } }) => n.container.exitCode),
      [0, 5, 5],
    );
    const lines = nodes.map((n: { container: { logStreamName: string } }) => logOf(n.container.logStreamName));
    const parsed = lines.map((l: string[]) => {
      assert.equal(l.length, 1, JSON.stringify(lines));
      const m = /^node (\d) of (\d) main (\d) on (\S+) addr (\S+) x (\S*)$/.exec(l[0]!);
      assert.ok(m, l[0]);
      return { index: m[1], num: m[2], main: m[3], host: m[4]!, addr: m[5], x: m[6] };
    });
    assert.deepEqual(
      parsed.map((p: { index?: string; num?: string; main?: string; x?: string }) => [p.index, p.num, p.main, p.x]),
      [
        ['0', '3', '0', ''],
        ['1', '3', '0', ''],
        ['2', '3', '0', 'two'],
      ],
    );
    // Three different nodes; the children know the main node's address, the main node has none (as on AWS).
    assert.equal(new Set(parsed.map((p: { host: string }) => p.host)).size, 3);
    const mainAddr = /NodeAddr=(\S+)/.exec(slurm.cmd('scontrol', ['show', 'node', parsed[0]!.host]))![1];
    assert.deepEqual(
      parsed.map((p: { addr?: string }) => p.addr),
      ['none', mainAddr, mainAddr],
    );
    // The job's own log stream is its main node's.
    assert.equal(job.attempts[0].container.logStreamName, nodes[0].container.logStreamName);
    // Every node shows the attempt with its own exit and log stream; the job's attempts keep to AWS's AttemptDetail.
    assert.deepEqual(
      nodes.map((n: { attempts: { container: { exitCode: number; logStreamName: string } }[] }) =>
        n.attempts.map((a) => [a.container.exitCode, a.container.logStreamName]),
      ),
      nodes.map((n: { container: { exitCode: number; logStreamName: string } }) => [
        [n.container.exitCode, n.container.logStreamName],
      ]),
    );
    assert.equal(nodes[1].attempts[0].startedAt, job.attempts[0].startedAt);
    assert.equal(nodes[1].attempts[0].stoppedAt, job.attempts[0].stoppedAt);
    assert.equal(nodes[1].attempts[0].container.taskArn, `${job.attempts[0].container.taskArn}#1`);
    assert.deepEqual(Object.keys(job.attempts[0]).sort(), ['container', 'startedAt', 'statusReason', 'stoppedAt']);

    const listed = batch(['list-jobs', '--multi-node-job-id', jobId, '--job-status', 'FAILED']).jobSummaryList;
    assert.deepEqual(
      listed.map((s: { jobId: string; nodeProperties: unknown }) => [s.jobId, s.nodeProperties]),
      [
        [`${jobId}#1`, { isMainNode: false, numNodes: 3, nodeIndex: 1 }],
        [`${jobId}#2`, { isMainNode: false, numNodes: 3, nodeIndex: 2 }],
      ],
    );
  });

  it("fails the job with its main node's exit code, numNodes follows nodeOverrides, each node shows each attempt", async () => {
    const { jobId } = batch([
      'submit-job',
      '--job-name',
      'mpi-fail',
      '--job-queue',
      'mnp',
      '--job-definition',
      'mpi',
      '--retry-strategy',
      'attempts=2',
      '--node-overrides',
      JSON.stringify({
        numNodes: 2,
        nodePropertyOverrides: [
          { targetNodes: '0', containerOverrides: { environment: [{ name: 'MAIN_RC', value: '3' }] } },
        ],
      }),
    ]);
    const job = await until(jobId, ['SUCCEEDED', 'FAILED']);
    assert.equal(job.status, 'FAILED');
    assert.equal(job.nodeProperties.numNodes, 2);
    assert.deepEqual(
      job.attempts.map((a: { container: { exitCode: number } }) => a.container.exitCode),
      [3, 3],
    );
    assert.equal(batch(['describe-jobs', '--jobs', `${jobId}#2`]).jobs.length, 0);
    // describe-jobs of a node that is not the main one: both attempts, each with that node's exit and log stream.
    const node1 = batch(['describe-jobs', '--jobs', `${jobId}#1`]).jobs[0];
    assert.equal(node1.attempts.length, 2);
    node1.attempts.forEach((a: any, i: number) => {
      assert.equal(a.container.exitCode, 5);
      assert.equal(a.startedAt, job.attempts[i].startedAt);
      assert.equal(a.stoppedAt, job.attempts[i].stoppedAt);
      assert.equal(a.statusReason, job.attempts[i].statusReason);
      assert.notEqual(a.container.logStreamName, job.attempts[i].container.logStreamName);
      assert.match(logOf(a.container.logStreamName)[0]!, /^node 1 of 2 main 0 /);
    });
    assert.notEqual(node1.attempts[0].container.logStreamName, node1.attempts[1].container.logStreamName);
    assert.equal(node1.container.logStreamName, node1.attempts[1].container.logStreamName);
  });

  it('refuses node ranges that leave a node out; runs a multi-node job on this host as processes', async () => {
    const r = run(
      AWS_V2,
      [
        'batch',
        'register-job-definition',
        '--job-definition-name',
        'holes',
        '--type',
        'multinode',
        '--node-properties',
        JSON.stringify({
          numNodes: 3,
          mainNode: 0,
          nodeRangeProperties: [{ targetNodes: '0:1', container: container('true') }],
        }),
        '--endpoint-url',
        server.url,
      ],
      server.env,
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /ClientException/);
    assert.match(r.stderr, /node\(s\) 2 of 3/);

    batch([
      'create-compute-environment',
      '--compute-environment-name',
      'here',
      '--type',
      'MANAGED',
      '--compute-resources',
      'type=EC2,maxvCpus=2,subnets=s,instanceRole=r',
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
    const { jobId } = batch([
      'submit-job',
      '--job-name',
      'local',
      '--job-queue',
      'here',
      '--job-definition',
      'mpi',
      '--node-overrides',
      JSON.stringify({ numNodes: 2 }),
    ]);
    // On this host (processes): one process per node, the main node at 127.0.0.1.
    const job = await until(jobId, ['SUCCEEDED', 'FAILED'], 60_000);
    assert.equal(job.status, 'SUCCEEDED', job.statusReason);
    const nodes = batch(['describe-jobs', '--jobs', `${jobId}#0`, `${jobId}#1`]).jobs;
    assert.deepEqual(
      nodes.map((n: { status: string; container: { exitCode?: number } }) => [n.status, n.container.exitCode]),
      [
        ['SUCCEEDED', 0],
        ['FAILED', 5],
      ],
    );
    assert.deepEqual(logOf(nodes[1].container.logStreamName), ['node 1 of 2 main 0 on  addr 127.0.0.1 x ']);
    // describe-jobs of node 1 on this host: its attempt, with its own exit and log stream.
    assert.deepEqual(
      nodes[1].attempts.map((a: { container: { exitCode: number; logStreamName: string } }) => [
        a.container.exitCode,
        a.container.logStreamName,
      ]),
      [[5, nodes[1].container.logStreamName]],
    );
    assert.equal(nodes[1].attempts[0].startedAt, job.attempts[0].startedAt);
  });
});
