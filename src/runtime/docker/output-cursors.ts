/**
 * Where each running attempt's output was last reported: the engine's timestamp of the last record, per attempt,
 * kept in a file so that a server re-attaching after a restart resumes there. Saved at most once a second, so after
 * a hard kill at most that much output is reported twice. Also the engine log timestamps they are made of.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const SAVE_EVERY_MS = 1000;

/** RFC 3339 timestamp with nanoseconds (the engine's log timestamps) -> nanoseconds since the epoch. */
export function timestampNs(ts: string): bigint | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) return undefined;
  const secs = Date.parse(`${m[1]}${m[3]}`) / 1000;
  if (!Number.isFinite(secs)) return undefined;
  return BigInt(secs) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** The logs API's `since`: "seconds.nanoseconds". */
export function sinceParam(ts: string): number {
  const ns = timestampNs(ts) ?? 0n;
  // The engine parses the text as given; a string keeps all nine digits.
  return `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}` as unknown as number;
}

export class OutputCursors {
  private cursors: Record<string, string>;
  private timer?: NodeJS.Timeout;

  constructor(private readonly file: string) {
    try {
      this.cursors = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    } catch {
      this.cursors = {};
    }
  }

  get(key: string): string | undefined {
    return this.cursors[key];
  }

  set(key: string, ts: string): void {
    this.cursors[key] = ts;
    this.saveSoon();
  }

  delete(key: string): void {
    if (!(key in this.cursors)) return;
    delete this.cursors[key];
    this.saveSoon();
  }

  save(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    writeFileSync(this.file, JSON.stringify(this.cursors));
  }

  private saveSoon(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.save(), SAVE_EVERY_MS);
    this.timer.unref();
  }
}
