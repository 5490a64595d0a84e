/**
 * Compute environments, job queues, job definitions, scheduling policies, tags, authentication and unknown
 * operations, against a real server through @aws-sdk/client-batch, aws CLI v2 and boto3.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as B from '@aws-sdk/client-batch';
import { AWS_V2, aws, python, requireBinary } from '../helpers/clients.js';
import { sdkClient, signedFetch } from '../helpers/signed.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Runs `fn` and returns the SDK error it threw (the test fails if it did not throw). */
async function sdkError(fn: () => Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await fn();
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return {
      name: e.name,
      message: e.message,
      ...(e.$metadata?.httpStatusCode ? { status: e.$metadata.httpStatusCode } : {}),
    };
  }
  throw new Error('expected an error');
}

void describe('resources and protocol', () => {
  let server: TestServer;
  let sdk: B.BatchClient;

  before(async () => {
    requireBinary(AWS_V2, 'install aws CLI v2: apt-get install awscli');
    server = await startTestServer({ args: ['--runtime', 'process', '--vcpus', '4'] });
    sdk = sdkClient(server);
  });
  after(async () => {
    await server?.stop();
  });

  void it('compute environments: create, describe, update, delete only when DISABLED and unused', async () => {
    const ce = await sdk.send(
      new B.CreateComputeEnvironmentCommand({
        computeEnvironmentName: 'ce-a',
        type: 'MANAGED',
        computeResources: { type: 'SPOT', maxvCpus: 8, subnets: ['s-1'], bidPercentage: 50 },
      }),
    );
    assert.match(ce.computeEnvironmentArn!, /^arn:aws:batch:us-east-1:\d{12}:compute-environment\/ce-a$/);
    await sdk.send(new B.CreateComputeEnvironmentCommand({ computeEnvironmentName: 'ce-un', type: 'UNMANAGED' }));
    const dup = await sdkError(() =>
      sdk.send(new B.CreateComputeEnvironmentCommand({ computeEnvironmentName: 'ce-un', type: 'UNMANAGED' })),
    );
    assert.equal(dup.name, 'ClientException');
    assert.match(dup.message, /already exists/);

    const d = await sdk.send(
      new B.DescribeComputeEnvironmentsCommand({ computeEnvironments: ['ce-a', ce.computeEnvironmentArn!] }),
    );
    assert.equal(d.computeEnvironments!.length, 2);
    const got = d.computeEnvironments![0]!;
    assert.equal(got.state, 'ENABLED');
    assert.equal(got.status, 'VALID');
    assert.equal(got.computeResources!.maxvCpus, 8);
    assert.deepEqual(got.computeResources!.subnets, ['s-1']);
    assert.equal(got.computeResources!.bidPercentage, 50);

    await sdk.send(
      new B.CreateJobQueueCommand({
        jobQueueName: 'q-a',
        priority: 5,
        computeEnvironmentOrder: [{ order: 1, computeEnvironment: 'ce-a' }],
      }),
    );
    let e = await sdkError(() => sdk.send(new B.DeleteComputeEnvironmentCommand({ computeEnvironment: 'ce-a' })));
    assert.match(e.message, /ENABLED: disable it first/);
    await sdk.send(
      new B.UpdateComputeEnvironmentCommand({
        computeEnvironment: 'ce-a',
        state: 'DISABLED',
        computeResources: { maxvCpus: 16 },
      }),
    );
    const upd = (await sdk.send(new B.DescribeComputeEnvironmentsCommand({ computeEnvironments: ['ce-a'] })))
      .computeEnvironments![0]!;
    assert.equal(upd.state, 'DISABLED');
    assert.equal(upd.computeResources!.maxvCpus, 16);
    e = await sdkError(() => sdk.send(new B.DeleteComputeEnvironmentCommand({ computeEnvironment: 'ce-a' })));
    assert.match(e.message, /used by job queue\(s\) q-a/);

    // Queues: delete needs DISABLED too.
    e = await sdkError(() => sdk.send(new B.DeleteJobQueueCommand({ jobQueue: 'q-a' })));
    assert.match(e.message, /ENABLED: disable it first/);
    await sdk.send(new B.UpdateJobQueueCommand({ jobQueue: 'q-a', state: 'DISABLED', priority: 9 }));
    const q = (await sdk.send(new B.DescribeJobQueuesCommand({ jobQueues: ['q-a'] }))).jobQueues![0]!;
    assert.equal(q.priority, 9);
    assert.equal(q.state, 'DISABLED');
    assert.equal(q.computeEnvironmentOrder![0]!.computeEnvironment, ce.computeEnvironmentArn);
    await sdk.send(new B.DeleteJobQueueCommand({ jobQueue: 'q-a' }));
    assert.equal((await sdk.send(new B.DescribeJobQueuesCommand({ jobQueues: ['q-a'] }))).jobQueues!.length, 0);
    await sdk.send(new B.DeleteComputeEnvironmentCommand({ computeEnvironment: ce.computeEnvironmentArn! }));
    const names = (await sdk.send(new B.DescribeComputeEnvironmentsCommand({}))).computeEnvironments!.map(
      (c) => c.computeEnvironmentName,
    );
    assert.deepEqual(names, ['ce-un']);
  });

  void it('describe pagination: nextToken walks every item once, never repeating a token', async () => {
    for (let i = 0; i < 5; i++)
      await sdk.send(new B.CreateComputeEnvironmentCommand({ computeEnvironmentName: `pg-${i}`, type: 'UNMANAGED' }));
    const seen: string[] = [];
    const tokens = new Set<string>();
    let nextToken: string | undefined;
    do {
      const page = await sdk.send(
        new B.DescribeComputeEnvironmentsCommand({ maxResults: 2, ...(nextToken ? { nextToken } : {}) }),
      );
      seen.push(...page.computeEnvironments!.map((c) => c.computeEnvironmentName!));
      nextToken = page.nextToken;
      if (nextToken) {
        assert.ok(!tokens.has(nextToken), 'a nextToken repeated');
        tokens.add(nextToken);
      }
    } while (nextToken);
    assert.equal(new Set(seen).size, seen.length);
    for (let i = 0; i < 5; i++) assert.ok(seen.includes(`pg-${i}`));
  });

  void it('job definitions: revisions, name / name:rev / ARN, latest ACTIVE, deregister', async () => {
    const reg = (cmd: string[]) =>
      sdk.send(
        new B.RegisterJobDefinitionCommand({
          jobDefinitionName: 'jd',
          type: 'container',
          parameters: { who: 'world' },
          containerProperties: {
            image: 'busybox',
            command: cmd,
            resourceRequirements: [
              { type: 'VCPU', value: '1' },
              { type: 'MEMORY', value: '64' },
            ],
          },
        }),
      );
    const r1 = await reg(['echo', '1']);
    const r2 = await reg(['echo', '2']);
    const r3 = await reg(['echo', '3']);
    assert.deepEqual([r1.revision, r2.revision, r3.revision], [1, 2, 3]);
    assert.match(r2.jobDefinitionArn!, /:job-definition\/jd:2$/);
    await sdk.send(new B.DeregisterJobDefinitionCommand({ jobDefinition: 'jd:3' }));
    await sdk.send(new B.DeregisterJobDefinitionCommand({ jobDefinition: r1.jobDefinitionArn! }));
    const all = (await sdk.send(new B.DescribeJobDefinitionsCommand({ jobDefinitionName: 'jd' }))).jobDefinitions!;
    assert.deepEqual(all.map((d) => `${d.revision}:${d.status}`).sort(), ['1:INACTIVE', '2:ACTIVE', '3:INACTIVE']);
    const active = (await sdk.send(new B.DescribeJobDefinitionsCommand({ jobDefinitionName: 'jd', status: 'ACTIVE' })))
      .jobDefinitions!;
    assert.deepEqual(
      active.map((d) => d.revision),
      [2],
    );
    assert.deepEqual(active[0]!.parameters, { who: 'world' });
    assert.deepEqual(active[0]!.containerProperties!.command, ['echo', '2']);
    const byArn = (await sdk.send(new B.DescribeJobDefinitionsCommand({ jobDefinitions: [r2.jobDefinitionArn!] })))
      .jobDefinitions!;
    assert.deepEqual(
      byArn.map((d) => d.revision),
      [2],
    );
    const byRev = (await sdk.send(new B.DescribeJobDefinitionsCommand({ jobDefinitions: ['jd:1'] }))).jobDefinitions!;
    assert.deepEqual(
      byRev.map((d) => d.status),
      ['INACTIVE'],
    );

    // Submitting by bare name takes the latest ACTIVE revision (2, not the deregistered 3); an INACTIVE one is refused.
    await sdk.send(
      new B.CreateComputeEnvironmentCommand({
        computeEnvironmentName: 'jd-ce',
        type: 'MANAGED',
        state: 'DISABLED',
        computeResources: { type: 'EC2', maxvCpus: 2 },
      }),
    );
    await sdk.send(
      new B.CreateJobQueueCommand({
        jobQueueName: 'jd-q',
        priority: 1,
        computeEnvironmentOrder: [{ order: 1, computeEnvironment: 'jd-ce' }],
      }),
    );
    const job = await sdk.send(new B.SubmitJobCommand({ jobName: 'byname', jobQueue: 'jd-q', jobDefinition: 'jd' }));
    const dj = (await sdk.send(new B.DescribeJobsCommand({ jobs: [job.jobId!] }))).jobs![0]!;
    assert.match(dj.jobDefinition!, /:job-definition\/jd:2$/);
    const inactive = await sdkError(() =>
      sdk.send(new B.SubmitJobCommand({ jobName: 'x', jobQueue: 'jd-q', jobDefinition: 'jd:3' })),
    );
    assert.equal(inactive.name, 'ClientException');
    assert.match(inactive.message, /INACTIVE/);
    const none = await sdkError(() => sdk.send(new B.DeregisterJobDefinitionCommand({ jobDefinition: 'nope:1' })));
    assert.match(none.message, /does not name an existing revision/);
  });

  void it('scheduling policies: create, describe, list, update, delete (aws CLI v2)', () => {
    const p = aws(AWS_V2, server.url, server.env, [
      'batch',
      'create-scheduling-policy',
      '--name',
      'fair',
      '--fairshare-policy',
      'shareDecaySeconds=3600,computeReservation=10,shareDistribution=[{shareIdentifier=A,weightFactor=0.5}]',
    ]);
    assert.match(p.arn, /:scheduling-policy\/fair$/);
    const listed = aws(AWS_V2, server.url, server.env, ['batch', 'list-scheduling-policies']);
    assert.deepEqual(listed.schedulingPolicies, [{ arn: p.arn }]);
    aws(AWS_V2, server.url, server.env, [
      'batch',
      'update-scheduling-policy',
      '--arn',
      p.arn,
      '--fairshare-policy',
      'shareDecaySeconds=60',
    ]);
    const d = aws(AWS_V2, server.url, server.env, ['batch', 'describe-scheduling-policies', '--arns', p.arn]);
    assert.equal(d.schedulingPolicies[0].name, 'fair');
    assert.equal(d.schedulingPolicies[0].fairsharePolicy.shareDecaySeconds, 60);
    aws(AWS_V2, server.url, server.env, ['batch', 'delete-scheduling-policy', '--arn', p.arn]);
    assert.deepEqual(aws(AWS_V2, server.url, server.env, ['batch', 'list-scheduling-policies']).schedulingPolicies, []);
  });

  void it('tags: tag, list, untag on a compute environment and on a job (boto3)', async () => {
    const { computeEnvironmentArn } = await sdk.send(
      new B.CreateComputeEnvironmentCommand({
        computeEnvironmentName: 'tagged',
        type: 'UNMANAGED',
        tags: { team: 'a' },
      }),
    );
    const r = python(
      `
import boto3, json
b = boto3.client('batch')
arn = ${JSON.stringify(computeEnvironmentArn)}
b.tag_resource(resourceArn=arn, tags={'project': 'x', 'cost': '1'})
before = b.list_tags_for_resource(resourceArn=arn)['tags']
b.untag_resource(resourceArn=arn, tagKeys=['cost', 'team'])
print(json.dumps([before, b.list_tags_for_resource(resourceArn=arn)['tags']]))
`,
      server.env,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [{ team: 'a', project: 'x', cost: '1' }, { project: 'x' }]);
    const job = await sdk.send(
      new B.SubmitJobCommand({ jobName: 'tagme', jobQueue: 'jd-q', jobDefinition: 'jd', tags: { a: '1' } }),
    );
    await sdk.send(new B.TagResourceCommand({ resourceArn: job.jobArn!, tags: { b: '2' } }));
    assert.deepEqual((await sdk.send(new B.ListTagsForResourceCommand({ resourceArn: job.jobArn! }))).tags, {
      a: '1',
      b: '2',
    });
    const bad = await sdkError(() =>
      sdk.send(
        new B.ListTagsForResourceCommand({ resourceArn: 'arn:aws:batch:us-east-1:123456789012:job-queue/none' }),
      ),
    );
    assert.equal(bad.name, 'ClientException');
  });

  void it('an unknown operation is a 4xx AWS error in JSON, not a 404 page', async () => {
    for (const [path, type] of [
      ['/v1/nosuchoperation', 'ClientException'],
      ['/v1/createserviceenvironment', 'ClientException'],
      ['/nothing/here', 'UnknownOperationException'],
    ]) {
      const r = await signedFetch(server, path!, {});
      assert.ok(r.status >= 400 && r.status < 500, `${path}: ${r.status}`);
      assert.equal(r.headers.get('x-amzn-errortype'), type);
      assert.equal(r.json.__type, type);
      assert.ok(r.json.message.length > 20);
    }
  });

  void it('authentication: unsigned, wrong secret, unknown key, expired signature', async () => {
    const unsigned = await fetch(`${server.url}/v1/describecomputeenvironments`, { method: 'POST', body: '{}' });
    assert.equal(unsigned.status, 403);
    assert.match(unsigned.headers.get('x-amzn-errortype')!, /^MissingAuthenticationToken/);
    assert.match(((await unsigned.json()) as { __type: string }).__type, /^MissingAuthenticationToken/);

    const wrong = await sdkError(() =>
      sdkClient(server, { accessKeyId: server.accessKeyId, secretAccessKey: 'wrong-secret' }).send(
        new B.DescribeJobQueuesCommand({}),
      ),
    );
    assert.equal(wrong.status, 403);
    assert.match(wrong.name, /InvalidSignatureException|SignatureDoesNotMatch/);
    const unknown = await sdkError(() =>
      sdkClient(server, { accessKeyId: 'AKIANOBODY0000000000', secretAccessKey: 'x' }).send(
        new B.DescribeJobQueuesCommand({}),
      ),
    );
    assert.equal(unknown.status, 403);
    assert.equal(unknown.name, 'UnrecognizedClientException');
    const stale = await signedFetch(
      server,
      '/v1/describejobqueues',
      {},
      { signingDate: new Date(Date.now() - 20 * 60_000) },
    );
    assert.equal(stale.status, 403);
    assert.match(stale.json.message, /expired|skew|time/i);
    const cli = aws(AWS_V2, server.url, server.env, ['batch', 'describe-job-queues']);
    assert.ok(Array.isArray(cli.jobQueues));
  });
});
