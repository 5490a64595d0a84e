/**
 * Shares the parts that active jobs hold equal, so 1,000,000 queued jobs cost the engine about half the memory: a job
 * parsed from its stored document owns a copy of every string and object in it (its queue's ARN, its definition's
 * containerProperties, the same statusReason), about 1.1 KB in all; sharing the equal ones leaves about 0.5 KB.
 *
 * Sound because the engine never changes these parts in place: it replaces a job's statusReason or status (strings),
 * and writes what an attempt did into the job's own `container` and `attempts`, which are never shared. Array
 * children share their parent's parts the same way (array-state.ts).
 */
import type { Job } from '../../core/types.js';

/** Past this many distinct values a table starts over, so unusual values (reasons naming a job) cannot grow it. */
const MAX_ENTRIES = 50_000;

export class JobInterner {
  private readonly strings = new Map<string, string>();
  /** Per part and hint (e.g. the job definition's ARN): the last value held, shared while jobs bring equal ones. */
  private readonly objects = new Map<string, object>();

  /** The held string equal to `v` (e.g. a statusReason many jobs share). */
  string(v: string): string {
    const held = this.strings.get(v);
    if (held !== undefined) return held;
    if (this.strings.size >= MAX_ENTRIES) this.strings.clear();
    this.strings.set(v, v);
    return v;
  }

  /**
   * The held value equal to `v` under `hint`, else `v` (held from now on). A hint, not a serialization, keys the table:
   * comparing with the one candidate costs a few property reads where JSON.stringify of every part cost a third of
   * a restart with 1,000,000 jobs.
   */
  private obj<T extends object>(hint: string, v: T): T {
    const held = this.objects.get(hint);
    if (held !== undefined && jsonEqual(held, v)) return held as T;
    if (this.objects.size >= MAX_ENTRIES) this.objects.clear();
    this.objects.set(hint, v);
    return v;
  }

  /** Points the job's shareable parts at equal values already held; returns the same job. */
  intern(job: Job): Job {
    job.jobQueueArn = this.string(job.jobQueueArn);
    const def = (job.jobDefinitionArn = this.string(job.jobDefinitionArn));
    job.status = this.string(job.status) as Job['status'];
    if (job.statusReason !== undefined) job.statusReason = this.string(job.statusReason);
    if (job.shareIdentifier !== undefined) job.shareIdentifier = this.string(job.shareIdentifier);
    job.containerProperties = this.obj(`c${def}`, job.containerProperties);
    const r = job.resources;
    job.resources = this.obj(`r${r.vcpus}/${r.memoryMiB}/${r.gpus}`, r);
    job.parameters = this.obj(`p${def}`, job.parameters);
    if (job.owner) job.owner = this.obj(`o${job.owner.user}\n${job.owner.pi}`, job.owner);
    if (job.dependsOn.length === 0) job.dependsOn = this.obj('d', job.dependsOn);
    if (job.retryStrategy) job.retryStrategy = this.obj(`s${def}`, job.retryStrategy);
    if (job.timeout) job.timeout = this.obj(`t${def}`, job.timeout);
    if (job.tags) job.tags = this.obj(`g${def}`, job.tags);
    return job;
  }
}

/** Deep equality of two JSON values (what a stored document holds: no cycles, no functions). */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  let n = 0;
  for (const k in ao) {
    if (!Object.prototype.hasOwnProperty.call(bo, k) || !jsonEqual(ao[k], bo[k])) return false;
    n++;
  }
  for (const _ in bo) n--;
  return n === 0;
}
