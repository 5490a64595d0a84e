/**
 * Job-role credentials through the container credentials endpoint, with real clients inside process jobs (aws CLI v1,
 * boto3) against a real S3/STS/IAM (moto_server with IAM enforcement): STS AssumeRole per attempt with a session name
 * naming the job, static keys for a store without STS, a cross-PI write really denied, one attempt unable to use
 * another's token, and no credential in the job's environment, DescribeJobs, logs, the dashboard or the database.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DescribeJobsCommand, RegisterJobDefinitionCommand, SubmitJobCommand } from '@aws-sdk/client-batch';
import { aws, AWS_V1, python, requireBinary, waitFor } from '../helpers/clients.js';
import { sdkClient } from '../helpers/signed.js';
import { boto, setUpLabs, startMoto, type Keys, type Moto } from '../helpers/moto.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { admin, userEnv, type Creds } from '../helpers/users.js';

const ROLE = (lab: string) => `arn:aws:iam::123456789012:role/${lab}-batchtask`;
const RES = [
  { type: 'VCPU', value: '0.25' },
  { type: 'MEMORY', value: '64' },
];

/** What fetch.py (run by jobs) prints: the endpoint's status and answer for a token. */
const FETCH_PY = `import json, os, sys, urllib.request, urllib.error
tok = sys.argv[1] if len(sys.argv) > 1 else os.environ['AWS_CONTAINER_AUTHORIZATION_TOKEN']
req = urllib.request.Request(os.environ['AWS_CONTAINER_CREDENTIALS_FULL_URI'], headers={'Authorization': tok})
try:
    print(json.dumps({'status': 200, 'body': json.load(urllib.request.urlopen(req))}))
except urllib.error.HTTPError as e:
    print(json.dumps({'status': e.code, 'body': json.load(e)}))
`;

/** The first attempt records what it got and fails; the second checks that attempt 1's token is refused, then works. */
const LAB_A_SCRIPT = `set -u
n=$AWS_BATCH_JOB_ATTEMPT
env > "$OUTDIR/env-$n"
"$PY" "$OUTDIR/fetch.py" > "$OUTDIR/creds-$n.json"
[ "$n" = 1 ] && exit 1
"$PY" "$OUTDIR/fetch.py" "$(sed -n 's/^AWS_CONTAINER_AUTHORIZATION_TOKEN=//p' "$OUTDIR/env-1")" > "$OUTDIR/prev.json"
"$AWS" sts get-caller-identity --query Arn --output text || exit 4
echo "hello from $AWS_BATCH_JOB_ID" | "$AWS" s3 cp --sse AES256 - "s3://lab-a-data/out/$AWS_BATCH_JOB_ID.txt" || exit 5
# (not \`aws s3 ls\`: moto_server with IAM enforcement rejects the signature of any query string holding a "/")
"$AWS" s3api list-objects-v2 --bucket lab-a-data --query 'Contents[].Key' --output text || exit 6
"$PY" -c "import boto3; print('boto3 sees', boto3.client('s3').list_objects_v2(Bucket='lab-a-data')['KeyCount'], 'object(s)')" || exit 7
if echo stolen | "$AWS" s3 cp - s3://lab-b-data/stolen.txt 2> "$OUTDIR/cross.err"; then echo CROSS-PI WRITE SUCCEEDED; exit 3; fi
echo cross-PI write denied
`;

const STATIC_SCRIPT = `set -u
echo static | "$AWS" s3 cp --sse AES256 - "s3://lab-c-data/static-$AWS_BATCH_JOB_ID.txt" || exit 5
"$AWS" sts get-caller-identity --query Arn --output text || exit 4
`;

void describe('job-role credentials through the container credentials endpoint', () => {
  let moto: Moto;
  let srv: TestServer;
  let broker: Keys;
  let staticKeys: Keys;
  let alice: Creds, carol: Creds;
  const outA = mkdtempSync(join(tmpdir(), 'openbatch-creds-a-'));
  const outC = mkdtempSync(join(tmpdir(), 'openbatch-creds-c-'));
  // Inside a job HOME is its scratch directory, so pyenv's shims do not work: the interpreters' own paths.
  const py = python('import sys; print(sys.executable)', process.env).stdout.trim();
  const awsBin = join(dirname(py), 'aws');

  before(async () => {
    requireBinary(AWS_V1, 'pip install awscli');
    moto = await startMoto();
    broker = setUpLabs(moto, ['lab-a', 'lab-b']);
    staticKeys = boto(
      moto,
      `iam = boto3.client('iam'); boto3.client('s3').create_bucket(Bucket='lab-c-data')
iam.create_user(UserName='lab-c')
iam.put_user_policy(UserName='lab-c', PolicyName='own', PolicyDocument=json.dumps({'Version': '2012-10-17', 'Statement': [
    {'Effect': 'Allow', 'Action': ['s3:*', 'sts:GetCallerIdentity'], 'Resource': '*'}]}))
k = iam.create_access_key(UserName='lab-c')['AccessKey']
print(json.dumps({'accessKeyId': k['AccessKeyId'], 'secretAccessKey': k['SecretAccessKey']}))`,
    ) as Keys;
    srv = await startTestServer({ args: ['--allow-process-runtime-for-users', '--vcpus', '4'] });
    aws(AWS_V1, srv.url, srv.env, [
      'batch',
      'create-compute-environment',
      '--compute-environment-name',
      'ce',
      '--type',
      'MANAGED',
      '--compute-resources',
      'type=EC2,maxvCpus=4,subnets=s1',
    ]);
    aws(AWS_V1, srv.url, srv.env, [
      'batch',
      'create-job-queue',
      '--job-queue-name',
      'q',
      '--priority',
      '1',
      '--compute-environment-order',
      'order=1,computeEnvironment=ce',
    ]);
    alice = JSON.parse(admin(srv.env, ['onboard', 'alice', 'lab-a', '--json'])) as Creds;
    carol = JSON.parse(admin(srv.env, ['onboard', 'carol', 'lab-c', '--json'])) as Creds;
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
      '--duration-seconds',
      '900',
      '--endpoint-url',
      moto.url,
      // Secrets from moto's SSM and Secrets Manager (without this, openbatch's own secret store).
      '--secrets-endpoint-url',
      moto.url,
    ]);
    admin(srv.env, [
      'role',
      'set',
      'lab-c',
      '--access-key-id',
      staticKeys.accessKeyId,
      '--secret-access-key',
      staticKeys.secretAccessKey,
      '--endpoint-url',
      moto.url,
      '--secrets-endpoint-url',
      moto.url,
    ]);
    writeFileSync(join(outA, 'fetch.py'), FETCH_PY);
  });

  after(async () => {
    await srv?.stop();
    await moto?.stop();
  });

  const register = (who: Creds, name: string, lab: string, script: string, outDir: string, retries = 1) =>
    aws(AWS_V1, srv.url, userEnv(srv, who), [
      'batch',
      'register-job-definition',
      '--job-definition-name',
      name,
      '--type',
      'container',
      '--retry-strategy',
      `attempts=${retries}`,
      '--container-properties',
      JSON.stringify({
        image: 'busybox',
        jobRoleArn: ROLE(lab),
        command: ['sh', '-c', script],
        environment: [
          { name: 'OUTDIR', value: outDir },
          { name: 'PY', value: py },
          { name: 'AWS', value: awsBin },
        ],
        resourceRequirements: RES,
      }),
    ]);
  const submitAndWait = async (who: Creds, name: string) => {
    const env = userEnv(srv, who);
    const { jobId } = aws(AWS_V1, srv.url, env, [
      'batch',
      'submit-job',
      '--job-name',
      name,
      '--job-queue',
      'q',
      '--job-definition',
      name,
    ]);
    const sdk = sdkClient(srv, who);
    await waitFor(
      `${name} finished`,
      async () => (await sdk.send(new DescribeJobsCommand({ jobs: [jobId] }))).jobs?.[0] as any,
      (j: any) => j?.status === 'SUCCEEDED' || j?.status === 'FAILED',
      90_000,
    );
    sdk.destroy();
    // As the aws CLI shows it (what the secrecy checks read).
    return aws(AWS_V1, srv.url, env, ['batch', 'describe-jobs', '--jobs', jobId]).jobs[0];
  };
  const logOf = (who: Creds, stream: string): string =>
    aws(AWS_V1, srv.url, userEnv(srv, who), [
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

  void it("gives each attempt its own AssumeRole credentials; another attempt's token, a forged one and a PI's foreign bucket are refused; nothing secret leaks", async () => {
    register(alice, 'lab-a-s3', 'lab-a', LAB_A_SCRIPT, outA, 2);
    const job = await submitAndWait(alice, 'lab-a-s3');
    const attempts = job.attempts as any[];
    const log2 = logOf(alice, attempts[1]?.container?.logStreamName ?? '');
    assert.equal(job.status, 'SUCCEEDED', `${JSON.stringify(job)}\n${log2}`);
    assert.equal(attempts.length, 2);

    // The second attempt ran as the lab's role, in a session naming the job and attempt; the cross-PI write failed.
    assert.match(log2, new RegExp(`assumed-role/lab-a-s3/ob-${job.jobId}-2`));
    assert.match(log2, /boto3 sees 1 object\(s\)/);
    assert.match(log2, /cross-PI write denied/);
    assert.match(readFileSync(join(outA, 'cross.err'), 'utf8'), /AccessDenied/);
    const objects = boto(
      moto,
      `s3 = boto3.client('s3')
h = s3.head_object(Bucket='lab-a-data', Key='out/${job.jobId}.txt')
print(json.dumps({'sse': h.get('ServerSideEncryption'), 'body': s3.get_object(Bucket='lab-a-data', Key='out/${job.jobId}.txt')['Body'].read().decode(),
  'foreign': s3.list_objects_v2(Bucket='lab-b-data').get('KeyCount')}))`,
    );
    assert.deepEqual(objects, { sse: 'AES256', body: `hello from ${job.jobId}\n`, foreign: 0 });

    // Each attempt got its own credentials; attempt 1's token no longer works for attempt 2 (or anyone).
    const c1 = JSON.parse(readFileSync(join(outA, 'creds-1.json'), 'utf8'));
    const c2 = JSON.parse(readFileSync(join(outA, 'creds-2.json'), 'utf8'));
    assert.equal(c1.status, 200);
    assert.equal(c2.status, 200);
    assert.match(c2.body.AccessKeyId, /^ASIA/);
    assert.notEqual(c1.body.AccessKeyId, c2.body.AccessKeyId);
    assert.equal(c2.body.RoleArn, ROLE('lab-a'));
    assert.ok(Date.parse(c2.body.Expiration) > Date.now(), 'credentials served unexpired');
    const prev = JSON.parse(readFileSync(join(outA, 'prev.json'), 'utf8'));
    assert.equal(prev.status, 403);
    assert.equal(prev.body.code, 'AccessDenied');
    assert.match(prev.body.message, /attempt 1 of job .* is not running/);

    // The environment names the endpoint and carries the token; no key, secret or session token.
    const env2 = readFileSync(join(outA, 'env-2'), 'utf8');
    assert.match(env2, /^AWS_CONTAINER_CREDENTIALS_FULL_URI=http:\/\/127\.0\.0\.1:\d+\/v1\/credentials$/m);
    assert.match(env2, /^AWS_CONTAINER_AUTHORIZATION_TOKEN=\S+$/m);
    assert.doesNotMatch(env2, /^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)=/m);
    const url = /^AWS_CONTAINER_CREDENTIALS_FULL_URI=(.*)$/m.exec(env2)![1]!;
    const token2 = /^AWS_CONTAINER_AUTHORIZATION_TOKEN=(.*)$/m.exec(env2)![1]!;

    // From outside: no token, a forged token, a finished attempt's token.
    const ask = async (auth?: string) => {
      const r = await fetch(url, auth === undefined ? {} : { headers: { authorization: auth } });
      return { status: r.status, body: (await r.json()) as { code: string; message: string } };
    };
    assert.equal((await ask()).status, 401);
    const forged = token2.slice(0, -4) + (token2.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    assert.deepEqual((await ask(forged)).status, 403);
    assert.match((await ask(forged)).body.message, /not one this server issued/);
    assert.equal((await ask(token2)).status, 403, 'a finished attempt gets nothing');

    // Nothing secret anywhere it must not be: DescribeJobs (user and admin), logs, dashboard, server output, files.
    const secrets = [
      c1.body.SecretAccessKey,
      c1.body.Token,
      c2.body.SecretAccessKey,
      c2.body.Token,
      token2,
      broker.secretAccessKey,
    ] as string[];
    const describeAdmin = JSON.stringify(
      aws(AWS_V1, srv.url, srv.env, ['batch', 'describe-jobs', '--jobs', job.jobId]),
    );
    const session = await fetch(`${srv.url}/ui/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ accessKeyId: alice.accessKeyId, secretAccessKey: alice.secretAccessKey }),
    });
    const cookie = session.headers.get('set-cookie')!.split(';')[0]!;
    const dash = async (path: string) => (await fetch(`${srv.url}${path}`, { headers: { cookie } })).text();
    const dashboard = [
      await dash(`/ui/api/jobs/${job.jobId}`),
      await dash(`/ui/api/jobs/${job.jobId}/logs?attempt=1`),
      await dash(`/ui/api/jobs/${job.jobId}/logs?attempt=2`),
    ].join('\n');
    assert.match(dashboard, /cross-PI write denied/, 'the dashboard shows the logs');
    const places: Record<string, string> = {
      'DescribeJobs (user)': JSON.stringify(job),
      'DescribeJobs (admin)': describeAdmin,
      logs: logOf(alice, attempts[0].container.logStreamName) + log2,
      dashboard,
      'server output': srv.output(),
    };
    for (const f of readdirSync(srv.dataDir).filter((f) => /\.db(-wal)?$/.test(f)))
      places[f] = readFileSync(join(srv.dataDir, f), 'latin1');
    for (const [where, text] of Object.entries(places))
      for (const s of secrets) assert.ok(!text.includes(s), `${where} holds a secret (${s.slice(0, 6)}...)`);
  });

  void it("serves a store without STS the PI's static keys, still only through the endpoint", async () => {
    register(carol, 'lab-c-static', 'lab-c', STATIC_SCRIPT, outC);
    const job = await submitAndWait(carol, 'lab-c-static');
    const log = logOf(carol, job.container.logStreamName);
    assert.equal(job.status, 'SUCCEEDED', `${JSON.stringify(job)}\n${log}`);
    assert.match(log, /:user\/lab-c/);
    const sse = boto(
      moto,
      `print(json.dumps(boto3.client('s3').head_object(Bucket='lab-c-data', Key='static-${job.jobId}.txt').get('ServerSideEncryption')))`,
    );
    assert.equal(sse, 'AES256');
    assert.ok(!srv.output().includes(staticKeys.secretAccessKey));
    assert.ok(!JSON.stringify(job).includes(staticKeys.secretAccessKey));
  });

  void it("puts secrets (SSM parameters, Secrets Manager secrets) in the environment; another PI's or a missing one fails the attempt before it runs", async () => {
    const outS = mkdtempSync(join(tmpdir(), 'openbatch-secrets-'));
    const sm = boto(
      moto,
      `ssm = boto3.client('ssm')
ssm.put_parameter(Name='/lab-a/db-password', Value='pw-lab-a-1234', Type='SecureString')
print(json.dumps(boto3.client('secretsmanager').create_secret(Name='lab-a/api', SecretString=json.dumps({'token': 'tok-lab-a-9012'}))['ARN']))`,
    ) as string;
    const sdk = sdkClient(srv, alice);
    const sdkC = sdkClient(srv, carol);
    const submit = async (
      name: string,
      secrets: { name: string; valueFrom: string }[],
      script: string,
      as: { sdk: typeof sdk; lab: string } = { sdk, lab: 'lab-a' },
    ) => {
      await as.sdk.send(
        new RegisterJobDefinitionCommand({
          jobDefinitionName: name,
          type: 'container' as const,
          containerProperties: {
            image: 'busybox',
            jobRoleArn: ROLE(as.lab),
            command: ['sh', '-c', script],
            environment: [{ name: 'OUTDIR', value: outS }],
            secrets,
            resourceRequirements: RES.map((r) => ({ ...r, type: r.type as 'VCPU' | 'MEMORY' })),
          },
        }),
      );
      return (await as.sdk.send(new SubmitJobCommand({ jobName: name, jobQueue: 'q', jobDefinition: name }))).jobId!;
    };
    const ids = {
      ok: await submit(
        'sec-ok',
        [
          { name: 'DB_PASSWORD', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/lab-a/db-password' },
          { name: 'DB_PASSWORD_BY_NAME', valueFrom: '/lab-a/db-password' },
          { name: 'API_TOKEN', valueFrom: `${sm}:token::` },
          { name: 'API_JSON', valueFrom: sm },
        ],
        'printf "%s|%s|%s|%s" "$DB_PASSWORD" "$DB_PASSWORD_BY_NAME" "$API_TOKEN" "$API_JSON" > "$OUTDIR/ok"; echo "got ${#DB_PASSWORD} characters"',
      ),
      // carol (lab-c) asks for lab-a's password: lab-c's credentials may not read it, and the store says so.
      foreign: await submit(
        'sec-foreign',
        [{ name: 'X', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/lab-a/db-password' }],
        'touch "$OUTDIR/foreign-ran"',
        { sdk: sdkC, lab: 'lab-c' },
      ),
      missing: await submit('sec-missing', [{ name: 'X', valueFrom: '/lab-a/nope' }], 'touch "$OUTDIR/missing-ran"'),
    };
    const jobs = await waitFor(
      'secret jobs finished',
      async () =>
        (await sdkC.send(new DescribeJobsCommand({ jobs: [ids.foreign] }))).jobs!.concat(
          (await sdk.send(new DescribeJobsCommand({ jobs: [ids.ok, ids.missing] }))).jobs!,
        ),
      (js) => js.length === 3 && js.every((j) => j.status === 'SUCCEEDED' || j.status === 'FAILED'),
      60_000,
    );
    sdk.destroy();
    sdkC.destroy();
    const byId = new Map(jobs.map((j) => [j.jobId, j]));
    const ok = byId.get(ids.ok)!;
    assert.equal(ok.status, 'SUCCEEDED', JSON.stringify(ok));
    assert.equal(
      readFileSync(join(outS, 'ok'), 'utf8'),
      'pw-lab-a-1234|pw-lab-a-1234|tok-lab-a-9012|{"token": "tok-lab-a-9012"}',
    );
    const foreign = byId.get(ids.foreign)!;
    assert.equal(foreign.status, 'FAILED');
    assert.match(
      foreign.statusReason ?? '',
      /^ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secrets from ssm: .*lab-a\/db-password: AccessDenied/,
    );
    const missing = byId.get(ids.missing)!;
    assert.equal(missing.status, 'FAILED');
    assert.match(missing.statusReason ?? '', /^ResourceInitializationError: .*ParameterNotFound/);
    assert.deepEqual(readdirSync(outS), ['ok'], 'the failed jobs never ran');
    // The values: in no answer, log, or output.
    const describe = JSON.stringify(
      aws(AWS_V1, srv.url, srv.env, ['batch', 'describe-jobs', '--jobs', ...Object.values(ids)]),
    );
    const texts = [describe, logOf(alice, ok.container!.logStreamName!), srv.output()];
    assert.match(texts[1]!, /got 13 characters/);
    for (const t of texts) for (const v of ['pw-lab-a-1234', 'tok-lab-a-9012']) assert.ok(!t.includes(v));
  });

  void it('refuses bad role sources with the field, the rule and the fix', () => {
    assert.throws(
      () =>
        admin(srv.env, [
          'role',
          'set',
          'lab-a',
          '--access-key-id',
          'AK',
          '--secret-access-key',
          'SK',
          '--sts-endpoint-url',
          moto.url,
          '--assume-role-arn',
          'not-an-arn',
        ]),
      /assumeRoleArn "not-an-arn" must be the ARN of the store's role to assume/,
    );
    const keys = ['--access-key-id', 'AK', '--secret-access-key', 'SK'];
    assert.throws(
      () => admin(srv.env, ['role', 'set', 'lab-c', ...keys, '--secrets-endpoint-url', 'ssm.example']),
      /secretsEndpointUrl "ssm.example" must be an http\(s\) URL/,
    );
    // `aws`: AWS's own SSM and Secrets Manager (the SDK's endpoints for the role's region).
    assert.match(admin(srv.env, ['role', 'set', 'lab-c', ...keys, '--secrets-endpoint-url', 'aws']), /static keys set/);
  });
});
