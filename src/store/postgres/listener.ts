/**
 * One dedicated connection per process that LISTENs to the change channels (a pooled connection cannot: LISTEN
 * belongs to a session). When the connection drops it reconnects with backoff and LISTENs again; signals sent while
 * it was away are lost, which the port allows (listeners also poll).
 */
import pg from 'pg';
import { EventEmitter } from 'node:events';

const RETRY_MS = [100, 250, 500, 1000, 2000];

export class PgListener {
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private readonly channels = new Set<string>();
  private readonly events = new EventEmitter();
  private closed = false;
  private failures = 0;
  private retry: NodeJS.Timeout | undefined;
  /** LISTEN statements go one after another: pg refuses (deprecates) a query sent while one is running. */
  private listening: Promise<void> = Promise.resolve();

  constructor(private readonly config: pg.ClientConfig) {
    this.events.setMaxListeners(0);
  }

  subscribe(channel: string, listener: (payload: string) => void): () => void {
    this.events.on(channel, listener);
    if (!this.channels.has(channel)) {
      this.channels.add(channel);
      const c = this.client;
      if (c) this.listen(c, channel);
      else void this.connect();
    }
    return () => this.events.off(channel, listener);
  }

  private listen(c: pg.Client, channel: string): void {
    this.listening = this.listening
      .then(() => c.query(`LISTEN ${pg.escapeIdentifier(channel)}`))
      .then(
        () => undefined,
        () => {
          if (this.client === c) this.drop();
        },
      );
  }

  /** Resolves once the connection listens to every channel subscribed so far (tests; best effort otherwise). */
  async ready(): Promise<void> {
    if (!this.client) await this.connect();
    await this.listening;
  }

  private connect(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.connecting ??= (async () => {
      const c = new pg.Client(this.config);
      c.on('error', () => this.drop());
      c.on('end', () => this.drop());
      c.on('notification', (n) => this.events.emit(n.channel, n.payload ?? ''));
      try {
        await c.connect();
        for (const ch of this.channels) await c.query(`LISTEN ${pg.escapeIdentifier(ch)}`);
        if (this.closed) {
          await c.end();
          return;
        }
        this.client = c;
        this.failures = 0;
      } catch {
        c.removeAllListeners('end');
        await c.end().catch(() => undefined);
        this.scheduleRetry();
      } finally {
        this.connecting = undefined;
      }
    })();
    return this.connecting;
  }

  private drop(): void {
    const c = this.client;
    if (!c) return;
    this.client = undefined;
    c.removeAllListeners('end');
    void c.end().catch(() => undefined);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retry) return;
    const wait = RETRY_MS[Math.min(this.failures++, RETRY_MS.length - 1)]!;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.connect();
    }, wait);
    this.retry.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    await this.connecting;
    const c = this.client;
    this.client = undefined;
    if (c) {
      c.removeAllListeners('end');
      await c.end().catch(() => undefined);
    }
    this.events.removeAllListeners();
  }
}
