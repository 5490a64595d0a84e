/** Benchmarks of issue 2 (the core service): SubmitJob throughput vs moto, end-to-end throughput, start latency. */
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import * as B from '@aws-sdk/client-batch';
import { sdkClient } from '../test/helpers/signed.js';
import { startTestServer, type TestServer } from '../test/helpers/server.js';
import { createQueue } from '../test/helpers/setup.js';
import { cpuMsOf } from '../test/chaos/soak-load.js';
import { blast, percentile, presign, startMoto, type ScenarioResult } from './harness.js';

const CONCURRENCY = 32;
const OB_JOBS = 20_000;
const MOTO_JOBS = 1_000;

const submitBody = (queue: string, def: string) => (i: number) => ({
  jobName: `bench-${i}`,
  jobQueue: queue,
  jobDefinition: def,
});

async function openbatch(args: string[]): Promise<{ server: TestServer; sdk: B.BatchClient }> {
  const nodeArgs = process.env.OPENBATCH_BENCH_NODE_ARGS?.split(' ').filter(Boolean);
  const server = await startTestServer({ args: ['--runtime', 'process', ...args], ...(nodeArgs ? { nodeArgs } : {}) });
  return { server, sdk: sdkClient(server) };
}

/** (a) SubmitJob with 32 concurrent keep-alive connections, pre-signed; openbatch queues only (DISABLED CE); moto in the same run. */
export async function submitThroughput({ rounds }: { rounds: number }): Promise<ScenarioResult> {
  const ob: number[] = [];
  const moto: number[] = [];
  const serverCpu: number[] = [];
  const load: number[] = [];
  const notes: string[] = [];
  for (let r = 0; r < rounds; r++) {
    const { server, sdk } = await openbatch([]);
    try {
      await createQueue(sdk, {
        queue: 'q',
        ce: 'held',
        maxvCpus: 0,
        ceState: 'DISABLED',
        definition: { name: 'jd', command: ['true'] },
      });
      const reqs = await presign(server.url, server, '/v1/submitjob', submitBody('q', 'jd'), OB_JOBS);
      await blast(server.url, reqs.slice(0, 500), CONCURRENCY); // warm-up: JIT and connections
      const cpu0 = cpuMsOf(server.proc.pid!);
      const { ms, errors } = await blast(server.url, reqs, CONCURRENCY);
      if (errors.length) throw new Error(`openbatch SubmitJob errors: ${errors.join('; ')}`);
      ob.push((OB_JOBS / ms) * 1000);
      serverCpu.push(((cpuMsOf(server.proc.pid!) - cpu0) * 1000) / OB_JOBS);
      load.push(loadavg()[0]!);
    } finally {
      await server.stop();
    }

    const m = await startMoto();
    try {
      const creds = { accessKeyId: 'AKIAMOTO000000000000', secretAccessKey: 'moto' };
      // moto requires a real IAM role for serviceRole: create it through moto's IAM API with boto3.
      const py = spawnSync(
        'python3',
        [
          '-c',
          `
import boto3
iam = boto3.client('iam', endpoint_url='${m.url}', region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x')
print(iam.create_role(RoleName='batch', AssumeRolePolicyDocument='{}')['Role']['Arn'])`,
        ],
        { encoding: 'utf8' },
      );
      if (py.status !== 0) throw new Error(`creating the moto IAM role failed: ${py.stderr}`);
      const role = py.stdout.trim();
      const sdk = new B.BatchClient({ endpoint: m.url, region: 'us-east-1', credentials: creds, maxAttempts: 1 });
      await sdk.send(
        new B.CreateComputeEnvironmentCommand({
          computeEnvironmentName: 'held',
          type: 'UNMANAGED',
          state: 'DISABLED',
          serviceRole: role,
        }),
      );
      await sdk.send(
        new B.CreateJobQueueCommand({
          jobQueueName: 'q',
          priority: 1,
          state: 'ENABLED',
          computeEnvironmentOrder: [{ order: 1, computeEnvironment: 'held' }],
        }),
      );
      await sdk.send(
        new B.RegisterJobDefinitionCommand({
          jobDefinitionName: 'jd',
          type: 'container',
          containerProperties: { image: 'busybox', vcpus: 1, memory: 16, command: ['true'] },
        }),
      );
      const reqs = await presign(m.url, creds, '/v1/submitjob', submitBody('q', 'jd'), MOTO_JOBS);
      await blast(m.url, reqs.slice(0, 50), CONCURRENCY);
      const { ms, errors } = await blast(m.url, reqs, CONCURRENCY);
      if (errors.length) throw new Error(`moto SubmitJob errors: ${errors.join('; ')}`);
      moto.push((MOTO_JOBS / ms) * 1000);
    } finally {
      await m.stop();
    }
  }
  const ratio = ob.map((v, i) => v / moto[i]!);
  notes.push(
    `${OB_JOBS.toLocaleString('en')} SubmitJob requests per round to openbatch, ${MOTO_JOBS.toLocaleString('en')} to moto (moto is much slower); ${CONCURRENCY} keep-alive sockets (a minimal HTTP/1.1 client, requests built before timing), every request SigV4-signed before timing; openbatch answers only after the job is committed to SQLite (WAL, synchronous=FULL); the queue's CE is DISABLED so jobs only queue. moto_server with use_docker=false, UNMANAGED DISABLED CE. The rate of openbatch is bound by the round trip of a group commit (the 32 clients wait for their fsync; the main thread, the SQLite writer thread and the load generator hand off to each other several times per commit), so other load on the machine and a slow fsync cut it far more than moto's (one process, no fsync): read it with the load average (${load.map((l) => l.toFixed(1)).join(', ')} on ${cpus().length} cores at the end of openbatch's rounds) and the server's CPU per request.`,
  );
  return {
    title: 'SubmitJob throughput (32 concurrent signed connections)',
    metrics: [
      { name: 'openbatch SubmitJob', unit: 'jobs/s', values: ob, target: { op: '>=', value: 5000 } },
      { name: 'moto SubmitJob', unit: 'jobs/s', values: moto },
      { name: 'openbatch / moto', unit: '×', values: ratio, target: { op: '>=', value: 10 } },
      {
        name: 'openbatch server CPU per SubmitJob (all threads)',
        unit: 'µs',
        values: serverCpu,
        notes: 'what the machine cannot skew as much as the rate',
      },
    ],
    notes,
  };
}

/** (b) 2,000 jobs running `true` (1 vCPU each) on --vcpus 32, first submit to all SUCCEEDED. */
export async function endToEnd({ rounds }: { rounds: number }): Promise<ScenarioResult> {
  const N = 2_000;
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const { server, sdk } = await openbatch(['--vcpus', '32']);
    try {
      await createQueue(sdk, { queue: 'q', ce: 'ce', maxvCpus: 32, definition: { name: 'jd', command: ['true'] } });
      const reqs = await presign(server.url, server, '/v1/submitjob', submitBody('q', 'jd'), N);
      const t0 = performance.now();
      const { errors } = await blast(server.url, reqs, CONCURRENCY);
      if (errors.length) throw new Error(`SubmitJob errors: ${errors.join('; ')}`);
      // Done when no job is active any more (healthz counts them), then check every one SUCCEEDED. Every 20 ms: at
      // 5 ms the polls took a few percent of the CPU the run is measuring, for at most 15 ms of a multi-second run.
      for (;;) {
        const h = (await (await fetch(`${server.url}/healthz`)).json()) as { jobs: { active: number } };
        if (h.jobs.active === 0) break;
        await new Promise((res) => setTimeout(res, 20));
      }
      const ms = performance.now() - t0;
      let ok = 0;
      let nextToken: string | undefined;
      do {
        const p = await sdk.send(
          new B.ListJobsCommand({
            jobQueue: 'q',
            jobStatus: 'SUCCEEDED',
            maxResults: 1000,
            ...(nextToken ? { nextToken } : {}),
          }),
        );
        ok += p.jobSummaryList!.length;
        nextToken = p.nextToken;
      } while (nextToken);
      if (ok !== N) throw new Error(`only ${ok} of ${N} jobs SUCCEEDED`);
      rates.push((N / ms) * 1000);
    } finally {
      await server.stop();
    }
  }
  return {
    title: 'End to end: 2,000 jobs running `true`, --vcpus 32',
    metrics: [
      { name: 'first submit to all SUCCEEDED', unit: 'jobs/s', values: rates, target: { op: '>=', value: 500 } },
    ],
    notes: [
      'Process runtime; job definition vcpus 1; CE maxvCpus 32; submitted over 32 connections; all 2,000 verified SUCCEEDED with ListJobs.',
    ],
  };
}

/** (c) Submit-to-RUNNING latency on an idle queue, from the job's own createdAt/startedAt. */
export async function startLatency({ rounds }: { rounds: number }): Promise<ScenarioResult> {
  const SAMPLES = 100;
  const p50: number[] = [];
  const p99: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const { server, sdk } = await openbatch(['--vcpus', '4']);
    try {
      await createQueue(sdk, { queue: 'q', ce: 'ce', maxvCpus: 4, definition: { name: 'jd', command: ['true'] } });
      const lat: number[] = [];
      for (let i = 0; i < SAMPLES + 5; i++) {
        const { jobId } = await sdk.send(
          new B.SubmitJobCommand({ jobName: `l${i}`, jobQueue: 'q', jobDefinition: 'jd' }),
        );
        let j: B.JobDetail;
        for (;;) {
          j = (await sdk.send(new B.DescribeJobsCommand({ jobs: [jobId!] }))).jobs![0]!;
          if (j.status === 'SUCCEEDED' || j.status === 'FAILED') break;
          await new Promise((res) => setTimeout(res, 2));
        }
        if (i >= 5) lat.push(j.startedAt! - j.createdAt!); // the first few warm the JIT
      }
      p50.push(percentile(lat, 50));
      p99.push(percentile(lat, 99));
    } finally {
      await server.stop();
    }
  }
  return {
    title: 'Submit-to-RUNNING latency, idle queue',
    metrics: [
      { name: 'p50 startedAt − createdAt', unit: 'ms', values: p50, target: { op: '<=', value: 20 } },
      { name: 'p99 startedAt − createdAt', unit: 'ms', values: p99 },
    ],
    notes: [
      `${SAMPLES} jobs per round, one at a time, each waited for before the next; times are the job's own createdAt (accepted) and startedAt (process spawned).`,
    ],
  };
}
