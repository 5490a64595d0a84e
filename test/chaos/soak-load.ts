/**
 * A soak: N concurrent clients, each a loop of signed requests mixing the Batch and Logs operations researchers use
 * (submit, describe, list, cancel, terminate, tag, queues, environments, definitions, log groups and streams), for a
 * fixed time. The clients run in a separate process (soak-client.ts) so the generator's CPU and event loop are not the
 * server's. Counts errors, records every latency as the clients saw it, and reads the server's side of the same
 * window from its /metrics (request durations by operation, event-loop delay, heap) and /proc (resident memory).
 * Shared by the chaos test (short, pass/fail on errors and memory) and `npm run bench` (60 s, p99 and RSS figures).
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createQueue } from '../helpers/setup.js';
import { sdkClient, type Creds } from '../helpers/signed.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import type { SoakClientConfig, SoakClientResult } from './soak-client.js';

export interface SoakOptions {
  url: string;
  creds: Creds;
  /** The server's pid, for its RSS. */
  pid: number;
  clients: number;
  durationMs: number;
  /** Warm-up before the baselines are taken (JIT, caches, connection pools). */
  warmupMs: number;
  queue: string;
  jobDefinition: string;
  /** Paced load: each client starts a request every intervalMs (see SoakClientConfig); unset: a closed loop. */
  intervalMs?: number;
}

/** The server's own view of the measured window, from its /metrics. */
export interface ServerSide {
  /** Requests the server answered in the window, by operation. */
  requests: Record<string, number>;
  /** Quantiles of the server's request durations (ms), interpolated in its histogram buckets as Prometheus does. */
  p50Ms: number;
  p99Ms: number;
  /** p99 per operation (ms, same interpolation). */
  p99ByOperationMs: Record<string, number>;
  /** The event loop's delay p99 and max over the window (ms). */
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  heapUsedStartBytes: number;
  heapUsedEndBytes: number;
  /** Jobs held in memory by the engine (unfinished) at the start and end of the window. */
  activeJobsStart: number;
  activeJobsEnd: number;
}

export interface SoakResult {
  requests: number;
  errors: string[];
  errorCount: number;
  latenciesMs: number[];
  /** Operation of each latency, same order. */
  operations: string[];
  rssStartBytes: number;
  rssEndBytes: number;
  rssMaxBytes: number;
  byOperation: Record<string, number>;
  /** The generator process's CPU per request (µs). */
  generatorCpuPerRequestUs: number;
  /** The server process's CPU (all its threads, user + system) per request over the window (µs). */
  serverCpuPerRequestUs: number;
  server: ServerSide;
}

/** CPU time (user + system, all threads) of a process so far, in ms. */
export function cpuMsOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10; // clock ticks of 10 ms
}

export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

interface Scrape {
  /** operation -> (le -> cumulative count) */
  buckets: Map<string, Map<number, number>>;
  gauges: Map<string, number>;
  active: number;
}

async function scrape(url: string): Promise<Scrape> {
  // A busy or limiting server may refuse a scrape (429/503 with Retry-After): try again rather than read no figures.
  let res = await fetch(`${url}/metrics`);
  for (let i = 0; !res.ok && i < 10; i++) {
    await res.body?.cancel();
    await new Promise((r) => setTimeout(r, 1000));
    res = await fetch(`${url}/metrics`);
  }
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  const text = await res.text();
  const buckets = new Map<string, Map<number, number>>();
  const gauges = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line) continue;
    const m = /^([a-zA-Z0-9_:]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const [, name, labels = '', value] = m;
    if (name === 'openbatch_api_request_duration_seconds_bucket') {
      const op = /operation="([^"]*)"/.exec(labels)?.[1] ?? '';
      const le = /le="([^"]*)"/.exec(labels)?.[1] ?? '+Inf';
      if (!buckets.has(op)) buckets.set(op, new Map());
      buckets.get(op)!.set(le === '+Inf' ? Infinity : Number(le), Number(value));
    } else if (!labels) gauges.set(name!, Number(value));
  }
  const health = (await (await fetch(`${url}/healthz`)).json()) as { jobs?: { active: number } };
  return { buckets, gauges, active: health.jobs?.active ?? 0 };
}

/** The server's memory now: resident set (/proc), V8 heap used (/metrics) and unfinished jobs it holds (/healthz). */
export async function serverMemory(
  url: string,
  pid: number,
): Promise<{ rss: number; heapUsed: number; active: number }> {
  const s = await scrape(url);
  return { rss: rssOf(pid), heapUsed: s.gauges.get('openbatch_nodejs_heap_size_used_bytes') ?? 0, active: s.active };
}

/** Prometheus' histogram_quantile over cumulative (le, count) pairs. */
function quantile(cumulative: Map<number, number>, q: number): number {
  const les = [...cumulative.keys()].sort((a, b) => a - b);
  const total = cumulative.get(Infinity) ?? 0;
  if (!total) return 0;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const le of les) {
    const c = cumulative.get(le)!;
    if (c >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(1, c - prevCount);
    }
    prevLe = le;
    prevCount = c;
  }
  return prevLe;
}

function serverSide(a: Scrape, b: Scrape): ServerSide {
  const diff = (op: string) => {
    const out = new Map<number, number>();
    for (const [le, c] of b.buckets.get(op) ?? []) out.set(le, c - (a.buckets.get(op)?.get(le) ?? 0));
    return out;
  };
  const all = new Map<number, number>();
  const requests: Record<string, number> = {};
  const p99ByOperationMs: Record<string, number> = {};
  for (const op of b.buckets.keys()) {
    const d = diff(op);
    const n = d.get(Infinity) ?? 0;
    if (!n) continue;
    requests[op] = n;
    p99ByOperationMs[op] = quantile(d, 0.99) * 1000;
    for (const [le, c] of d) all.set(le, (all.get(le) ?? 0) + c);
  }
  const g = (s: Scrape, name: string) => s.gauges.get(`openbatch_nodejs_${name}`) ?? 0;
  return {
    requests,
    p50Ms: quantile(all, 0.5) * 1000,
    p99Ms: quantile(all, 0.99) * 1000,
    p99ByOperationMs,
    // prom-client resets its event-loop histogram at every scrape: the second scrape covers the window.
    eventLoopDelayP99Ms: g(b, 'eventloop_lag_p99_seconds') * 1000,
    eventLoopDelayMaxMs: g(b, 'eventloop_lag_max_seconds') * 1000,
    heapUsedStartBytes: g(a, 'heap_size_used_bytes'),
    heapUsedEndBytes: g(b, 'heap_size_used_bytes'),
    activeJobsStart: a.active,
    activeJobsEnd: b.active,
  };
}

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const child = fork(new URL('./soak-client.js', import.meta.url), ['--soak-client'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  const done = new Promise<SoakClientResult>((resolve, reject) => {
    child.once('message', (m: SoakClientResult | { fatal: string }) =>
      'fatal' in m ? reject(new Error(`soak client failed: ${m.fatal}`)) : resolve(m),
    );
    child.once('exit', (code) => reject(new Error(`soak client exited with ${code} before answering`)));
  });
  let rssMax = 0;
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, rssOf(o.pid))), 250);
  child.send({
    url: o.url,
    creds: o.creds,
    clients: o.clients,
    warmupMs: o.warmupMs,
    durationMs: o.durationMs,
    queue: o.queue,
    jobDefinition: o.jobDefinition,
    ...(o.intervalMs ? { intervalMs: o.intervalMs } : {}),
  } satisfies SoakClientConfig);
  let first: Scrape | undefined;
  let rssStart = 0;
  let cpuStart = 0;
  const warm = new Promise<void>((resolve) =>
    setTimeout(() => {
      rssStart = rssOf(o.pid);
      cpuStart = cpuMsOf(o.pid);
      void scrape(o.url).then((s) => {
        first = s;
        resolve();
      }, resolve);
    }, o.warmupMs),
  );
  try {
    const r = await done;
    await warm;
    const rssEnd = rssOf(o.pid);
    const cpuMs = cpuMsOf(o.pid) - cpuStart;
    const last = await scrape(o.url);
    const byOperation: Record<string, number> = {};
    for (const op of r.operations) byOperation[op] = (byOperation[op] ?? 0) + 1;
    return {
      requests: r.latenciesMs.length,
      errors: r.errors,
      errorCount: r.errorCount,
      latenciesMs: r.latenciesMs,
      operations: r.operations,
      rssStartBytes: rssStart,
      rssEndBytes: rssEnd,
      rssMaxBytes: rssMax,
      byOperation,
      generatorCpuPerRequestUs: r.cpuPerRequestUs,
      serverCpuPerRequestUs: (cpuMs * 1000) / Math.max(1, r.latenciesMs.length),
      server: serverSide(first ?? last, last),
    };
  } finally {
    clearInterval(sampler);
    if (child.exitCode === null) child.kill();
  }
}

/** A server as the soaks run it (process runtime, 4 vCPUs) with a queue and a definition named `soak` (`true` jobs). */
export async function startSoakServer(): Promise<TestServer> {
  const srv = await startTestServer({ args: ['--vcpus', '4'] });
  try {
    await createQueue(sdkClient(srv), { queue: 'soak', maxvCpus: 4, definition: { name: 'soak', command: ['true'] } });
  } catch (err) {
    await srv.stop();
    throw err;
  }
  return srv;
}

/** runSoak with 100 clients on the `soak` queue of a startSoakServer server. */
export function soakAgainst(
  srv: TestServer,
  o: Pick<SoakOptions, 'warmupMs' | 'durationMs' | 'intervalMs'>,
): Promise<SoakResult> {
  return runSoak({
    url: srv.url,
    creds: srv,
    pid: srv.proc.pid!,
    clients: 100,
    queue: 'soak',
    jobDefinition: 'soak',
    ...o,
  });
}
