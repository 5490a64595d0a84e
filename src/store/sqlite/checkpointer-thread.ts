/**
 * A thread that checkpoints a SQLite database's write-ahead log (sqlite-writer.ts, role `checkpointer`): PASSIVE every
 * 250 ms, so that no commit on the main thread (or the writer thread) runs SQLite's automatic checkpoint, which copies
 * the whole WAL into the database and fsyncs it inside the commit that crossed the threshold.
 */
import { Worker } from 'node:worker_threads';
import { SQLITE_THREAD_URL, stopThread } from './sqlite-threads.js';

export class CheckpointerThread {
  private worker: Worker | undefined;

  /** `durable`: synchronous=FULL (else NORMAL) on its connection; `walSizeLimit`: its journal_size_limit. */
  constructor(file: string, opts: { durable: boolean; walSizeLimit?: number }) {
    const w = new Worker(SQLITE_THREAD_URL, { workerData: { file, role: 'checkpointer', ...opts } });
    // Without it the WAL is checkpointed less promptly (by the writer, or by SQLite's automatic checkpoint): worth a
    // warning, not the server.
    w.on('error', (err) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      console.warn(`openbatch: the checkpointer thread of ${file} stopped: ${err.message}`);
    });
    w.unref(); // never keeps the process alive
    this.worker = w;
  }

  /** Checkpoints once more, then stops the thread. */
  async close(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.worker = undefined;
    await stopThread(w);
  }
}
