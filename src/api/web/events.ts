/**
 * Server-sent events for the dashboard: job status changes, batched every 250 ms and filtered per caller
 * (a non-admin hears only about their PI group's jobs).
 */
import type { ServerResponse } from 'node:http';
import type { JobChange } from '../../core/ports.js';
import type { Caller } from '../../core/caller.js';
import { SECURITY_HEADERS } from './static-files.js';

interface Client {
  caller: Caller;
  res: ServerResponse;
}

export class EventHub {
  private readonly clients = new Set<Client>();
  private pending = new Map<string, { jobId: string; status: string; pi: string }>();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly batchMs = 250) {
    // A comment line every 25 s keeps proxies from closing an idle stream.
    this.heartbeat = setInterval(() => {
      for (const c of this.clients) c.res.write(': keep-alive\n\n');
    }, 25_000);
    this.heartbeat.unref();
  }

  add(caller: Caller, res: ServerResponse): void {
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    res.write('retry: 2000\n\n');
    const client = { caller, res };
    this.clients.add(client);
    res.on('close', () => this.clients.delete(client));
  }

  /** Whether a browser listens (status changes are not even read otherwise). */
  get listening(): boolean {
    return this.clients.size > 0;
  }

  jobChanged(change: JobChange): void {
    if (this.clients.size === 0) return;
    this.pending.set(change.jobId, { jobId: change.jobId, status: change.status, pi: change.pi });
    this.flushTimer ??= setTimeout(() => this.flush(), this.batchMs);
  }

  private flush(): void {
    this.flushTimer = undefined;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    for (const c of this.clients) {
      const mine = c.caller.admin ? batch : batch.filter((j) => j.pi === c.caller.pi);
      if (mine.length === 0) continue;
      const data = JSON.stringify(mine.map((j) => ({ jobId: j.jobId, status: j.status })));
      c.res.write(`event: jobs\ndata: ${data}\n\n`);
    }
  }

  close(): void {
    clearInterval(this.heartbeat);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }
}
