/**
 * Job-role credentials on a Slurm pool (docs/decisions/0011): the nodes reach this host only over the cluster's
 * network, so a job with a role gets an AWS config file whose credential_process fetches its credentials from the
 * endpoint at --slurm-credentials-url. Real cluster, real server, real boto3 running as an unprivileged account on a
 * node: the log shows the role's access key id, a job without a role gets none, the token file is the job account's
 * alone, and no secret reaches the job's environment, DescribeJobs or the log.
 */
import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { aws, AWS_V2, python, requireBinary, run, waitFor } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startTestSlurm, type TestSlurm } from '../helpers/slurm.js';
import { admin, userEnv, type Creds } from '../helpers/users.js';

const ROLE = 'arn:aws:iam::123456789012:role/lab-a-batchtask';
const KEY_ID = 'AKIASLURMROLE0000001';
const SECRET = 'slurmRoleSecret0000000000000000000000001';
/** What the job prints: boto3's view of its credentials, as every SDK finds them. */
const PRINT_KEY =
  "import boto3; c = boto3.Session().get_credentials(); print('key', c.get_frozen_credentials().access_key if c else None)";

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

void describe('job-role credentials on a Slurm pool', () => {
  let slurm: TestSlurm;
  let server: TestServer;
  let alice: Creds;
  let stateDir: string;
  let outDir: string;
  let pyLib: string;
  const batch = (args: string[]) => aws(AWS_V2, server.url, userEnv(server, alice), ['batch', ...args]);
  const describe1 = (id: string) => batch(['describe-jobs', '--jobs', id]).jobs[0];
  const until = (id: string, states: string[]) =>
    waitFor(
      `job ${id} in ${states.join('/')}`,
      () => describe1(id),
      (j) => states.includes(j.status),
      90_000,
    );
  const logOf = (stream: string): string =>
    aws(AWS_V2, server.url, userEnv(server, alice), [
      'logs',
      'get-log-events',
      '--log-group-name',
      '/aws/batch/job',
      '--log-stream-name',
      stream,
      '--start-from-head',
    ])
      .events.map((e: { message: string }) => e.message)
      .join('\n');
  const register = (name: string, script: string, role?: string) =>
    batch([
      'register-job-definition',
      '--job-definition-name',
      name,
      '--type',
      'container',
      '--container-properties',
      JSON.stringify({
        image: 'busybox',
        ...(role ? { jobRoleArn: role } : {}),
        command: ['sh', '-c', script],
        environment: [
          { name: 'PYTHONPATH', value: pyLib },
          { name: 'OUTDIR', value: outDir },
        ],
        resourceRequirements: [
          { type: 'VCPU', value: '1' },
          { type: 'MEMORY', value: '128' },
        ],
      }),
    ]);
  const submit = (name: string): string =>
    batch(['submit-job', '--job-name', name, '--job-queue', 'slurmq', '--job-definition', name]).jobId;

  before(async () => {
    requireBinary(AWS_V2, 'install Debian package awscli (apt-get install -y awscli)');
    requireBinary('/usr/bin/python3', 'install Debian package python3');
    requireBinary('curl', 'install Debian package curl');
    slurm = await startTestSlurm();
    // Jobs run as `nobody`, who cannot enter /root where this machine's boto3 lives: a copy of it (pure Python) on the
    // shared disk, for the system's python3 on the nodes.
    const site = dirname(dirname(python('import boto3; print(boto3.__file__)', process.env).stdout.trim()));
    pyLib = join(slurm.dir, 'pylib');
    mkdirSync(pyLib, { mode: 0o755 });
    for (const m of ['boto3', 'botocore', 'jmespath', 's3transfer', 'dateutil', 'urllib3', 'six.py'])
      cpSync(join(site, m), join(pyLib, m), { recursive: true });
    run('chmod', ['-R', 'a+rX', pyLib], process.env);
    outDir = join(slurm.dir, 'out');
    mkdirSync(outDir);
    chmodSync(outDir, 0o777);
    stateDir = join(slurm.dir, 'openbatch');
    const port = await freePort(slurm.hostAddress);
    server = await startTestServer({
      args: [
        '--allow-process-runtime-for-users',
        '--slurm-conf',
        slurm.conf,
        '--slurm-account',
        'nobody',
        '--slurm-state-dir',
        stateDir,
        '--slurm-credentials-url',
        `http://${slurm.hostAddress}:${port}`,
        '--stop-grace-seconds',
        '1',
      ],
    });
    const root = (args: string[]) => aws(AWS_V2, server.url, server.env, ['batch', ...args]);
    root([
      'create-compute-environment',
      '--compute-environment-name',
      'cluster',
      '--type',
      'UNMANAGED',
      '--unmanagedv-cpus',
      '12',
      '--tags',
      `openbatch:slurm-partition=${slurm.partition}`,
    ]);
    root([
      'create-job-queue',
      '--job-queue-name',
      'slurmq',
      '--priority',
      '1',
      '--compute-environment-order',
      'order=1,computeEnvironment=cluster',
    ]);
    alice = JSON.parse(admin(server.env, ['onboard', 'alice', 'lab-a', '--json'])) as Creds;
    admin(server.env, ['role', 'set', 'lab-a', '--access-key-id', KEY_ID, '--secret-access-key', SECRET]);
  });
  after(async () => {
    await server?.stop();
    await slurm?.stop();
  });

  it("gives a job with a role its role's credentials through credential_process, and keeps the token its account's", async () => {
    // Prints what boto3 finds, then waits (until the test has looked at its files) and prints its environment.
    register(
      'withrole',
      `/usr/bin/python3 -c "${PRINT_KEY}" || exit 3
aws_dir=\${AWS_CONFIG_FILE%/config}
echo "$aws_dir" > "$OUTDIR/aws-dir"
while [ ! -e "$OUTDIR/go" ]; do sleep 0.2; done
echo "as $(id -un)"
env | sort`,
      ROLE,
    );
    const jobId = submit('withrole');
    await waitFor(
      'the job to record its credential directory',
      () => existsSync(join(outDir, 'aws-dir')),
      (x) => x,
      90_000,
    );
    const groups = readdirSync(join(stateDir, slurm.partition, 'groups'));
    const tokens = groups
      .map((g) => join(stateDir, slurm.partition, 'groups', g, '0', 'aws', 'token'))
      .filter((f) => existsSync(f));
    assert.equal(tokens.length, 1, `one token file: ${JSON.stringify(tokens)}`);
    const tokenFile = tokens[0]!;
    const st = statSync(tokenFile);
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.uid, 65534, 'owned by the job account (nobody)');
    assert.equal(statSync(dirname(tokenFile)).mode & 0o777, 0o700);
    const other = run('runuser', ['-u', 'daemon', '--', 'cat', tokenFile], process.env);
    assert.notEqual(other.status, 0, 'another account cannot read the token');
    assert.match(other.stderr, /Permission denied/);
    const token = run('cat', [tokenFile], process.env).stdout.trim();
    assert.ok(token.length > 20);
    const runSh = run('cat', [join(dirname(dirname(tokenFile)), 'run.sh')], process.env).stdout;
    assert.match(runSh, /AWS_CONFIG_FILE=/);
    assert.ok(!runSh.includes(token), 'the token is not in run.sh');
    writeFileSync(join(outDir, 'go'), '');

    const job = await until(jobId, ['SUCCEEDED', 'FAILED']);
    const log = logOf(job.container.logStreamName);
    assert.equal(job.status, 'SUCCEEDED', `${job.statusReason ?? ''}\n${log}`);
    assert.match(log, new RegExp(`^key ${KEY_ID}$`, 'm'));
    assert.match(log, /^as nobody$/m);
    assert.match(log, /^AWS_CONFIG_FILE=.*\/aws\/config$/m);
    assert.doesNotMatch(log, /AWS_CONTAINER_CREDENTIALS_FULL_URI|AWS_CONTAINER_AUTHORIZATION_TOKEN/);
    for (const secret of [SECRET, token]) {
      assert.ok(!log.includes(secret), 'no secret in the log');
      assert.ok(!JSON.stringify(job).includes(secret), 'no secret in DescribeJobs');
    }
  });

  it('gives every node of a multi-node job with a role the credentials', async () => {
    // The main node's exit stops the others: it waits until node 1 has printed.
    const container = (then: string) => ({
      image: 'busybox',
      jobRoleArn: ROLE,
      command: ['sh', '-c', `/usr/bin/python3 -c "${PRINT_KEY}"; ${then}`],
      environment: [
        { name: 'PYTHONPATH', value: pyLib },
        { name: 'OUTDIR', value: outDir },
      ],
      resourceRequirements: [
        { type: 'VCPU', value: '1' },
        { type: 'MEMORY', value: '128' },
      ],
    });
    batch([
      'register-job-definition',
      '--job-definition-name',
      'mnrole',
      '--type',
      'multinode',
      '--node-properties',
      JSON.stringify({
        numNodes: 2,
        mainNode: 0,
        nodeRangeProperties: [
          { targetNodes: '0:', container: container('touch "$OUTDIR/mn-$AWS_BATCH_JOB_NODE_INDEX"') },
          {
            targetNodes: '0',
            container: container(
              'i=0; while [ ! -e "$OUTDIR/mn-1" ] && [ $i -lt 300 ]; do sleep 0.2; i=$((i+1)); done',
            ),
          },
        ],
      }),
    ]);
    const jobId = submit('mnrole');
    const job = await until(jobId, ['SUCCEEDED', 'FAILED']);
    assert.equal(job.status, 'SUCCEEDED', job.statusReason);
    const nodes = batch(['describe-jobs', '--jobs', `${jobId}#0`, `${jobId}#1`]).jobs;
    assert.equal(nodes.length, 2);
    for (const n of nodes) assert.match(logOf(n.container.logStreamName), new RegExp(`^key ${KEY_ID}$`, 'm'));
  });

  it('gives a job without a role no credentials', async () => {
    register('norole', `/usr/bin/python3 -c "${PRINT_KEY}"; env | sort`);
    const job = await until(submit('norole'), ['SUCCEEDED', 'FAILED']);
    const log = logOf(job.container.logStreamName);
    assert.equal(job.status, 'SUCCEEDED', `${job.statusReason ?? ''}\n${log}`);
    assert.match(log, /^key None$/m);
    assert.doesNotMatch(log, /AWS_CONFIG_FILE|AWS_CONTAINER_/);
  });
});
