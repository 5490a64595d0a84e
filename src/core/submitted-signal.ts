/**
 * The payload of the `jobs-submitted` signal (Store.insertJobs): a JSON array with one entry per new job. A job that
 * may be held compactly (mayBeCompact: RUNNABLE, never ran, neither an array nor a multi-node job) carries what the
 * leader needs to file it without reading its document back: its CompactRunnable fields, the reason the inserting
 * replica gave it (the leader files the job as it is only if it finds the same one) and its owner's PI group (for
 * dashboards' live updates). Any other job is its id alone: the leader reads it by id. Split into several signals
 * past NOTIFY's 8000 bytes (store/postgres/notify-payload.ts), each a valid array.
 *
 * A payload that is not a JSON array is read as ids, comma-separated (what replicas sent before).
 */
import { compactRunnable, mayBeCompact, schedFieldsOf, type SchedFields } from './compact-runnable.js';
import type { CompactRunnable, Job } from './types.js';

/** [id, queue ARN, createdAt, ...SchedFields, reason, pi] */
type Filed = [string, string, number, ...SchedFields, string | null, string | null];

/** Past this many characters an entry is sent as the id alone (one NOTIFY holds about 7,900 bytes). */
const MAX_ENTRY = 2000;

/** A RUNNABLE job as the signal describes it. */
export interface SubmittedRunnable {
  record: CompactRunnable;
  statusReason: string | undefined;
  pi: string | undefined;
}

export interface SubmittedJobs {
  /** Jobs to read by id. */
  ids: string[];
  /** RUNNABLE jobs the leader may file from the signal. */
  runnable: SubmittedRunnable[];
}

/** The signal's payload for `jobs` (before splitting). */
export function submittedSignal(jobs: readonly Job[]): string {
  const parts: string[] = [];
  for (const j of jobs) {
    let entry: string | undefined;
    if (mayBeCompact(j)) {
      const filed: Filed = [
        j.jobId,
        j.jobQueueArn,
        j.createdAt,
        ...schedFieldsOf(j),
        j.statusReason ?? null,
        j.owner?.pi ?? null,
      ];
      entry = JSON.stringify(filed);
      if (entry.length > MAX_ENTRY) entry = undefined;
    }
    parts.push(entry ?? JSON.stringify(j.jobId));
  }
  return `[${parts.join(',')}]`;
}

/** Reads a payload of the `jobs-submitted` signal (a malformed entry is ignored: the leader also rescans). */
export function readSubmittedSignal(payload: string): SubmittedJobs {
  const out: SubmittedJobs = { ids: [], runnable: [] };
  if (!payload.startsWith('[')) {
    for (const id of payload.split(',')) if (id !== '') out.ids.push(id);
    return out;
  }
  let entries: unknown;
  try {
    entries = JSON.parse(payload);
  } catch {
    return out;
  }
  if (!Array.isArray(entries)) return out;
  for (const e of entries as unknown[]) {
    if (typeof e === 'string') {
      if (e !== '') out.ids.push(e);
    } else if (Array.isArray(e) && e.length === 12 && typeof e[0] === 'string' && typeof e[1] === 'string') {
      const [id, queue, createdAt, changedAt, share, priority, vcpus, memoryMiB, gpus, consumables, reason, pi] =
        e as Filed;
      out.runnable.push({
        record: compactRunnable(
          id,
          queue,
          createdAt,
          changedAt,
          share ?? undefined,
          priority ?? undefined,
          { vcpus, memoryMiB, gpus },
          consumables ?? undefined,
        ),
        statusReason: reason ?? undefined,
        pi: pi ?? undefined,
      });
    }
  }
  return out;
}
