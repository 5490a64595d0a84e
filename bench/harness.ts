/**
 * What benchmark scenarios share: a result shape, a pre-signed HTTP load generator over keep-alive connections,
 * and helpers to start openbatch and moto. A scenario is an exported async function returning a ScenarioResult.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { signRequest, type Creds } from '../test/helpers/signed.js';

export interface Metric {
  /** e.g. "SubmitJob throughput (openbatch)". */
  name: string;
  unit: string;
  /** One value per round; the report shows the median. */
  values: number[];
  /** e.g. ">= 5000"; compared against the median. */
  target?: { op: '>=' | '<='; value: number };
  notes?: string;
}

export interface ScenarioResult {
  title: string;
  metrics: Metric[];
  notes?: string[];
}

/** A benchmark scenario: run all its rounds, return the figures. */
export type Scenario = (opts: { rounds: number }) => Promise<ScenarioResult>;

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export const percentile = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

export interface Prepared {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** Signs `count` POST requests before any timing starts (SigV4 signatures stay valid for 15 minutes). */
export async function presign(
  url: string,
  creds: Creds,
  path: string,
  bodies: (i: number) => object,
  count: number,
): Promise<Prepared[]> {
  const out: Prepared[] = [];
  for (let i = 0; i < count; i++) {
    const body = JSON.stringify(bodies(i));
    const s = await signRequest(url, creds, path, body);
    out.push({ path, headers: { ...s.headers, 'content-length': String(Buffer.byteLength(body)) }, body });
  }
  return out;
}

/** Sends every prepared request over `concurrency` keep-alive connections; resolves with the elapsed ms. */
export async function blast(
  url: string,
  reqs: readonly Prepared[],
  concurrency: number,
): Promise<{ ms: number; errors: string[] }> {
  const u = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const errors: string[] = [];
  let next = 0;
  const one = (r: Prepared): Promise<void> =>
    new Promise((res) => {
      const req = request(
        { host: u.hostname, port: u.port, method: 'POST', path: r.path, headers: r.headers, agent },
        (resp) => {
          const chunks: Buffer[] = [];
          resp.on('data', (c: Buffer) => chunks.push(c));
          resp.on('end', () => {
            if (resp.statusCode !== 200 && errors.length < 5)
              errors.push(`${resp.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 300)}`);
            res();
          });
        },
      );
      req.on('error', (e) => {
        if (errors.length < 5) errors.push(e.message);
        res();
      });
      req.end(r.body);
    });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < reqs.length) await one(reqs[next++]!);
    }),
  );
  const ms = performance.now() - t0;
  agent.destroy();
  return { ms, errors };
}

/** Starts moto_server on a free port with Docker disabled for Batch; throws saying what to install if absent. */
export async function startMoto(): Promise<{ url: string; stop: () => Promise<void> }> {
  if (spawnSync('sh', ['-c', 'command -v moto_server']).status !== 0)
    throw new Error('moto_server is missing: pip install "moto[server]"');
  const port = await freePort();
  const proc: ChildProcess = spawn('moto_server', ['-p', String(port)], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  const end = Date.now() + 20_000;
  for (;;) {
    try {
      const r = await fetch(`${url}/moto-api/config`, {
        method: 'POST',
        body: JSON.stringify({ batch: { use_docker: false } }),
      });
      if (r.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > end) throw new Error('moto_server did not start in 20 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    stop: async () => {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}
