/**
 * Rows of RUNNABLE jobs that never ran, read by a new leader without their documents (Store.loadCompactRunnable):
 * the columns both stores select and their conversion. Equal parts (queue ARNs, share identifiers, resources) are
 * shared across the rows of one load, so 1,000,000 jobs hold a few hundred distinct values.
 */
import { compactRunnable } from '../core/compact-runnable.js';
import type { CompactRunnable, ConsumableRequirement } from '../core/types.js';

/** What each store's query returns per job (numbers may come back as strings from PostgreSQL's text operators). */
export interface CompactRow {
  id: string;
  queue_arn: string;
  created_at: number | string;
  changed: number | string | null;
  share: string | null;
  priority: number | string | null;
  vcpus: number | string | null;
  memory: number | string | null;
  gpus: number | string | null;
  /** The consumableResourceProperties object as JSON text, if the job has one. */
  consumables: string | null;
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
    const vcpus = Number(r.vcpus ?? 0);
    const memoryMiB = Number(r.memory ?? 0);
    const gpus = Number(r.gpus ?? 0);
    const key = `${vcpus}/${memoryMiB}/${gpus}`;
    let resources = this.resources.get(key);
    if (!resources) this.resources.set(key, (resources = { vcpus, memoryMiB, gpus }));
    const createdAt = Number(r.created_at);
    return compactRunnable(
      r.id,
      this.string(r.queue_arn),
      createdAt,
      r.changed === null ? createdAt : Number(r.changed),
      r.share === null ? undefined : this.string(r.share),
      r.priority === null ? undefined : Number(r.priority),
      resources,
      r.consumables === null
        ? undefined
        : (JSON.parse(r.consumables) as { consumableResourceList: ConsumableRequirement[] }),
    );
  }
}
