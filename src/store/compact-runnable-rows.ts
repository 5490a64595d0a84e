/**
 * The jobs table's `sched` column: the scheduling fields of a RUNNABLE job that never ran (core/compact-runnable.ts),
 * written with every version of the job (NULL once it starts, ends, or for any other job), so a new leader reads
 * 1,000,000 of them without parsing a document (Store.loadCompactRunnable). Equal parts (queue ARNs, share
 * identifiers, resources) are shared across the rows of one load, so 1,000,000 jobs hold a few hundred distinct values.
 */
import { compactRunnable, mayBeCompact, schedFieldsOf, type SchedFields } from '../core/compact-runnable.js';
import type { CompactRunnable, Job } from '../core/types.js';

/** The job's `sched` value: its scheduling fields as JSON if it may be held compactly, else null. */
export function schedColumn(j: Job): string | null {
  return mayBeCompact(j) ? JSON.stringify(schedFieldsOf(j)) : null;
}

/** What each store's query returns per job (created_at may come back as a string from PostgreSQL's int8). */
export interface CompactRow {
  id: string;
  queue_arn: string;
  created_at: number | string;
  sched: string;
}

export class CompactRowReader {
  private readonly strings = new Map<string, string>();
  private readonly resources = new Map<string, CompactRunnable['resources']>();

  private string(v: string): string {
    const held = this.strings.get(v);
    if (held !== undefined) return held;
    this.strings.set(v, v);
    return v;
  }

  read(r: CompactRow): CompactRunnable {
    const [changed, share, priority, vcpus, memoryMiB, gpus, consumables] = JSON.parse(r.sched) as SchedFields;
    const key = `${vcpus}/${memoryMiB}/${gpus}`;
    let resources = this.resources.get(key);
    if (!resources) this.resources.set(key, (resources = { vcpus, memoryMiB, gpus }));
    return compactRunnable(
      r.id,
      this.string(r.queue_arn),
      Number(r.created_at),
      changed,
      share === null ? undefined : this.string(share),
      priority ?? undefined,
      resources,
      consumables ?? undefined,
    );
  }
}
