/**
 * Chaos: the Docker engine restarted while containers run (an upgrade, systemd, a crash). The server stays up and
 * answers throughout; a job submitted while the engine is away waits in STARTING and runs once it is back; a container
 * the engine stopped on its way down ends its attempt with the container's own exit code and is retried as its retry
 * strategy allows; under `live-restore` a container keeps running and its attempt goes on, its output reported once.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import * as B from '@aws-sdk/client-batch';
import { waitFor } from '../helpers/clients.js';
import { startTestEngine, TEST_IMAGE, type TestEngine } from '../helpers/docker.js';
import { createQueue } from '../helpers/setup.js';
import { sdkClient, sdkLogMessages } from '../helpers/signed.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

async function setUp(engine: TestEngine): Promise<{ server: TestServer; sdk: B.BatchClient }> {
  const server = await startTestServer({
    args: ['--runtime', 'docker', '--docker-host', engine.host, '--vcpus', '4', '--stop-grace-seconds', '2'],
  });
  const sdk = sdkClient(server);
  await createQueue(sdk, { queue: 'q', ce: 'ce', maxvCpus: 4 });
  return { server, sdk };
}

async function register(sdk: B.BatchClient, name: string, script: string, attempts = 1): Promise<void> {
  await sdk.send(
    new B.RegisterJobDefinitionCommand({
      jobDefinitionName: name,
      type: 'container',
      retryStrategy: { attempts },
      containerProperties: { image: TEST_IMAGE, vcpus: 1, memory: 32, command: ['sh', '-c', script] },
    }),
  );
}

async function submit(sdk: B.BatchClient, definition: string): Promise<string> {
  return (await sdk.send(new B.SubmitJobCommand({ jobName: definition, jobQueue: 'q', jobDefinition: definition })))
    .jobId!;
}

async function job(sdk: B.BatchClient, id: string): Promise<B.JobDetail> {
  return (await sdk.send(new B.DescribeJobsCommand({ jobs: [id] }))).jobs![0]!;
}

const untilStatus = (sdk: B.BatchClient, id: string, status: string[], timeoutMs = 90_000) =>
  waitFor(
    `job ${id} in ${status.join('/')}`,
    () => job(sdk, id),
    (j) => status.includes(j.status!),
    timeoutMs,
  );

async function healthy(server: TestServer): Promise<number> {
  return (await fetch(`${server.url}/healthz`)).status;
}

void describe('chaos: the Docker engine restarted while containers run', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  void it('without live-restore: the stopped attempt fails with its exit code and is retried; the server answers throughout', async () => {
    const engine = await startTestEngine();
    cleanup.push(() => engine.stop());
    const { server, sdk } = await setUp(engine);
    cleanup.push(() => server.stop());
    // The first attempt runs until the engine stops it (SIGTERM on the engine's shutdown); the retry just finishes.
    await register(
      sdk,
      'restartable',
      'echo "attempt $AWS_BATCH_JOB_ATTEMPT"; if [ "$AWS_BATCH_JOB_ATTEMPT" = 1 ]; then trap "exit 143" TERM; sleep 120 & wait; fi; echo finished',
      2,
    );
    const long = await submit(sdk, 'restartable');
    await untilStatus(sdk, long, ['RUNNING']);
    const restarted = engine.restart(3000);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await healthy(server), 200);
    await restarted;

    const done = await untilStatus(sdk, long, ['SUCCEEDED', 'FAILED']);
    assert.equal(done.status, 'SUCCEEDED', JSON.stringify(done.attempts));
    assert.equal(done.attempts!.length, 2);
    assert.equal(done.attempts![0]!.container!.exitCode, 143, JSON.stringify(done.attempts![0]));
    assert.equal(done.attempts![1]!.container!.exitCode, 0);
  });

  void it('a job submitted while the engine is down waits, then runs', async () => {
    const engine = await startTestEngine();
    cleanup.push(() => engine.stop());
    const { server, sdk } = await setUp(engine);
    cleanup.push(() => server.stop());
    await register(sdk, 'hello', 'echo hello from $AWS_BATCH_JOB_ID');
    const restarted = engine.restart(6000);
    // The engine is down for 6 s: submit inside that window.
    await new Promise((r) => setTimeout(r, 1500));
    const id = await submit(sdk, 'hello');
    const waiting = await job(sdk, id);
    assert.ok(['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING'].includes(waiting.status!), waiting.status);
    assert.equal(await healthy(server), 200);
    await restarted;
    const done = await untilStatus(sdk, id, ['SUCCEEDED', 'FAILED']);
    assert.equal(done.status, 'SUCCEEDED', `${done.statusReason} ${JSON.stringify(done.attempts)}`);
    assert.equal(done.attempts!.length, 1);
    assert.deepEqual(await sdkLogMessages(server, done.container!.logStreamName!), [`hello from ${id}`]);
  });

  void it('with live-restore: the container keeps running and its attempt goes on, output reported once', async () => {
    const engine = await startTestEngine({ liveRestore: true });
    cleanup.push(() => engine.stop());
    const { server, sdk } = await setUp(engine);
    cleanup.push(() => server.stop());
    await register(sdk, 'steady', 'echo before; sleep 10; echo after');
    const id = await submit(sdk, 'steady');
    const running = await untilStatus(sdk, id, ['RUNNING']);
    await waitFor(
      'the first line logged',
      () => sdkLogMessages(server, running.container!.logStreamName!),
      (l) => l.includes('before'),
      30_000,
    );
    await engine.restart(2000);
    const done = await untilStatus(sdk, id, ['SUCCEEDED', 'FAILED']);
    assert.equal(done.status, 'SUCCEEDED', `${done.statusReason} ${JSON.stringify(done.attempts)}`);
    assert.equal(done.attempts!.length, 1);
    assert.deepEqual(await sdkLogMessages(server, done.container!.logStreamName!), ['before', 'after']);
  });
});
