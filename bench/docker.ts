/**
 * Container overhead: 200 jobs running `true` in the busybox test image through openbatch (submit -> SUCCEEDED),
 * against the same 200 `docker run --rm` done directly, both with parallelism = the host's vCPUs; then the container
 * start latency (RUNNABLE -> RUNNING) of jobs submitted one at a time onto free capacity.
 * Run: `node dist/bench/docker.js` (starts its own dockerd when none answers, like the tests).
 */
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { pathToFileURL } from 'node:url';
import {
  BatchClient,
  CreateComputeEnvironmentCommand,
  CreateJobQueueCommand,
  DescribeJobsCommand,
  RegisterJobDefinitionCommand,
  SubmitJobCommand,
} from '@aws-sdk/client-batch';
import { startTestEngine, TEST_IMAGE } from '../test/helpers/docker.js';
import { startTestServer } from '../test/helpers/server.js';

export interface DockerBenchResult {
  jobs: number;
  parallelism: number;
  openbatchSeconds: number;
  directSeconds: number;
  ratio: number;
  startLatencyMs: { p50: number; p99: number; samples: number };
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

async function dockerRun(host: string): Promise<void> {
  await new Promise<void>((res, rej) => {
    const p = spawn('docker', ['-H', host, 'run', '--rm', TEST_IMAGE, 'true'], { stdio: 'ignore' });
    p.once('error', rej);
    p.once('exit', (code) => (code === 0 ? res() : rej(new Error(`docker run exited with ${code}`))));
  });
}

/** Runs the benchmark once and returns its figures. */
export async function benchDocker(jobs = 200, latencySamples = 40): Promise<DockerBenchResult> {
  const parallelism = cpus().length;
  const engine = await startTestEngine();
  let server: Awaited<ReturnType<typeof startTestServer>> | undefined;
  try {
    server = await startTestServer({
      args: ['--runtime', 'docker', '--docker-host', engine.host, '--vcpus', String(parallelism)],
    });
    const batch = new BatchClient({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    });
    await batch.send(
      new CreateComputeEnvironmentCommand({
        computeEnvironmentName: 'ce',
        type: 'MANAGED',
        computeResources: {
          type: 'EC2',
          maxvCpus: parallelism,
          minvCpus: 0,
          instanceTypes: ['optimal'],
          subnets: ['s'],
          instanceRole: 'r',
        },
      }),
    );
    await batch.send(
      new CreateJobQueueCommand({
        jobQueueName: 'q',
        priority: 1,
        computeEnvironmentOrder: [{ order: 1, computeEnvironment: 'ce' }],
      }),
    );
    await batch.send(
      new RegisterJobDefinitionCommand({
        jobDefinitionName: 'true',
        type: 'container',
        containerProperties: {
          image: TEST_IMAGE,
          command: ['true'],
          resourceRequirements: [
            { type: 'VCPU', value: '1' },
            { type: 'MEMORY', value: '32' },
          ],
        },
      }),
    );
    const waitAll = async (ids: string[]) => {
      const done = new Set<string>();
      const out: Record<string, { createdAt?: number; startedAt?: number; status?: string }> = {};
      while (done.size < ids.length) {
        const pending = ids.filter((id) => !done.has(id));
        for (let i = 0; i < pending.length; i += 100) {
          const r = await batch.send(new DescribeJobsCommand({ jobs: pending.slice(i, i + 100) }));
          for (const j of r.jobs ?? []) {
            if (j.status === 'FAILED') throw new Error(`job ${j.jobId} FAILED: ${j.statusReason}`);
            if (j.status === 'SUCCEEDED') {
              done.add(j.jobId!);
              out[j.jobId!] = j;
            }
          }
        }
        if (done.size < ids.length) await new Promise((r) => setTimeout(r, 50));
      }
      return out;
    };

    // openbatch: submit everything, then wait for all SUCCEEDED.
    const t0 = performance.now();
    const ids = await Promise.all(
      Array.from({ length: jobs }, async (_, i) => {
        const r = await batch.send(new SubmitJobCommand({ jobName: `t${i}`, jobQueue: 'q', jobDefinition: 'true' }));
        return r.jobId!;
      }),
    );
    await waitAll(ids);
    const openbatchSeconds = (performance.now() - t0) / 1000;

    // Direct: the same runs through the docker CLI, `parallelism` at a time.
    const t1 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: parallelism }, async () => {
        while (next < jobs) {
          next++;
          await dockerRun(engine.host);
        }
      }),
    );
    const directSeconds = (performance.now() - t1) / 1000;

    // Start latency: one job at a time onto free capacity, so RUNNABLE is the submit time (createdAt).
    const lat: number[] = [];
    for (let i = 0; i < latencySamples; i++) {
      const r = await batch.send(new SubmitJobCommand({ jobName: `l${i}`, jobQueue: 'q', jobDefinition: 'true' }));
      const j = (await waitAll([r.jobId!]))[r.jobId!]!;
      lat.push(j.startedAt! - j.createdAt!);
    }
    batch.destroy();
    return {
      jobs,
      parallelism,
      openbatchSeconds,
      directSeconds,
      ratio: openbatchSeconds / directSeconds,
      startLatencyMs: { p50: pct(lat, 50), p99: pct(lat, 99), samples: lat.length },
    };
  } finally {
    await server?.stop();
    await engine.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await benchDocker();
  console.log(JSON.stringify(r, null, 2));
}
