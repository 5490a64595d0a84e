/**
 * What benchmark scenarios share: a result shape, a pre-signed HTTP load generator over keep-alive connections,
 * and helpers to start openbatch and moto. A scenario is an exported async function returning a ScenarioResult.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect as netConnect, createServer, type Socket } from 'node:net';
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

/**
 * Sends every prepared request over `concurrency` keep-alive connections; resolves with the elapsed ms.
 * The load generator shares the cores with the server under test, so it is lean: each request's bytes are built once
 * before timing, and responses are read with a minimal HTTP/1.1 parser (status line, Content-Length or chunked, or
 * until close) instead of node:http's client. A server that closes the connection gets a new one.
 */
export async function blast(
  url: string,
  reqs: readonly Prepared[],
  concurrency: number,
): Promise<{ ms: number; errors: string[] }> {
  const u = new URL(url);
  const wire = reqs.map((r) => {
    let head = `POST ${r.path} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(r.headers)) head += `${k}: ${v}\r\n`;
    return Buffer.concat([Buffer.from(`${head}\r\n`), Buffer.from(r.body)]);
  });
  const errors: string[] = [];
  const fail = (m: string) => {
    if (errors.length < 5) errors.push(m);
  };
  let next = 0;
  const worker = (): Promise<void> =>
    new Promise((done) => {
      let sock: Socket;
      let buf: Buffer = Buffer.alloc(0);
      let inFlight = false;
      const send = () => {
        if (next >= wire.length) {
          sock.end();
          return done();
        }
        inFlight = true;
        sock.write(wire[next++]!);
      };
      /** Returns the bytes the response took, or 0 when it is not complete yet. */
      const parse = (closed: boolean): number => {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return 0;
        const head = buf.toString('latin1', 0, end);
        const status = Number(head.slice(9, 12));
        const len = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        let bodyEnd: number;
        if (len) bodyEnd = end + 4 + Number(len[1]);
        else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
          const term = buf.indexOf('\r\n0\r\n\r\n', end);
          if (term < 0) return 0;
          bodyEnd = term + 7;
        } else if (closed) bodyEnd = buf.length;
        else return 0;
        if (buf.length < bodyEnd) return 0;
        if (status !== 200) fail(`${status}: ${buf.toString('utf8', end + 4, bodyEnd).slice(0, 300)}`);
        return bodyEnd;
      };
      const connect = () => {
        buf = Buffer.alloc(0);
        sock = netConnect({ host: u.hostname, port: Number(u.port), noDelay: true });
        sock.on('connect', send);
        sock.on('data', (c: Buffer) => {
          buf = buf.length ? Buffer.concat([buf, c]) : c;
          const used = parse(false);
          if (!used) return;
          const head = buf.toString('latin1', 0, Math.min(used, buf.indexOf('\r\n\r\n')));
          buf = buf.subarray(used);
          inFlight = false;
          // HTTP/1.0 servers (and `Connection: close`) end the connection after each response.
          if (!/^HTTP\/1\.0|\r\nconnection:\s*close/i.test(head)) send(); // else 'close' reconnects
        });
        sock.on('error', (e) => fail(e.message));
        sock.on('close', () => {
          if (inFlight && parse(true)) inFlight = false;
          else if (inFlight) {
            fail('connection closed before a response');
            inFlight = false;
          }
          if (next < wire.length) connect();
          else done();
        });
      };
      connect();
    });
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ms: performance.now() - t0, errors };
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
