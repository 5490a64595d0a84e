/**
 * The SQLite store's writer thread. A durable commit (WAL, synchronous=FULL) waits for fsync, which takes
 * milliseconds (tens at the tail on a busy disk); better-sqlite3 is synchronous, so on the main thread every commit
 * would stall the HTTP server, every request in flight included. Here the main thread keeps serving while writes are
 * being committed: job batches, and every other durable write of the store (intents, tags, lease, heartbeats).
 *
 * Group commit on this side too: the requests that arrived while the previous commit waited for its fsync are
 * written in one transaction, each in a savepoint of its own (so one fenced or failed request fails alone), and every
 * request is answered only after that transaction committed.
 */
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { checkFence, UPSERT_JOB_SQL, upsertJobRows, type JobRowValues } from './job-rows.js';
import { acquireLeaseIn, type LeaseResult } from './lease.js';
import { WAL_SIZE_LIMIT_BYTES, WAL_TRUNCATE_BYTES } from './wal-policy.js';

/** One SQL statement and its parameters. */
export type WriterStatement = [sql: string, params: (string | number | null)[]];

export interface WriterRequest {
  id: number;
  /** jobRows() of a batch of jobs: JOB_COLUMNS.length values per job. */
  rows?: JobRowValues;
  /** Statements run in order, after the rows. */
  statements?: WriterStatement[];
  /** Take or renew the leader lease (answered with LeaseResult). */
  lease?: { holder: string; ttlMs: number };
  /** Fenced write: commit only while the leader lease has this epoch. */
  epoch?: number;
}
/** How often the checkpointer copies the WAL into the database file. */
const CHECKPOINT_EVERY_MS = 250;
export interface WriterReply {
  id: number;
  error?: string;
  lease?: LeaseResult;
}

const WRITER_BUSY_MS = 30_000;
const CHECKPOINTER_BUSY_MS = 5_000;
/**
 * Page cache of the writer's connection (KiB), instead of better-sqlite3's 16 MB default that a steady stream of
 * inserts filled over minutes (see READ_CACHE_KIB in sqlite-store.ts). Pages that miss come from the OS's file cache:
 * 64 and 256 MiB measured no faster than SQLite's 2 MiB default at 1,000,000 jobs, and the 4 MiB this had since
 * decision 0014 was RSS that grew under the soak (decision 0017). The checkpointer copies WAL frames and needs next to
 * none.
 */
const WRITER_CACHE_KIB = 2048;
const CHECKPOINTER_CACHE_KIB = 512;

const {
  file,
  durable,
  role,
  walSizeLimit,
  autocheckpoint,
  cacheKib,
  replies: replyPort,
} = workerData as {
  replies?: MessagePort;
  file: string;
  durable: boolean;
  role: 'writer' | 'checkpointer';
  walSizeLimit?: number;
  /** Page cache (KiB) instead of the role's default. */
  cacheKib?: number;
  /** Checkpoint inside this connection's commits (SQLite's default) instead of leaving it to a checkpointer. */
  autocheckpoint?: boolean;
};
const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${durable ? 'FULL' : 'NORMAL'}`);
// While a TRUNCATE checkpoint waits for readers of old frames it holds the write lock, so the checkpointer must give
// up long before a writer would: the writer waits up to WRITER_BUSY_MS (then the request fails), the checkpointer up
// to CHECKPOINTER_BUSY_MS (then it tries again on its next tick). With both at 5 s, a loaded machine (load 20 on 2 cores) saw the writer
// give up first ("database is locked").
db.pragma(`busy_timeout = ${role === 'checkpointer' ? CHECKPOINTER_BUSY_MS : WRITER_BUSY_MS}`);
db.pragma(`cache_size = -${cacheKib ?? (role === 'checkpointer' ? CHECKPOINTER_CACHE_KIB : WRITER_CACHE_KIB)}`);
// An automatic checkpoint runs inside the commit that crosses the threshold and copies (and fsyncs) the whole WAL:
// tens of milliseconds during which no SubmitJob can commit. The checkpointer thread does it instead, PASSIVE
// (never blocking the writer), so commits cost one WAL append and one fsync.
if (!autocheckpoint) db.pragma('wal_autocheckpoint = 0');
db.pragma(`journal_size_limit = ${walSizeLimit ?? WAL_SIZE_LIMIT_BYTES}`);
if (role === 'checkpointer') {
  const checkpoint = (): void => {
    // A failed checkpoint (SQLITE_BUSY past the timeout, a full disk) changes nothing: the next tick tries again.
    // Thrown here it would kill this thread and, unhandled, the server.
    try {
      db.pragma('wal_checkpoint(PASSIVE)'); // the writer rewinds a WAL this cannot (boundWal)
    } catch {
      // see above
    }
  };
  const timer = setInterval(checkpoint, CHECKPOINT_EVERY_MS);
  parentPort!.on('message', () => {
    clearInterval(timer);
    checkpoint();
    db.close();
    parentPort!.close();
  });
}

const statements = new Map<string, Database.Statement>();
const prepared = (sql: string): Database.Statement => {
  let s = statements.get(sql);
  if (!s) statements.set(sql, (s = db.prepare(sql)));
  return s;
};

/** One request, inside the group's transaction (a savepoint of its own). */
const apply = db.transaction((req: WriterRequest): LeaseResult | undefined => {
  if (req.epoch !== undefined) checkFence(prepared('SELECT epoch FROM leader_lease WHERE id = 1'), req.epoch);
  if (req.rows?.length) upsertJobRows(prepared(UPSERT_JOB_SQL), req.rows);
  for (const [sql, params] of req.statements ?? []) prepared(sql).run(params);
  return req.lease ? acquireLeaseIn(prepared, req.lease.holder, req.lease.ttlMs) : undefined;
});

/** Runs every queued request in one transaction; answers each once it committed (or with its own error). */
const group = db.transaction((reqs: readonly WriterRequest[]): WriterReply[] =>
  reqs.map((req) => {
    try {
      const lease = apply(req);
      return lease === undefined ? { id: req.id } : { id: req.id, lease };
    } catch (err) {
      return { id: req.id, error: (err as Error).message };
    }
  }),
);

let queue: WriterRequest[] = [];
let scheduled = false;
let closing = false;
const drain = (): void => {
  const reqs = queue;
  queue = [];
  scheduled = false;
  let replies: WriterReply[];
  try {
    // IMMEDIATE: take the write lock first (waiting up to busy_timeout); a deferred transaction that reads the
    // lease and then writes fails at once if another connection committed in between.
    replies = group.immediate(reqs);
  } catch (err) {
    replies = reqs.map((r) => ({ id: r.id, error: (err as Error).message }));
  }
  for (const r of replies) (replyPort ?? parentPort!).postMessage(r);
  if (!autocheckpoint) boundWal();
  if (closing) {
    db.close();
    parentPort!.close();
  }
};

/** Empties the WAL once it outgrew WAL_TRUNCATE_BYTES (see wal-policy.ts); a failed try is repeated after the next commit. */
const boundWal = (): void => {
  let size = 0;
  try {
    size = statSync(`${file}-wal`).size;
  } catch {
    return; // no WAL file (yet)
  }
  if (size <= WAL_TRUNCATE_BYTES) return;
  // Waits for readers of old frames, but not for as long as a commit would (a long reader must not stall every commit).
  db.pragma(`busy_timeout = ${CHECKPOINTER_BUSY_MS}`);
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
  } catch {
    // busy past the timeout or a full disk: the next commit tries again
  } finally {
    db.pragma(`busy_timeout = ${WRITER_BUSY_MS}`);
  }
};

if (role === 'writer')
  parentPort!.on('message', (msg: WriterRequest | 'close') => {
    if (msg === 'close') closing = true;
    else queue.push(msg);
    // Messages that arrived together (while the last commit waited for its fsync) are delivered in one turn: the
    // group is what queued before the turn ends.
    if (!scheduled) {
      scheduled = true;
      setImmediate(drain);
    }
  });
