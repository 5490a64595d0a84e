/**
 * Splits a spawner helper's stdout into its messages (protocol in spawner.ts): text lines of hex fields, where an
 * `O` line is followed by its payload of raw output bytes. Output is forwarded raw, not hex-encoded in the line,
 * because for a job writing tens of MB the encoding, the line splitting and the decoding were most of the server's
 * work. A payload that lies within one read is handed on as a view of it, without a copy.
 */
const unhex = (f: string | undefined): string => Buffer.from(f ?? '', 'hex').toString();

export class SpawnerReader {
  /** Bytes of an unfinished text line. */
  private line: Buffer | undefined;
  /** The `O` line whose payload is being read, its missing byte count and the parts read so far. */
  private payload: { fields: string[]; missing: number; parts: Buffer[] } | undefined;

  constructor(
    private readonly onMessage: (fields: string[]) => void,
    private readonly onOutput: (fields: string[], data: Buffer) => void,
  ) {}

  push(data: Buffer): void {
    let pos = 0;
    while (pos < data.length) {
      const p = this.payload;
      if (p) {
        const take = Math.min(p.missing, data.length - pos);
        p.parts.push(data.subarray(pos, pos + take));
        pos += take;
        p.missing -= take;
        if (p.missing > 0) return;
        this.payload = undefined;
        this.onOutput(p.fields, p.parts.length === 1 ? p.parts[0]! : Buffer.concat(p.parts));
        continue;
      }
      const nl = data.indexOf(10, pos);
      if (nl < 0) {
        // Copied: a view would pin the whole read until the line ends.
        const rest = Buffer.from(data.subarray(pos));
        this.line = this.line ? Buffer.concat([this.line, rest]) : rest;
        return;
      }
      let text = data.toString('latin1', pos, nl);
      if (this.line) {
        text = this.line.toString('latin1') + text;
        this.line = undefined;
      }
      pos = nl + 1;
      if (!text) continue;
      const fields = text.split(' ');
      if (fields[0] !== 'O') {
        this.onMessage(fields);
        continue;
      }
      const size = Number(unhex(fields[3]));
      if (!Number.isSafeInteger(size) || size < 0) continue; // not from a spawner of this version: nothing to read
      // A payload within this read is handed on at once, as a view.
      if (data.length - pos >= size) {
        this.onOutput(fields, data.subarray(pos, pos + size));
        pos += size;
      } else {
        this.payload = { fields, missing: size, parts: [] };
      }
    }
  }
}
