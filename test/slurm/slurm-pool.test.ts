/**
 * A Slurm partition as a capacity pool, through the real server and the real aws CLI: an admin binds an UNMANAGED
 * compute environment to the partition with a tag, researchers run the seeds' workflow unchanged (job.json, arrays,
 * describe-jobs, get-log-events), and the jobs run on the cluster's nodes, not within this host's capacity.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as B from '@aws-sdk/client-batch';
import { AWS_V2, requireBinary, run, waitFor, jobsCli } from '../helpers/clients.js';
import { sdkClient, sdkLogMessages } from '../helpers/signed.js';
import { startTestSlurm, type TestSlurm } from '../helpers/slurm.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('a Slurm partition as the capacity of a compute environment', () => {
  let slurm: TestSlurm;
  let server: TestServer;
  let serverArgs: string[];
  /** The job of the timeout test, submitted in before(). */
  let overtimeJob: string;
  // Waits poll with the SDK (one aws CLI process per poll would take CPU from the cluster's jobs for minutes); what
  // a wait returns, and every other call, is the aws CLI's.
  const sdks = new WeakMap<TestServer, B.BatchClient>();
  const sdkOf = (s: TestServer) => sdks.get(s) ?? (sdks.set(s, sdkClient(s)), sdks.get(s)!);
  const { batch, describe1, until, logOf } = jobsCli(
    () => server,
    AWS_V2,
    async (id) => (await sdkOf(server).send(new B.DescribeJobsCommand({ jobs: [id] }))).jobs?.[0]?.status,
  );
  /** Waits (SDK) until every job is in one of `states`; then their descriptions by one aws CLI describe-jobs. */
  const untilAll = async (ids: string[], states: string[], ms: number) => {
    await waitFor(
      `jobs ${ids.join(', ')} in ${states.join('/')}`,
      async () => (await sdkOf(server).send(new B.DescribeJobsCommand({ jobs: ids }))).jobs!.map((j) => j.status!),
      (s) => s.length === ids.length && s.every((x) => states.includes(x)),
      ms,
    );
    const jobs = batch(['describe-jobs', '--jobs', ...ids]).jobs as { jobId: string }[];
    return ids.map((id) => jobs.find((j) => j.jobId === id) as any);
  };
  // Log streams read in-process, for the tests that read many (the aws CLI's get-log-events is the seeds' test's,
  // the array's and the timeout's).
  const sdkLogOf = (stream: string) => sdkLogMessages(server, stream, { maxAttempts: 1 });

  before(async () => {
    requireBinary(AWS_V2, 'install Debian package awscli (apt-get install -y awscli)');
    slurm = await startTestSlurm();
    // One vCPU on this host: the Slurm pool's jobs must not be bound by it.
    serverArgs = [
      '--vcpus',
      '1',
      '--slurm-conf',
      slurm.conf,
      '--slurm-account',
      'nobody',
      '--slurm-state-dir',
      join(slurm.dir, 'openbatch'),
      '--stop-grace-seconds',
      '1',
    ];
    server = await startTestServer({ args: serverArgs });
    batch([
      'create-compute-environment',
      '--compute-environment-name',
      'mixed',
      '--type',
      'UNMANAGED',
      '--unmanagedv-cpus',
      '12',
      '--tags',
      `openbatch:slurm-partition=${slurm.partition}`,
    ]);
    batch([
      'create-job-queue',
      '--job-queue-name',
      'mixed',
      '--priority',
      '1',
      '--compute-environment-order',
      'order=1,computeEnvironment=mixed',
    ]);
    batch([
      'register-job-definition',
      '--job-definition-name',
      'myJobDef',
      '--type',
      'container',
      '--container-properties',
      JSON.stringify({
        image: 'busybox',
        command: ['echo', 'hello'],
        resourceRequirements: [
          { type: 'VCPU', value: '1' },
          { type: 'MEMORY', value: '64' },
        ],
      }),
    ]);
    // The timeout test's job: AWS allows no attempt timeout under 60 s, so it starts now and runs while the tests
    // before its own do. A compute environment and queue of its own (one vCPU of the partition's twelve): it takes
    // nothing from 'mixed', whose jobs the next tests count.
    batch([
      'create-compute-environment',
      '--compute-environment-name',
      'overtime',
      '--type',
      'UNMANAGED',
      '--unmanagedv-cpus',
      '1',
      '--tags',
      `openbatch:slurm-partition=${slurm.partition}`,
    ]);
    batch([
      'create-job-queue',
      '--job-queue-name',
      'overtime',
      '--priority',
      '1',
      '--compute-environment-order',
      'order=1,computeEnvironment=overtime',
    ]);
    overtimeJob = batch([
      'submit-job',
      '--job-name',
      'overtime',
      '--job-queue',
      'overtime',
      '--job-definition',
      'myJobDef',
      '--timeout',
      'attemptDurationSeconds=60',
      '--container-overrides',
      JSON.stringify({ command: ['sh', '-c', 'trap "echo caught; exit 0" TERM; echo up; while :; do sleep 1; done'] }),
    ]).jobId;
  });
  after(async () => {
    await server?.stop();
    await slurm?.stop();
  });

  it('shows the binding in DescribeComputeEnvironments and refuses it on a MANAGED environment', () => {
    const ce = batch(['describe-compute-environments', '--compute-environments', 'mixed']).computeEnvironments[0];
    assert.equal(ce.type, 'UNMANAGED');
    assert.equal(ce.unmanagedvCpus, 12);
    assert.equal(ce.tags['openbatch:slurm-partition'], slurm.partition);
    const r = run(
      AWS_V2,
      [
        'batch',
        'create-compute-environment',
        '--compute-environment-name',
        'wrong',
        '--type',
        'MANAGED',
        '--compute-resources',
        'type=EC2,maxvCpus=4,subnets=s,instanceRole=r',
        '--tags',
        'openbatch:slurm-partition=batch',
        '--endpoint-url',
        server.url,
      ],
      server.env,
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /ClientException/);
    assert.match(r.stderr, /UNMANAGED/);
  });

  it("runs the seeds' job.json on the cluster's nodes, logs readable with get-log-events", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'openbatch-slurm-pool-'));
    const jobJson = join(dir, 'job.json');
    writeFileSync(
      jobJson,
      JSON.stringify({
        jobName: 'hello-slurm',
        jobQueue: 'mixed',
        jobDefinition: 'myJobDef',
        containerOverrides: { command: ['sh', '-c', 'echo "on $SLURMD_NODENAME as $(id -un) job $AWS_BATCH_JOB_ID"'] },
      }),
    );
    const { jobId } = batch(['submit-job', '--cli-input-json', `file://${jobJson}`]);
    const done = await until(jobId, ['SUCCEEDED', 'FAILED']);
    assert.equal(done.status, 'SUCCEEDED', done.statusReason);
    const lines = logOf(done.container.logStreamName);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.match(lines[0]!, new RegExp(`^on (${slurm.nodes.join('|')}) as nobody job ${jobId}$`));
  });

  it('runs many jobs at once though this host has one vCPU, spread over the nodes, and an array by its index', async () => {
    // Submitted together (the JS SDK: one aws CLI process per job would take seconds each on a loaded machine).
    const sdk = sdkClient(server);
    const ids = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const r = await sdk.send(
          new B.SubmitJobCommand({
            jobName: `wide-${i}`,
            jobQueue: 'mixed',
            jobDefinition: 'myJobDef',
            containerOverrides: { command: ['sh', '-c', 'echo $SLURMD_NODENAME; sleep 6'] },
          }),
        );
        return r.jobId!;
      }),
    );
    const nodes = new Set<string>();
    const spans: { startedAt: number; stoppedAt: number }[] = await untilAll(ids, ['SUCCEEDED', 'FAILED'], 120_000);
    for (const j of spans as any[]) {
      assert.equal(j.status, 'SUCCEEDED', j.statusReason);
      nodes.add((await sdkLogOf(j.container.logStreamName))[0]!);
    }
    assert.ok(nodes.size >= 2, `ran on ${[...nodes].join(', ')}`);
    // How many ran at the same time, from their own start and stop times (the host alone would allow one).
    const overlap = Math.max(
      ...spans.map((x) => spans.filter((y) => y.startedAt <= x.startedAt && x.startedAt < y.stoppedAt).length),
    );
    assert.ok(
      overlap >= 3,
      `at most ${overlap} ran at once: ${JSON.stringify(spans.map((x) => [x.startedAt, x.stoppedAt]))}`,
    );

    const { jobId } = batch([
      'submit-job',
      '--job-name',
      'arr',
      '--job-queue',
      'mixed',
      '--job-definition',
      'myJobDef',
      '--array-properties',
      'size=20',
      '--container-overrides',
      JSON.stringify({ command: ['sh', '-c', 'echo "index $AWS_BATCH_JOB_ARRAY_INDEX"'] }),
    ]);
    const parent = await until(jobId, ['SUCCEEDED', 'FAILED'], 120_000);
    assert.equal(parent.status, 'SUCCEEDED');
    assert.equal(parent.arrayProperties.statusSummary.SUCCEEDED, 20);
    const seven = describe1(`${jobId}:7`);
    assert.deepEqual(logOf(seven.container.logStreamName), ['index 7']);
  });

  it('terminates a running Slurm job with its reason', async () => {
    const { jobId } = batch([
      'submit-job',
      '--job-name',
      'long',
      '--job-queue',
      'mixed',
      '--job-definition',
      'myJobDef',
      '--container-overrides',
      JSON.stringify({ command: ['sleep', '300'] }),
    ]);
    await until(jobId, ['RUNNING']);
    batch(['terminate-job', '--job-id', jobId, '--reason', 'not needed']);
    const j = await until(jobId, ['SUCCEEDED', 'FAILED'], 60_000);
    assert.equal(j.status, 'FAILED');
    assert.equal(j.statusReason, 'not needed');
    const squeue = slurm.cmd('squeue', ['-h', '-o', '%j']);
    assert.doesNotMatch(squeue, new RegExp(jobId));
  });

  it('keeps a job of an UNMANAGED environment with nothing attached RUNNABLE, saying how to attach capacity', async () => {
    batch(['create-compute-environment', '--compute-environment-name', 'bare', '--type', 'UNMANAGED']);
    batch([
      'create-job-queue',
      '--job-queue-name',
      'bare',
      '--priority',
      '1',
      '--compute-environment-order',
      'order=1,computeEnvironment=bare',
    ]);
    const { jobId } = batch(['submit-job', '--job-name', 'w', '--job-queue', 'bare', '--job-definition', 'myJobDef']);
    await waitFor(
      'a reason',
      async () => (await sdkOf(server).send(new B.DescribeJobsCommand({ jobs: [jobId] }))).jobs![0]!,
      (x) => x.status === 'RUNNABLE' && !!x.statusReason,
    );
    const j = describe1(jobId);
    assert.equal(j.status, 'RUNNABLE');
    assert.match(j.statusReason, /UNMANAGED with no capacity attached/);
    assert.match(j.statusReason, /openbatch:slurm-partition/);
  });

  it('runs an array of 1,000 children as a few Slurm array jobs, not 1,000 submissions', async () => {
    // No unmanagedvCpus: every child is handed to Slurm at once, which queues what does not fit.
    batch([
      'create-compute-environment',
      '--compute-environment-name',
      'wide',
      '--type',
      'UNMANAGED',
      '--tags',
      `openbatch:slurm-partition=${slurm.partition}`,
    ]);
    batch([
      'create-job-queue',
      '--job-queue-name',
      'wide',
      '--priority',
      '1',
      '--compute-environment-order',
      'order=1,computeEnvironment=wide',
    ]);
    const { jobId } = batch([
      'submit-job',
      '--job-name',
      'thousand',
      '--job-queue',
      'wide',
      '--job-definition',
      'myJobDef',
      '--array-properties',
      'size=1000',
      '--container-overrides',
      JSON.stringify({ command: ['true'] }),
    ]);
    const parent = await until(jobId, ['SUCCEEDED', 'FAILED'], 600_000);
    assert.equal(parent.status, 'SUCCEEDED', JSON.stringify(parent.arrayProperties));
    assert.deepEqual(parent.arrayProperties.statusSummary, {
      SUBMITTED: 0,
      PENDING: 0,
      RUNNABLE: 0,
      STARTING: 0,
      RUNNING: 0,
      SUCCEEDED: 1000,
      FAILED: 0,
    });
    const listed = batch(['list-jobs', '--array-job-id', jobId, '--job-status', 'SUCCEEDED']).jobSummaryList;
    assert.equal(listed.length, 1000);
    assert.equal(new Set(listed.map((j: { jobId: string }) => j.jobId)).size, 1000);
    // What Slurm saw: each sbatch of openbatch's is one Slurm array job named after the parent (MinJobAge keeps them).
    const arrays = new Set(
      slurm
        .cmd('squeue', ['-h', '-t', 'all', '-n', `openbatch-${jobId}`, '-o', '%F'])
        .split('\n')
        .filter(Boolean),
    );
    assert.ok(arrays.size >= 1 && arrays.size <= 10, `1,000 children went out as ${arrays.size} Slurm jobs`);
    const tasks = slurm.cmd('squeue', ['-h', '-r', '-t', 'all', '-n', `openbatch-${jobId}`, '-o', '%i']);
    assert.equal(tasks.split('\n').filter(Boolean).length, 1000);
  });

  // Its job was submitted in before() and has run meanwhile; placed before the restart test, which kills the server.
  it('fails a job that outlives its timeout though its command catches SIGTERM and exits 0', async () => {
    const jobId = overtimeJob;
    const j = await until(jobId, ['SUCCEEDED', 'FAILED'], 240_000);
    const seen = JSON.stringify({
      statusReason: j.statusReason,
      attempts: j.attempts,
      log: logOf(j.container.logStreamName),
    });
    assert.equal(j.status, 'FAILED', seen);
    assert.equal(j.statusReason, 'Job attempt duration exceeded timeout', seen);
    assert.equal(j.attempts.length, 1);
    assert.equal(j.attempts[0].statusReason, 'Job attempt duration exceeded timeout');
    // Then Slurm's own line about the cancel.
    assert.deepEqual(logOf(j.container.logStreamName).slice(0, 2), ['up', 'caught'], seen);
  });

  it('re-attaches to running Slurm jobs after openbatch is killed and restarted: none lost, none run twice', async () => {
    // Every run leaves a line in a file of its own on the shared disk, so a second run of a job would show.
    const ran = join(slurm.dir, 'ran');
    mkdirSync(ran);
    chmodSync(ran, 0o777);
    const sdk = sdkClient(server);
    const ids = await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        const r = await sdk.send(
          new B.SubmitJobCommand({
            jobName: `survivor-${i}`,
            jobQueue: 'mixed',
            jobDefinition: 'myJobDef',
            containerOverrides: {
              command: ['sh', '-c', `echo "$SLURM_JOB_ID" >> ${ran}/$AWS_BATCH_JOB_ID; echo begin; sleep 20; echo end`],
            },
          }),
        );
        return r.jobId!;
      }),
    );
    // All four running at once (one DescribeJobs for all: the aws CLI takes seconds per call on a loaded machine).
    await waitFor(
      'all four RUNNING',
      async () => (await sdk.send(new B.DescribeJobsCommand({ jobs: ids }))).jobs!.map((j) => j.status),
      (s) => s.every((x) => x === 'RUNNING') || s.some((x) => x === 'SUCCEEDED' || x === 'FAILED'),
      90_000,
    ).then((s) => assert.deepEqual(s, ['RUNNING', 'RUNNING', 'RUNNING', 'RUNNING']));
    await server.stop({ keepData: true, signal: 'SIGKILL' });
    server = await startTestServer({ dataDir: server.dataDir, args: serverArgs });
    for (const j of await untilAll(ids, ['SUCCEEDED', 'FAILED'], 120_000)) {
      assert.equal(j.status, 'SUCCEEDED', j.statusReason);
      assert.equal(j.attempts.length, 1, JSON.stringify(j.attempts));
      assert.deepEqual(await sdkLogOf(j.container.logStreamName), ['begin', 'end']);
    }
    const runs = readdirSync(ran).map((f) => [f, readFileSync(join(ran, f), 'utf8').trim().split('\n')] as const);
    assert.deepEqual(runs.map(([f]) => f).sort(), [...ids].sort());
    for (const [f, lines] of runs) assert.equal(lines.length, 1, `${f} ran ${lines.length} times: ${lines.join(', ')}`);
  });
});
