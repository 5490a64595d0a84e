/**
 * The children of one array job, kept compact: children are derived from the parent, not materialized, until they
 * start. A child is one byte of state while it waits (PENDING or RUNNABLE); it becomes a Job (in memory and in the
 * store) when it is placed, and stays a stored row once it ends. So submitting 10,000 children writes one row.
 *
 * Dependency modes, as AWS Batch defines them:
 * - PARALLEL: every child is RUNNABLE once the parent's own dependencies are met;
 * - SEQUENTIAL (`dependsOn: [{type: SEQUENTIAL}]`): child i waits for child i-1 to succeed;
 * - N_TO_N (`dependsOn: [{jobId: A, type: N_TO_N}]`): child i waits for child i of array A to succeed.
 * A child whose dependency failed fails without running.
 */
import type { Job, JobStatus } from '../core/types.js';

export const ChildCode = { PENDING: 0, RUNNABLE: 1, LIVE: 2, SUCCEEDED: 3, FAILED: 4 } as const;
export type ChildCode = (typeof ChildCode)[keyof typeof ChildCode];

export type ArrayMode = 'PARALLEL' | 'SEQUENTIAL' | 'N_TO_N';

export class ArrayState {
  readonly codes: Uint8Array;
  /** Materialized children that have not ended yet. */
  readonly live = new Map<number, Job>();
  /** Every index below this is no longer waiting to be started for the first time. */
  private cursor = 0;
  private settledCount = 0;
  private failedCount = 0;

  constructor(
    readonly parent: Job,
    readonly size: number,
    readonly mode: ArrayMode,
    /** For N_TO_N: the parent id of the array this one depends on. */
    readonly nToNOf?: string,
  ) {
    this.codes = new Uint8Array(size);
  }

  get settled(): number {
    return this.settledCount;
  }

  get failed(): number {
    return this.failedCount;
  }

  /** Marks a child's state; keeps the counters in step. */
  set(index: number, code: ChildCode): void {
    const old = this.codes[index] as ChildCode;
    if (old === code) return;
    const wasSettled = old === ChildCode.SUCCEEDED || old === ChildCode.FAILED;
    const isSettled = code === ChildCode.SUCCEEDED || code === ChildCode.FAILED;
    if (!wasSettled && isSettled) this.settledCount++;
    if (old !== ChildCode.FAILED && code === ChildCode.FAILED) this.failedCount++;
    this.codes[index] = code;
  }

  /** Indices of children waiting to be started for the first time, in order. */
  *runnableIndices(): Generator<number> {
    while (
      this.cursor < this.size &&
      this.codes[this.cursor] !== ChildCode.RUNNABLE &&
      this.codes[this.cursor] !== ChildCode.PENDING
    )
      this.cursor++;
    for (let i = this.cursor; i < this.size; i++) if (this.codes[i] === ChildCode.RUNNABLE) yield i;
  }

  /** How many children wait to be started for the first time (runnableIndices() without making them). */
  runnableCount(): number {
    let n = 0;
    for (let i = this.cursor; i < this.size; i++) if (this.codes[i] === ChildCode.RUNNABLE) n++;
    return n;
  }

  hasRunnable(): boolean {
    return !this.runnableIndices().next().done;
  }

  /** The status a child has now (for LIVE children, their job's status). */
  status(index: number): JobStatus {
    switch (this.codes[index] as ChildCode) {
      case ChildCode.PENDING:
        return 'PENDING';
      case ChildCode.RUNNABLE:
        return 'RUNNABLE';
      case ChildCode.SUCCEEDED:
        return 'SUCCEEDED';
      case ChildCode.FAILED:
        return 'FAILED';
      default:
        return this.live.get(index)?.status ?? 'RUNNABLE';
    }
  }

  /** AWS's `arrayProperties.statusSummary`: how many children are in each state. */
  statusSummary(): Record<JobStatus, number> {
    const s: Record<JobStatus, number> = {
      SUBMITTED: 0,
      PENDING: 0,
      RUNNABLE: 0,
      STARTING: 0,
      RUNNING: 0,
      SUCCEEDED: 0,
      FAILED: 0,
    };
    for (let i = 0; i < this.size; i++) {
      const c = this.codes[i] as ChildCode;
      if (c === ChildCode.LIVE) s[this.live.get(i)?.status ?? 'RUNNABLE']++;
      else s[this.status(i)]++;
    }
    return s;
  }
}

/** A child job derived from its parent: same spec, its own id, index and lifecycle. */
export function deriveChild(parent: Job, index: number, status: JobStatus, now: number): Job {
  const {
    arrayProperties: _a,
    attempts: _t,
    container: _c,
    startedAt: _s,
    stoppedAt: _p,
    statusReason: _r,
    isCancelled: _i,
    isTerminated: _x,
    ...spec
  } = parent;
  return {
    ...spec,
    jobId: `${parent.jobId}:${index}`,
    jobArn: `${parent.jobArn}:${index}`,
    status,
    statusChangedAt: now,
    attempts: [],
    container: {},
    dependsOn: [],
    arrayProperties: { index },
  };
}

/** Splits `<parentId>:<index>` ids. */
export function parseChildId(id: string): { parentId: string; index: number } | undefined {
  const colon = id.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const tail = id.slice(colon + 1);
  if (!/^\d{1,5}$/.test(tail)) return undefined;
  return { parentId: id.slice(0, colon), index: Number(tail) };
}
