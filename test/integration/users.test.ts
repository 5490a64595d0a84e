/**
 * Users, PI groups and access control with real clients (openbatch admin CLI, aws CLI v1, boto3) against a real
 * server: onboarding, the allow/deny matrix, invisibility across PIs, job roles, key rotation, disabling, audit.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { aws, AWS_V1, python, requireBinary, run, waitFor } from '../helpers/clients.js';
import { REPO, startTestServer, storedBytes, type TestServer } from '../helpers/server.js';
import { admin, userEnv, type Creds } from '../helpers/users.js';

/** aws CLI call expected to fail; returns its stderr. */
function awsFails(env: NodeJS.ProcessEnv, url: string, args: string[]): string {
  const r = run(AWS_V1, [...args, '--endpoint-url', url, '--output', 'json'], { ...env, AWS_MAX_ATTEMPTS: '1' });
  assert.notEqual(r.status, 0, `expected aws ${args.join(' ')} to fail, got: ${r.stdout}`);
  return r.stderr;
}

const ROLE_A = 'arn:aws:iam::123456789012:role/lab-a-batchtask';
const ROLE_B = 'arn:aws:iam::123456789012:role/lab-b-batchtask';
const ROLE_SECRET = 'lab-a-object-store-secret-0123456789abcd';
const RES = JSON.stringify([
  { type: 'VCPU', value: '0.25' },
  { type: 'MEMORY', value: '16' },
]);

void describe('users, PI groups and access control', () => {
  let srv: TestServer;
  let alice: Creds, bob: Creds, carol: Creds;
  let policyArn: string;
  const outDir = mkdtempSync(join(tmpdir(), 'openbatch-users-out-'));

  before(async () => {
    requireBinary(AWS_V1, 'pip install awscli');
    srv = await startTestServer({ args: ['--allow-process-runtime-for-users', '--vcpus', '16'] });
    aws(AWS_V1, srv.url, srv.env, [
      'batch',
      'create-compute-environment',
      '--compute-environment-name',
      'ce1',
      '--type',
      'MANAGED',
      '--compute-resources',
      'type=EC2,maxvCpus=16,subnets=s1',
    ]);
    aws(AWS_V1, srv.url, srv.env, [
      'batch',
      'create-job-queue',
      '--job-queue-name',
      'q1',
      '--priority',
      '1',
      '--compute-environment-order',
      'order=1,computeEnvironment=ce1',
    ]);
    policyArn = aws(AWS_V1, srv.url, srv.env, ['batch', 'create-scheduling-policy', '--name', 'sp1']).arn;
    alice = JSON.parse(admin(srv.env, ['onboard', 'alice', 'lab-a', '--json'])) as Creds;
    bob = JSON.parse(admin(srv.env, ['onboard', 'bob', 'lab-a', '--json'])) as Creds;
    carol = JSON.parse(admin(srv.env, ['onboard', 'carol', 'lab-b', '--json'])) as Creds;
  });

  after(async () => {
    await srv?.stop();
  });

  void it('onboards idempotently: a second user of the same PI works; re-running creates nothing and shows no secret', () => {
    assert.deepEqual(Object.keys(alice).sort(), ['accessKeyId', 'pi', 'secretAccessKey', 'userName']);
    assert.equal(bob.pi, 'lab-a');
    const again = JSON.parse(admin(srv.env, ['onboard', 'alice', 'lab-a', '--json']));
    assert.deepEqual(again, { userName: 'alice', pi: 'lab-a', accessKeyId: alice.accessKeyId });
    const list = JSON.parse(admin(srv.env, ['users', 'list', '--json'])).users as { userName: string }[];
    assert.deepEqual(list.map((u) => u.userName).sort(), ['alice', 'bob', 'carol']);
    // Both lab-a users can use their keys.
    for (const c of [alice, bob]) aws(AWS_V1, srv.url, userEnv(srv, c), ['batch', 'describe-job-queues']);
    // Credentials from an ~/.aws/credentials profile and --endpoint-url on the leaf command, as the aws CLI takes them.
    const credFile = join(outDir, 'credentials');
    writeFileSync(
      credFile,
      `[ob-root]\naws_access_key_id = ${srv.accessKeyId}\naws_secret_access_key = ${srv.secretAccessKey}\n`,
    );
    const profileEnv: NodeJS.ProcessEnv = { ...srv.env, AWS_SHARED_CREDENTIALS_FILE: credFile };
    for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'OPENBATCH_ENDPOINT']) delete profileEnv[k];
    assert.match(
      admin(profileEnv, ['users', 'list', '--profile', 'ob-root', '--endpoint-url', srv.url]),
      /carol\s+lab-b/,
    );
    // A user belongs to exactly one PI.
    assert.throws(() => admin(srv.env, ['onboard', 'alice', 'lab-b']), /already belongs to PI lab-a/);
    // Users cannot call the admin API.
    assert.throws(() => admin(userEnv(srv, alice), ['users', 'list']), /AccessDeniedException.*admin/);
  });

  void it('allow/deny matrix for every Batch operation: user vs admin (boto3)', () => {
    const script = readFileSync(join(REPO, 'test/integration/users-matrix.py'), 'utf8');
    const env = { QUEUE: 'q1', CE: 'ce1', POLICY_ARN: policyArn };
    const asUser = python(script, { ...userEnv(srv, alice), ...env, SUFFIX: 'u' });
    assert.equal(asUser.status, 0, asUser.stderr);
    const u = JSON.parse(asUser.stdout);
    const denied = [
      'CreateComputeEnvironment',
      'UpdateComputeEnvironment',
      'DeleteComputeEnvironment',
      'CreateJobQueue',
      'UpdateJobQueue',
      'DeleteJobQueue',
      'CreateSchedulingPolicy',
      'UpdateSchedulingPolicy',
      'DeleteSchedulingPolicy',
      'TagResource',
      'UntagResource',
    ];
    for (const [op, outcome] of Object.entries(u)) {
      if (op === 'DescribeJobsCount') assert.equal(outcome, 1);
      else assert.equal(outcome, denied.includes(op) ? 'AccessDeniedException' : 'OK', `user: ${op}`);
    }
    assert.equal(Object.keys(u).length, 28);
    const asAdmin = python(script, { ...srv.env, ...env, SUFFIX: 'a' });
    assert.equal(asAdmin.status, 0, asAdmin.stderr);
    for (const [op, outcome] of Object.entries(JSON.parse(asAdmin.stdout)))
      assert.equal(outcome, op === 'DescribeJobsCount' ? 1 : 'OK', `admin: ${op}`);
    // The refusal says an admin must do it.
    const err = awsFails(userEnv(srv, alice), srv.url, ['batch', 'delete-job-queue', '--job-queue', 'q1']);
    assert.match(err, /AccessDeniedException.*only an openbatch admin/);
  });

  void it("another PI's jobs are invisible: describe, list, cancel, terminate, deregister refused", async () => {
    const cEnv = userEnv(srv, carol);
    aws(AWS_V1, srv.url, cEnv, [
      'batch',
      'register-job-definition',
      '--job-definition-name',
      'carol-def',
      '--type',
      'container',
      '--container-properties',
      JSON.stringify({ image: 'busybox', command: ['sleep', '300'], resourceRequirements: JSON.parse(RES) }),
    ]);
    const job = aws(AWS_V1, srv.url, cEnv, [
      'batch',
      'submit-job',
      '--job-name',
      'carol-job',
      '--job-queue',
      'q1',
      '--job-definition',
      'carol-def',
    ]);
    const aEnv = userEnv(srv, alice);
    assert.deepEqual(aws(AWS_V1, srv.url, aEnv, ['batch', 'describe-jobs', '--jobs', job.jobId]).jobs, []);
    assert.equal(aws(AWS_V1, srv.url, cEnv, ['batch', 'describe-jobs', '--jobs', job.jobId]).jobs.length, 1);
    for (const status of ['SUBMITTED', 'RUNNABLE', 'STARTING', 'RUNNING']) {
      const ids = aws(AWS_V1, srv.url, aEnv, [
        'batch',
        'list-jobs',
        '--job-queue',
        'q1',
        '--job-status',
        status,
      ]).jobSummaryList.map((j: { jobId: string }) => j.jobId);
      assert.ok(!ids.includes(job.jobId), `alice lists carol's job in ${status}`);
    }
    const byName = aws(AWS_V1, srv.url, srv.env, [
      'batch',
      'list-jobs',
      '--job-queue',
      'q1',
      '--job-status',
      'RUNNING',
    ]);
    void byName;
    assert.match(
      awsFails(aEnv, srv.url, ['batch', 'cancel-job', '--job-id', job.jobId, '--reason', 'x']),
      /ClientException/,
    );
    assert.match(
      awsFails(aEnv, srv.url, ['batch', 'terminate-job', '--job-id', job.jobId, '--reason', 'x']),
      /ClientException/,
    );
    assert.match(
      awsFails(aEnv, srv.url, ['batch', 'deregister-job-definition', '--job-definition', 'carol-def:1']),
      /AccessDeniedException.*PI lab-b/,
    );
    // The job was untouched by alice's attempts.
    const st = aws(AWS_V1, srv.url, cEnv, ['batch', 'describe-jobs', '--jobs', job.jobId]).jobs[0];
    assert.ok(!['FAILED', 'SUCCEEDED'].includes(st.status), st.status);
    // Logs: refused across PIs when the logs API is present on this branch.
    const probe = run(AWS_V1, ['logs', 'describe-log-groups', '--endpoint-url', srv.url, '--output', 'json'], {
      ...srv.env,
      AWS_MAX_ATTEMPTS: '1',
    });
    if (probe.status === 0) {
      const running = await waitFor(
        'carol job running',
        () => aws(AWS_V1, srv.url, cEnv, ['batch', 'describe-jobs', '--jobs', job.jobId]).jobs[0],
        (j: any) => !!j.container?.logStreamName,
      );
      const err = awsFails(aEnv, srv.url, [
        'logs',
        'get-log-events',
        '--log-group-name',
        '/aws/batch/job',
        '--log-stream-name',
        running.container.logStreamName,
      ]);
      assert.match(err, /AccessDenied|ResourceNotFound/);
    } else {
      assert.match(probe.stderr, /X-Amz-Target/, 'logs API absent: the server must say so');
    }
    aws(AWS_V1, srv.url, cEnv, ['batch', 'terminate-job', '--job-id', job.jobId, '--reason', 'done']);
  });

  void it('job roles: users pass only their own PI role; role credentials reach the job through the credentials endpoint only', async () => {
    const aEnv = userEnv(srv, alice);
    const def = (name: string, role: string, command: string[]) => [
      'batch',
      'register-job-definition',
      '--job-definition-name',
      name,
      '--type',
      'container',
      '--container-properties',
      JSON.stringify({
        image: 'busybox',
        command,
        jobRoleArn: role,
        environment: [{ name: 'OUTDIR', value: outDir }],
        resourceRequirements: JSON.parse(RES),
      }),
    ];
    assert.match(
      awsFails(aEnv, srv.url, def('bad', ROLE_B, ['true'])),
      /AccessDeniedException.*only their own PI's job role/,
    );
    assert.match(
      awsFails(aEnv, srv.url, def('bad2', 'arn:aws:iam::123456789012:role/admin', ['true'])),
      /AccessDeniedException/,
    );
    // An admin may register a definition with lab-b's role; alice may not submit it, carol may.
    aws(AWS_V1, srv.url, srv.env, def('b-def', ROLE_B, ['true']));
    assert.match(
      awsFails(aEnv, srv.url, [
        'batch',
        'submit-job',
        '--job-name',
        'x',
        '--job-queue',
        'q1',
        '--job-definition',
        'b-def',
      ]),
      /AccessDeniedException.*b-def:1/,
    );
    aws(AWS_V1, srv.url, userEnv(srv, carol), [
      'batch',
      'submit-job',
      '--job-name',
      'x',
      '--job-queue',
      'q1',
      '--job-definition',
      'b-def',
    ]);

    admin(srv.env, [
      'role',
      'set',
      'lab-a',
      '--access-key-id',
      'LABAKEY',
      '--secret-access-key',
      ROLE_SECRET,
      '--endpoint-url',
      'http://s3.lab-a.example:9000',
    ]);
    aws(AWS_V1, srv.url, aEnv, def('a-def', ROLE_A, ['sh', '-c', 'env > "$OUTDIR/env-$AWS_BATCH_JOB_ID"']));
    const job = aws(AWS_V1, srv.url, aEnv, [
      'batch',
      'submit-job',
      '--job-name',
      'role-job',
      '--job-queue',
      'q1',
      '--job-definition',
      'a-def',
    ]);
    const done = await waitFor(
      'role job finished',
      () => aws(AWS_V1, srv.url, aEnv, ['batch', 'describe-jobs', '--jobs', job.jobId]),
      (r: any) => ['SUCCEEDED', 'FAILED'].includes(r.jobs[0]?.status),
    );
    assert.equal(done.jobs[0].status, 'SUCCEEDED', JSON.stringify(done.jobs[0]));
    const envFile = join(outDir, `env-${job.jobId}`);
    assert.ok(existsSync(envFile));
    const env = readFileSync(envFile, 'utf8');
    // The job finds its role's credentials at the container credentials endpoint, never in its environment.
    assert.match(env, /^AWS_CONTAINER_CREDENTIALS_FULL_URI=http:\/\/127\.0\.0\.1:\d+\/v1\/credentials$/m);
    assert.match(env, /^AWS_CONTAINER_AUTHORIZATION_TOKEN=\S+$/m);
    assert.doesNotMatch(env, /^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY)=/m);
    assert.ok(!env.includes(ROLE_SECRET));
    assert.match(env, /^AWS_ENDPOINT_URL=http:\/\/s3\.lab-a\.example:9000$/m);
    assert.match(env, /^AWS_DEFAULT_REGION=us-east-1$/m);
    // Nowhere else: not in DescribeJobs (as the user or as admin), not in the server's output, not in the database files.
    assert.ok(!JSON.stringify(done).includes(ROLE_SECRET));
    assert.ok(
      !JSON.stringify(aws(AWS_V1, srv.url, srv.env, ['batch', 'describe-jobs', '--jobs', job.jobId])).includes(
        ROLE_SECRET,
      ),
    );
    assert.ok(!srv.output().includes(ROLE_SECRET));
    // On SQLite its database files, on PostgreSQL a dump of its database.
    const stored = storedBytes(srv);
    assert.ok(stored.length > 0);
    assert.ok(stored.includes(alice.accessKeyId), 'the dump holds the stored keys');
    assert.ok(!stored.includes(ROLE_SECRET), 'the store holds the role secret in clear');
    // A user's secret is not stored in clear either.
    assert.ok(!stored.includes(alice.secretAccessKey));
  });

  void it('rotate-key refuses the old key at once; disable/enable take effect immediately', () => {
    const fresh = JSON.parse(admin(srv.env, ['onboard', 'dave', 'lab-c', '--json'])) as Creds;
    aws(AWS_V1, srv.url, userEnv(srv, fresh), ['batch', 'describe-job-queues']);
    const rotated = JSON.parse(admin(srv.env, ['users', 'rotate-key', 'dave', '--json'])) as Creds;
    assert.notEqual(rotated.accessKeyId, fresh.accessKeyId);
    assert.match(
      awsFails(userEnv(srv, fresh), srv.url, ['batch', 'describe-job-queues']),
      /UnrecognizedClientException/,
    );
    aws(AWS_V1, srv.url, userEnv(srv, rotated), ['batch', 'describe-job-queues']);
    // onboard --rotate-key does the same.
    const again = JSON.parse(admin(srv.env, ['onboard', 'dave', 'lab-c', '--json', '--rotate-key'])) as Creds;
    assert.ok(again.secretAccessKey);
    assert.match(awsFails(userEnv(srv, rotated), srv.url, ['batch', 'describe-job-queues']), /UnrecognizedClient/);
    admin(srv.env, ['users', 'disable', 'dave']);
    assert.match(awsFails(userEnv(srv, again), srv.url, ['batch', 'describe-job-queues']), /UnrecognizedClient/);
    admin(srv.env, ['users', 'enable', 'dave']);
    aws(AWS_V1, srv.url, userEnv(srv, again), ['batch', 'describe-job-queues']);
    // make-admin: dave can now manage users and create queues.
    admin(srv.env, ['users', 'make-admin', 'dave']);
    assert.match(admin(userEnv(srv, again), ['users', 'list']), /alice/);
  });

  void it('audits mutating calls with who, what, target, where and outcome', () => {
    const records = JSON.parse(admin(srv.env, ['audit', '--json', '--limit', '1000'])).records as any[];
    const find = (user: string, op: string, outcome: string) =>
      records.find((r) => r.userName === user && r.operation === op && r.outcome === outcome);
    assert.ok(find('alice', 'SubmitJob', 'OK'));
    assert.equal(find('alice', 'SubmitJob', 'OK').pi, 'lab-a');
    assert.equal(find('alice', 'SubmitJob', 'OK').source, '127.0.0.1');
    assert.ok(find('alice', 'DeleteJobQueue', 'AccessDeniedException'));
    assert.equal(find('alice', 'DeleteJobQueue', 'AccessDeniedException').target, 'q1');
    assert.ok(find('root', 'CreateJobQueue', 'OK'));
    assert.ok(find('root', 'admin:onboard', 'OK'));
    assert.ok(find('alice', 'admin:listusers', 'AccessDeniedException'));
    assert.ok(!records.some((r) => r.operation === 'DescribeJobs'), 'reads are not audited');
    assert.match(admin(srv.env, ['audit', '--user', 'alice']), /alice\(lab-a\) SubmitJob/);
  });
});
