/**
 * Benchmarks of issue 10 (PostgreSQL): SubmitJob with 32 signed connections on PostgreSQL and on SQLite in the same
 * run, and end to end 2,000 `true` jobs on PostgreSQL. One replica; the two-replica figures need the engine split.
 * Each round uses a fresh database on the machine's PostgreSQL (127.0.0.1:5432), dropped afterwards.
 */
import * as B from '@aws-sdk/client-batch';
import { sdkClient } from '../test/helpers/signed.js';
import { startTestServer, type TestServer } from '../test/helpers/server.js';
import { createQueue } from '../test/helpers/setup.js';
import { blast, presign, type ScenarioResult } from './harness.js';

const CONCURRENCY = 32;
const JOBS = 20_000;
/** Connections per replica's pool in these runs (the server's default). */
const POOL = '16';

const submitBody = (queue: string, def: string) => (i: number) => ({
  jobName: `bench-${i}`,
  jobQueue: queue,
  jobDefinition: def,
});

async function server(store: 'sqlite' | 'postgres', args: string[] = []): Promise<TestServer> {
  return startTestServer({
    store,
    args: ['--runtime', 'process', ...args],
    env: { OPENBATCH_DATABASE_POOL_SIZE: POOL },
  });
}

async function submitRate(store: 'sqlite' | 'postgres'): Promise<number> {
  const srv = await server(store);
  try {
    await createQueue(sdkClient(srv), {
      queue: 'q',
      ce: 'held',
      maxvCpus: 0,
      ceState: 'DISABLED',
      definition: { name: 'jd', command: ['true'] },
    });
    const reqs = await presign(srv.url, srv, '/v1/submitjob', submitBody('q', 'jd'), JOBS);
    await blast(srv.url, reqs.slice(0, 500), CONCURRENCY); // warm-up: JIT, connections, prepared statements
    const { ms, errors } = await blast(srv.url, reqs, CONCURRENCY);
    if (errors.length) throw new Error(`${store} SubmitJob errors: ${errors.slice(0, 3).join('; ')}`);
    return (JOBS / ms) * 1000;
  } finally {
    await srv.stop();
  }
}

/** SubmitJob, 32 signed keep-alive connections, durable commits: PostgreSQL (one replica) and SQLite in one run. */
export async function submitPostgres({ rounds }: { rounds: number }): Promise<ScenarioResult> {
  const pg: number[] = [];
  const sqlite: number[] = [];
  for (let r = 0; r < rounds; r++) {
    pg.push(await submitRate('postgres'));
    sqlite.push(await submitRate('sqlite'));
  }
  return {
    title: 'SubmitJob on PostgreSQL vs SQLite (32 concurrent signed connections, one replica)',
    metrics: [
      { name: 'PostgreSQL, one replica', unit: 'jobs/s', values: pg, target: { op: '>=', value: 2500 } },
      { name: 'SQLite (same run)', unit: 'jobs/s', values: sqlite },
      { name: 'PostgreSQL / SQLite', unit: '×', values: pg.map((v, i) => v / sqlite[i]!) },
    ],
    notes: [
      `${JOBS.toLocaleString('en')} SubmitJob requests per round and backend, each SigV4-signed before timing, over ${CONCURRENCY} keep-alive sockets; a 200 means the job is committed (PostgreSQL 15 on the same machine, synchronous_commit on, pool of ${POOL} connections; SQLite WAL synchronous=FULL). The queue's CE is DISABLED so jobs only queue. The database server shares the machine's cores with openbatch and the load generator.`,
      "2026-11-27 (this table): SubmitJob on the leader no longer waits for the engine's pending writes before it looks up dependencies (a whole barrier, even for none); the figures are from an idle machine (01:18 UTC).",
    ],
  };
}

/** End to end on PostgreSQL: 2,000 jobs running `true` (1 vCPU each) on --vcpus 32, first submit to all SUCCEEDED. */
export async function endToEndPostgres({ rounds }: { rounds: number }): Promise<ScenarioResult> {
  const N = 2_000;
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const srv = await server('postgres', ['--vcpus', '32']);
    try {
      const sdk = sdkClient(srv);
      await createQueue(sdk, { queue: 'q', ce: 'ce', maxvCpus: 32, definition: { name: 'jd', command: ['true'] } });
      const reqs = await presign(srv.url, srv, '/v1/submitjob', submitBody('q', 'jd'), N);
      const t0 = performance.now();
      const { errors } = await blast(srv.url, reqs, CONCURRENCY);
      if (errors.length) throw new Error(`SubmitJob errors: ${errors.slice(0, 3).join('; ')}`);
      for (;;) {
        const h = (await (await fetch(`${srv.url}/healthz`)).json()) as { jobs: { active: number } };
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
      await srv.stop();
    }
  }
  return {
    title: 'End to end on PostgreSQL: 2,000 jobs running `true`, --vcpus 32, one replica',
    metrics: [
      { name: 'first submit to all SUCCEEDED', unit: 'jobs/s', values: rates, target: { op: '>=', value: 300 } },
    ],
    notes: ['Process runtime; state and job logs in PostgreSQL; all 2,000 verified SUCCEEDED with ListJobs.'],
  };
}
