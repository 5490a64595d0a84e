/**
 * The packed form of a run of consecutive events of one stream, stored as one row: the LogChunk format of the port
 * (core/ports.ts): per event a little-endian u32 message length, a u32 millisecond offset from the chunk's first
 * timestamp, then the message's UTF-8 bytes. The sink packs events in this form as it splits output, so the store
 * inserts chunks as they come (one B-tree insert per ~64 KB instead of per line).
 */
import type { LogChunk } from '../core/ports.js';

export const CHUNK_EVENT_HEADER = 8;

/**
 * The chunk with every timestamp raised to at least `minTs` (a stream re-attached after a restart, or a clock that
 * stepped back, must not store events older than the ones already stored: reads rely on ascending timestamps).
 */
export function clampChunk(c: LogChunk, minTs: number): LogChunk {
  if (c.firstTs >= minTs) return c;
  const data = Buffer.from(c.data);
  const shift = minTs - c.firstTs;
  let off = 0;
  while (off + CHUNK_EVENT_HEADER <= data.length) {
    const len = data.readUInt32LE(off);
    data.writeUInt32LE(Math.max(0, data.readUInt32LE(off + 4) - shift), off + 4);
    off += CHUNK_EVENT_HEADER + len;
  }
  return { ...c, data, firstTs: minTs, lastTs: Math.max(c.lastTs, minTs) };
}

/** Byte offsets, lengths and timestamps of a chunk's events, without decoding the messages. */
export function indexChunk(data: Buffer, firstTs: number): { offsets: number[]; lengths: number[]; ts: number[] } {
  const offsets: number[] = [];
  const lengths: number[] = [];
  const ts: number[] = [];
  let off = 0;
  while (off + CHUNK_EVENT_HEADER <= data.length) {
    const len = data.readUInt32LE(off);
    ts.push(firstTs + data.readUInt32LE(off + 4));
    offsets.push(off + CHUNK_EVENT_HEADER);
    lengths.push(len);
    off += CHUNK_EVENT_HEADER + len;
  }
  return { offsets, lengths, ts };
}
