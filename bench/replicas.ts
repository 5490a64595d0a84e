/**
 * Benchmarks of issue 10 that need several replicas on one PostgreSQL database: SubmitJob spread over two replicas
 * against one replica in the same run, a follower's 200 to RUNNABLE, and failover (kill -9 of the leader to the next
 * job RUNNING). Every round uses a fresh database on the machine's PostgreSQL, dropped afterwards.
 */
import { readFileSync } from 'node:fs';
import * as B from '@aws-sdk/client-batch';
import pg from 'pg';
import { sdkClient } from '../test/helpers/signed.js';
import { health, leaderOf, startReplicas, type Replicas } from '../test/helpers/replicas.js';
import type { TestServer } from '../test/helpers/server.js';
import { createQueue } from '../test/helpers/setup.js';
import { blast, median, percentile, presign, type ScenarioResult } from './harness.js';

const CONCURRENCY = 32;
const JOBS = 10_000;
const POOL = '16';

// OPENBATCH_BENCH_NODE_ARGS (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof) profiles each replica.
const nodeArgs = process.env.OPENBATCH_BENCH_NODE_ARGS?.split(' ').filter(Boolean);

const replicas = (n: number, leaseMs?: number): Promise<Replicas> =>
  startReplicas(n, {
    ...(nodeArgs ? { nodeArgs } : {}),
    args: ['--runtime', 'process', '--vcpus', '8'],
    env: { OPENBATCH_DATABASE_POOL_SIZE: POOL },
    ...(leaseMs !== undefined ? { leaseMs } : {}),
  });

const submitBody = (i: number) => ({ jobName: `bench-${i}`, jobQueue: 'q', jobDefinition: 'jd' });

/** CPU time (user + system, every thread) a process has used so far, in ms, from /proc (0 once it is gone). */
function cpuMs(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in clock ticks of 10 ms
  } catch {
    return 0;
  }
}

/** CPU so far of the PostgreSQL backends connected to the round's database (same machine), in ms, by pid. */
async function backendsCpuMs(url: string): Promise<Map<number, number>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    return new Map(rows.map((r) => [r.pid, cpuMs(r.pid)]));
  } finally {
    await c.end();
  }
}

interface Round {
  rate: number;
  /** ms of CPU per 1,000 jobs submitted in all: each replica (the leader first), PostgreSQL's backends, generator. */
  replicas: number[];
  postgres: number;
  generator: number;
}

/** SubmitJob requests/s with 32 connections spread evenly over `n` replicas (jobs queue on a DISABLED CE). */
async function submitRate(n: number): Promise<Round> {
  const rs = await replicas(n);
  try {
    // The leader first (the replica started first, as a rule).
    const { leader } = await leaderOf(rs.servers);
    const procs = [leader, ...rs.servers.filter((s) => s !== leader)];
    await createQueue(sdkClient(rs.servers[0]!), {
      queue: 'q',
      ce: 'held',
      maxvCpus: 0,
      ceState: 'DISABLED',
      definition: { name: 'jd', command: ['true'] },
    });
    const per = Math.floor(JOBS / n);
    const batches = await Promise.all(
      rs.servers.map((s, k) => presign(s.url, s, '/v1/submitjob', (i) => submitBody(k * per + i), per)),
    );
    await Promise.all(rs.servers.map((s, k) => blast(s.url, batches[k]!.slice(0, 300), CONCURRENCY / n)));
    const pg0 = await backendsCpuMs(rs.db.url);
    const cpu0 = procs.map((s) => cpuMs(s.proc.pid));
    const gen0 = process.cpuUsage();
    const t0 = performance.now();
    const runs = await Promise.all(rs.servers.map((s, k) => blast(s.url, batches[k]!, CONCURRENCY / n)));
    const ms = performance.now() - t0;
    const gen = process.cpuUsage(gen0);
    const cpu1 = procs.map((s) => cpuMs(s.proc.pid));
    const pg1 = await backendsCpuMs(rs.db.url);
    const errors = runs.flatMap((r) => r.errors);
    if (errors.length) throw new Error(`SubmitJob errors: ${errors.slice(0, 3).join('; ')}`);
    const jobs = per * n;
    let postgres = 0;
    for (const [pid, after] of pg1) postgres += after - (pg0.get(pid) ?? 0);
    return {
      rate: (jobs / ms) * 1000,
      replicas: cpu1.map((c, i) => ((c - cpu0[i]!) / jobs) * 1000),
      postgres: (postgres / jobs) * 1000,
      generator: ((gen.user + gen.system) / 1000 / jobs) * 1000,
    };
  } finally {
    await rs.stop();
  }
}

/** SubmitJob on PostgreSQL: one replica vs two replicas in the same run. */
export async function submitTwoReplicas({ rounds }: { rounds: number }): Promise<ScenarioResult> {
  const one: Round[] = [];
  const two: Round[] = [];
  for (let r = 0; r < rounds; r++) {
    one.push(await submitRate(1));
    two.push(await submitRate(2));
  }
  const all = (r: Round) => r.replicas.reduce((a, b) => a + b, 0) + r.postgres + r.generator;
  const cpu = (name: string, values: number[]) => ({ name, unit: 'ms / 1,000 jobs', values });
  return {
    title: 'SubmitJob on PostgreSQL: one replica vs two (32 signed connections in all)',
    metrics: [
      { name: 'one replica', unit: 'jobs/s', values: one.map((r) => r.rate) },
      { name: 'two replicas', unit: 'jobs/s', values: two.map((r) => r.rate) },
      {
        name: 'two / one',
        unit: '×',
        values: two.map((r, i) => r.rate / one[i]!.rate),
        target: { op: '>=', value: 1 },
      },
      cpu(
        'CPU, one: the replica',
        one.map((r) => r.replicas[0]!),
      ),
      cpu(
        'CPU, one: PostgreSQL backends',
        one.map((r) => r.postgres),
      ),
      cpu('CPU, one: all (with the load generator)', one.map(all)),
      cpu(
        'CPU, two: the leader',
        two.map((r) => r.replicas[0]!),
      ),
      cpu(
        'CPU, two: the follower',
        two.map((r) => r.replicas[1]!),
      ),
      cpu(
        'CPU, two: PostgreSQL backends',
        two.map((r) => r.postgres),
      ),
      cpu('CPU, two: all (with the load generator)', two.map(all)),
    ],
    notes: [
      `${JOBS.toLocaleString('en')} signed SubmitJob requests per round, pre-signed, over ${CONCURRENCY} keep-alive connections split evenly over the replicas; PostgreSQL 15 on the same 2-core machine as the replicas and the load generator (so two replicas share the same two cores: the figure shows what the shared database allows, not what two machines would).`,
      'CPU rows: ms of CPU (user + system, every thread, from /proc/PID/stat) per 1,000 jobs submitted in all, over the timed submits: each replica, the PostgreSQL backends of the round\'s database, and "all" adds the load generator (this process, process.cpuUsage()). With the 2 cores saturated, throughput is the CPU available over the CPU per job: the CPU rows are the measure that does not move with the machine\'s load; the rates do.',
      "Since 2026-11-26 evening (e44cd3b): a follower's `jobs-submitted` signal carries, for each RUNNABLE job that may be held compactly, what the leader needs to file it (queue, times, share, priority, resources, consumables, the reason the follower gave it, the owner's PI group: core/submitted-signal.ts); the leader holds it compactly without reading its document (it is read back before it starts or is cancelled, as for a restarted leader's compact jobs), and reads by id only SUBMITTED jobs, jobs whose never-fits reason it disagrees with, and jobs it dropped lately. Every replica's dashboard parses `job-changes` only while a browser listens.",
      "Measured 21:24-21:49 UTC at load average 1.5-2.5 on 2 cores (other helpers' tests in between), each build with the CPU rows above. Before (cfc9a61, 2 rounds): two / one 0.47, 0.73 (one 1,751 and 1,272 jobs/s, two 829 and 931); CPU per 1,000 jobs: one replica 477-534 + PostgreSQL 118-127 = 654-735 in all; two: leader 466-469, follower 340-343, PostgreSQL 196-210 = 1,082-1,083 in all. After (6 rounds in two runs): two / one 0.53, 0.91, 0.91, 0.82, 1.07, 0.88 (one 1,413-2,282 jobs/s, two 1,056-2,010); one 586-794 ms in all (replica 435-567, PostgreSQL 101-151); two 903-1,109 in all (leader 364-453, follower 318-374, PostgreSQL 160-203). The rate of two replicas rose (median two / one 0.60 -> 0.89) but their CPU per job hardly moved (the leader saves 20-100 ms per 1,000 jobs, within the noise of the total): at this load the cores were not saturated, and what the leader no longer does is a round trip and a parse per signal in its event loop (it serves half the requests), not much CPU.",
      "What bounds it: two replicas spend about 1.5 times the CPU per job of one (1,000-1,100 against 650-800 ms per 1,000 jobs): each replica commits half the batches (group commits halve: PostgreSQL 160-210 against 100-150 ms), the follower's submit costs 0.64-0.75 ms of its CPU against a lone replica's 0.44-0.57, and the leader still files, announces and publishes (job-changes to every replica) every job. With the 2 cores shared by both replicas, PostgreSQL and the load generator, throughput is at most CPU over CPU per job: about 1,800-2,000 jobs/s for two replicas, which one replica reaches on its own thread with 1.4 cores. The target is met only in some rounds (1.07); on two machines (or more cores) the second replica adds its own core. Earlier (18:41, load 4.9-7.5, a diagnostic harness): two / one 0.63, CPU 840-1,060 ms per 1,000 jobs for one and 1,410-1,630 for two.",
      "2026-11-27 (this table, 01:17 UTC, idle machine): SubmitJob no longer waits for the leader's pending engine writes (it waited for a whole barrier to look up dependencies, even none): one replica 2,164-2,275 jobs/s (1,621 in the previous table), two 1,757-1,818 (1,074); two / one 0.80-0.81. CPU per 1,000 jobs: one 655-698 in all, two 984-1,004: two replicas still spend 1.5 times the CPU per job of one, and with both, PostgreSQL and the load generator on the same 2 cores they are bound by it (1,815 jobs/s at 998 ms per 1,000 jobs is 1.8 cores), while one replica at 2,256 jobs/s uses 1.5 cores (its event loop is the bound). On one 2-core machine two replicas could beat one only if coordinating them cost no CPU: the target needs the second replica on cores of its own, which this machine does not have.",
    ],
  };
}

/** A follower's 200 to RUNNABLE (the leader learns of the job from the store), and failover time after kill -9. */
export async function followerAndFailover({ rounds }: { rounds: number }): Promise<ScenarioResult> {
  const toRunnable: number[] = [];
  const failover: number[] = [];
  for (let r = 0; r < Math.max(rounds, 5); r++) {
    // The server's default lease (5 s): what an operator gets without tuning.
    const rs = await replicas(3, 5000);
    try {
      const { leader } = await leaderOf(rs.servers);
      const followers = rs.servers.filter((s) => s !== leader);
      const sdk = sdkClient(leader);
      await createQueue(sdk, {
        queue: 'held',
        ce: 'held',
        maxvCpus: 0,
        ceState: 'DISABLED',
        definition: { name: 'jd', command: ['true'] },
      });
      await createQueue(sdk, { queue: 'q', ce: 'ce', maxvCpus: 8 });
      if (r < rounds) toRunnable.push(...(await followerToRunnable(followers[0]!, 40)));
      failover.push(await failoverMs(leader, followers));
    } finally {
      await rs.stop();
    }
  }
  return {
    title: 'Replicas on PostgreSQL: a follower 200 → RUNNABLE, and failover after kill -9 of the leader',
    metrics: [
      {
        name: 'follower 200 → RUNNABLE, p50',
        unit: 'ms',
        values: [median(toRunnable)],
        target: { op: '<=', value: 100 },
      },
      { name: 'follower 200 → RUNNABLE, p99', unit: 'ms', values: [percentile(toRunnable, 99)] },
      { name: 'failover, median of rounds', unit: 's', values: [median(failover)], target: { op: '<=', value: 10 } },
      {
        name: 'failover, worst of rounds',
        unit: 's',
        values: [Math.max(...failover)],
        target: { op: '<=', value: 10 },
      },
    ],
    notes: [
      `Three replicas, --leader-lease-ms 5000 (the default). 200 → RUNNABLE: ${toRunnable.length} jobs submitted one at a time to a follower, each polled on that follower with DescribeJobs every 5 ms until RUNNABLE (its queue's environment is DISABLED, so jobs stop there). Failover (${failover.length} rounds: ${failover.map((s) => s.toFixed(1)).join(', ')} s): kill -9 of the leader, then at once a job submitted on a follower; the time until DescribeJobs on that follower says RUNNING.`,
    ],
  };
}

async function followerToRunnable(follower: TestServer, n: number): Promise<number[]> {
  const sdk = sdkClient(follower);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const { jobId } = await sdk.send(
      new B.SubmitJobCommand({ jobName: `f${i}`, jobQueue: 'held', jobDefinition: 'jd' }),
    );
    for (;;) {
      const j = (await sdk.send(new B.DescribeJobsCommand({ jobs: [jobId!] }))).jobs![0]!;
      if (j.status === 'RUNNABLE') break;
      await new Promise((res) => setTimeout(res, 5));
    }
    out.push(performance.now() - t0);
  }
  return out;
}

async function failoverMs(leader: TestServer, followers: TestServer[]): Promise<number> {
  const via = followers[0]!;
  const sdk = sdkClient(via);
  const t0 = performance.now();
  leader.proc.kill('SIGKILL');
  // The follower answers at once (it is not the leader); the job runs once a new leader takes over.
  let jobId: string | undefined;
  while (!jobId) {
    try {
      jobId = (await sdk.send(new B.SubmitJobCommand({ jobName: 'after', jobQueue: 'q', jobDefinition: 'jd' }))).jobId;
    } catch {
      await new Promise((res) => setTimeout(res, 20));
    }
  }
  for (;;) {
    const j = (await sdk.send(new B.DescribeJobsCommand({ jobs: [jobId] }))).jobs![0]!;
    if (j.status === 'RUNNING' || j.status === 'SUCCEEDED') break;
    if (performance.now() - t0 > 120_000) throw new Error(`no job ran within 120 s of the kill: ${j.status}`);
    await new Promise((res) => setTimeout(res, 20));
  }
  const s = (performance.now() - t0) / 1000;
  // The new leader must be one of the survivors.
  const h = await health(via);
  if (!h.leader || 'error' in h.leader) throw new Error(`no leader after failover: ${JSON.stringify(h)}`);
  return s;
}
