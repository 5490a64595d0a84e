/**
 * The soak's load generator, run as its own process (forked by soak-load.ts) so that its CPU is not the server's and
 * its event loop does not stretch the latencies it measures. Each virtual client is one keep-alive connection and a
 * loop of SigV4-signed requests (one reused signer per service, so the signing key is derived once, not per request);
 * a request's latency runs from the moment its bytes are written (paced: from when the request was due) to the moment
 * its whole answer is read, signing excluded. Results go back to the parent over IPC.
 */
import { connect, type Socket } from 'node:net';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Creds } from '../helpers/signed.js';

export interface SoakClientConfig {
  url: string;
  creds: Creds;
  clients: number;
  warmupMs: number;
  durationMs: number;
  queue: string;
  jobDefinition: string;
  /**
   * Paced: each client starts a request every intervalMs (its start staggered), and a request's latency runs from
   * when it was due, so a client that falls behind counts the wait. Unset: a closed loop, each client sending its next
   * request as soon as the last was answered.
   */
  intervalMs?: number;
}

export interface SoakClientResult {
  errors: string[];
  errorCount: number;
  /** Latencies (ms) of the requests completed after the warm-up. */
  latenciesMs: number[];
  /** Operation of each latency, same order. */
  operations: string[];
  /** CPU time of this process after the warm-up, per measured request (µs). */
  cpuPerRequestUs: number;
}

type Call = { op: string; path: string; body: object; service?: 'logs'; target?: string };

const JOB_ARN_PREFIX = 'arn:aws:batch:us-east-1:123456789012:job/';

function soakCalls(c: SoakClientConfig, pickJob: () => string): (() => Call)[] {
  return [
    () => ({
      op: 'SubmitJob',
      path: '/v1/submitjob',
      body: { jobName: 'soak', jobQueue: c.queue, jobDefinition: c.jobDefinition, parameters: { n: '1' } },
    }),
    () => ({
      op: 'SubmitJob',
      path: '/v1/submitjob',
      body: { jobName: 's', jobQueue: c.queue, jobDefinition: c.jobDefinition },
    }),
    () => ({ op: 'DescribeJobs', path: '/v1/describejobs', body: { jobs: [pickJob(), pickJob()] } }),
    () => ({ op: 'DescribeJobs', path: '/v1/describejobs', body: { jobs: [pickJob()] } }),
    () => ({
      op: 'ListJobs',
      path: '/v1/listjobs',
      body: { jobQueue: c.queue, jobStatus: 'RUNNABLE', maxResults: 20 },
    }),
    () => ({
      op: 'ListJobs',
      path: '/v1/listjobs',
      body: { jobQueue: c.queue, jobStatus: 'SUCCEEDED', maxResults: 20 },
    }),
    () => ({ op: 'DescribeJobQueues', path: '/v1/describejobqueues', body: {} }),
    () => ({ op: 'DescribeComputeEnvironments', path: '/v1/describecomputeenvironments', body: {} }),
    () => ({ op: 'DescribeJobDefinitions', path: '/v1/describejobdefinitions', body: { status: 'ACTIVE' } }),
    () => ({ op: 'CancelJob', path: '/v1/canceljob', body: { jobId: pickJob(), reason: 'soak' } }),
    () => ({ op: 'TerminateJob', path: '/v1/terminatejob', body: { jobId: pickJob(), reason: 'soak' } }),
    () => ({
      op: 'TagResource',
      path: `/v1/tags/${encodeURIComponent(JOB_ARN_PREFIX + pickJob())}`,
      body: { tags: { soak: 'yes' } },
    }),
    () => ({ op: 'DescribeLogGroups', path: '/', body: {}, service: 'logs', target: 'DescribeLogGroups' }),
    () => ({
      op: 'DescribeLogStreams',
      path: '/',
      body: { logGroupName: '/aws/batch/job', limit: 10 },
      service: 'logs',
      target: 'DescribeLogStreams',
    }),
  ];
}

/** One keep-alive connection answering one request at a time: resolves with the status and body. */
class Connection {
  private sock: Socket | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private pending: { resolve: (r: { status: number; body: string }) => void; reject: (e: Error) => void } | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  private open(): Socket {
    const s = connect({ host: this.host, port: this.port, noDelay: true });
    s.on('data', (c: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, c]) : c;
      this.parse();
    });
    const gone = (e?: Error) => {
      if (this.sock === s) this.sock = undefined;
      const p = this.pending;
      this.pending = undefined;
      p?.reject(e ?? new Error('connection closed before a response'));
    };
    s.on('error', gone);
    s.on('close', () => gone());
    this.buf = Buffer.alloc(0);
    return s;
  }

  private parse(): void {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0 || !this.pending) return;
    const head = this.buf.toString('latin1', 0, end);
    const len = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!len) {
      this.pending.reject(new Error(`answer without content-length: ${head.slice(0, 200)}`));
      this.pending = undefined;
      this.sock?.destroy();
      return;
    }
    const bodyEnd = end + 4 + Number(len[1]);
    if (this.buf.length < bodyEnd) return;
    const body = this.buf.toString('utf8', end + 4, bodyEnd);
    this.buf = this.buf.subarray(bodyEnd);
    const p = this.pending;
    this.pending = undefined;
    if (/\r\nconnection:\s*close/i.test(head)) this.sock?.end();
    p.resolve({ status: Number(head.slice(9, 12)), body });
  }

  send(bytes: Buffer): Promise<{ status: number; body: string }> {
    this.sock ??= this.open();
    const s = this.sock;
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      s.write(bytes);
    });
  }

  close(): void {
    this.sock?.end();
  }
}

export async function runSoakClients(c: SoakClientConfig): Promise<SoakClientResult> {
  const u = new URL(c.url);
  const signers = {
    batch: new SignatureV4({
      credentials: c.creds,
      region: 'us-east-1',
      service: 'batch',
      sha256: Hash.bind(null, 'sha256'),
    }),
    logs: new SignatureV4({
      credentials: c.creds,
      region: 'us-east-1',
      service: 'logs',
      sha256: Hash.bind(null, 'sha256'),
    }),
  };
  const jobIds: string[] = [];
  // The newest jobs: a bounded window, so picking stays O(1) and the generator's own memory stays flat.
  const pickJob = () => jobIds[Math.floor(Math.random() * jobIds.length)] ?? 'none';
  const calls = soakCalls(c, pickJob);
  const wire = async (call: Call): Promise<Buffer> => {
    const body = JSON.stringify(call.body);
    const headers: Record<string, string> = { host: u.host, 'content-type': 'application/json' };
    if (call.service === 'logs') {
      headers['content-type'] = 'application/x-amz-json-1.1';
      headers['x-amz-target'] = `Logs_20140328.${call.target}`;
    }
    const signed = await signers[call.service ?? 'batch'].sign(
      new HttpRequest({
        method: 'POST',
        protocol: u.protocol,
        hostname: u.hostname,
        port: Number(u.port),
        path: call.path,
        headers,
        body,
      }),
    );
    let head = `POST ${call.path} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(signed.headers)) head += `${k}: ${v}\r\n`;
    head += `content-length: ${Buffer.byteLength(body)}\r\n\r\n`;
    return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body)]);
  };

  const errors: string[] = [];
  let errorCount = 0;
  const latencies: number[] = [];
  const operations: string[] = [];
  const start = Date.now();
  const warmEnd = start + c.warmupMs;
  const end = warmEnd + c.durationMs;
  let cpu0: NodeJS.CpuUsage | undefined;
  const warm = setTimeout(() => (cpu0 = process.cpuUsage()), c.warmupMs);
  const client = async (n: number) => {
    const conn = new Connection(u.hostname, Number(u.port));
    // This client's own jobs, oldest first: its CancelJob and TerminateJob take them in turn, so each of its jobs is
    // run, cancelled or terminated and the server's backlog stays level (a steady state, in which growing memory
    // would be a leak and not the queue).
    const mine: string[] = [];
    let i = n;
    const paced = c.intervalMs;
    let due = paced ? performance.now() + (paced * n) / c.clients : 0;
    while (Date.now() < end) {
      let call = calls[i++ % calls.length]!();
      // Calls about a job wait until one exists.
      if (!jobIds.length && /Cancel|Terminate|Tag/.test(call.op)) call = calls[0]!();
      if ((call.op === 'CancelJob' || call.op === 'TerminateJob') && mine.length)
        call = { ...call, body: { ...call.body, jobId: mine.shift() } };
      const bytes = await wire(call);
      if (paced) {
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      const t0 = paced ? due : performance.now();
      due += paced ?? 0;
      try {
        const r = await conn.send(bytes);
        const ms = performance.now() - t0;
        if (r.status !== 200) {
          errorCount++;
          if (errors.length < 10) errors.push(`${call.op}: ${r.status} ${r.body.slice(0, 200)}`);
        } else if (call.op === 'SubmitJob') {
          const { jobId } = JSON.parse(r.body) as { jobId: string };
          jobIds.push(jobId);
          mine.push(jobId);
          if (jobIds.length > 20_000) jobIds.splice(0, 10_000);
        }
        if (Date.now() >= warmEnd) {
          latencies.push(ms);
          operations.push(call.op);
        }
      } catch (err) {
        errorCount++;
        if (errors.length < 10) errors.push(`${call.op}: ${(err as Error).message}`);
      }
    }
    conn.close();
  };
  await Promise.all(Array.from({ length: c.clients }, (_, n) => client(n)));
  clearTimeout(warm);
  const cpu = process.cpuUsage(cpu0);
  return {
    errors,
    errorCount,
    latenciesMs: latencies,
    operations,
    cpuPerRequestUs: (cpu.user + cpu.system) / Math.max(1, latencies.length),
  };
}

// Forked by soak-load.ts: the config arrives as the first message, the result goes back as the only answer.
if (process.send && process.argv.includes('--soak-client')) {
  process.once('message', (c: SoakClientConfig) => {
    void runSoakClients(c).then(
      (r) => process.send!(r, () => process.exit(0)),
      (err: unknown) => process.send!({ fatal: String((err as Error)?.stack ?? err) }, () => process.exit(1)),
    );
  });
}
