/**
 * A multi-node parallel job on this host (one process per node) while the server is killed (kill -9) and started
 * again: its nodes' processes die with the server, so the attempt cannot be re-attached. It is settled as AWS settles
 * an attempt whose instance was terminated and retried as its retry strategy allows: never left RUNNING, never lost,
 * never running beside its retry.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as B from '@aws-sdk/client-batch';
import { waitFor } from '../helpers/clients.js';
import { sdkClient } from '../helpers/signed.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const HOST_LOST = /^Host EC2 \(instance \S+\) terminated\.$/;

/** Whether a process with this pid is alive. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

void describe('a multi-node job on this host across a kill -9 of the server', () => {
  let server: TestServer;
  const marks = mkdtempSync(join(tmpdir(), 'openbatch-mnp-restart-'));
  /** `<jobId>-<attempt>-<node>`: the pid of that node's shell, one line per run. */
  const mark = (jobId: string, attempt: number, node: number) => join(marks, `${jobId}-${attempt}-${node}`);

  before(async () => {
    server = await startTestServer({ args: ['--vcpus', '4', '--stop-grace-seconds', '1'] });
    const sdk = sdkClient(server);
    await sdk.send(
      new B.CreateComputeEnvironmentCommand({
        computeEnvironmentName: 'here',
        type: 'MANAGED',
        computeResources: { type: 'EC2', maxvCpus: 4, subnets: ['s'], instanceRole: 'r' },
      }),
    );
    await sdk.send(
      new B.CreateJobQueueCommand({
        jobQueueName: 'here',
        priority: 1,
        computeEnvironmentOrder: [{ order: 1, computeEnvironment: 'here' }],
      }),
    );
    // Every node marks its run; the first attempt then waits (to be caught by the kill), a retry ends at once. The
    // main node's exit ends the job (as on AWS: the other nodes are stopped), so in a retry it first waits for node
    // 1's mark (up to 30 s), or node 1 could be stopped before it wrote it.
    const command = [
      'sh',
      '-c',
      `echo $$ >> ${marks}/$AWS_BATCH_JOB_ID-$AWS_BATCH_JOB_ATTEMPT-$AWS_BATCH_JOB_NODE_INDEX; ` +
        'if [ "$AWS_BATCH_JOB_ATTEMPT" = 1 ]; then sleep 600; fi; ' +
        `i=0; while [ "$AWS_BATCH_JOB_NODE_INDEX" = 0 ] && [ $i -lt 300 ] && ` +
        `[ ! -e ${marks}/$AWS_BATCH_JOB_ID-$AWS_BATCH_JOB_ATTEMPT-1 ]; do sleep 0.1; i=$((i+1)); done; ` +
        'echo "node $AWS_BATCH_JOB_NODE_INDEX done"',
    ];
    await sdk.send(
      new B.RegisterJobDefinitionCommand({
        jobDefinitionName: 'mnp',
        type: 'multinode',
        nodeProperties: {
          numNodes: 2,
          mainNode: 0,
          nodeRangeProperties: [{ targetNodes: '0:', container: { image: 'busybox', vcpus: 1, memory: 16, command } }],
        },
      }),
    );
  });
  after(async () => {
    await server?.stop();
    rmSync(marks, { recursive: true, force: true });
  });

  it('settles the running attempt as a terminated host and retries it; its node processes are gone', async () => {
    let sdk = sdkClient(server);
    const submit = async (name: string, attempts: number) =>
      (
        await sdk.send(
          new B.SubmitJobCommand({
            jobName: name,
            jobQueue: 'here',
            jobDefinition: 'mnp',
            retryStrategy: { attempts },
          }),
        )
      ).jobId!;
    const retried = await submit('retried', 2);
    const once = await submit('once', 1);
    // RUNNING durably (ListJobs reads the store after the write barrier), and both nodes of both jobs started.
    await waitFor(
      'both RUNNING, durably',
      async () =>
        (await sdk.send(new B.ListJobsCommand({ jobQueue: 'here', jobStatus: 'RUNNING' }))).jobSummaryList!.map(
          (j) => j.jobId,
        ),
      (ids) => ids.includes(retried) && ids.includes(once),
      60_000,
    );
    const firstRun = [retried, once].flatMap((id) => [0, 1].map((n) => mark(id, 1, n)));
    await waitFor(
      'every node of the first attempts to run',
      () => firstRun.filter((f) => existsSync(f)).length,
      (n) => n === firstRun.length,
      30_000,
    );
    const pids = firstRun.map((f) => Number(readFileSync(f, 'utf8').trim()));

    await server.stop({ keepData: true, signal: 'SIGKILL' });
    server = await startTestServer({ dataDir: server.dataDir, args: ['--vcpus', '4', '--stop-grace-seconds', '1'] });
    sdk = sdkClient(server);

    const settled = await waitFor(
      'both to end',
      async () => (await sdk.send(new B.DescribeJobsCommand({ jobs: [retried, once] }))).jobs!,
      (js) => js.length === 2 && js.every((j) => j.status === 'SUCCEEDED' || j.status === 'FAILED'),
      90_000,
    );
    const byId = new Map(settled.map((j) => [j.jobId!, j]));
    // No attempts left: FAILED as AWS fails a job whose instance went away.
    const one = byId.get(once)!;
    assert.equal(one.status, 'FAILED');
    assert.match(one.statusReason!, HOST_LOST);
    assert.equal(one.attempts!.length, 1);
    assert.match(one.attempts![0]!.statusReason!, HOST_LOST);
    // One attempt left: retried, and the retry ran both nodes to the end.
    const two = byId.get(retried)!;
    assert.equal(two.status, 'SUCCEEDED', two.statusReason);
    assert.equal(two.attempts!.length, 2);
    assert.match(two.attempts![0]!.statusReason!, HOST_LOST);
    assert.equal(two.attempts![1]!.container!.exitCode, 0);
    for (const n of [0, 1]) assert.ok(existsSync(mark(retried, 2, n)), `node ${n} of the retry ran`);
    // Each node of each attempt ran once, and the first attempts' processes are gone (they died with the server).
    for (const f of [...firstRun, mark(retried, 2, 0), mark(retried, 2, 1)])
      assert.equal(readFileSync(f, 'utf8').trim().split('\n').length, 1, f);
    await waitFor(
      "the first attempts' node processes gone",
      () => pids.filter(alive),
      (left) => left.length === 0,
      20_000,
    );
    // Node 1 shows both attempts: the lost one, and the retry with its own exit.
    const node1 = (await sdk.send(new B.DescribeJobsCommand({ jobs: [`${retried}#1`] }))).jobs![0]!;
    assert.equal(node1.status, 'SUCCEEDED');
    assert.deepEqual(
      node1.attempts!.map((a) => [a.statusReason, a.container?.exitCode]),
      [
        [two.attempts![0]!.statusReason, undefined],
        [two.attempts![1]!.statusReason, 0],
      ],
    );
  });
});
