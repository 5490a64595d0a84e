/**
 * Reads jobs from the store, as every replica sees them. Array children that have not started are not stored (see
 * docs/decisions/0002): they are derived from their parent, with the status the engine gives them:
 * - PARALLEL: RUNNABLE;
 * - SEQUENTIAL: child i is RUNNABLE once child i-1 SUCCEEDED (child 0 at once), else PENDING;
 * - N_TO_N on array A: child i is RUNNABLE once child i of A SUCCEEDED, else PENDING.
 * Children exist only once the parent is released (its own dependencies met) and until it ends.
 */
import type { Store } from '../../core/ports.js';
import { isTerminal, type Job, type JobStatus } from '../../core/types.js';
import { deriveChild, parseChildId } from '../array-state.js';

/** What readers need of the local engine, when this replica leads: its pending writes flushed first. */
export interface LocalEngineAccess {
  barrier(): Promise<void>;
  barrierFor(ids: Iterable<string>): Promise<void>;
  barrierWhere(matches: (job: Job) => boolean): Promise<void>;
}

export class JobReader {
  constructor(
    private readonly store: Store,
    private readonly engine: () => LocalEngineAccess | undefined,
  ) {}

  /** Resolves once this replica's own engine has committed what it changed (read-your-writes on the leader). */
  async settle(): Promise<void> {
    await this.engine()?.barrier();
  }

  /** As `settle`, for the jobs `matches` picks only (a listing of one queue, or of an array's children). */
  async settleWhere(matches: (job: Job) => boolean): Promise<void> {
    await this.engine()?.barrierWhere(matches);
  }

  /**
   * Jobs by id: stored ones, and array children derived from their parent while they wait, once the local engine's
   * pending commits of these jobs have landed. `settle: false` skips that wait, for callers that need only what never
   * changes after SubmitJob answered (that a job exists, its owner, its tags, its array size).
   */
  async findJobs(ids: readonly string[], opts: { settle?: boolean } = {}): Promise<Map<string, Job>> {
    const out = new Map<string, Job>();
    if (ids.length === 0) return out;
    // Only these jobs' pending commits (an array child's may be its parent's): not the whole queue of writes.
    if (opts.settle !== false)
      await this.engine()?.barrierFor(
        ids.flatMap((id) => {
          const parentId = parseChildId(id)?.parentId;
          return parentId ? [id, parentId] : [id];
        }),
      );
    for (const j of await this.store.getJobs(ids)) out.set(j.jobId, j);
    const children = ids.map((id) => (out.has(id) ? undefined : parseChildId(id))).filter((c) => !!c);
    if (children.length === 0) return out;
    const parents = new Map(
      (await this.store.getJobs([...new Set(children.map((c) => c.parentId))])).map((p) => [p.jobId, p]),
    );
    for (const c of children) {
      const parent = parents.get(c.parentId);
      if (!parent || !hasWaitingChildren(parent) || c.index >= parent.arrayProperties!.size!) continue;
      const status = (await this.waitingStatuses(parent, c.index, 1, new Map()))[0]!;
      out.set(`${c.parentId}:${c.index}`, deriveChild(parent, c.index, status, parent.statusChangedAt));
    }
    return out;
  }

  /**
   * The statuses of children [from, from + count) of `parent` that are not stored, given the stored rows of
   * [from - 1, from + count) by index.
   */
  async waitingStatuses(parent: Job, from: number, count: number, stored: Map<number, Job>): Promise<JobStatus[]> {
    const mode = parent.arrayMode ?? 'PARALLEL';
    if (mode === 'PARALLEL') return new Array<JobStatus>(count).fill('RUNNABLE');
    const out: JobStatus[] = [];
    if (mode === 'SEQUENTIAL') {
      let prev = from === 0 ? undefined : stored.get(from - 1);
      if (from > 0 && !prev) prev = (await this.store.getJobs([`${parent.jobId}:${from - 1}`]))[0];
      for (let i = from; i < from + count; i++) {
        const ok = i === 0 || (i === from ? prev : stored.get(i - 1))?.status === 'SUCCEEDED';
        out.push(ok ? 'RUNNABLE' : 'PENDING');
      }
      return out;
    }
    const other = parent.dependsOn.find((d) => d.type === 'N_TO_N')?.jobId;
    const ids = Array.from({ length: count }, (_, k) => `${other}:${from + k}`);
    const done = new Set(
      (other ? await this.store.getJobs(ids) : []).filter((j) => j.status === 'SUCCEEDED').map((j) => j.jobId),
    );
    for (const id of ids) out.push(done.has(id) ? 'RUNNABLE' : 'PENDING');
    return out;
  }
}

/** Whether an array parent has children that may be waiting unstored (released and not ended). */
export function hasWaitingChildren(parent: Job): boolean {
  return parent.arrayProperties?.size !== undefined && parent.arrayReleased === true && !isTerminal(parent.status);
}
