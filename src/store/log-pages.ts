/**
 * What both log stores share beyond SQL: the rows of `log_streams` and `log_chunks` (the same columns on SQLite and
 * PostgreSQL), their mapping to the port's records, and the paging of GetLogEvents over packed chunks (log-chunk.ts),
 * forward or backward, within a time range, a count and a byte budget. Each store only says how to fetch the next
 * batch of chunks in either direction and where a timestamp falls.
 */
import type { LogEventRead, LogEventRecord, LogStreamRecord } from '../core/ports.js';
import { indexChunk } from './log-chunk.js';

/** Chunks fetched per query while reading. */
export const CHUNK_BATCH = 8;
/** The highest code point: `prefix || PREFIX_END` bounds a name-prefix range scan. */
export const PREFIX_END = '\u{10FFFF}';

export interface StreamRow {
  id: number;
  name: string;
  job_id: string;
  attempt: number;
  pi: string | null;
  created_at: number;
  first_ts: number | null;
  last_ts: number | null;
  last_ingest: number | null;
  event_count: number;
  stored_bytes: number;
  closed_at: number | null;
}

export interface ChunkRow {
  first_seq: number;
  end_seq: number;
  first_ts: number;
  ingest: number;
  data: Buffer;
}

export function toStreamRecord(r: StreamRow): LogStreamRecord {
  return {
    name: r.name,
    jobId: r.job_id,
    attempt: r.attempt,
    ...(r.pi !== null ? { pi: r.pi } : {}),
    createdAt: r.created_at,
    ...(r.first_ts !== null ? { firstEventAt: r.first_ts } : {}),
    ...(r.last_ts !== null ? { lastEventAt: r.last_ts } : {}),
    ...(r.last_ingest !== null ? { lastIngestionAt: r.last_ingest } : {}),
    eventCount: r.event_count,
    storedBytes: r.stored_bytes,
    ...(r.closed_at !== null ? { closedAt: r.closed_at } : {}),
  };
}

/** How a store reads the chunks of one stream. */
export interface ChunkSource {
  /** Up to CHUNK_BATCH chunks with `end_seq > from`, in ascending order. */
  after(from: number): Promise<ChunkRow[]> | ChunkRow[];
  /** Up to CHUNK_BATCH chunks with `first_seq < before`, in descending order. */
  before(before: number): Promise<ChunkRow[]> | ChunkRow[];
  /** The sequence number of the first event at or after `time`. */
  seqAt(time: number): Promise<number>;
}

/** One page of GetLogEvents from a stream's chunks, in ascending order whichever the direction. */
export async function readEventPage(q: LogEventRead, chunks: ChunkSource): Promise<LogEventRecord[]> {
  const out: LogEventRecord[] = [];
  let budget = q.maxBytes;
  // Returns false when the page is full.
  const take = (c: ChunkRow, i: number, ts: number, off: number, len: number): boolean => {
    if (out.length >= q.limit || (out.length > 0 && len + q.perEventOverhead > budget)) return false;
    budget -= len + q.perEventOverhead;
    out.push({
      seq: c.first_seq + i,
      timestamp: ts,
      ingestionTime: c.ingest,
      message: c.data.toString('utf8', off, off + len),
      bytes: len,
    });
    return true;
  };
  if (q.direction === 'forward') {
    let from = q.from;
    if (q.startTime !== undefined) from = Math.max(from, await chunks.seqAt(q.startTime));
    for (;;) {
      const rows = await chunks.after(from);
      if (rows.length === 0) return out;
      for (const c of rows) {
        const { offsets, lengths, ts } = indexChunk(c.data, c.first_ts);
        for (let i = Math.max(0, from - c.first_seq); i < offsets.length; i++) {
          if (q.endTime !== undefined && ts[i]! >= q.endTime) return out;
          if (!take(c, i, ts[i]!, offsets[i]!, lengths[i]!)) return out;
        }
        from = c.end_seq;
      }
    }
  }
  let before = q.from;
  if (q.endTime !== undefined) before = Math.min(before, await chunks.seqAt(q.endTime));
  for (;;) {
    const rows = await chunks.before(before);
    if (rows.length === 0) break;
    let done = false;
    for (const c of rows) {
      const { offsets, lengths, ts } = indexChunk(c.data, c.first_ts);
      for (let i = Math.min(offsets.length, before - c.first_seq) - 1; i >= 0 && !done; i--) {
        if (q.startTime !== undefined && ts[i]! < q.startTime) done = true;
        else if (!take(c, i, ts[i]!, offsets[i]!, lengths[i]!)) done = true;
      }
      before = c.first_seq;
      if (done) break;
    }
    if (done) break;
  }
  return out.reverse();
}
