/**
 * `repositoryCredentials.credentialsParameter` for real: a private registry (Registry HTTP API v2 with Basic auth, on
 * 127.0.0.1, serving an image built here and removed from the engine) and a real Docker engine that pulls from it with
 * the username and password of the job's Secrets Manager secret, kept in openbatch's own per-PI store. Wrong
 * credentials fail the attempt with CannotPullContainerError; a missing or another PI's secret fails it before the
 * pull; the password is in no answer, the server's output or the container's configuration.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { aws, AWS_V1, run, waitFor } from '../helpers/clients.js';
import { startTestEngine, TEST_IMAGE, type TestEngine } from '../helpers/docker.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { admin, userEnv, type Creds } from '../helpers/users.js';

const PASSWORD = 'reg-pw-5e7a91c3';
const SOURCE_IMAGE = 'openbatch-test/private-src:1';

void describe('repositoryCredentials: a private image pulled with the username and password of a secret', () => {
  let engine: TestEngine;
  let registry: TestRegistry;
  let srv: TestServer;
  let alice: Creds, bob: Creds;

  before(async () => {
    engine = await startTestEngine();
    // An image of our own (the test image plus a marker file), exported to the registry and removed from the engine,
    // so the job can only run it by pulling it.
    const c = await engine.docker.createContainer({
      Image: TEST_IMAGE,
      Cmd: ['sh', '-c', 'echo private-image-ok > /marker'],
    });
    await c.start();
    await c.wait();
    const [repo, tag] = SOURCE_IMAGE.split(':') as [string, string];
    await c.commit({ repo, tag });
    await c.remove();
    registry = await startTestRegistry(engine.docker, SOURCE_IMAGE, {
      name: 'lab-a/tool',
      tag: '1',
      username: 'robot',
      password: PASSWORD,
    });
    await engine.docker.getImage(SOURCE_IMAGE).remove();
    srv = await startTestServer({ args: ['--runtime', 'docker', '--docker-host', engine.host, '--vcpus', '2'] });
    for (const args of [
      [
        'create-compute-environment',
        '--compute-environment-name',
        'ce',
        '--type',
        'MANAGED',
        '--compute-resources',
        'type=EC2,maxvCpus=2,subnets=s1',
      ],
      [
        'create-job-queue',
        '--job-queue-name',
        'q',
        '--priority',
        '1',
        '--compute-environment-order',
        'order=1,computeEnvironment=ce',
      ],
    ])
      aws(AWS_V1, srv.url, srv.env, ['batch', ...args]);
    alice = JSON.parse(admin(srv.env, ['onboard', 'alice', 'lab-a', '--json'])) as Creds;
    bob = JSON.parse(admin(srv.env, ['onboard', 'bob', 'lab-b', '--json'])) as Creds;
  });

  after(async () => {
    await srv?.stop();
    await registry?.close();
    await engine?.stop();
  });

  const secret = (who: Creds, name: string, value: unknown): string =>
    aws(AWS_V1, srv.url, userEnv(srv, who), [
      'secretsmanager',
      'create-secret',
      '--name',
      name,
      '--secret-string',
      JSON.stringify(value),
    ]).ARN as string;
  const submit = (who: Creds, name: string, credentialsParameter: string): string => {
    const env = userEnv(srv, who);
    aws(AWS_V1, srv.url, env, [
      'batch',
      'register-job-definition',
      '--job-definition-name',
      name,
      '--type',
      'container',
      '--container-properties',
      JSON.stringify({
        image: registry.image,
        command: ['cat', '/marker'],
        repositoryCredentials: { credentialsParameter },
        resourceRequirements: [
          { type: 'VCPU', value: '0.5' },
          { type: 'MEMORY', value: '32' },
        ],
      }),
    ]);
    return aws(AWS_V1, srv.url, env, [
      'batch',
      'submit-job',
      '--job-name',
      name,
      '--job-queue',
      'q',
      '--job-definition',
      name,
    ]).jobId as string;
  };
  const finished = (id: string) =>
    waitFor(
      `job ${id} finished`,
      () => aws(AWS_V1, srv.url, srv.env, ['batch', 'describe-jobs', '--jobs', id]).jobs[0],
      (j: any) => j?.status === 'SUCCEEDED' || j?.status === 'FAILED',
      120_000,
    );

  void it('pulls with the secret and runs the image; wrong credentials fail with CannotPullContainerError', async () => {
    const good = secret(alice, 'lab-a/registry', { username: 'robot', password: PASSWORD });
    const job = await finished(submit(alice, 'private-ok', good));
    assert.equal(job.status, 'SUCCEEDED', JSON.stringify(job));
    const log = aws(AWS_V1, srv.url, userEnv(srv, alice), [
      'logs',
      'get-log-events',
      '--log-group-name',
      '/aws/batch/job',
      '--log-stream-name',
      job.container.logStreamName,
      '--start-from-head',
    ]).events.map((e: any) => e.message);
    assert.deepEqual(log, ['private-image-ok']);
    assert.ok(
      registry.requests.some((r) => r.auth === 'ok' && r.path.includes('/manifests/')),
      'the engine fetched the manifest with the credentials',
    );

    // Wrong password: the registry refuses it, and the image pulled a moment ago is not used instead.
    const before = registry.requests.length;
    const bad = secret(alice, 'lab-a/registry-wrong', { username: 'robot', password: 'not-the-password' });
    const refused = await finished(submit(alice, 'private-wrong', bad));
    assert.equal(refused.status, 'FAILED');
    const reason = String(refused.container?.reason ?? refused.attempts?.[0]?.container?.reason ?? '');
    assert.match(
      reason,
      /^CannotPullContainerError: Error response from daemon: pull access denied for 127\.0\.0\.1:\d+\/lab-a\/tool:1, repository does not exist or may require authorization: .*unauthorized/,
      JSON.stringify(refused),
    );
    assert.ok(registry.requests.slice(before).some((r) => r.auth === 'wrong'));
    assert.equal(refused.attempts?.[0]?.container?.exitCode, undefined, 'nothing ran');

    // Nothing secret anywhere it must not be.
    const describe = JSON.stringify(
      aws(AWS_V1, srv.url, srv.env, ['batch', 'describe-jobs', '--jobs', job.jobId, refused.jobId]),
    );
    for (const [where, text] of [
      ['DescribeJobs', describe],
      ['server output', srv.output()],
      ['log', log.join('\n')],
    ] as const)
      assert.ok(!text.includes(PASSWORD), `${where} holds the registry password`);
    for (const info of await engine.docker.listContainers({ all: true }))
      assert.ok(
        !JSON.stringify(await engine.docker.getContainer(info.Id).inspect()).includes(PASSWORD),
        'a container holds the registry password',
      );
  });

  void it("a missing or another PI's secret fails the attempt before the pull; a bad ARN is refused at registration", async () => {
    const good = aws(AWS_V1, srv.url, userEnv(srv, alice), [
      'secretsmanager',
      'describe-secret',
      '--secret-id',
      'lab-a/registry',
    ]).ARN as string;
    const foreign = await finished(submit(bob, 'private-foreign', good));
    assert.equal(foreign.status, 'FAILED');
    assert.match(
      String(foreign.statusReason),
      /^ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: failed to fetch secret arn:aws:secretsmanager:\S+ from secrets manager: AccessDeniedException: User: \S+ is not authorized to perform: secretsmanager:GetSecretValue/,
    );
    const missing = await finished(
      submit(alice, 'private-missing', 'arn:aws:secretsmanager:us-east-1:123456789012:secret:lab-a/none-AbCdEf'),
    );
    assert.equal(missing.status, 'FAILED');
    assert.match(
      String(missing.statusReason),
      /ResourceNotFoundException: Secrets Manager can't find the specified secret\./,
    );
    const notJson = secret(alice, 'lab-a/registry-text', 'just a string');
    const shapeless = await finished(submit(alice, 'private-shapeless', notJson));
    assert.match(
      String(shapeless.statusReason),
      /repositoryCredentials needs a secret whose value is JSON \{"username"/,
    );

    const r = run(
      AWS_V1,
      [
        'batch',
        'register-job-definition',
        '--job-definition-name',
        'bad-arn',
        '--type',
        'container',
        '--container-properties',
        JSON.stringify({
          image: registry.image,
          command: ['true'],
          repositoryCredentials: { credentialsParameter: 'lab-a/registry' },
        }),
        '--endpoint-url',
        srv.url,
      ],
      userEnv(srv, alice),
    );
    assert.notEqual(r.status, 0);
    assert.match(
      r.stderr,
      /ClientException.*repositoryCredentials\.credentialsParameter must be the ARN of a Secrets Manager secret/s,
    );
  });
});
