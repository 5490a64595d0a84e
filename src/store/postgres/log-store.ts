/**
 * The log store on PostgreSQL: SqliteLogStore's contract (store/sqlite/log-store.ts) on the shared database, so any
 * replica serves GetLogEvents. Events are packed chunks (store/log-chunk.ts) in a BYTEA column.
 *
 * Writes go through one lane, in the order they were issued: a stream is created before events are appended to it and
 * closed after them, as on SQLite. Stream creations and closings wait up to OPS_FLUSH_MS to share a transaction
 * (thousands of short jobs); appends take every operation queued before them into their own transaction; reads wait
 * for every write issued before them, so readers see each creation and closing made before they asked.
 */
import type pg from 'pg';
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
import type { PgDatabase } from './database.js';

const OPS_FLUSH_MS = 25;

type StreamOp =
  | { kind: 'create'; name: string; jobId: string; attempt: number; pi: string | null; createdAt: number }
  | { kind: 'close'; name: string; at: number };

export class PostgresLogStore implements LogStore {
  readonly kind = 'postgres';
  private pendingOps: StreamOp[] = [];
  private opsTimer: NodeJS.Timeout | undefined;
  /** The last write issued; every write starts after it (errors do not stop the lane). */
  private lane: Promise<unknown> = Promise.resolve();

  constructor(private readonly db: PgDatabase) {
    db.hold();
  }

  migrate(): Promise<void> {
    return this.db.migrate();
  }

  private enqueue<T>(write: () => Promise<T>): Promise<T> {
    const done = this.lane.then(write, write);
    this.lane = done.catch(() => undefined);
    return done;
  }

  private takeOps(): StreamOp[] {
    if (this.opsTimer) clearTimeout(this.opsTimer);
    this.opsTimer = undefined;
    const ops = this.pendingOps;
    this.pendingOps = [];
    return ops;
  }

  private queueOp(op: StreamOp): Promise<void> {
    this.pendingOps.push(op);
    this.opsTimer ??= setTimeout(() => void this.flushOps().catch(() => undefined), OPS_FLUSH_MS);
    return Promise.resolve();
  }

  /** Writes the queued creations and closings (in their own transaction), after every write issued before. */
  private flushOps(): Promise<void> {
    const ops = this.takeOps();
    if (!ops.length) return this.enqueue(async () => undefined);
    return this.enqueue(() => this.db.transaction((c) => applyOps(c, ops)));
  }

  /** Before a read: every write issued so far has settled. */
  private async settled(): Promise<void> {
    if (this.pendingOps.length) await this.flushOps().catch(() => undefined);
    await this.lane;
  }

  async createStream(s: { name: string; jobId: string; attempt: number; pi?: string; createdAt: number }) {
    return this.queueOp({
      kind: 'create',
      name: s.name,
      jobId: s.jobId,
      attempt: s.attempt,
      pi: s.pi ?? null,
      createdAt: s.createdAt,
    });
  }

  async closeStream(name: string, at: number): Promise<void> {
    return this.queueOp({ kind: 'close', name, at });
  }

  append(batch: readonly LogAppend[], ingestionTime: number): Promise<void> {
    const ops = this.takeOps();
    // The chunks' buffers are reused by the sink once this settles: copy nothing, but finish before resolving.
    return this.enqueue(() =>
      this.db.transaction(async (c) => {
        await applyOps(c, ops);
        for (const a of batch) await appendStream(c, a, ingestionTime);
      }),
    );
  }

  async getStream(name: string): Promise<LogStreamRecord | undefined> {
    await this.settled();
    const [r] = await this.db.query<StreamRow>('SELECT * FROM log_streams WHERE name = $1', [name], 'log-stream');
    return r ? toStreamRecord(r) : undefined;
  }

  async listStreams(q: LogStreamQuery): Promise<LogStreamRecord[]> {
    await this.settled();
    const where: string[] = [];
    const args: unknown[] = [];
    const p = (v: unknown): string => {
      args.push(v);
      return `$${args.length}`;
    };
    if (q.prefix) where.push(`name >= ${p(q.prefix)} AND name < ${p(q.prefix + PREFIX_END)}`);
    if (q.names) where.push(`name = ANY(${p(q.names)}::text[])`);
    if (q.pi !== undefined) where.push(`pi = ${p(q.pi)}`);
    if (q.startTime !== undefined) where.push(`last_ts >= ${p(q.startTime)}`);
    if (q.endTime !== undefined) where.push(`first_ts < ${p(q.endTime)}`);
    const byName = q.orderBy === 'LogStreamName';
    const key = byName ? 'name' : 'COALESCE(last_ts, 0)';
    const cmp = q.descending ? '<' : '>';
    if (q.after) {
      const k = p(byName ? String(q.after.key) : Number(q.after.key));
      where.push(`(${key} ${cmp} ${k} OR (${key} = ${k} AND name ${cmp} ${p(q.after.name)}))`);
    }
    const dir = q.descending ? 'DESC' : 'ASC';
    const order = byName ? `name ${dir}` : `${key} ${dir}, name ${dir}`;
    const sql = `SELECT * FROM log_streams ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ${p(q.limit)}`;
    return (await this.db.query<StreamRow>(sql, args)).map(toStreamRecord);
  }

  async seqAtTime(stream: string, time: number): Promise<number> {
    await this.settled();
    return this.seqAt(stream, time);
  }

  private async seqAt(stream: string, time: number): Promise<number> {
    const [s] = await this.db.query<StreamRow>('SELECT * FROM log_streams WHERE name = $1', [stream], 'log-stream');
    if (!s) return 0;
    const [c] = await this.db.query<ChunkRow>(
      `SELECT first_seq, end_seq, first_ts, ingest, data FROM log_chunks
       WHERE stream_id = $1 AND last_ts >= $2 ORDER BY last_ts, first_seq LIMIT 1`,
      [s.id, time],
      'log-chunk-at-time',
    );
    if (!c) return s.event_count;
    const { ts } = indexChunk(c.data, c.first_ts);
    const i = ts.findIndex((t) => t >= time);
    return i < 0 ? c.end_seq : c.first_seq + i;
  }

  async readEvents(q: LogEventRead): Promise<LogEventRecord[]> {
    await this.settled();
    const [s] = await this.db.query<StreamRow>('SELECT * FROM log_streams WHERE name = $1', [q.stream], 'log-stream');
    if (!s) return [];
    return readEventPage(q, {
      after: (from) =>
        this.db.query<ChunkRow>(
          `SELECT first_seq, end_seq, first_ts, ingest, data FROM log_chunks
           WHERE stream_id = $1 AND end_seq > $2 ORDER BY end_seq LIMIT ${CHUNK_BATCH}`,
          [s.id, from],
          'log-chunks-forward',
        ),
      before: (before) =>
        this.db.query<ChunkRow>(
          `SELECT first_seq, end_seq, first_ts, ingest, data FROM log_chunks
           WHERE stream_id = $1 AND first_seq < $2 ORDER BY first_seq DESC LIMIT ${CHUNK_BATCH}`,
          [s.id, before],
          'log-chunks-backward',
        ),
      seqAt: (time) => this.seqAt(q.stream, time),
    });
  }

  async purge(before: number): Promise<number> {
    await this.settled();
    return this.db.transaction(async (c) => {
      await c.query(
        `DELETE FROM log_chunks WHERE stream_id IN
         (SELECT id FROM log_streams WHERE closed_at IS NOT NULL AND closed_at < $1)`,
        [before],
      );
      return (await c.query('DELETE FROM log_streams WHERE closed_at IS NOT NULL AND closed_at < $1', [before]))
        .rowCount!;
    });
  }

  async close(): Promise<void> {
    await this.settled().catch(() => undefined);
    await this.db.release();
  }
}

/** Creations, then closings, each as one statement (a closing never precedes its stream's creation). */
async function applyOps(c: pg.PoolClient, ops: readonly StreamOp[]): Promise<void> {
  const creates = ops.filter((o) => o.kind === 'create');
  const closes = ops.filter((o) => o.kind === 'close');
  if (creates.length)
    await c.query({
      name: 'log-create-streams',
      text: `INSERT INTO log_streams (name, job_id, attempt, pi, created_at)
             SELECT * FROM unnest($1::text[], $2::text[], $3::int4[], $4::text[], $5::int8[])
             ON CONFLICT (name) DO NOTHING`,
      values: [
        creates.map((o) => o.name),
        creates.map((o) => o.jobId),
        creates.map((o) => o.attempt),
        creates.map((o) => o.pi),
        creates.map((o) => o.createdAt),
      ],
    });
  if (closes.length)
    await c.query({
      name: 'log-close-streams',
      text: `UPDATE log_streams s SET closed_at = x.at FROM unnest($1::text[], $2::int8[]) AS x(name, at)
             WHERE s.name = x.name AND s.closed_at IS NULL`,
      values: [closes.map((o) => o.name), closes.map((o) => o.at)],
    });
}

async function appendStream(c: pg.PoolClient, a: LogAppend, ingest: number): Promise<void> {
  if (a.chunks.length === 0) return;
  const s = (
    await c.query<StreamRow>({
      name: 'log-stream-for-update',
      text: 'SELECT * FROM log_streams WHERE name = $1 FOR UPDATE',
      values: [a.stream],
    })
  ).rows[0];
  if (!s) return; // purged or never opened: nothing to attach the events to
  let seq = s.event_count;
  let bytes = 0;
  let lastTs = s.last_ts ?? 0;
  let firstTs: number | undefined;
  for (const chunk of a.chunks) {
    if (chunk.count === 0) continue;
    const k = clampChunk(chunk, lastTs);
    // One row per ~64 KB chunk: the Buffer goes as a binary parameter (an array of them would travel as hex text).
    await c.query({
      name: 'log-insert-chunk',
      text: `INSERT INTO log_chunks (stream_id, first_seq, end_seq, first_ts, last_ts, ingest, data)
             VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      values: [s.id, seq, seq + k.count, k.firstTs, k.lastTs, ingest, k.data],
    });
    firstTs ??= k.firstTs;
    seq += k.count;
    bytes += k.bytes;
    lastTs = k.lastTs;
  }
  if (firstTs === undefined) return;
  await c.query({
    name: 'log-update-stream',
    text: `UPDATE log_streams SET event_count = $1, stored_bytes = stored_bytes + $2,
           first_ts = COALESCE(first_ts, $3), last_ts = $4, last_ingest = $5 WHERE id = $6`,
    values: [seq, bytes, firstTs, lastTs, ingest, s.id],
  });
}
