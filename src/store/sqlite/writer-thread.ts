/**
 * The main thread's side of a writer thread (sqlite-writer.ts): sends write requests, resolves each with its answer
 * once committed. The thread keeps the process alive only while a write is pending.
 */
import { Worker } from 'node:worker_threads';
import type { WriterReply, WriterRequest } from './sqlite-writer.js';

const WRITER_URL = new URL('./sqlite-writer.js', import.meta.url);

export class WriterThread {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (r: WriterReply) => void; reject: (e: Error) => void }>();

  /**
   * `autocheckpoint`: let this connection checkpoint the WAL itself (inside its commits, on the thread); false when a
   * checkpointer thread does it (the job store).
   */
  constructor(file: string, opts: { durable: boolean; autocheckpoint: boolean; walSizeLimit?: number }) {
    const w = new Worker(WRITER_URL, { workerData: { file, role: 'writer', ...opts } });
    w.on('message', (r: WriterReply) => {
      const p = this.pending.get(r.id);
      this.pending.delete(r.id);
      if (this.pending.size === 0) w.unref();
      if (r.error === undefined) p?.resolve(r);
      else p?.reject(new Error(`SQLite write failed: ${r.error}`));
    });
    w.on('error', (err) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      this.worker = undefined;
    });
    w.unref(); // referenced only while a write is pending, so an idle store never keeps the process alive
    this.worker = w;
  }

  /** Whether the thread runs (it is gone after a crash or close: callers then write on the main thread). */
  get alive(): boolean {
    return this.worker !== undefined;
  }

  send(req: Omit<WriterRequest, 'id'>): Promise<WriterReply> {
    const w = this.worker;
    if (!w) return Promise.reject(new Error('SQLite write failed: the writer thread is not running'));
    const id = this.nextId++;
    const done = new Promise<WriterReply>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    w.ref();
    w.postMessage({ id, ...req } satisfies WriterRequest);
    return done;
  }

  /** Commits what was sent, then stops the thread. */
  async close(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.worker = undefined;
    const exited = new Promise((r) => w.once('exit', r));
    w.ref();
    w.postMessage('close');
    await exited;
  }
}
