/**
 * Log benchmarks: ingest of a job writing 1,000,000 lines (~50 MB) through the process runtime (MB/s stored, server
 * RSS growth) and the latency of a 10,000-event GetLogEvents page (p50, through the SDK, over HTTP with SigV4).
 * Run alone: `node dist/bench/logs.js`.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { BatchClient, DescribeJobsCommand, SubmitJobCommand } from '@aws-sdk/client-batch';
import { CloudWatchLogsClient, DescribeLogStreamsCommand, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { aws, AWS_V1 } from '../test/helpers/clients.js';
import { startTestServer } from '../test/helpers/server.js';

export interface LogsBenchResult {
  lines: number;
  storedMB: number;
  ingestSeconds: number;
  ingestMBps: number;
  rssBeforeMB: number;
  rssPeakMB: number;
  rssGrowthMB: number;
  pageEvents: number;
  pageP50Ms: number;
  pageP90Ms: number;
}

const rssMB = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

export async function benchLogs(lines = 1_000_000): Promise<LogsBenchResult> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const srv = await startTestServer({ args: ['--runtime', 'process'] });
  try {
    const b = (args: string[]) => aws(AWS_V1, srv.url, srv.env, ['batch', ...args]);
    b([
      'create-compute-environment',
      '--compute-environment-name',
      'bench-ce',
      '--type',
      'MANAGED',
      '--compute-resources',
      'type=EC2,minvCpus=0,maxvCpus=4,instanceTypes=optimal,subnets=s,securityGroupIds=g,instanceRole=r',
    ]);
    b([
      'create-job-queue',
      '--job-queue-name',
      'bench-q',
      '--priority',
      '1',
      '--compute-environment-order',
      'order=1,computeEnvironment=bench-ce',
    ]);
    b([
      'register-job-definition',
      '--job-definition-name',
      'bench-logs',
      '--type',
      'container',
      '--container-properties',
      JSON.stringify({ image: 'busybox', vcpus: 1, memory: 64, command: ['true'] }),
    ]);
    const config = {
      endpoint: srv.url,
      region: 'us-east-1',
      credentials: { accessKeyId: srv.accessKeyId, secretAccessKey: srv.secretAccessKey },
    };
    const batch = new BatchClient(config);
    const logs = new CloudWatchLogsClient(config);
    const pid = srv.proc.pid!;
    const rssBefore = rssMB(pid);
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMB(pid))), 50);
    // ~50-byte lines: "line 0000001 " plus 37 characters of payload.
    const { jobId } = await batch.send(
      new SubmitJobCommand({
        jobName: 'ingest',
        jobQueue: 'bench-q',
        jobDefinition: 'bench-logs',
        containerOverrides: {
          command: [
            'awk',
            `BEGIN { p = "abcdefghijklmnopqrstuvwxyz0123456789."; for (i = 1; i <= ${lines}; i++) printf "line %07d %s\\n", i, p }`,
          ],
        },
      }),
    );
    let job;
    for (;;) {
      job = (await batch.send(new DescribeJobsCommand({ jobs: [jobId!] }))).jobs![0]!;
      if (job.status === 'SUCCEEDED' || job.status === 'FAILED') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    clearInterval(sampler);
    if (job.status !== 'SUCCEEDED') throw new Error(`bench job failed: ${job.statusReason}`);
    const stream = job.container!.logStreamName!;
    const info = (
      await logs.send(new DescribeLogStreamsCommand({ logGroupName: '/aws/batch/job', logStreamNamePrefix: stream }))
    ).logStreams![0]!;
    const storedMB = (info.storedBytes ?? 0) / (1024 * 1024);
    // From the attempt's start to its last stored event: output is stored before the job can finish.
    const ingestSeconds = ((info.lastIngestionTime ?? 0) - (job.startedAt ?? 0)) / 1000;

    const times: number[] = [];
    let pageEvents = 0;
    for (let i = 0; i < 40; i++) {
      const t0 = performance.now();
      const r = await logs.send(
        new GetLogEventsCommand({
          logGroupName: '/aws/batch/job',
          logStreamName: stream,
          startFromHead: true,
          nextToken: `f/${String(((i * 24_989) % (lines - 10_000)) | 0).padStart(20, '0')}`,
        }),
      );
      times.push(performance.now() - t0);
      pageEvents = r.events!.length;
    }
    times.sort((a, b) => a - b);
    return {
      lines,
      storedMB: Number(storedMB.toFixed(1)),
      ingestSeconds: Number(ingestSeconds.toFixed(2)),
      ingestMBps: Number((storedMB / ingestSeconds).toFixed(1)),
      rssBeforeMB: Math.round(rssBefore),
      rssPeakMB: Math.round(peak),
      rssGrowthMB: Math.round(peak - rssBefore),
      pageEvents,
      pageP50Ms: Number(times[Math.floor(times.length / 2)]!.toFixed(1)),
      pageP90Ms: Number(times[Math.floor(times.length * 0.9)]!.toFixed(1)),
    };
  } finally {
    await srv.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await benchLogs(), null, 2));
}
