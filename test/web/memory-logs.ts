/**
 * A small in-memory log store (sink + reader, CloudWatch GetLogEvents paging) used to exercise the dashboard's log
 * viewer with real job output until the logs feature's store is wired into the server.
 */
import type { LogSink } from '../../src/core/ports.js';
import type { DashboardLogReader } from '../../src/api/web/dashboard.js';

export class MemoryLogs implements LogSink, DashboardLogReader {
  readonly streams = new Map<string, { timestamp: number; message: string }[]>();
  private readonly partial = new Map<string, string>();

  open(streamName: string): void {
    this.streams.set(streamName, []);
  }

  write(streamName: string, _source: 'stdout' | 'stderr', data: Buffer): void {
    const text = (this.partial.get(streamName) ?? '') + data.toString('utf8');
    const lines = text.split('\n');
    this.partial.set(streamName, lines.pop() ?? '');
    const events = this.streams.get(streamName) ?? [];
    for (const message of lines) events.push({ timestamp: Date.now(), message });
    this.streams.set(streamName, events);
  }

  async close(streamName: string): Promise<void> {
    const rest = this.partial.get(streamName);
    if (rest) this.streams.get(streamName)?.push({ timestamp: Date.now(), message: rest });
    this.partial.delete(streamName);
  }

  async getLogEvents(streamName: string, opts: { startFromHead?: boolean; nextToken?: string; limit?: number }) {
    const events = this.streams.get(streamName) ?? [];
    const from = opts.nextToken ? Number(opts.nextToken.slice(2)) : 0;
    const page = events.slice(from, from + (opts.limit ?? 10_000));
    return { events: page, nextForwardToken: `f/${from + page.length}`, nextBackwardToken: `b/${from}` };
  }
}
