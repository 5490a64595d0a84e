/**
 * The main thread's side of a writer thread (sqlite-writer.ts): sends write requests, resolves each with its answer
 * once committed. The thread keeps the process alive only while a write is pending.
 *
 * Answers come back on a port of their own, which `deliverAnswers` reads synchronously: called between two requests
 * of a busy event loop, it resolves the commits that landed meanwhile, so their requests answer within the same turn
 * instead of after every request that became ready before the answer's wake-up (decision 0018).
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { WriterReply, WriterRequest } from './sqlite-writer.js';
import { SQLITE_THREAD_URL, stopThread } from './sqlite-threads.js';

export class WriterThread {
  private worker: Worker | undefined;
  private readonly answers: MessagePort;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (r: WriterReply) => void; reject: (e: Error) => void }>();

  /**
   * `autocheckpoint`: let this connection checkpoint the WAL itself (inside its commits, on the thread); false when a
   * checkpointer thread does it (the job store). `cacheKib`: its page cache (sqlite-writer.ts's default otherwise).
   */
  constructor(
    file: string,
    opts: { durable: boolean; autocheckpoint: boolean; walSizeLimit?: number; cacheKib?: number },
  ) {
    const { port1, port2 } = new MessageChannel();
    this.answers = port1;
    const w = new Worker(SQLITE_THREAD_URL, {
      workerData: { file, role: 'writer', ...opts, replies: port2 },
      transferList: [port2],
    });
    port1.on('message', (r: WriterReply) => this.answer(r));
    port1.unref();
    w.on('error', (err) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      this.worker = undefined;
      port1.close();
    });
    w.unref(); // referenced only while a write is pending, so an idle store never keeps the process alive
    this.worker = w;
  }

  private answer(r: WriterReply): void {
    const p = this.pending.get(r.id);
    this.pending.delete(r.id);
    if (this.pending.size === 0) this.answers.unref();
    if (r.error === undefined) p?.resolve(r);
    else p?.reject(new Error(`SQLite write failed: ${r.error}`));
  }

  /** Resolves the writes whose answers have arrived, now rather than on the event loop's next look at the port. */
  deliverAnswers(): void {
    if (this.pending.size === 0) return;
    for (let m = receiveMessageOnPort(this.answers); m; m = receiveMessageOnPort(this.answers))
      this.answer(m.message as WriterReply);
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
    this.answers.ref();
    w.postMessage({ id, ...req } satisfies WriterRequest);
    return done;
  }

  /** Commits what was sent, then stops the thread. */
  async close(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.worker = undefined;
    await stopThread(w);
    this.deliverAnswers();
    this.answers.close();
  }
}
