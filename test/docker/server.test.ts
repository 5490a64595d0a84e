/**
 * Jobs in containers, end to end: a real openbatch server (`--runtime docker`) on a real Docker engine, driven by
 * boto3 and the aws CLI. All scenarios are submitted at once and run side by side; the server is SIGKILLed while some
 * containers run and restarted on the same data directory, so every outcome below is also checked across a restart.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aws, AWS_V1, python, requireBinary, waitFor } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { containersOf, startTestEngine, TEST_IMAGE, type TestEngine } from '../helpers/docker.js';

const PY_HEAD = `
import json, os, sys, boto3
b = boto3.client('batch', endpoint_url=os.environ['AWS_ENDPOINT_URL'])
`;

function py(code: string, env: NodeJS.ProcessEnv, input: unknown = null): any {
  const r = python(`${PY_HEAD}\nargs = json.loads(os.environ['PY_ARGS'])\n${code}`, {
    ...env,
    PY_ARGS: JSON.stringify(input),
  });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const sh = (script: string) => ['sh', '-c', script];

/** name -> [job definition containerProperties (without image), extra submit members]. */
function scenarios(shared: string, secret: string): Record<string, Record<string, unknown>> {
  const mount = {
    volumes: [{ name: 'shared', host: { sourcePath: shared } }],
    mountPoints: [{ sourceVolume: 'shared', containerPath: '/shared' }],
  };
  return {
    // The host's file is not there; the same path mounted on purpose is (so the check itself works).
    isolated: {
      command: sh(`test -e ${secret} && exit 3; test -e /shared/host-secret.txt || exit 4; exit 0`),
      ...mount,
    },
    env: {
      command: sh(
        'printf "%s %s %s %s" "$AWS_BATCH_JOB_ID" "$AWS_BATCH_JOB_ATTEMPT" "$AWS_BATCH_JQ_NAME" "$FOO" > /shared/env-$AWS_BATCH_JOB_ID',
      ),
      environment: [{ name: 'FOO', value: 'bar baz' }],
      ...mount,
    },
    exit7: { command: sh('exit 7') },
    oom: {
      command: sh('x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done'),
      resourceRequirements: [
        { type: 'VCPU', value: '1' },
        { type: 'MEMORY', value: '16' },
      ],
    },
    cpu: {
      command: sh(
        'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us > /shared/cpu-$AWS_BATCH_JOB_ID 2>/dev/null || cut -d" " -f1 /sys/fs/cgroup/cpu.max > /shared/cpu-$AWS_BATCH_JOB_ID',
      ),
      resourceRequirements: [
        { type: 'VCPU', value: '0.5' },
        { type: 'MEMORY', value: '64' },
      ],
      ...mount,
    },
    // Writes into its scratch /tmp, then waits to be looked at; /tmp must be a writable host directory.
    scratch: { command: sh('echo here > /tmp/scratch-marker && sleep 4'), readonlyRootFilesystem: true },
    terminate: { command: ['sleep', '300'], linuxParameters: { initProcessEnabled: true } },
    timeout: { command: ['sleep', '300'], linuxParameters: { initProcessEnabled: true }, timeout: 60 },
    missingImage: { command: ['true'], image: 'registry.invalid/openbatch/none:1' },
    // Running across the server's SIGKILL: one finishes after the restart, one while no server runs.
    reattachOk: { command: sh('sleep 12; echo once >> /shared/reattach-$AWS_BATCH_JOB_ID'), ...mount },
    reattachExit: { command: sh('sleep 12; exit 3') },
    exitsWhileDown: { command: sh('sleep 6; exit 4') },
  };
}

void describe('jobs in containers through the real server (docker runtime)', () => {
  let engine: TestEngine;
  let server: TestServer;
  let dataDir: string;
  let shared: string;
  let secret: string;
  const ids: Record<string, string> = {};
  let jobs: Record<string, any> = {};
  let scratchSeen = '';

  const args = () => [
    '--runtime',
    'docker',
    '--docker-host',
    engine.host,
    '--vcpus',
    '16',
    '--memory-mib',
    '8192',
    '--stop-grace-seconds',
    '2',
    '--volume-allowlist',
    shared,
  ];
  const describeAll = () =>
    py(
      `print(json.dumps({j['jobId']: j for j in b.describe_jobs(jobs=args)['jobs']}))`,
      server.env,
      Object.values(ids),
    );

  before(async () => {
    requireBinary('python3', 'install python3 with boto3');
    engine = await startTestEngine();
    dataDir = mkdtempSync(join(tmpdir(), 'openbatch-docker-'));
    shared = join(dataDir, 'shared');
    mkdirSync(shared);
    secret = join(dataDir, 'host-secret.txt');
    writeFileSync(secret, 'secret');
    writeFileSync(join(shared, 'host-secret.txt'), 'visible on purpose');
    server = await startTestServer({ dataDir, args: args() });
    const defs = scenarios(shared, secret);
    const submitted = py(
      `
b.create_compute_environment(computeEnvironmentName='ce', type='MANAGED', computeResources={'type': 'EC2', 'maxvCpus': 16, 'minvCpus': 0, 'instanceTypes': ['optimal'], 'subnets': ['s'], 'instanceRole': 'r'})
b.create_job_queue(jobQueueName='q', priority=1, computeEnvironmentOrder=[{'order': 1, 'computeEnvironment': 'ce'}])
out = {}
for name, d in args['defs'].items():
    timeout = d.pop('timeout', None)
    cp = {'image': args['image'], 'resourceRequirements': [{'type': 'VCPU', 'value': '1'}, {'type': 'MEMORY', 'value': '64'}]}
    cp.update(d)
    b.register_job_definition(jobDefinitionName=name, type='container', containerProperties=cp,
                              **({'timeout': {'attemptDurationSeconds': timeout}} if timeout else {}))
    out[name] = b.submit_job(jobName=name, jobQueue='q', jobDefinition=name)['jobId']
print(json.dumps(out))
`,
      server.env,
      { defs, image: TEST_IMAGE },
    );
    Object.assign(ids, submitted);

    // Scratch: the running job's /tmp is a directory under the server's scratch directory.
    await waitFor(
      'the scratch marker',
      () =>
        readdirSync(join(dataDir, 'scratch')).find((d) => existsSync(join(dataDir, 'scratch', d, 'scratch-marker'))),
      (d) => d !== undefined,
      30_000,
    ).then((d) => (scratchSeen = readFileSync(join(dataDir, 'scratch', d!, 'scratch-marker'), 'utf8')));

    // Restart while containers run: SIGKILL, so the server cannot tidy anything up. Not while a job is still being
    // started: an attempt whose container the crash caught between create and start is lost ("Host EC2 ...
    // terminated"), as AWS loses one on a host that dies, which is not what the other scenarios are about.
    await waitFor(
      're-attach jobs RUNNING and no job still starting',
      describeAll,
      (j) =>
        ['reattachOk', 'reattachExit', 'exitsWhileDown'].every((n) => j[ids[n]!]?.status === 'RUNNING') &&
        Object.values(ids).every((id) => ['RUNNING', 'SUCCEEDED', 'FAILED'].includes(j[id]?.status)),
    );
    await server.stop({ keepData: true, signal: 'SIGKILL' });
    await new Promise((r) => setTimeout(r, 7000)); // exitsWhileDown ends meanwhile
    server = await startTestServer({ dataDir, args: args() });

    aws(AWS_V1, server.url, server.env, [
      'batch',
      'terminate-job',
      '--job-id',
      ids.terminate!,
      '--reason',
      'test stop',
    ]);
    jobs = await waitFor(
      'every job to end',
      describeAll,
      (j) => Object.values(ids).every((id) => ['SUCCEEDED', 'FAILED'].includes(j[id]?.status)),
      120_000,
    );
  });

  after(async () => {
    await server?.stop({ keepData: true });
    const left = engine ? await containersOf(engine.docker, dataDir) : [];
    await engine?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    assert.deepEqual(left, [], 'no container is left behind');
  });

  const job = (name: string) => jobs[ids[name]!];

  void it('isolates the job from the host filesystem', () => {
    assert.equal(job('isolated').status, 'SUCCEEDED', JSON.stringify(job('isolated').container));
  });

  void it('passes the environment, with the AWS_BATCH_* variables', () => {
    assert.equal(job('env').status, 'SUCCEEDED');
    assert.equal(readFileSync(join(shared, `env-${ids.env}`), 'utf8'), `${ids.env} 1 q bar baz`);
  });

  void it('reports exit codes', () => {
    assert.equal(job('exit7').status, 'FAILED');
    assert.equal(job('exit7').container.exitCode, 7);
    assert.equal(job('exit7').statusReason, 'Essential container in task exited');
  });

  void it('enforces the memory limit and says so', () => {
    assert.equal(job('oom').status, 'FAILED');
    assert.equal(job('oom').container.exitCode, 137, JSON.stringify([job('oom').statusReason, job('oom').container]));
    assert.equal(job('oom').container.reason, 'OutOfMemoryError: Container killed due to memory usage');
  });

  void it('limits CPU to the VCPU requirement', () => {
    assert.equal(job('cpu').status, 'SUCCEEDED');
    // 0.5 vCPU = 50 ms of CPU per 100 ms period.
    assert.equal(readFileSync(join(shared, `cpu-${ids.cpu}`), 'utf8').trim(), '50000');
  });

  void it('gives each attempt a scratch /tmp on the host and removes it afterwards', () => {
    assert.equal(job('scratch').status, 'SUCCEEDED');
    assert.equal(scratchSeen, 'here\n');
    assert.deepEqual(readdirSync(join(dataDir, 'scratch')), []);
  });

  void it('terminates a running container', () => {
    const j = job('terminate');
    assert.equal(j.status, 'FAILED');
    assert.equal(j.statusReason, 'test stop');
    assert.equal(j.container.exitCode, 143, 'SIGTERM through the init process, no SIGKILL needed');
  });

  void it('stops a container whose attempt exceeds its timeout', () => {
    const j = job('timeout');
    assert.equal(j.status, 'FAILED');
    assert.equal(j.statusReason, 'Job attempt duration exceeded timeout');
    const ran = j.attempts[0].stoppedAt - j.attempts[0].startedAt;
    assert.ok(ran >= 60_000 && ran < 75_000, `ran ${ran} ms`);
  });

  void it('fails a missing image with CannotPullContainerError and the registry message', () => {
    const j = job('missingImage');
    assert.equal(j.status, 'FAILED');
    assert.match(j.container.reason, /^CannotPullContainerError: .*registry\.invalid/);
    assert.equal(j.attempts[0].statusReason, 'Task failed to start');
  });

  void it('re-attaches to containers after a restart: exit codes collected, nothing run twice', () => {
    assert.equal(job('reattachOk').status, 'SUCCEEDED');
    assert.equal(job('reattachOk').attempts.length, 1);
    assert.equal(readFileSync(join(shared, `reattach-${ids.reattachOk}`), 'utf8'), 'once\n');
    assert.equal(job('reattachExit').status, 'FAILED');
    assert.equal(job('reattachExit').container.exitCode, 3);
    assert.equal(job('exitsWhileDown').status, 'FAILED');
    assert.equal(job('exitsWhileDown').container.exitCode, 4);
  });

  void it('refuses privileged containers and host paths outside the allowlist at registration', () => {
    const register = (cp: object) =>
      py(
        `
try:
    b.register_job_definition(jobDefinitionName='bad', type='container', containerProperties=args)
    print(json.dumps({'ok': True}))
except b.exceptions.ClientException as e:
    print(json.dumps({'error': str(e)}))
`,
        server.env,
        { image: TEST_IMAGE, command: ['true'], ...cp },
      );
    assert.match(register({ privileged: true }).error, /privileged.*--allow-privileged/);
    assert.match(
      register({ volumes: [{ name: 'etc', host: { sourcePath: '/etc' } }] }).error,
      /volumes\[0\]\.host\.sourcePath "\/etc" is outside .*--volume-allowlist/,
    );
    assert.deepEqual(register({ volumes: [{ name: 's', host: { sourcePath: join(shared, 'sub') } }] }), { ok: true });
  });

  void it('answers /healthz with the docker runtime', async () => {
    const h = (await (await fetch(`${server.url}/healthz`)).json()) as { runtime: string; notes: string[] };
    assert.equal(h.runtime, 'docker');
    assert.match(h.notes.join(' '), /jobs run in containers on /);
  });
});
