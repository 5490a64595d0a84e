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
  notes.push(
    "Where the SubmitJob rate went (investigated 2026-11-26, 13:55-14:48 UTC, load average 4-16 on the 2 cores from other sessions): the code of the 7,032 jobs/s run (d9a9c76) and the current code were run alternately with the same load generator, 10,000 jobs each: d9a9c76 2,838, 2,675, 2,301, 1,829, 2,015, 1,579, 1,546, 1,879 jobs/s (median 1,947); current 2,074, 2,412, 1,280, 2,418, 1,396, 1,417, 1,727, 1,386 (median 1,572). So most of the fall from 7,032 is the machine: the old code measures 1,500-2,800 today too. What the code added is about 20% of the rate and 40 µs of server CPU per request (d9a9c76 median 211 µs, current 251 µs, all threads from /proc). CPU profiles of a 20,000-job run of each (node --cpu-prof, `OPENBATCH_BENCH_NODE_ARGS` or bench/profile-submit.ts) show the same main-thread time per request in both, 142 µs: the added CPU is off the main thread (SQLite writer thread and V8's GC threads), not in the API edge, auth, audit, metrics or validation. Main-thread costs per request today: SigV4 verification 21 µs, writing the response 17 µs, handing the batch to the writer thread (rows and postMessage) 15 µs, GC 12 µs, the engine's submitLocal 8 µs, metrics and audit hooks under 3 µs each. The main thread is about half idle during the run: the rate is bound by the round trip of a group commit (32 clients each wait for an fsync; fdatasync on this disk measured p50 2.5-3.5 ms, p90 8-16 ms, p99 40-65 ms at 13:57), and each commit needs several thread and process wake-ups, which a loaded machine delays; moto (one process, no fsync) loses much less, so the ratio falls with the load. With the writer's fsync turned off (a diagnostic build, not a change) the rate in the same minutes was 1,606 and 3,171 jobs/s: fsync is part of it, CPU contention most. Changes made: every durable write besides job batches (CancelJob/TerminateJob intents, TagResource, the leader lease, heartbeats, audit batches) left the main thread (3b17b59), the engine's published RUNNABLE count no longer walks the queue, prepared statements are kept (60b417d). None of them moves this rate measurably on today's machine; the 10× target is not met here today and needs a run on an idle machine to say whether it still is. The table of 15:07 that day (load average 6.5-7.4, 3 rounds), the least loaded moment of the afternoon, measured 2,808 jobs/s, 5.7× moto, 196 µs of server CPU per request; a single round at 14:43 (load 11.7) gave 1,748 jobs/s and 4.9×.",
    "Since decision 0018 (2026-11-27): the writer thread's answers are read between requests, and the next batch still starts at the end of the turn. Alternating single rounds at 09:25-09:35 UTC on this Intel VM: 3,739 and 3,540 jobs/s with it against 3,511 and 3,277 without (server CPU 357-386 against 365-399 µs per SubmitJob); starting the next batch at once instead measured 2,877-3,232 jobs/s at 435-517 µs (smaller batches, more commits). This table (10:19-10:25 UTC, idle machine): 3,585 jobs/s, 10.8× moto (met), 368 µs; 5,000 jobs/s is not met here.",
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
  const floor: number[] = [];
  for (let r = 0; r < rounds; r++) {
    floor.push(processStartFloor(N));
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
      {
        name: 'peer: xargs -P 32 running the same 2,000 `true` (no server)',
        unit: 'processes/s',
        values: floor,
        notes: "this machine's own rate of starting and reaping processes, the ceiling of any process runtime here",
      },
      { name: 'openbatch / xargs', unit: '×', values: rates.map((v, i) => v / floor[i]!) },
    ],
    notes: [
      'Process runtime; job definition vcpus 1; CE maxvCpus 32; submitted over 32 connections; all 2,000 verified SUCCEEDED with ListJobs.',

      'History: 597 jobs/s (597, 616, 559) on 2026-11-21 (AMD EPYC VM) after the per-job CPU work (log stream rows batched, spawner helpers); 468 before that work and 59 before the spawner helpers.',
      "2026-11-27 morning (the Intel VM, idle, 10:29 UTC): 410 jobs/s (434, 394, 410), below the target met on 2026-11-21. The code of 2026-11-21 (29a5299), built and run alternately with today's on this machine (10:26-10:27 UTC, one round each), measured 483 and 446 jobs/s against 374 and 343, a fifth less for today's; a second diagnostic at 10:48-10:51 (a script outside the repository: the same 2,000 jobs, completion polled with ListJobs, CPU of the server and of its helpers and jobs read from /proc) measured 288 and 291 jobs/s for the old code against 229 and 290 (server CPU per job 1.89-1.92 ms against 2.11-2.72): whether the week's changes cost a fifth or the machine's noise made it look so is not settled. Decisions 0018 and the log store's checkpointer thread change nothing here (e112b12 against them, alternating: 423 and 404 against 418 and 399). In a diagnostic run (a script outside the repository, the same 2,000 jobs submitted in waves of 32) the 2 cores were saturated: the server about 65% of a core, the submitting client 45%, the two spawner helpers 15-25% each and the `true` processes the rest; a job runs (startedAt to stoppedAt) 33 ms at the median and 13 of the 32 slots are busy on average. A next step: longer alternating runs of both, with a profile of the spawner helpers beside the server's.",
      "2026-11-27, 13:05-13:25 UTC (68.6 jobs/s, 70.6, 68.6, 66.9, against xargs' 222 processes/s: 0.32x), on another VM of this kind (AMD EPYC, like the 2026-11-21 row, but a kernel that is a nested-virtualisation guest): 59-71 jobs/s, and the cause is the machine. The code of the morning (016bb57) and of this stop, run alternately one round each: 51.4, 70.0 and 71.1 against 69.1, 70.7 and 70.4 jobs/s. Starting processes is what is slow here: `seq 2000 | xargs -P 32 -n 1 true` takes 8.8-9.0 s (224-228 processes/s; 270/s one at a time, so parallelism does not help), against about 2 s on the machines of the earlier rows. A C program measured fork+exec of /bin/true at 2.72 ms from a 5 MB process, 4.32 from 50 MB and 12.85 from 200 MB, posix_spawn at 1.77-1.99 ms: each page-table copy and copied page is costly under this virtualisation. The spawner helper alone (its protocol driven directly, 200 `true` with 32 in flight, a script outside the repository) runs 90-95 jobs/s (Perl) and 134 (Node); a `true` job took 224 ms from started to stopped at the median with 32 running, 4 ms alone. A Perl spawner that set up the child's cgroup, directory and environment before the fork, so the child ran almost nothing before exec, gained under 10%, and one that forked the next child without waiting for the last one's exec measured slower (200 jobs in 2.64 s against 2.10-2.18 on the quiet machine): neither was kept. Hence the peer row (from this run on): the machine's own process-start rate beside openbatch's, so that rounds on different machines compare by their ratio.",
      "2026-11-27, 16:23 UTC (this table), an Intel VM that starts processes quickly (xargs about 1,400 processes/s, six times the 13:05 VM's): 431 jobs/s, 0.32x of xargs, the same ratio as on the slow VM, so what stands between openbatch and 500 jobs/s here is its own cost per job, about 3.4 process starts' worth. A CPU profile of a round (15:37 UTC): the server's main thread was busy about 3 s of the 5.3 s run and its SQLite writer thread 2.7 s (2.3 s in better-sqlite3's transactions: four writes a job); the rest of the 2 cores ran the spawner helpers, the `true` processes and the load generator. Deferring RUNNING's write on SQLite too (it is on PostgreSQL), so a short job's RUNNING and end commit as one write, measured 453 and 434 jobs/s against 429-439: within the noise, not kept.",
    ],
  };
}

/**
 * The machine's own rate of running `n` short processes 32 at a time, with nothing else in the way: what a process
 * runtime cannot beat here. Machines differ in it by several times (the cost of fork and exec under their
 * virtualisation), so it is measured beside openbatch in the same round.
 */
function processStartFloor(n: number): number {
  const t0 = performance.now();
  const r = spawnSync('sh', ['-c', `seq ${n} | xargs -P ${CONCURRENCY} -n 1 true`]);
  if (r.status !== 0) throw new Error(`xargs failed: ${r.stderr.toString()}`);
  return (n / (performance.now() - t0)) * 1000;
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
