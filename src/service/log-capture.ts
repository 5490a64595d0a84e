/**
 * Turns attempts' output into CloudWatch-style log events: chunks are split at newlines (a partial line waits for
 * its newline or the end of the attempt; stdout and stderr keep separate partial lines), lines longer than one
 * event allows are cut at a UTF-8 boundary, each event gets its arrival time, and events are written to the
 * LogStore in batches: every `flushMs`, or at once when `maxPendingBytes` have piled up. With a synchronous store
 * (SQLite) that immediate flush blocks the event loop briefly, so a fast writer is slowed by its pipe instead of
 * growing the server's memory.
 */
import type { LogAppend, LogSink, LogStore } from '../core/ports.js';

/** CloudWatch counts 26 bytes per event on top of the message; an event is at most 256 KiB in all. */
export const EVENT_OVERHEAD_BYTES = 26;
export const MAX_EVENT_MESSAGE_BYTES = 256 * 1024 - EVENT_OVERHEAD_BYTES;

export interface LogCaptureOptions {
  flushMs?: number;
  maxPendingBytes?: number;
  clock?: () => number;
  /** Where store failures are reported (they never throw into the job's lifecycle). */
  onError?: (err: unknown) => void;
}

interface StreamState {
  partial: { stdout: Buffer | undefined; stderr: Buffer | undefined };
  pending: { timestamp: number; message: Buffer }[];
  lastTs: number;
}

/** The UTF-8-safe cut point at or below `max`: never inside a multi-byte character. */
function cutPoint(buf: Buffer, max: number): number {
  let cut = max;
  while (cut > 0 && (buf[cut]! & 0xc0) === 0x80) cut--;
  return cut > 0 ? cut : max;
}

export class LogCapture implements LogSink {
  private readonly streams = new Map<string, StreamState>();
  private readonly flushMs: number;
  private readonly maxPending: number;
  private readonly clock: () => number;
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private inflight = new Set<Promise<void>>();

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
    for (;;) {
      const nl = data.indexOf(10, start);
      if (nl < 0) break;
      let line = data.subarray(start, nl);
      const prev = st.partial[source];
      if (prev) {
        line = Buffer.concat([prev, line]);
        st.partial[source] = undefined;
      }
      this.emit(st, ts, line);
      start = nl + 1;
    }
    if (start < data.length) {
      const prev = st.partial[source];
      // Copy the tail: keeping a subarray would pin the whole chunk until the line ends.
      let part = prev ? Buffer.concat([prev, data.subarray(start)]) : Buffer.from(data.subarray(start));
      while (part.length > MAX_EVENT_MESSAGE_BYTES) {
        const cut = cutPoint(part, MAX_EVENT_MESSAGE_BYTES);
        this.push(st, ts, part.subarray(0, cut));
        part = Buffer.from(part.subarray(cut));
      }
      st.partial[source] = part;
    }
    if (this.pendingBytes >= this.maxPending) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  private emit(st: StreamState, ts: number, line: Buffer): void {
    if (line.length > 0 && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
    while (line.length > MAX_EVENT_MESSAGE_BYTES) {
      const cut = cutPoint(line, MAX_EVENT_MESSAGE_BYTES);
      this.push(st, ts, line.subarray(0, cut));
      line = line.subarray(cut);
    }
    this.push(st, ts, line);
  }

  private push(st: StreamState, ts: number, message: Buffer): void {
    st.pending.push({ timestamp: ts, message });
    this.pendingBytes += message.length + EVENT_OVERHEAD_BYTES;
  }

  private state(name: string): StreamState {
    let st = this.streams.get(name);
    if (!st) {
      st = { partial: { stdout: undefined, stderr: undefined }, pending: [], lastTs: 0 };
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
      if (st.pending.length === 0) continue;
      batch.push({ stream, events: st.pending });
      st.pending = [];
    }
    this.pendingBytes = 0;
    this.track(this.store.append(batch, this.clock()));
  }

  async close(streamName: string): Promise<void> {
    const st = this.streams.get(streamName);
    if (st) {
      const ts = Math.max(this.clock(), st.lastTs);
      for (const source of ['stdout', 'stderr'] as const) {
        const part = st.partial[source];
        if (part && part.length > 0) this.emit(st, ts, part);
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
        if (part && part.length > 0) this.emit(st, Math.max(this.clock(), st.lastTs), part);
        st.partial[source] = undefined;
      }
    }
    this.flush();
    await Promise.all([...this.inflight]);
  }
}
