/** What the main thread's handles of the SQLite threads (writer-thread.ts, checkpointer-thread.ts) share. */
import type { Worker } from 'node:worker_threads';

/** The script of both threads (sqlite-writer.ts; its `role` says which). */
export const SQLITE_THREAD_URL = new URL('./sqlite-writer.js', import.meta.url);

/** Asks a thread to finish ('close': its last commit or checkpoint) and resolves once it has exited. */
export async function stopThread(w: Worker): Promise<void> {
  const exited = new Promise((r) => w.once('exit', r));
  w.ref();
  w.postMessage('close');
  await exited;
}
