/**
 * The CloudWatch Logs API (json-1.1, `Logs_20140328.<Operation>`) over the LogStore: one log group,
 * `/aws/batch/job`, with one stream per job attempt. Semantics follow AWS's documentation:
 * - GetLogEvents: without a token, startFromHead=false returns the newest events, true the oldest; startTime is
 *   inclusive, endTime exclusive; a page holds at most `limit` (≤ 10,000) events and 1 MB (message bytes + 26 per
 *   event); at the end of the stream the token passed in comes back unchanged, which is how clients know to stop.
 * - FilterLogEvents: events of many streams merged by time, plain-term filter patterns, nextToken paging.
 * Access: admins read every stream; other callers only their PI group's, and others' look absent.
 */
import { InvalidParameterException, ResourceNotFoundException } from '../../core/errors.js';
import type { LogStore, LogStreamRecord } from '../../core/ports.js';
import { EVENT_OVERHEAD_BYTES } from '../../service/log-capture.js';
import type { Caller } from '../../core/caller.js';
import type { JsonTargetApi } from '../http.js';
import { loadServiceModel } from '../model-validator.js';
import { parseFilterPattern } from './filter-pattern.js';
import { decodeOpaque, decodePosition, encodeOpaque, encodePosition } from './tokens.js';

export const BATCH_LOG_GROUP = '/aws/batch/job';
const PAGE_MAX_BYTES = 1024 * 1024;
const MAX_EVENTS = 10_000;
/** FilterLogEvents examines at most this many events per call, then hands back a token (as AWS does on big scans). */
const FILTER_SCAN_BUDGET = 200_000;
const FILTER_MAX_STREAMS = 5000;

type Input = Record<string, any>;

/** FNV-1a of a stream name, as 10 digits (part of eventIds). */
function nameHash(name: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return String(h).padStart(10, '0');
}

export interface LogsApiOptions {
  region: string;
  accountId: string;
  /** Reported as the log group's creationTime. */
  createdAt: number;
  retentionDays?: number;
}

export function logsApi(store: LogStore, opts: LogsApiOptions): JsonTargetApi {
  const groupArn = `arn:aws:logs:${opts.region}:${opts.accountId}:log-group:${BATCH_LOG_GROUP}`;

  /** Resolves logGroupName / logGroupIdentifier (name or ARN); only /aws/batch/job exists. */
  const checkGroup = (input: Input, required: boolean): void => {
    const { logGroupName: name, logGroupIdentifier: ident } = input;
    if (name !== undefined && ident !== undefined)
      throw new InvalidParameterException('give logGroupName or logGroupIdentifier, not both');
    if (name === undefined && ident === undefined) {
      if (required)
        throw new InvalidParameterException(`logGroupName is required: openbatch's log group is ${BATCH_LOG_GROUP}`);
      return;
    }
    const v = String(name ?? ident).replace(/:\*$/, '');
    if (v !== BATCH_LOG_GROUP && v !== groupArn)
      throw new ResourceNotFoundException(
        `The specified log group does not exist: ${JSON.stringify(v)}; job output is in ${BATCH_LOG_GROUP}`,
      );
  };

  const visible = (caller: Caller, s: LogStreamRecord | undefined): s is LogStreamRecord =>
    s !== undefined && (caller.admin || s.pi === caller.pi);

  const streamFor = async (caller: Caller, name: string): Promise<LogStreamRecord> => {
    const s = await store.getStream(name);
    if (!visible(caller, s))
      throw new ResourceNotFoundException(
        `The specified log stream does not exist: ${JSON.stringify(name)}; find a job's stream in describe-jobs (container.logStreamName)`,
      );
    return s;
  };

  const timeRange = (input: Input): { startTime?: number; endTime?: number } => ({
    ...(input.startTime !== undefined ? { startTime: Number(input.startTime) } : {}),
    ...(input.endTime !== undefined ? { endTime: Number(input.endTime) } : {}),
  });

  const streamView = (s: LogStreamRecord) => ({
    logStreamName: s.name,
    creationTime: s.createdAt,
    ...(s.firstEventAt !== undefined ? { firstEventTimestamp: s.firstEventAt } : {}),
    ...(s.lastEventAt !== undefined ? { lastEventTimestamp: s.lastEventAt } : {}),
    ...(s.lastIngestionAt !== undefined ? { lastIngestionTime: s.lastIngestionAt } : {}),
    arn: `${groupArn}:log-stream:${s.name}`,
    storedBytes: s.storedBytes,
  });

  async function getLogEvents(caller: Caller, input: Input) {
    checkGroup(input, true);
    const s = await streamFor(caller, String(input.logStreamName));
    const limit = input.limit !== undefined ? Number(input.limit) : MAX_EVENTS;
    const token = input.nextToken !== undefined ? String(input.nextToken) : undefined;
    const pos = token
      ? decodePosition(token)
      : input.startFromHead === true
        ? { direction: 'forward' as const, seq: 0 }
        : { direction: 'backward' as const, seq: s.eventCount };
    const events = await store.readEvents({
      stream: s.name,
      from: pos.seq,
      direction: pos.direction,
      ...timeRange(input),
      limit,
      maxBytes: PAGE_MAX_BYTES,
      perEventOverhead: EVENT_OVERHEAD_BYTES,
    });
    const first = events[0];
    const last = events[events.length - 1];
    let fwd: string;
    let bwd: string;
    if (first && last) {
      fwd = encodePosition('forward', last.seq + 1);
      bwd = encodePosition('backward', first.seq);
    } else {
      // Nothing (more) in that direction: the same token again tells the client it has reached the end.
      fwd = token && pos.direction === 'forward' ? token : encodePosition('forward', pos.seq);
      bwd = token && pos.direction === 'backward' ? token : encodePosition('backward', pos.seq);
    }
    return {
      events: events.map((e) => ({ timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime })),
      nextForwardToken: fwd,
      nextBackwardToken: bwd,
    };
  }

  async function describeLogStreams(caller: Caller, input: Input) {
    checkGroup(input, true);
    const orderBy = input.orderBy === 'LastEventTime' ? 'LastEventTime' : 'LogStreamName';
    const prefix = input.logStreamNamePrefix !== undefined ? String(input.logStreamNamePrefix) : undefined;
    if (prefix !== undefined && orderBy === 'LastEventTime')
      throw new InvalidParameterException(
        'Cannot order by LastEventTime with a logStreamNamePrefix: drop orderBy or the prefix',
      );
    const limit = input.limit !== undefined ? Number(input.limit) : 50;
    const after =
      input.nextToken !== undefined
        ? decodeOpaque<{ key: string | number; name: string }>(
            String(input.nextToken),
            'DescribeLogStreams',
            (v) => typeof v?.name === 'string' && (typeof v.key === 'string' || typeof v.key === 'number'),
          )
        : undefined;
    const rows = await store.listStreams({
      ...(prefix !== undefined ? { prefix } : {}),
      orderBy,
      descending: input.descending === true,
      ...(caller.admin ? {} : { pi: caller.pi }),
      limit: limit + 1,
      ...(after ? { after } : {}),
    });
    const page = rows.slice(0, limit);
    const lastRow = page[page.length - 1];
    return {
      logStreams: page.map(streamView),
      ...(rows.length > limit && lastRow
        ? {
            nextToken: encodeOpaque({
              key: orderBy === 'LogStreamName' ? lastRow.name : (lastRow.lastEventAt ?? 0),
              name: lastRow.name,
            }),
          }
        : {}),
    };
  }

  async function describeLogGroups(_caller: Caller, input: Input) {
    const prefix = input.logGroupNamePrefix !== undefined ? String(input.logGroupNamePrefix) : undefined;
    const pattern = input.logGroupNamePattern !== undefined ? String(input.logGroupNamePattern) : undefined;
    if (prefix !== undefined && pattern !== undefined)
      throw new InvalidParameterException('give logGroupNamePrefix or logGroupNamePattern, not both');
    const idents = input.logGroupIdentifiers as string[] | undefined;
    const match =
      (prefix === undefined || BATCH_LOG_GROUP.startsWith(prefix)) &&
      (pattern === undefined || BATCH_LOG_GROUP.toLowerCase().includes(pattern.toLowerCase())) &&
      (idents === undefined || idents.some((i) => i.replace(/:\*$/, '') === BATCH_LOG_GROUP || i === groupArn));
    if (!match || input.nextToken !== undefined) return { logGroups: [] };
    return {
      logGroups: [
        {
          logGroupName: BATCH_LOG_GROUP,
          creationTime: opts.createdAt,
          ...(opts.retentionDays ? { retentionInDays: opts.retentionDays } : {}),
          metricFilterCount: 0,
          arn: `${groupArn}:*`,
          storedBytes: 0,
          logGroupClass: 'STANDARD',
          logGroupArn: groupArn,
        },
      ],
    };
  }

  async function filterLogEvents(caller: Caller, input: Input) {
    checkGroup(input, true);
    const names = input.logStreamNames as string[] | undefined;
    const prefix = input.logStreamNamePrefix !== undefined ? String(input.logStreamNamePrefix) : undefined;
    if (names !== undefined && prefix !== undefined)
      throw new InvalidParameterException('give logStreamNames or logStreamNamePrefix, not both');
    const filter = parseFilterPattern(input.filterPattern as string | undefined);
    const limit = input.limit !== undefined ? Number(input.limit) : MAX_EVENTS;
    const range = timeRange(input);
    const resume =
      input.nextToken !== undefined
        ? decodeOpaque<{ t: number; s: string; q: number }>(
            String(input.nextToken),
            'FilterLogEvents',
            (v) => typeof v?.t === 'number' && typeof v.s === 'string' && typeof v.q === 'number',
          )
        : undefined;
    const streams = await store.listStreams({
      ...(names ? { names } : {}),
      ...(prefix !== undefined ? { prefix } : {}),
      orderBy: 'LogStreamName',
      descending: false,
      ...(caller.admin ? {} : { pi: caller.pi }),
      ...(resume ? { startTime: Math.max(range.startTime ?? 0, resume.t) } : range),
      ...(range.endTime !== undefined ? { endTime: range.endTime } : {}),
      limit: FILTER_MAX_STREAMS,
    });
    // One cursor per stream, positioned after the resume point in (timestamp, stream name, seq) order.
    const cursors = await Promise.all(
      streams.map(async (s) => {
        let from = range.startTime !== undefined ? await store.seqAtTime(s.name, range.startTime) : 0;
        if (resume) {
          const after =
            s.name < resume.s
              ? await store.seqAtTime(s.name, resume.t + 1)
              : s.name === resume.s
                ? resume.q + 1
                : await store.seqAtTime(s.name, resume.t);
          from = Math.max(from, after);
        }
        return {
          name: s.name,
          id: nameHash(s.name),
          from,
          buf: [] as Awaited<ReturnType<LogStore['readEvents']>>,
          done: false,
        };
      }),
    );
    const refill = async (c: (typeof cursors)[number]) => {
      if (c.buf.length > 0 || c.done) return;
      c.buf = await store.readEvents({
        stream: c.name,
        from: c.from,
        direction: 'forward',
        ...range,
        limit: 1000,
        maxBytes: 4 * PAGE_MAX_BYTES,
        perEventOverhead: EVENT_OVERHEAD_BYTES,
      });
      if (c.buf.length === 0) c.done = true;
      else c.from = c.buf[c.buf.length - 1]!.seq + 1;
      c.buf.reverse(); // pop() from the end is cheap
    };
    const out: { logStreamName: string; timestamp: number; message: string; ingestionTime: number; eventId: string }[] =
      [];
    let bytes = 0;
    let scanned = 0;
    let lastPos: { t: number; s: string; q: number } | undefined;
    for (;;) {
      let best: (typeof cursors)[number] | undefined;
      for (const c of cursors) {
        await refill(c);
        const e = c.buf[c.buf.length - 1];
        if (!e) continue;
        const b = best?.buf[best.buf.length - 1];
        if (!b || e.timestamp < b.timestamp || (e.timestamp === b.timestamp && c.name < best!.name)) best = c;
      }
      if (!best) return { events: out, searchedLogStreams: [] };
      const e = best.buf[best.buf.length - 1]!;
      if (filter(e.message)) {
        if (out.length >= limit || (out.length > 0 && bytes + e.bytes + EVENT_OVERHEAD_BYTES > PAGE_MAX_BYTES))
          return { events: out, searchedLogStreams: [], nextToken: encodeOpaque(lastPos) };
        bytes += e.bytes + EVENT_OVERHEAD_BYTES;
        out.push({
          logStreamName: best.name,
          timestamp: e.timestamp,
          message: e.message,
          ingestionTime: e.ingestionTime,
          // Stable across calls: `aws logs tail --follow` drops events whose eventId it has already printed.
          eventId: `${e.timestamp}${best.id}${String(e.seq).padStart(12, '0')}`,
        });
      }
      best.buf.pop();
      lastPos = { t: e.timestamp, s: best.name, q: e.seq };
      if (++scanned >= FILTER_SCAN_BUDGET)
        return { events: out, searchedLogStreams: [], nextToken: encodeOpaque(lastPos) };
    }
  }

  return {
    targetPrefix: 'Logs_20140328',
    service: 'logs',
    model: loadServiceModel('logs'),
    operations: {
      GetLogEvents: getLogEvents,
      DescribeLogStreams: describeLogStreams,
      DescribeLogGroups: describeLogGroups,
      FilterLogEvents: filterLogEvents,
    },
  };
}
