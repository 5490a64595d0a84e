/**
 * What tools written against AWS read and send, with the real clients: boto3 and aws CLI v1/v2 reading the members
 * AWS always returns (`jq -e` on the CLI's JSON), `list-jobs --job-status running` in lower case, a SEQUENTIAL
 * dependency with a jobId ordering two plain jobs, and an eksProperties pod (init container, command/args, env,
 * resources, eksPropertiesOverride) run by the process runtime.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AWS_V1, AWS_V2, aws, python, requireBinary, run, waitFor } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Runs `<aws> <args> | jq -e <filter>`: passes only when the filter is true on the CLI's output. */
function jqTrue(bin: string, server: TestServer, args: string[], filter: string): void {
  const cmd = `${bin} ${args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')} --endpoint-url ${server.url} --output json | jq -e '${filter}'`;
  const r = run('sh', ['-c', cmd], server.env);
  assert.equal(r.status, 0, `${cmd}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

function boto3(server: TestServer, code: string): any {
  const r = python(
    `import boto3, json, os\nb = boto3.client('batch', endpoint_url=os.environ['AWS_ENDPOINT_URL'])\n${code}`,
    server.env,
  );
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

void describe('conformance with real clients', () => {
  let server: TestServer;
  let out: string;

  before(async () => {
    requireBinary(AWS_V2, 'install aws CLI v2: apt-get install awscli');
    requireBinary(AWS_V1, 'install aws CLI v1 (pip install awscli)');
    requireBinary('jq', 'install jq: apt-get install jq');
    out = mkdtempSync(join(tmpdir(), 'openbatch-conf-'));
    server = await startTestServer({ args: ['--runtime', 'process', '--vcpus', '4'] });
    const e = server.env;
    aws(AWS_V2, server.url, e, [
      'batch',
      'create-compute-environment',
      '--compute-environment-name',
      'ce',
      '--type',
      'MANAGED',
      '--compute-resources',
      'type=EC2,maxvCpus=4,subnets=subnet-1,securityGroupIds=sg-1,instanceRole=ecsInstanceRole',
    ]);
    aws(AWS_V2, server.url, e, [
      'batch',
      'create-job-queue',
      '--job-queue-name',
      'q',
      '--priority',
      '1',
      '--compute-environment-order',
      'order=1,computeEnvironment=ce',
    ]);
    aws(AWS_V1, server.url, e, [
      'batch',
      'register-job-definition',
      '--job-definition-name',
      'sh',
      '--type',
      'container',
      '--container-properties',
      JSON.stringify({ image: 'busybox', vcpus: 1, memory: 16, command: ['true'] }),
    ]);
  });
  after(async () => {
    await server?.stop();
    rmSync(out, { recursive: true, force: true });
  });

  void it('describe responses carry what AWS always returns (CLI v1 and v2 with jq, boto3)', () => {
    for (const bin of [AWS_V1, AWS_V2]) {
      jqTrue(
        bin,
        server,
        ['batch', 'describe-compute-environments'],
        '.computeEnvironments[0] | (.serviceRole | test("^arn:aws:iam::[0-9]{12}:role/aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch$")) and .computeResources.desiredvCpus == 0 and .computeResources.minvCpus == 0 and .tags == {}',
      );
      jqTrue(
        bin,
        server,
        ['batch', 'describe-job-definitions'],
        '.jobDefinitions[0] | .containerProperties.environment == [] and .containerProperties.mountPoints == [] and .containerProperties.ulimits == [] and .containerProperties.volumes == [] and .tags == {} and .parameters == {}',
      );
      // Debian's CLI v2 (2.9) predates jobStateTimeLimitActions and drops members its model lacks.
      jqTrue(
        bin,
        server,
        ['batch', 'describe-job-queues'],
        bin === AWS_V1 ? '.jobQueues[0] | .tags == {} and .jobStateTimeLimitActions == []' : '.jobQueues[0].tags == {}',
      );
    }
    const got = boto3(
      server,
      `ce = b.describe_compute_environments()['computeEnvironments'][0]
jd = b.describe_job_definitions()['jobDefinitions'][0]
print(json.dumps({'role': ce['serviceRole'], 'desired': ce['computeResources']['desiredvCpus'],
  'env': jd['containerProperties']['environment'], 'tags': jd['tags']}))`,
    );
    assert.match(got.role, /AWSServiceRoleForBatch$/);
    assert.equal(got.desired, 0);
    assert.deepEqual(got.env, []);
    assert.deepEqual(got.tags, {});
  });

  void it('list-jobs --job-status running (lower case) with CLI v1 and v2; SEQUENTIAL with a jobId orders two jobs', async () => {
    const first = boto3(
      server,
      `print(json.dumps(b.submit_job(jobName='first', jobQueue='q', jobDefinition='sh',
  containerOverrides={'command': ['sh', '-c', 'echo first >> ${out}/order; while [ ! -e ${out}/go ]; do sleep 0.1; done; echo first-done >> ${out}/order']})))`,
    ).jobId as string;
    const second = boto3(
      server,
      `print(json.dumps(b.submit_job(jobName='second', jobQueue='q', jobDefinition='sh',
  dependsOn=[{'jobId': '${first}', 'type': 'SEQUENTIAL'}],
  containerOverrides={'command': ['sh', '-c', 'echo second >> ${out}/order']})))`,
    ).jobId as string;
    await waitFor(
      'the first job to run',
      () => aws(AWS_V2, server.url, server.env, ['batch', 'list-jobs', '--job-queue', 'q', '--job-status', 'running']),
      (r: any) => r.jobSummaryList.some((j: any) => j.jobId === first),
      60_000,
    );
    jqTrue(
      AWS_V1,
      server,
      ['batch', 'list-jobs', '--job-queue', 'q', '--job-status', 'running'],
      `[.jobSummaryList[].jobId] | index("${first}") != null`,
    );
    jqTrue(
      AWS_V2,
      server,
      ['batch', 'list-jobs', '--job-queue', 'q', '--job-status', 'pending'],
      `[.jobSummaryList[].jobId] == ["${second}"]`,
    );
    writeFileSync(join(out, 'go'), '');
    await waitFor(
      'both jobs to succeed',
      () =>
        aws(AWS_V1, server.url, server.env, ['batch', 'list-jobs', '--job-queue', 'q', '--job-status', 'succeeded']),
      (r: any) => r.jobSummaryList.length === 2,
      60_000,
    );
    assert.deepEqual(readFileSync(join(out, 'order'), 'utf8').split('\n').filter(Boolean), [
      'first',
      'first-done',
      'second',
    ]);
    jqTrue(
      AWS_V2,
      server,
      ['batch', 'describe-jobs', '--jobs', second],
      `.jobs[0].dependsOn == [{"jobId": "${first}", "type": "SEQUENTIAL"}]`,
    );
  });

  void it('eksProperties: registered and submitted with an override by CLI v1, run with its init container, read by v1 and v2', async () => {
    const pod = {
      podProperties: {
        initContainers: [
          {
            name: 'prepare',
            image: 'busybox',
            command: ['sh', '-c'],
            args: [`echo "$STEP" > ${out}/init`],
            env: [{ name: 'STEP', value: 'prepared' }],
          },
        ],
        containers: [
          {
            name: 'main',
            image: 'busybox',
            command: ['sh', '-c'],
            args: [`cat ${out}/init > ${out}/main; echo "$GREETING $AWS_BATCH_JOB_ID" >> ${out}/main`],
            env: [{ name: 'GREETING', value: 'hello' }],
            resources: { requests: { cpu: '500m', memory: '32Mi' }, limits: { cpu: '1', memory: '32Mi' } },
          },
        ],
      },
    };
    // Registered with CLI v1: Debian's CLI v2 (2.9) predates initContainers.
    jqTrue(
      AWS_V1,
      server,
      [
        'batch',
        'register-job-definition',
        '--job-definition-name',
        'pod',
        '--type',
        'container',
        '--eks-properties',
        JSON.stringify(pod),
      ],
      '.revision == 1',
    );
    jqTrue(
      AWS_V1,
      server,
      ['batch', 'describe-job-definitions', '--job-definition-name', 'pod'],
      '.jobDefinitions[0] | .containerOrchestrationType == "EKS" and .eksProperties.podProperties.containers[0].resources.limits.cpu == "1" and .eksProperties.podProperties.initContainers[0].name == "prepare"',
    );
    const override = { podProperties: { containers: [{ name: 'main', env: [{ name: 'GREETING', value: 'hi' }] }] } };
    const job = aws(AWS_V1, server.url, server.env, [
      'batch',
      'submit-job',
      '--job-name',
      'pod1',
      '--job-queue',
      'q',
      '--job-definition',
      'pod',
      '--eks-properties-override',
      JSON.stringify(override),
    ]).jobId as string;
    await waitFor(
      'the pod job to finish',
      () => aws(AWS_V2, server.url, server.env, ['batch', 'describe-jobs', '--jobs', job]).jobs[0],
      (j: any) => j.status === 'SUCCEEDED' || j.status === 'FAILED',
      60_000,
    );
    assert.equal(readFileSync(join(out, 'main'), 'utf8'), `prepared\nhi ${job}\n`);
    const common =
      '.status == "SUCCEEDED" and (has("container") | not) and .eksAttempts[0].containers[0].exitCode == 0 and (.eksAttempts[0].podName | length > 0) and .eksProperties.podProperties.containers[0].env == [{"name": "GREETING", "value": "hi"}] and .eksProperties.podProperties.containers[0].exitCode == 0';
    jqTrue(
      AWS_V1,
      server,
      ['batch', 'describe-jobs', '--jobs', job],
      `.jobs[0] | ${common} and .eksAttempts[0].initContainers[0].exitCode == 0`,
    );
    jqTrue(AWS_V2, server, ['batch', 'describe-jobs', '--jobs', job], `.jobs[0] | ${common}`);
    // A pod's rules are AWS's: one message names the field, the rule and the fix.
    const bad = run(
      AWS_V2,
      [
        'batch',
        'register-job-definition',
        '--job-definition-name',
        'badpod',
        '--type',
        'container',
        '--eks-properties',
        JSON.stringify({
          podProperties: {
            containers: [{ image: 'busybox', resources: { limits: { memory: '64Mi' }, requests: { memory: '32Mi' } } }],
          },
        }),
        '--endpoint-url',
        server.url,
      ],
      server.env,
    );
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /ClientException.*memory in limits \(64Mi\) must equal memory in requests \(32Mi\)/s);
  });
});
