/**
 * The SQLite store's writer thread. A durable commit (WAL, synchronous=FULL) waits for fsync, which takes
 * milliseconds; better-sqlite3 is synchronous, so on the main thread every commit would stall the HTTP server.
 * Here the main thread keeps parsing requests while the previous group of jobs is being committed, so group commits
 * grow with the load instead of the load waiting for them.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { UPSERT_JOB_SQL, upsertJobRows, type JobRowValues } from './job-rows.js';

export interface WriterRequest {
  id: number;
  /** jobRows() of the batch: JOB_COLUMNS.length values per job. */
  rows: JobRowValues;
}
/** How often the checkpointer copies the WAL into the database file. */
const CHECKPOINT_EVERY_MS = 250;

export interface WriterReply {
  id: number;
  error?: string;
}

const { file, durable, role } = workerData as { file: string; durable: boolean; role: 'writer' | 'checkpointer' };
const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${durable ? 'FULL' : 'NORMAL'}`);
db.pragma('busy_timeout = 5000');
// An automatic checkpoint runs inside the commit that crosses the threshold and copies (and fsyncs) the whole WAL:
// tens of milliseconds during which no SubmitJob can commit. The checkpointer thread does it instead, PASSIVE
// (never blocking the writer), so commits cost one WAL append and one fsync.
db.pragma('wal_autocheckpoint = 0');
if (role === 'checkpointer') {
  const timer = setInterval(() => db.pragma('wal_checkpoint(PASSIVE)'), CHECKPOINT_EVERY_MS);
  parentPort!.on('message', () => {
    clearInterval(timer);
    db.pragma('wal_checkpoint(PASSIVE)');
    db.close();
    parentPort!.close();
  });
}
const upsert = db.prepare(UPSERT_JOB_SQL);
const writeAll = db.transaction((rows: JobRowValues) => upsertJobRows(upsert, rows));

if (role === 'writer')
  parentPort!.on('message', (msg: WriterRequest | 'close') => {
    if (msg === 'close') {
      db.close();
      parentPort!.close();
      return;
    }
    let reply: WriterReply;
    try {
      writeAll(msg.rows);
      reply = { id: msg.id };
    } catch (err) {
      reply = { id: msg.id, error: (err as Error).message };
    }
    parentPort!.postMessage(reply);
  });
