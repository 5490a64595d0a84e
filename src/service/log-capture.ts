/**
 * Turns attempts' output into CloudWatch-style log events: chunks are split at newlines (a partial line waits for
 * its newline or the end of the attempt; stdout and stderr keep separate partial lines), lines longer than one
 * event allows are cut at a UTF-8 boundary, each event gets its arrival time, and events are written to the
 * LogStore in batches: every `flushMs`, or at once when `maxPendingBytes` have piled up. With a synchronous store
 * (SQLite) that immediate flush blocks the event loop briefly, so a fast writer is slowed by its pipe instead of
 * growing the server's memory.
 *
 * Events are packed straight into per-stream chunk buffers (the LogChunk format) as lines are found: a job writing
 * a million lines would otherwise make a million event objects and Buffer views, whose garbage collection was the
 * largest cost of ingest.
 */
import type { LogAppend, LogChunk, LogSink, LogStore } from '../core/ports.js';

/** CloudWatch counts 26 bytes per event on top of the message; an event is at most 256 KiB in all. */
export const EVENT_OVERHEAD_BYTES = 26;
export const MAX_EVENT_MESSAGE_BYTES = 256 * 1024 - EVENT_OVERHEAD_BYTES;
/** Per-event header of a packed chunk: u32 message length, u32 ms offset from the chunk's first timestamp. */
const HEADER = 8;
/** A chunk is sealed once it holds this many bytes or events: big enough for fast ingest, small enough to page. */
const CHUNK_SEAL_BYTES = 64 * 1024;
const CHUNK_MAX_EVENTS = 2000;
const CHUNK_CAPACITY = CHUNK_SEAL_BYTES + 8 * 1024;
/**
 * Chunk buffers are reused once the store has taken a batch: fresh 72 KB buffers live outside the JS heap, and with
 * little other garbage the collector ran too rarely to free them (the server's RSS grew by tens of MB per job).
 */
const POOL_MAX = 16;
/** Lines shorter than this are copied byte by byte: cheaper than a native copy call for a typical log line. */
const SHORT_COPY = 96;

export interface LogCaptureOptions {
  flushMs?: number;
  maxPendingBytes?: number;
  clock?: () => number;
  /** Where store failures are reported (they never throw into the job's lifecycle). */
  onError?: (err: unknown) => void;
}

interface StreamState {
  partial: { stdout: Buffer | undefined; stderr: Buffer | undefined };
  lastTs: number;
  /** The chunk being filled: `buf[0, off)` holds `count` packed events, stamped `firstTs` to `chunkLastTs`. */
  buf: Buffer | undefined;
  off: number;
  count: number;
  firstTs: number;
  chunkLastTs: number;
  bytes: number;
  sealed: LogChunk[];
}

/** The UTF-8-safe cut point (a length) at or below `max` for the bytes from `start`: never inside a character. */
function cutPoint(buf: Buffer, start: number, max: number): number {
  let cut = max;
  while (cut > 0 && (buf[start + cut]! & 0xc0) === 0x80) cut--;
  return cut > 0 ? cut : max;
}

export class LogCapture implements LogSink {
  /** Log events and message bytes stored so far (metrics). */
  readonly ingested = { events: 0, bytes: 0 };
  private readonly streams = new Map<string, StreamState>();
  private readonly flushMs: number;
  private readonly maxPending: number;
  private readonly clock: () => number;
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private inflight = new Set<Promise<void>>();
  /** Free chunk buffers, and the ones in the batch being written (free again when the store's append settles). */
  private readonly pool: Buffer[] = [];
  private lent: Buffer[] = [];

  constructor(
    private readonly store: LogStore,
    opts: LogCaptureOptions = {},
  ) {
    this.flushMs = opts.flushMs ?? 5;
    this.maxPending = opts.maxPendingBytes ?? 4 * 1024 * 1024;
    this.clock = opts.clock ?? Date.now;
    this.onError =
      opts.onError ?? ((err) => console.error(`openbatch logs: storing job output failed: ${String(err)}`));
  }
  private readonly onError: (err: unknown) => void;

  open(streamName: string, meta: { jobId: string; attempt: number; pi?: string }): void {
    this.state(streamName);
    this.track(
      this.store.createStream({
        name: streamName,
        jobId: meta.jobId,
        attempt: meta.attempt,
        ...(meta.pi !== undefined ? { pi: meta.pi } : {}),
        createdAt: this.clock(),
      }),
    );
  }

  write(streamName: string, source: 'stdout' | 'stderr', data: Buffer): void {
    // A stream not opened by this process (an attempt re-attached after a restart) is appended to all the same.
    const st = this.state(streamName);
    const ts = Math.max(this.clock(), st.lastTs);
    st.lastTs = ts;
    let start = 0;
    const prev = st.partial[source];
    if (prev) {
      // The rare path: a line spanning chunks of output is joined once, then packed like any other.
      const nl = data.indexOf(10);
      const line = Buffer.concat([prev, nl < 0 ? data : data.subarray(0, nl)]);
      st.partial[source] = undefined;
      if (nl < 0) {
        this.keepPartial(st, ts, source, line, 0);
        return;
      }
      this.emit(st, ts, line, 0, line.length);
      start = nl + 1;
    }
    for (;;) {
      const nl = data.indexOf(10, start);
      if (nl < 0) break;
      this.emit(st, ts, data, start, nl);
      start = nl + 1;
    }
    // Copy the tail: keeping a subarray would pin the whole chunk until the line ends.
    if (start < data.length) this.keepPartial(st, ts, source, Buffer.from(data.subarray(start)), 0);
    else this.scheduleFlush();
  }

  /** Keeps an unfinished line, emitting whole events from it while it is longer than one event allows. */
  private keepPartial(st: StreamState, ts: number, source: 'stdout' | 'stderr', part: Buffer, start: number): void {
    while (part.length - start > MAX_EVENT_MESSAGE_BYTES) {
      const cut = cutPoint(part, start, MAX_EVENT_MESSAGE_BYTES);
      this.add(st, ts, part, start, start + cut);
      start += cut;
    }
    st.partial[source] = start > 0 ? Buffer.from(part.subarray(start)) : part;
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.pendingBytes >= this.maxPending) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  /** One line `src[start, end)` (without its newline) as one or more events. */
  private emit(st: StreamState, ts: number, src: Buffer, start: number, end: number): void {
    if (end > start && src[end - 1] === 13) end--;
    while (end - start > MAX_EVENT_MESSAGE_BYTES) {
      const cut = cutPoint(src, start, MAX_EVENT_MESSAGE_BYTES);
      this.add(st, ts, src, start, start + cut);
      start += cut;
    }
    this.add(st, ts, src, start, end);
  }

  /** Packs the event `src[start, end)` into the stream's current chunk. */
  private add(st: StreamState, ts: number, src: Buffer, start: number, end: number): void {
    const len = end - start;
    let b = st.buf;
    if (b === undefined || st.off + HEADER + len > b.length) {
      this.seal(st);
      b = st.buf = HEADER + len <= CHUNK_CAPACITY ? this.takeBuffer() : Buffer.allocUnsafe(HEADER + len);
    }
    if (st.count === 0) st.firstTs = ts;
    st.chunkLastTs = ts;
    let o = st.off;
    const dt = ts - st.firstTs;
    b[o] = len;
    b[o + 1] = len >>> 8;
    b[o + 2] = len >>> 16;
    b[o + 3] = len >>> 24;
    b[o + 4] = dt;
    b[o + 5] = dt >>> 8;
    b[o + 6] = dt >>> 16;
    b[o + 7] = dt >>> 24;
    o += HEADER;
    if (len < SHORT_COPY) for (let i = start; i < end; i++) b[o++] = src[i]!;
    else o += src.copy(b, o, start, end);
    st.off = o;
    st.bytes += len;
    this.pendingBytes += len + EVENT_OVERHEAD_BYTES;
    if (++st.count >= CHUNK_MAX_EVENTS || o >= CHUNK_SEAL_BYTES) this.seal(st);
  }

  private takeBuffer(): Buffer {
    return this.pool.pop() ?? Buffer.allocUnsafe(CHUNK_CAPACITY);
  }

  /** Moves the current chunk to the stream's sealed list; its buffer is lent to the store until the batch is written. */
  private seal(st: StreamState): void {
    const b = st.buf;
    if (b === undefined || st.count === 0) return;
    st.buf = undefined;
    if (b.length === CHUNK_CAPACITY) this.lent.push(b);
    const data = b.subarray(0, st.off);
    st.sealed.push({ data, count: st.count, firstTs: st.firstTs, lastTs: st.chunkLastTs, bytes: st.bytes });
    st.off = 0;
    st.count = 0;
    st.bytes = 0;
  }

  private state(name: string): StreamState {
    let st = this.streams.get(name);
    if (!st) {
      st = {
        partial: { stdout: undefined, stderr: undefined },
        lastTs: 0,
        buf: undefined,
        off: 0,
        count: 0,
        firstTs: 0,
        chunkLastTs: 0,
        bytes: 0,
        sealed: [],
      };
      this.streams.set(name, st);
    }
    return st;
  }

  private track(p: Promise<void>): void {
    const q = p.catch(this.onError).finally(() => this.inflight.delete(q));
    this.inflight.add(q);
  }

  /** Writes every pending event in one store transaction. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pendingBytes === 0) return;
    const batch: LogAppend[] = [];
    for (const [stream, st] of this.streams) {
      this.seal(st);
      if (st.sealed.length === 0) continue;
      batch.push({ stream, chunks: st.sealed });
      st.sealed = [];
    }
    this.pendingBytes = 0;
    const lent = this.lent;
    this.lent = [];
    let events = 0;
    let bytes = 0;
    for (const a of batch)
      for (const c of a.chunks) {
        events += c.count;
        bytes += c.bytes;
      }
    const appended = this.store.append(batch, this.clock());
    this.track(appended);
    void appended.then(
      () => {
        this.ingested.events += events;
        this.ingested.bytes += bytes;
      },
      () => undefined,
    );
    // The store is done with the chunks' bytes once its append has settled successfully.
    void appended.then(
      () => {
        for (const b of lent) if (this.pool.length < POOL_MAX) this.pool.push(b);
      },
      () => undefined,
    );
  }

  async close(streamName: string): Promise<void> {
    const st = this.streams.get(streamName);
    if (st) {
      const ts = Math.max(this.clock(), st.lastTs);
      for (const source of ['stdout', 'stderr'] as const) {
        const part = st.partial[source];
        if (part && part.length > 0) this.emit(st, ts, part, 0, part.length);
        st.partial[source] = undefined;
      }
      this.flush();
      this.streams.delete(streamName);
    }
    // Issued now (not after awaiting) so a synchronous store has the stream complete before the job's state moves on.
    const closed = this.store.closeStream(streamName, this.clock());
    this.track(closed);
    await closed.catch(() => undefined);
  }

  /** Flushes everything and waits for the store (server shutdown). Open streams stay open: their jobs are lost. */
  async shutdown(): Promise<void> {
    for (const st of this.streams.values()) {
      for (const source of ['stdout', 'stderr'] as const) {
        const part = st.partial[source];
        if (part && part.length > 0) this.emit(st, Math.max(this.clock(), st.lastTs), part, 0, part.length);
        st.partial[source] = undefined;
      }
    }
    this.flush();
    await Promise.all([...this.inflight]);
  }
}
