/**
 * openbatch's own per-PI secret store, driven by the real aws CLI (v1 and Debian's v2) against the server's endpoint:
 * SSM Parameter Store and Secrets Manager operations with AWS's shapes, ARNs and errors; one PI's values invisible
 * and unreadable to another PI; values encrypted at rest; process jobs that get their secrets from the store and
 * print only a hash of them; another PI's or a missing secret failing the job at start with AWS's reason words.
 * Runs on SQLite, and on PostgreSQL with OPENBATCH_TEST_STORE=postgres.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { aws, AWS_V1, AWS_V2, requireBinary, run, waitFor } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { admin, userEnv, type Creds } from '../helpers/users.js';

const ACCOUNT = '123456789012';
const DB_PASSWORD = 'pw-lab-a-7f3c9e1b';
const DB_PASSWORD_2 = 'pw-lab-a-second-55aa';
const TOKEN = 'tok-lab-a-c0ffee42';
const sha = (v: string) => createHash('sha256').update(v).digest('hex');

void describe("openbatch's own per-PI secret store (SSM Parameter Store and Secrets Manager APIs)", () => {
  let srv: TestServer;
  let alice: Creds, bob: Creds;

  before(async () => {
    requireBinary(AWS_V1, 'pip install awscli');
    requireBinary(AWS_V2, 'apt-get install -y awscli');
    srv = await startTestServer({ args: ['--allow-process-runtime-for-users', '--vcpus', '2'] });
    aws(AWS_V1, srv.url, srv.env, [
      'batch',
      'create-compute-environment',
      '--compute-environment-name',
      'ce',
      '--type',
      'MANAGED',
      '--compute-resources',
      'type=EC2,maxvCpus=2,subnets=s1',
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
    bob = JSON.parse(admin(srv.env, ['onboard', 'bob', 'lab-b', '--json'])) as Creds;
  });

  after(async () => {
    await srv?.stop();
  });

  /** Runs the aws CLI as a user; returns the parsed answer, or the error code and message it printed. */
  const as = (who: Creds, args: string[], bin = AWS_V1): { out?: any; code?: string; message?: string } => {
    const r = run(bin, [...args, '--endpoint-url', srv.url, '--output', 'json'], userEnv(srv, who));
    if (r.status === 0) return { out: r.stdout.trim() ? JSON.parse(r.stdout) : {} };
    const m = /An error occurred \(([^)]+)\) when calling the \w+ operation: ?(.*)/s.exec(r.stderr);
    return { code: m?.[1] ?? `exit ${r.status}: ${r.stderr}`, message: m?.[2]?.trim() ?? '' };
  };
  const ok = (who: Creds, args: string[], bin = AWS_V1): any => {
    const r = as(who, args, bin);
    assert.equal(r.code, undefined, `${args.join(' ')}: ${r.code} ${r.message}`);
    return r.out;
  };

  void it('SSM parameters: put, get (SecureString encrypted unless decrypted), overwrite, by path, describe, delete; scoped per PI; changes audited', async () => {
    const put = ok(alice, [
      'ssm',
      'put-parameter',
      '--name',
      '/lab-a/db-password',
      '--type',
      'SecureString',
      '--value',
      DB_PASSWORD,
    ]);
    assert.deepEqual(put, { Version: 1, Tier: 'Standard' });
    ok(alice, ['ssm', 'put-parameter', '--name', '/lab-a/config/mode', '--type', 'String', '--value', 'fast']);
    ok(alice, ['ssm', 'put-parameter', '--name', 'plain-name', '--type', 'StringList', '--value', 'a,b']);

    const got = ok(alice, ['ssm', 'get-parameter', '--name', '/lab-a/db-password', '--with-decryption']).Parameter;
    assert.equal(got.Value, DB_PASSWORD);
    assert.equal(got.ARN, `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/lab-a/db-password`);
    assert.equal(got.Type, 'SecureString');
    assert.equal(got.Version, 1);
    // Debian's aws CLI v2 reads the same answers.
    assert.equal(
      ok(alice, ['ssm', 'get-parameter', '--name', '/lab-a/db-password', '--with-decryption'], AWS_V2).Parameter.Value,
      DB_PASSWORD,
    );
    const enc = ok(alice, ['ssm', 'get-parameter', '--name', '/lab-a/db-password']).Parameter.Value;
    assert.notEqual(enc, DB_PASSWORD, 'without --with-decryption a SecureString stays encrypted');
    assert.equal(
      ok(alice, ['ssm', 'get-parameter', '--name', `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/plain-name`]).Parameter
        .Value,
      'a,b',
    );

    const again = as(alice, [
      'ssm',
      'put-parameter',
      '--name',
      '/lab-a/db-password',
      '--type',
      'SecureString',
      '--value',
      'x',
    ]);
    assert.equal(again.code, 'ParameterAlreadyExists');
    assert.match(again.message!, /set the overwrite option/);
    assert.equal(
      ok(alice, ['ssm', 'put-parameter', '--name', '/lab-a/db-password', '--value', DB_PASSWORD_2, '--overwrite'])
        .Version,
      2,
    );
    assert.equal(
      as(alice, ['ssm', 'get-parameter', '--name', '/lab-a/db-password:1']).code,
      'ParameterVersionNotFound',
    );
    assert.equal(
      ok(alice, ['ssm', 'get-parameter', '--name', '/lab-a/db-password:2', '--with-decryption']).Parameter.Value,
      DB_PASSWORD_2,
    );

    const many = ok(alice, [
      'ssm',
      'get-parameters',
      '--names',
      '/lab-a/config/mode',
      '/lab-a/nope',
      '--with-decryption',
    ]);
    assert.deepEqual(
      many.Parameters.map((p: any) => [p.Name, p.Value]),
      [['/lab-a/config/mode', 'fast']],
    );
    assert.deepEqual(many.InvalidParameters, ['/lab-a/nope']);

    const oneLevel = ok(alice, ['ssm', 'get-parameters-by-path', '--path', '/lab-a']);
    assert.deepEqual(
      oneLevel.Parameters.map((p: any) => p.Name),
      ['/lab-a/db-password'],
    );
    const recursive = ok(alice, [
      'ssm',
      'get-parameters-by-path',
      '--path',
      '/lab-a/',
      '--recursive',
      '--with-decryption',
    ]);
    assert.deepEqual(
      recursive.Parameters.map((p: any) => [p.Name, p.Value]),
      [
        ['/lab-a/config/mode', 'fast'],
        ['/lab-a/db-password', DB_PASSWORD_2],
      ],
    );
    // The CLI pages through (MaxResults 1 per call) with NextToken.
    const paged = ok(alice, ['ssm', 'describe-parameters', '--page-size', '1']);
    assert.deepEqual(
      paged.Parameters.map((p: any) => p.Name),
      ['/lab-a/config/mode', '/lab-a/db-password', 'plain-name'],
    );
    const meta = paged.Parameters[1];
    assert.equal(meta.LastModifiedUser, `arn:aws:iam::${ACCOUNT}:user/alice`);
    assert.equal(meta.Version, 2);
    assert.equal(meta.Value, undefined);
    assert.deepEqual(
      ok(alice, [
        'ssm',
        'describe-parameters',
        '--parameter-filters',
        'Key=Name,Option=BeginsWith,Values=/lab-a/config',
      ]).Parameters.map((p: any) => p.Name),
      ['/lab-a/config/mode'],
    );

    // Another PI sees none of it and may read none of it.
    assert.deepEqual(ok(bob, ['ssm', 'describe-parameters']).Parameters, []);
    assert.deepEqual(ok(bob, ['ssm', 'get-parameters-by-path', '--path', '/', '--recursive']).Parameters, []);
    const denied = as(bob, ['ssm', 'get-parameter', '--name', '/lab-a/db-password', '--with-decryption']);
    assert.equal(denied.code, 'AccessDeniedException');
    assert.match(
      denied.message!,
      new RegExp(
        `User: arn:aws:iam::${ACCOUNT}:user/bob is not authorized to perform: ssm:GetParameter on resource: arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/lab-a/db-password`,
      ),
    );
    assert.equal(
      as(bob, [
        'ssm',
        'put-parameter',
        '--name',
        '/lab-a/db-password',
        '--type',
        'String',
        '--value',
        'x',
        '--overwrite',
      ]).code,
      'AccessDeniedException',
    );
    assert.equal(as(bob, ['ssm', 'delete-parameter', '--name', '/lab-a/db-password']).code, 'AccessDeniedException');
    // The admin sees every PI's.
    assert.equal(aws(AWS_V1, srv.url, srv.env, ['ssm', 'describe-parameters']).Parameters.length, 3);

    // Bad input: AWS's codes, naming the rule.
    const badName = as(alice, ['ssm', 'put-parameter', '--name', 'aws-x', '--type', 'String', '--value', 'v']);
    assert.equal(badName.code, 'ValidationException');
    assert.match(badName.message!, /can't be prefixed with "aws" or "ssm"/);
    const noType = as(alice, ['ssm', 'put-parameter', '--name', '/lab-a/new', '--value', 'v']);
    assert.equal(noType.code, 'ValidationException');
    assert.match(noType.message!, /type is required/);
    assert.equal(
      as(alice, ['ssm', 'put-parameter', '--name', 'a/b', '--type', 'String', '--value', 'v']).code,
      'ValidationException',
    );
    const tooLong = as(alice, [
      'ssm',
      'put-parameter',
      '--name',
      '/lab-a/big',
      '--type',
      'String',
      '--value',
      'x'.repeat(4097),
    ]);
    assert.equal(tooLong.code, 'ValidationException');
    assert.match(tooLong.message!, /maximum parameter value of 4096/);
    assert.equal(as(alice, ['ssm', 'get-parameter', '--name', '/lab-a/none']).code, 'ParameterNotFound');

    ok(alice, ['ssm', 'delete-parameter', '--name', 'plain-name']);
    assert.equal(as(alice, ['ssm', 'delete-parameter', '--name', 'plain-name']).code, 'ParameterNotFound');
    ok(alice, ['ssm', 'put-parameter', '--name', '/lab-a/tmp', '--type', 'String', '--value', 't']);
    assert.deepEqual(ok(alice, ['ssm', 'delete-parameters', '--names', '/lab-a/tmp', '/lab-a/gone']), {
      DeletedParameters: ['/lab-a/tmp'],
      InvalidParameters: ['/lab-a/gone'],
    });

    // Every change (and refused attempt) is in the audit log, by name, never with its value.
    const audit = await waitFor(
      'secret-store changes in the audit log',
      () => (JSON.parse(admin(srv.env, ['audit', '--json', '--limit', '1000'])) as { records: any[] }).records,
      (rows) => rows.some((r) => r.operation === 'DeleteParameters'),
    );
    const text = JSON.stringify(audit);
    for (const v of [DB_PASSWORD, DB_PASSWORD_2]) assert.ok(!text.includes(v), 'the audit log holds a value');
    const row = (user: string, operation: string, outcome: string) =>
      audit.find(
        (r) =>
          r.userName === user &&
          r.operation === operation &&
          r.target === '/lab-a/db-password' &&
          r.outcome === outcome,
      );
    assert.ok(row('alice', 'PutParameter', 'OK'), text);
    assert.ok(row('bob', 'PutParameter', 'AccessDeniedException'), text);
    assert.ok(row('bob', 'DeleteParameter', 'AccessDeniedException'), text);
  });

  void it('Secrets Manager: create, get, put a new version (AWSPREVIOUS kept), describe, list, delete and restore; scoped per PI', () => {
    const created = ok(alice, [
      'secretsmanager',
      'create-secret',
      '--name',
      'lab-a/api',
      '--description',
      'the API token',
      '--secret-string',
      JSON.stringify({ token: 'old-token' }),
    ]);
    assert.match(created.ARN, new RegExp(`^arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:lab-a/api-[A-Za-z]{6}$`));
    assert.equal(created.Name, 'lab-a/api');
    const v1 = created.VersionId as string;
    const exists = as(alice, ['secretsmanager', 'create-secret', '--name', 'lab-a/api', '--secret-string', 'x']);
    assert.equal(exists.code, 'ResourceExistsException');
    assert.match(exists.message!, /the secret lab-a\/api already exists/);

    const put = ok(alice, [
      'secretsmanager',
      'put-secret-value',
      '--secret-id',
      created.ARN,
      '--secret-string',
      JSON.stringify({ token: TOKEN }),
    ]);
    assert.deepEqual(put.VersionStages, ['AWSCURRENT']);
    for (const id of ['lab-a/api', created.ARN, created.ARN.slice(0, -7)]) {
      const got = ok(alice, ['secretsmanager', 'get-secret-value', '--secret-id', id]);
      assert.equal(JSON.parse(got.SecretString).token, TOKEN, `by ${id}`);
      assert.equal(got.VersionId, put.VersionId);
    }
    const prev = ok(alice, [
      'secretsmanager',
      'get-secret-value',
      '--secret-id',
      'lab-a/api',
      '--version-stage',
      'AWSPREVIOUS',
    ]);
    assert.equal(JSON.parse(prev.SecretString).token, 'old-token');
    assert.equal(prev.VersionId, v1);
    const d = ok(alice, ['secretsmanager', 'describe-secret', '--secret-id', 'lab-a/api'], AWS_V2);
    assert.equal(d.Description, 'the API token');
    assert.deepEqual(d.VersionIdsToStages, { [put.VersionId]: ['AWSCURRENT'], [v1]: ['AWSPREVIOUS'] });

    ok(alice, ['secretsmanager', 'create-secret', '--name', 'lab-a/other', '--secret-string', 's']);
    ok(bob, ['secretsmanager', 'create-secret', '--name', 'lab-b/own', '--secret-string', 'b']);
    assert.deepEqual(
      ok(alice, ['secretsmanager', 'list-secrets']).SecretList.map((s: any) => s.Name),
      ['lab-a/api', 'lab-a/other'],
    );
    assert.deepEqual(
      ok(alice, ['secretsmanager', 'list-secrets', '--filters', 'Key=name,Values=lab-a/ap']).SecretList.map(
        (s: any) => s.Name,
      ),
      ['lab-a/api'],
    );
    assert.deepEqual(
      ok(bob, ['secretsmanager', 'list-secrets']).SecretList.map((s: any) => s.Name),
      ['lab-b/own'],
    );
    const denied = as(bob, ['secretsmanager', 'get-secret-value', '--secret-id', created.ARN]);
    assert.equal(denied.code, 'AccessDeniedException');
    assert.match(
      denied.message!,
      /not authorized to perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:/,
    );
    assert.equal(
      as(bob, ['secretsmanager', 'get-secret-value', '--secret-id', 'lab-x/none']).code,
      'ResourceNotFoundException',
    );

    const both = as(alice, [
      'secretsmanager',
      'delete-secret',
      '--secret-id',
      'lab-a/other',
      '--force-delete-without-recovery',
      '--recovery-window-in-days',
      '7',
    ]);
    assert.equal(both.code, 'InvalidParameterException');
    const scheduled = ok(alice, [
      'secretsmanager',
      'delete-secret',
      '--secret-id',
      'lab-a/other',
      '--recovery-window-in-days',
      '7',
    ]);
    assert.ok(scheduled.DeletionDate);
    const marked = as(alice, ['secretsmanager', 'get-secret-value', '--secret-id', 'lab-a/other']);
    assert.equal(marked.code, 'InvalidRequestException');
    assert.match(marked.message!, /marked for deletion/);
    assert.deepEqual(
      ok(alice, ['secretsmanager', 'list-secrets']).SecretList.map((s: any) => s.Name),
      ['lab-a/api'],
    );
    assert.equal(
      as(alice, ['secretsmanager', 'create-secret', '--name', 'lab-a/other', '--secret-string', 'x']).code,
      'InvalidRequestException',
    );
    ok(alice, ['secretsmanager', 'restore-secret', '--secret-id', 'lab-a/other']);
    assert.equal(ok(alice, ['secretsmanager', 'get-secret-value', '--secret-id', 'lab-a/other']).SecretString, 's');
    ok(alice, ['secretsmanager', 'delete-secret', '--secret-id', 'lab-a/other', '--force-delete-without-recovery']);
    assert.equal(
      as(alice, ['secretsmanager', 'describe-secret', '--secret-id', 'lab-a/other']).code,
      'ResourceNotFoundException',
    );
  });

  void it("gives jobs their PI's values from the store (a hash is printed, never the value); another PI's or a missing one fails at start", async () => {
    const secretArn = ok(alice, ['secretsmanager', 'describe-secret', '--secret-id', 'lab-a/api']).ARN as string;
    const register = (who: Creds, name: string, secrets: { name: string; valueFrom: string }[], script: string) =>
      ok(who, [
        'batch',
        'register-job-definition',
        '--job-definition-name',
        name,
        '--type',
        'container',
        '--container-properties',
        JSON.stringify({
          image: 'busybox',
          command: ['sh', '-c', script],
          secrets,
          resourceRequirements: [
            { type: 'VCPU', value: '0.25' },
            { type: 'MEMORY', value: '64' },
          ],
        }),
      ]);
    const submit = (who: Creds, name: string) =>
      ok(who, ['batch', 'submit-job', '--job-name', name, '--job-queue', 'q', '--job-definition', name])
        .jobId as string;
    register(
      alice,
      'sec-ok',
      [
        { name: 'DB_PASSWORD', valueFrom: `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/lab-a/db-password` },
        { name: 'MODE', valueFrom: '/lab-a/config/mode' },
        { name: 'API_TOKEN', valueFrom: `${secretArn}:token::` },
        { name: 'API_PREVIOUS', valueFrom: `${secretArn}:token:AWSPREVIOUS:` },
      ],
      'for v in "$DB_PASSWORD" "$API_TOKEN" "$API_PREVIOUS"; do printf %s "$v" | sha256sum | cut -c1-64; done; echo "mode=$MODE"',
    );
    register(bob, 'sec-foreign-ssm', [{ name: 'X', valueFrom: '/lab-a/db-password' }], 'echo RAN');
    register(bob, 'sec-foreign-asm', [{ name: 'X', valueFrom: secretArn }], 'echo RAN');
    register(alice, 'sec-missing', [{ name: 'X', valueFrom: '/lab-a/nope' }], 'echo RAN');
    const ids = {
      ok: submit(alice, 'sec-ok'),
      foreignSsm: submit(bob, 'sec-foreign-ssm'),
      foreignAsm: submit(bob, 'sec-foreign-asm'),
      missing: submit(alice, 'sec-missing'),
    };
    const jobs = await waitFor(
      'secret jobs finished',
      () => aws(AWS_V1, srv.url, srv.env, ['batch', 'describe-jobs', '--jobs', ...Object.values(ids)]).jobs as any[],
      (js) => js.length === 4 && js.every((j) => j.status === 'SUCCEEDED' || j.status === 'FAILED'),
      60_000,
    );
    const byId = new Map(jobs.map((j) => [j.jobId, j]));
    const okJob = byId.get(ids.ok);
    assert.equal(okJob.status, 'SUCCEEDED', JSON.stringify(okJob));
    const log = ok(alice, [
      'logs',
      'get-log-events',
      '--log-group-name',
      '/aws/batch/job',
      '--log-stream-name',
      okJob.container.logStreamName,
      '--start-from-head',
    ])
      .events.map((e: any) => e.message)
      .join('\n');
    assert.equal(log, [sha(DB_PASSWORD_2), sha(TOKEN), sha('old-token'), 'mode=fast'].join('\n'));

    const reason = (id: string) => String(byId.get(id).statusReason ?? '');
    for (const id of [ids.foreignSsm, ids.foreignAsm, ids.missing]) {
      assert.equal(byId.get(id).status, 'FAILED');
      assert.equal(byId.get(id).attempts?.[0]?.container?.exitCode, undefined, 'the job never ran');
    }
    assert.match(
      reason(ids.foreignSsm),
      new RegExp(
        `^ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secrets from ssm: AccessDeniedException: User: arn:aws:iam::${ACCOUNT}:user/bob is not authorized to perform: ssm:GetParameters on resource: arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/lab-a/db-password`,
      ),
    );
    assert.match(
      reason(ids.foreignAsm),
      /^ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: failed to fetch secret arn:aws:secretsmanager:\S+ from secrets manager: AccessDeniedException: /,
    );
    assert.equal(
      reason(ids.missing),
      'ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secrets from ssm: invalid ssm parameters: /lab-a/nope',
    );

    // No value in any answer, the server's output or the data directory's files (encrypted at rest).
    const describe = JSON.stringify(
      aws(AWS_V1, srv.url, srv.env, ['batch', 'describe-jobs', '--jobs', ...Object.values(ids)]),
    );
    const files = readdirSync(srv.dataDir, { recursive: true })
      .map((f) => join(srv.dataDir, String(f)))
      .filter((f) => statSync(f).isFile());
    const texts: [string, string][] = [
      ['DescribeJobs', describe],
      ['server output', srv.output()],
      ...files.map((f): [string, string] => [f, readFileSync(f).toString('latin1')]),
    ];
    if (srv.databaseUrl) {
      const c = new pg.Client({ connectionString: srv.databaseUrl });
      await c.connect();
      const rows = await c.query('SELECT * FROM pi_secret_values');
      await c.end();
      assert.ok(rows.rows.length >= 3);
      texts.push(['PostgreSQL pi_secret_values', JSON.stringify(rows.rows)]);
    }
    for (const [where, text] of texts)
      for (const v of [DB_PASSWORD, DB_PASSWORD_2, TOKEN])
        assert.ok(!text.includes(v), `${where} holds a secret value (${v.slice(0, 6)}...)`);
  });
});
