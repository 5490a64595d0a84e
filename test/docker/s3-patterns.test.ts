/**
 * The seeds' S3 patterns, unchanged, in containers on a real Docker engine against a real S3/STS (moto_server with
 * IAM enforcement), with credentials that come only from the job role through the container credentials endpoint:
 * streaming in and out with `--sse AES256`, fetch-and-run (a script and a zip), an array picking its input by
 * AWS_BATCH_JOB_ARRAY_INDEX and writing its results back, and a job refused on another PI's bucket.
 * Images: Debian's awscli in a root file system built without a registry (scripts/build-awscli-image.sh, cached).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  DescribeJobsCommand,
  RegisterJobDefinitionCommand,
  SubmitJobCommand,
  type SubmitJobCommandInput,
} from '@aws-sdk/client-batch';
import { aws, AWS_V1, requireBinary, waitFor } from '../helpers/clients.js';
import {
  AWSCLI_IMAGE,
  ensureAwscliImages,
  FETCH_AND_RUN_IMAGE,
  startTestEngine,
  type TestEngine,
} from '../helpers/docker.js';
import { boto, setUpLabs, startMoto, type Moto } from '../helpers/moto.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { sdkClient } from '../helpers/signed.js';
import { admin, userEnv, type Creds } from '../helpers/users.js';

const ROLE = 'arn:aws:iam::123456789012:role/lab-a-batchtask';
const RES = [
  { type: 'VCPU' as const, value: '0.5' },
  { type: 'MEMORY' as const, value: '256' },
];

const MYJOB_SH = `#!/bin/sh
printf 'script got %s as %s\\n' "$*" "$AWS_BATCH_JOB_ID" | aws s3 cp --sse AES256 - s3://lab-a-data/results/fetch-script.txt
`;
const ZIPJOB_SH = `#!/bin/sh
sort data.txt | aws s3 cp --sse AES256 - "s3://lab-a-data/results/fetch-zip-$1.txt"
`;

void describe('the seeds S3 patterns in containers', () => {
  let engine: TestEngine;
  let moto: Moto;
  let srv: TestServer;
  let alice: Creds;

  before(async () => {
    requireBinary(AWS_V1, 'pip install awscli');
    // The aws CLI image is big: a kept data root saves importing it, and deleting it file by file, at every run.
    engine = await startTestEngine({ cachedDataRoot: '/var/cache/openbatch-test/dockerd-awscli' });
    const images = ensureAwscliImages(engine.docker);
    moto = await startMoto();
    const broker = setUpLabs(moto, ['lab-a', 'lab-b']);
    boto(
      moto,
      `import io, zipfile
s3 = boto3.client('s3')
s3.put_object(Bucket='lab-a-data', Key='myinputfile', Body=b'streamed through a pipe\\n', ServerSideEncryption='AES256')
for i, words in enumerate(['pear apple', 'fig', 'kiwi plum lime']):
    s3.put_object(Bucket='lab-a-data', Key='inputs/%d.txt' % i, Body=('\\n'.join(words.split()) + '\\n').encode())
s3.put_object(Bucket='lab-a-data', Key='myjob.sh', Body=${JSON.stringify(MYJOB_SH)}.encode())
z = io.BytesIO()
with zipfile.ZipFile(z, 'w') as f:
    f.writestr('myjob.sh', ${JSON.stringify(ZIPJOB_SH)})
    f.writestr('data.txt', 'b\\nc\\na\\n')
s3.put_object(Bucket='lab-a-data', Key='myjob.zip', Body=z.getvalue())`,
    );
    await images;
    srv = await startTestServer({
      args: ['--runtime', 'docker', '--docker-host', engine.host, '--vcpus', '4', '--memory-mib', '4096'],
    });
    aws(AWS_V1, srv.url, srv.env, [
      'batch',
      'create-compute-environment',
      '--compute-environment-name',
      'mixed',
      '--type',
      'MANAGED',
      '--compute-resources',
      'type=EC2,maxvCpus=4,subnets=s1',
    ]);
    aws(AWS_V1, srv.url, srv.env, [
      'batch',
      'create-job-queue',
      '--job-queue-name',
      'mixed',
      '--priority',
      '1',
      '--compute-environment-order',
      'order=1,computeEnvironment=mixed',
    ]);
    alice = JSON.parse(admin(srv.env, ['onboard', 'alice', 'lab-a', '--json'])) as Creds;
    admin(srv.env, [
      'role',
      'set',
      'lab-a',
      '--access-key-id',
      broker.accessKeyId,
      '--secret-access-key',
      broker.secretAccessKey,
      '--sts-endpoint-url',
      moto.url,
      '--assume-role-arn',
      'arn:aws:iam::123456789012:role/lab-a-s3',
      '--endpoint-url',
      moto.url,
    ]);
  });

  after(async () => {
    await srv?.stop();
    await moto?.stop();
    await engine?.stop();
  });

  void it('streams, fetches and runs, fans out by array index, and is refused on another PI bucket', async () => {
    const env = userEnv(srv, alice);
    // Registered and submitted with the SDK (in-process: the aws CLI's start-up costs seconds on a loaded machine);
    // the aws CLI drives the same operations in the other suites.
    const sdk = sdkClient(srv, alice);
    const def = (name: string, image: string, command: string[]) =>
      sdk.send(
        new RegisterJobDefinitionCommand({
          jobDefinitionName: name,
          type: 'container',
          containerProperties: { image, command, jobRoleArn: ROLE, resourceRequirements: RES },
        }),
      );
    const submit = async (name: string, definition: string, extra: Partial<SubmitJobCommandInput> = {}) =>
      (await sdk.send(new SubmitJobCommand({ jobName: name, jobQueue: 'mixed', jobDefinition: definition, ...extra })))
        .jobId!;
    const sh = (script: string) => ['sh', '-c', script];
    await def(
      'stream',
      AWSCLI_IMAGE,
      sh('aws s3 cp s3://lab-a-data/myinputfile - | tr a-z A-Z | aws s3 cp --sse AES256 - s3://lab-a-data/outputfile'),
    );
    await def('fetch_and_run', FETCH_AND_RUN_IMAGE, ['myjob.sh', '60']);
    await def(
      'fan-out',
      AWSCLI_IMAGE,
      sh(
        'aws s3 cp s3://lab-a-data/inputs/$AWS_BATCH_JOB_ARRAY_INDEX.txt - | sort | aws s3 cp --sse AES256 - s3://lab-a-data/results/$AWS_BATCH_JOB_ARRAY_INDEX.txt',
      ),
    );
    await def('intrude', AWSCLI_IMAGE, sh('echo mine | aws s3 cp --sse AES256 - s3://lab-b-data/intruder.txt'));
    const fetchEnv = (type: string, key: string) => [
      { name: 'BATCH_FILE_TYPE', value: type },
      { name: 'BATCH_FILE_S3_URL', value: `s3://lab-a-data/${key}` },
    ];
    const ids = {
      stream: await submit('stream', 'stream'),
      script: await submit('far-script', 'fetch_and_run', {
        containerOverrides: { environment: fetchEnv('script', 'myjob.sh') },
      }),
      zip: await submit('far-zip', 'fetch_and_run', {
        containerOverrides: { command: ['myjob.sh', 'z1'], environment: fetchEnv('zip', 'myjob.zip') },
      }),
      array: await submit('fan-out', 'fan-out', { arrayProperties: { size: 3 } }),
      intrude: await submit('intrude', 'intrude'),
    };
    const jobs = await waitFor(
      'all jobs finished',
      async () => (await sdk.send(new DescribeJobsCommand({ jobs: Object.values(ids) }))).jobs ?? [],
      (js) => js.length === 5 && js.every((j) => j.status === 'SUCCEEDED' || j.status === 'FAILED'),
      150_000,
    );
    sdk.destroy();
    const byId = new Map(jobs.map((j) => [j.jobId, j]));
    const logOf = (id: string) => {
      const stream = byId.get(id)?.container?.logStreamName;
      if (!stream) return '(no log stream)';
      return aws(AWS_V1, srv.url, env, [
        'logs',
        'get-log-events',
        '--log-group-name',
        '/aws/batch/job',
        '--log-stream-name',
        stream,
        '--start-from-head',
      ])
        .events.map((e: any) => e.message)
        .join('\n');
    };
    for (const k of ['stream', 'script', 'zip', 'array'] as const)
      assert.equal(
        byId.get(ids[k])?.status,
        'SUCCEEDED',
        `${k}: ${JSON.stringify(byId.get(ids[k]))}\n${logOf(ids[k])}`,
      );
    assert.equal(byId.get(ids.intrude)?.status, 'FAILED');
    assert.match(logOf(ids.intrude), /AccessDenied/);

    const got = boto(
      moto,
      `s3 = boto3.client('s3')
out = {}
for key in ['outputfile', 'results/fetch-script.txt', 'results/fetch-zip-z1.txt', 'results/0.txt', 'results/1.txt', 'results/2.txt']:
    o = s3.get_object(Bucket='lab-a-data', Key=key)
    out[key] = [o['Body'].read().decode(), o.get('ServerSideEncryption')]
out['foreign'] = s3.list_objects_v2(Bucket='lab-b-data').get('KeyCount')
print(json.dumps(out))`,
    );
    assert.deepEqual(got, {
      outputfile: ['STREAMED THROUGH A PIPE\n', 'AES256'],
      'results/fetch-script.txt': [`script got 60 as ${ids.script}\n`, 'AES256'],
      'results/fetch-zip-z1.txt': ['a\nb\nc\n', 'AES256'],
      'results/0.txt': ['apple\npear\n', 'AES256'],
      'results/1.txt': ['fig\n', 'AES256'],
      'results/2.txt': ['kiwi\nlime\nplum\n', 'AES256'],
      foreign: 0,
    });
  });
});
