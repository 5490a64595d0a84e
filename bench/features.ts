/**
 * Benchmarks of the feature issues, as Scenario functions for bench/run.ts: containers (issue 3), logs (issue 4) and
 * a 10,000-child array (issue 5).
 */
import { readFileSync } from 'node:fs';
import * as B from '@aws-sdk/client-batch';
import { sdkClient } from '../test/helpers/signed.js';
import { startTestServer } from '../test/helpers/server.js';
import { createQueue } from '../test/helpers/setup.js';
import { benchDocker } from './docker.js';
import { median, type ScenarioResult } from './harness.js';
import { benchLogs } from './logs.js';

const rssMB = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

/** Issue 3: 200 `true` containers through openbatch vs direct `docker run --rm`, and start latency. */
export async function containers({ rounds }: { rounds: number }): Promise<ScenarioResult> {
  const runs = [];
  for (let r = 0; r < rounds; r++) runs.push(await benchDocker());
  return {
    title: 'Containers: 200 jobs running `true` in busybox vs 200 `docker run --rm`',
    metrics: [
      {
        name: 'openbatch total / direct total',
        unit: '×',
        values: runs.map((x) => x.ratio),
        target: { op: '<=', value: 1.3 },
      },
      { name: 'openbatch, submit to all SUCCEEDED', unit: 's', values: runs.map((x) => x.openbatchSeconds) },
      { name: 'direct docker run --rm', unit: 's', values: runs.map((x) => x.directSeconds) },
      { name: 'RUNNABLE → RUNNING p50', unit: 'ms', values: runs.map((x) => x.startLatencyMs.p50) },
      { name: 'RUNNABLE → RUNNING p99', unit: 'ms', values: runs.map((x) => x.startLatencyMs.p99) },
    ],
    notes: [
      `A private dockerd (Docker ${'20.10'}, overlay2); parallelism = host vCPUs (${runs[0]?.parallelism}) for both.`,
    ],
  };
}

/** Issue 4: ingest of a 1,000,000-line job and a 10,000-event GetLogEvents page. */
export async function logs({ rounds }: { rounds: number }): Promise<ScenarioResult> {
  const runs = [];
  for (let r = 0; r < rounds; r++) runs.push(await benchLogs());
  return {
    title: 'Logs: a job printing 1,000,000 lines through the process runtime',
    metrics: [
      { name: 'ingest, stored', unit: 'MB/s', values: runs.map((x) => x.ingestMBps), target: { op: '>=', value: 50 } },
      {
        name: 'server RSS growth',
        unit: 'MB',
        values: runs.map((x) => x.rssGrowthMB),
        target: { op: '<=', value: 50 },
      },
      {
        name: 'GetLogEvents 10,000-event page p50',
        unit: 'ms',
        values: runs.map((x) => x.pageP50Ms),
        target: { op: '<=', value: 50 },
      },
    ],
    notes: [`${runs[0]?.storedMB.toFixed(1)} MB per run; pages read with the AWS SDK v3 over signed HTTP.`],
  };
}

/** Issue 5: an array of 10,000 `true` children on the process runtime with --vcpus 32. */
export async function array10k({ rounds }: { rounds: number }): Promise<ScenarioResult> {
  const submitMs: number[] = [];
  const rates: number[] = [];
  const rssQueued: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const nodeArgs = process.env.OPENBATCH_BENCH_NODE_ARGS?.split(' ').filter(Boolean);
    const server = await startTestServer({
      args: ['--runtime', 'process', '--vcpus', '32'],
      ...(nodeArgs ? { nodeArgs } : {}),
    });
    const sdk = sdkClient(server);
    try {
      await createQueue(sdk, {
        queue: 'q',
        ce: 'ce',
        maxvCpus: 32,
        ceState: 'DISABLED',
        definition: { name: 'jd', command: ['true'] },
      });
      const t0 = performance.now();
      const { jobId } = await sdk.send(
        new B.SubmitJobCommand({ jobName: 'a', jobQueue: 'q', jobDefinition: 'jd', arrayProperties: { size: 10_000 } }),
      );
      submitMs.push(performance.now() - t0);
      await new Promise((res) => setTimeout(res, 500));
      rssQueued.push(rssMB(server.proc.pid!));
      const t1 = performance.now();
      await sdk.send(new B.UpdateComputeEnvironmentCommand({ computeEnvironment: 'ce', state: 'ENABLED' }));
      for (;;) {
        const j = (await sdk.send(new B.DescribeJobsCommand({ jobs: [jobId!] }))).jobs![0]!;
        if (j.status === 'SUCCEEDED' || j.status === 'FAILED') {
          if (j.arrayProperties?.statusSummary?.SUCCEEDED !== 10_000)
            throw new Error(`array ended ${j.status}: ${JSON.stringify(j.arrayProperties)}`);
          break;
        }
        await new Promise((res) => setTimeout(res, 20));
      }
      rates.push(10_000 / ((performance.now() - t1) / 1000));
    } finally {
      await server.stop();
    }
  }
  return {
    title: 'Array of 10,000 `true` children, process runtime, --vcpus 32',
    metrics: [
      { name: 'SubmitJob of the array answered in', unit: 'ms', values: submitMs, target: { op: '<=', value: 300 } },
      { name: 'children completed', unit: 'children/s', values: rates, target: { op: '>=', value: 500 } },
      { name: 'server RSS with 10,000 children queued', unit: 'MB', values: rssQueued },
    ],
    notes: [
      `Children queue behind a DISABLED compute environment, which is then enabled; the rate runs from enabling to the parent SUCCEEDED (median ${median(rates).toFixed(0)}).`,
    ],
  };
}
