/**
 * The SQLite log store: its own database file (WAL, synchronous=NORMAL: survives a crash of the server, and the OS
 * flushes within a second), streams in one table, events packed (by the sink) into chunks of ~64 KB in another.
 * better-sqlite3 is synchronous: appends and reads have finished their work when they return their promise. Stream
 * creations and closings are queued for up to OPS_FLUSH_MS (see queueOp), and every append and read runs the queue
 * first, so events always find their stream and readers always see every creation and closing issued before them.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type {
  LogAppend,
  LogEventRead,
  LogEventRecord,
  LogStore,
  LogStreamQuery,
  LogStreamRecord,
} from '../../core/ports.js';
import { clampChunk, indexChunk } from '../log-chunk.js';
import { CHUNK_BATCH, type ChunkRow, PREFIX_END, readEventPage, type StreamRow, toStreamRecord } from '../log-pages.js';
import { LOG_MIGRATIONS } from './log-migrations.js';
import { applyMigrations } from './migrate.js';
import { CheckpointerThread } from './checkpointer-thread.js';
import { SIDE_WAL_SIZE_LIMIT_BYTES } from './wal-policy.js';

/** How long stream creations and closings wait to share a transaction. */
const OPS_FLUSH_MS = 25;

export class SqliteLogStore implements LogStore {
  readonly kind = 'sqlite';
  private readonly db: Database.Database;
  private readonly stmt: Record<string, Database.Statement>;
  private readonly appendTx: (batch: readonly LogAppend[], ingest: number) => void;
  /**
   * Stream creations and closings wait here for the next write or read (or the next turn of the event loop), so that
   * thousands of short jobs share transactions: with 64 KiB pages, a transaction of its own per tiny row cost ~0.3 ms.
   */
  private pendingOps: (() => void)[] = [];
  private opsScheduled = false;
  private readonly opsTx: (ops: (() => void)[]) => void;
  private readonly checkpointer: CheckpointerThread | undefined;

  constructor(opts: { file: string }) {
    if (opts.file !== ':memory:') mkdirSync(dirname(opts.file), { recursive: true });
    this.db = new Database(opts.file);
    // Chunks are ~64 KB blobs: big pages keep them off long overflow chains (takes effect on a new database only).
    this.db.pragma('page_size = 65536');
    this.db.pragma('journal_mode = WAL');
    // Checkpoints run on a thread of their own (checkpointer-thread.ts): each one copies the WAL into the database
    // and fsyncs it, and every transaction here writes whole 64 KiB pages (the stream table and its indexes), ~30 MB
    // of WAL a second at 150 short jobs a second, so an automatic checkpoint stalled the main thread for 75-150 ms
    // every ~8 s (the soak's clients' p99). The automatic one stays, at 256 MiB, for a thread that falls behind.
    this.db.pragma('wal_autocheckpoint = 4096');
    this.db.pragma('synchronous = NORMAL');
    // better-sqlite3's default 16 MB page cache filled up with chunks written once and seldom read again (server RSS
    // grew by that much per big job); reads of a page of events come from the OS's file cache just as fast.
    this.db.pragma('cache_size = -2048');
    this.db.pragma('busy_timeout = 5000');
    // Each rewind of the WAL truncates it to this, so a burst does not leave a large file behind.
    this.db.pragma(`journal_size_limit = ${SIDE_WAL_SIZE_LIMIT_BYTES}`);
    this.migrate();
    if (opts.file !== ':memory:')
      this.checkpointer = new CheckpointerThread(opts.file, {
        durable: false,
        walSizeLimit: SIDE_WAL_SIZE_LIMIT_BYTES,
      });
    const p = (sql: string) => this.db.prepare(sql);
    this.stmt = {
      insertStream: p(`INSERT INTO log_streams (name, job_id, attempt, pi, created_at) VALUES (?, ?, ?, ?, ?)
                       ON CONFLICT (name) DO NOTHING`),
      streamByName: p('SELECT * FROM log_streams WHERE name = ?'),
      insertChunk: p(
        'INSERT INTO log_chunks (stream_id, first_seq, end_seq, first_ts, last_ts, ingest, data) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      updateStream: p(`UPDATE log_streams SET event_count = ?, stored_bytes = stored_bytes + ?,
                       first_ts = COALESCE(first_ts, ?), last_ts = ?, last_ingest = ? WHERE id = ?`),
      closeStream: p('UPDATE log_streams SET closed_at = ? WHERE name = ? AND closed_at IS NULL'),
      chunksForward: p(`SELECT first_seq, end_seq, first_ts, ingest, data FROM log_chunks
                        WHERE stream_id = ? AND end_seq > ? ORDER BY end_seq LIMIT ${CHUNK_BATCH}`),
      chunksBackward: p(`SELECT first_seq, end_seq, first_ts, ingest, data FROM log_chunks
                         WHERE stream_id = ? AND first_seq < ? ORDER BY first_seq DESC LIMIT ${CHUNK_BATCH}`),
      chunkAtTime: p(`SELECT first_seq, end_seq, first_ts, ingest, data FROM log_chunks
                      WHERE stream_id = ? AND last_ts >= ? ORDER BY last_ts, first_seq LIMIT 1`),
      purgeChunks: p(`DELETE FROM log_chunks WHERE stream_id IN
                      (SELECT id FROM log_streams WHERE closed_at IS NOT NULL AND closed_at < ?)`),
      purgeStreams: p('DELETE FROM log_streams WHERE closed_at IS NOT NULL AND closed_at < ?'),
    };
    this.opsTx = this.db.transaction((ops: (() => void)[]) => {
      for (const op of ops) op();
    });
    this.appendTx = this.db.transaction((batch: readonly LogAppend[], ingest: number) => {
      this.applyPendingOps();
      for (const a of batch) this.appendStream(a, ingest);
    });
  }

  private migrate(): void {
    applyMigrations(this.db, LOG_MIGRATIONS);
  }

  private appendStream(a: LogAppend, ingest: number): void {
    if (a.chunks.length === 0) return;
    const s = this.stmt.streamByName!.get(a.stream) as StreamRow | undefined;
    if (!s) return; // purged or never opened: nothing to attach the events to
    let seq = s.event_count;
    let bytes = 0;
    let lastTs = s.last_ts ?? 0;
    let firstTs: number | undefined;
    for (const chunk of a.chunks) {
      if (chunk.count === 0) continue;
      const c = clampChunk(chunk, lastTs);
      this.stmt.insertChunk!.run(s.id, seq, seq + c.count, c.firstTs, c.lastTs, ingest, c.data);
      firstTs ??= c.firstTs;
      seq += c.count;
      bytes += c.bytes;
      lastTs = c.lastTs;
    }
    if (firstTs !== undefined) this.stmt.updateStream!.run(seq, bytes, firstTs, lastTs, ingest, s.id);
  }

  async createStream(s: { name: string; jobId: string; attempt: number; pi?: string; createdAt: number }) {
    this.queueOp(() => this.stmt.insertStream!.run(s.name, s.jobId, s.attempt, s.pi ?? null, s.createdAt));
  }

  private queueOp(op: () => void): void {
    this.pendingOps.push(op);
    if (this.opsScheduled) return;
    this.opsScheduled = true;
    // A short wait, not the next turn of the event loop: at hundreds of jobs a second a turn held ~5 operations, and
    // each transaction rewrites every 64 KiB page it touches (table and three indexes) into the WAL, ~0.5 ms of the
    // main thread. Reads and appends run the queue first, so only a server crash within the wait can lose a queued
    // row (a stream with no events yet, or a closing); synchronous=NORMAL already accepts such losses on power failure.
    setTimeout(() => {
      this.opsScheduled = false;
      this.flushPendingOps();
    }, OPS_FLUSH_MS);
  }

  /** Runs queued stream creations/closings in their own transaction (before any read). */
  private flushPendingOps(): void {
    if (this.pendingOps.length === 0 || !this.db.open) return;
    const ops = this.pendingOps;
    this.pendingOps = [];
    this.opsTx(ops);
  }

  /** Inside a transaction already open (append): runs queued operations as part of it. */
  private applyPendingOps(): void {
    const ops = this.pendingOps;
    this.pendingOps = [];
    for (const op of ops) op();
  }

  async append(batch: readonly LogAppend[], ingestionTime: number): Promise<void> {
    this.appendTx(batch, ingestionTime);
  }

  async closeStream(name: string, at: number): Promise<void> {
    this.queueOp(() => this.stmt.closeStream!.run(at, name));
  }

  async getStream(name: string): Promise<LogStreamRecord | undefined> {
    this.flushPendingOps();
    const r = this.stmt.streamByName!.get(name) as StreamRow | undefined;
    return r ? toStreamRecord(r) : undefined;
  }

  async listStreams(q: LogStreamQuery): Promise<LogStreamRecord[]> {
    this.flushPendingOps();
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.prefix) {
      where.push('name >= ? AND name < ?');
      args.push(q.prefix, q.prefix + PREFIX_END);
    }
    if (q.names) {
      where.push(`name IN (${q.names.map(() => '?').join(',')})`);
      args.push(...q.names);
    }
    if (q.pi !== undefined) {
      where.push('pi = ?');
      args.push(q.pi);
    }
    if (q.startTime !== undefined) {
      where.push('last_ts >= ?');
      args.push(q.startTime);
    }
    if (q.endTime !== undefined) {
      where.push('first_ts < ?');
      args.push(q.endTime);
    }
    const key = q.orderBy === 'LogStreamName' ? 'name' : 'COALESCE(last_ts, 0)';
    const cmp = q.descending ? '<' : '>';
    if (q.after) {
      where.push(`(${key} ${cmp} ? OR (${key} = ? AND name ${cmp} ?))`);
      args.push(q.after.key, q.after.key, q.after.name);
    }
    const dir = q.descending ? 'DESC' : 'ASC';
    const order = q.orderBy === 'LogStreamName' ? `name ${dir}` : `${key} ${dir}, name ${dir}`;
    const sql = `SELECT * FROM log_streams ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ?`;
    return (this.db.prepare(sql).all(...args, q.limit) as StreamRow[]).map(toStreamRecord);
  }

  async seqAtTime(stream: string, time: number): Promise<number> {
    this.flushPendingOps();
    const s = this.stmt.streamByName!.get(stream) as StreamRow | undefined;
    if (!s) return 0;
    const c = this.stmt.chunkAtTime!.get(s.id, time) as ChunkRow | undefined;
    if (!c) return s.event_count;
    const { ts } = indexChunk(c.data, c.first_ts);
    const i = ts.findIndex((t) => t >= time);
    return i < 0 ? c.end_seq : c.first_seq + i;
  }

  async readEvents(q: LogEventRead): Promise<LogEventRecord[]> {
    this.flushPendingOps();
    const s = this.stmt.streamByName!.get(q.stream) as StreamRow | undefined;
    if (!s) return [];
    return readEventPage(q, {
      after: (from) => this.stmt.chunksForward!.all(s.id, from) as ChunkRow[],
      before: (before) => this.stmt.chunksBackward!.all(s.id, before) as ChunkRow[],
      seqAt: (time) => this.seqAtTime(q.stream, time),
    });
  }

  async purge(before: number): Promise<number> {
    this.flushPendingOps();
    return this.db.transaction(() => {
      this.stmt.purgeChunks!.run(before);
      return this.stmt.purgeStreams!.run(before).changes;
    })();
  }

  async close(): Promise<void> {
    this.flushPendingOps();
    await this.checkpointer?.close();
    if (this.db.open) this.db.close();
  }
}
