/**
 * The engine's array jobs: each released parent's children as an ArrayState (one byte a child until it is placed),
 * the N_TO_N links between arrays, and the parent's stored statusSummary kept in step. The engine owns the jobs'
 * transitions and queues; this part decides, for the children, what follows from a parent's release, a child's end
 * or a cancel, and tells the engine through ArrayHost.
 */
import type { Store } from '../../core/ports.js';
import { isTerminal, type Job, type JobStatus } from '../../core/types.js';
import { ArrayState, ChildCode, deriveChild, parseChildId } from '../array-state.js';
import type { WriteBuffer } from '../write-buffer.js';

/** What the array bookkeeping needs of the engine. */
export interface ArrayHost {
  now(): number;
  /** Whether the engine still leads (a deposed engine's pending work is dropped). */
  leading(): boolean;
  readonly writer: WriteBuffer;
  readonly store: Pick<Store, 'getJobs' | 'listJobs'>;
  /** The engine's live (unsettled) job of this id, if any. */
  liveJob(jobId: string): Job | undefined;
  setStatus(job: Job, status: JobStatus, reason?: string): void;
  /** A job's status changed outside setStatus (a child stored FAILED without ever being live). */
  changed(job: Job): void;
  /** The parent reached SUCCEEDED/FAILED. */
  settled(job: Job): void;
  /** Files the parent among its queue's RUNNABLE work (it has children to start). */
  addRunnable(job: Job): void;
  dropRunnable(jobId: string): void;
  kick(): void;
}

export class ArrayJobs {
  /** Array parent id -> its children's compact state (from release until the parent ends). */
  private readonly states = new Map<string, ArrayState>();
  /** Array id -> arrays that depend on it N_TO_N. */
  private readonly nToNDependents = new Map<string, Set<string>>();
  /** Arrays whose stored statusSummary is behind (recomputed once per turn of the event loop). */
  private readonly dirty = new Set<ArrayState>();

  constructor(private readonly host: ArrayHost) {}

  /** The released arrays, by parent id (the scheduler reads their children's codes). */
  get all(): ReadonlyMap<string, ArrayState> {
    return this.states;
  }

  get(parentId: string): ArrayState | undefined {
    return this.states.get(parentId);
  }

  /** The array of a child id (`<parent>:<index>`) and the child's index, while the array is released. */
  ofChild(jobId: string): { st: ArrayState; index: number } | undefined {
    const c = parseChildId(jobId);
    const st = c && this.states.get(c.parentId);
    return c && st ? { st, index: c.index } : undefined;
  }

  /** The parent's own dependencies are met: its children become PENDING/RUNNABLE by the array's mode. */
  release(parent: Job): void {
    const st = this.track(parent);
    parent.arrayReleased = true;
    if (parent.status !== 'PENDING') this.host.setStatus(parent, 'PENDING');
    else this.host.writer.enqueue(parent);
    if (parent.isCancelled) {
      for (let i = 0; i < st.size; i++) this.failWaitingChild(st, i, parent.statusReason ?? 'Cancelled', false);
      this.maybeFinish(st);
      return;
    }
    if (st.mode === 'PARALLEL') st.codes.fill(ChildCode.RUNNABLE);
    else if (st.mode === 'SEQUENTIAL') st.codes[0] = ChildCode.RUNNABLE;
    else if (st.nToNOf) this.linkNToN(st, st.nToNOf);
    this.host.addRunnable(parent);
    this.touch(st);
    this.host.kick();
  }

  /** After a restart: rebuilds a released array's state from its stored children. */
  async rebuild(parent: Job): Promise<void> {
    const st = this.track(parent);
    const page = await this.host.store.listJobs({ arrayJobId: parent.jobId, limit: st.size + 1 });
    for (const row of page.jobs) {
      const i = row.arrayProperties?.index;
      if (i === undefined) continue;
      const live = this.host.liveJob(row.jobId);
      if (live && !isTerminal(live.status)) {
        st.live.set(i, live);
        st.set(i, ChildCode.LIVE);
      } else st.set(i, row.status === 'SUCCEEDED' ? ChildCode.SUCCEEDED : ChildCode.FAILED);
    }
    if (st.mode === 'PARALLEL') {
      for (let i = 0; i < st.size; i++) if (st.codes[i] === ChildCode.PENDING) st.codes[i] = ChildCode.RUNNABLE;
    } else if (st.mode === 'SEQUENTIAL') {
      for (let i = 0; i < st.size; i++)
        if (st.codes[i] === ChildCode.PENDING && (i === 0 || st.codes[i - 1] === ChildCode.SUCCEEDED))
          st.codes[i] = ChildCode.RUNNABLE;
    } else if (st.nToNOf) this.linkNToN(st, st.nToNOf);
    this.host.addRunnable(parent);
    this.touch(st);
    this.maybeFinish(st);
  }

  private track(parent: Job): ArrayState {
    const size = parent.arrayProperties!.size!;
    const mode = parent.arrayMode ?? 'PARALLEL';
    const nTo = mode === 'N_TO_N' ? parent.dependsOn.find((d) => d.type === 'N_TO_N')?.jobId : undefined;
    const st = new ArrayState(parent, size, mode, nTo);
    this.states.set(parent.jobId, st);
    return st;
  }

  private linkNToN(st: ArrayState, nTo: string): void {
    let set = this.nToNDependents.get(nTo);
    if (!set) this.nToNDependents.set(nTo, (set = new Set()));
    set.add(st.parent.jobId);
    const other = this.states.get(nTo);
    const apply = (i: number, status: JobStatus | undefined): void => {
      if (st.codes[i] !== ChildCode.PENDING) return;
      if (status === 'SUCCEEDED') st.codes[i] = ChildCode.RUNNABLE;
      else if (status === 'FAILED') this.failWaitingChild(st, i, `Dependent Job ${nTo}:${i} failed`, false);
    };
    if (other) {
      for (let i = 0; i < st.size; i++) apply(i, other.codes[i] === ChildCode.LIVE ? undefined : other.status(i));
      this.maybeFinish(st);
      return;
    }
    // The other array has ended: its children are all stored.
    const ids = Array.from({ length: st.size }, (_, i) => `${nTo}:${i}`);
    void this.host.writer
      .barrier()
      .then(() => this.host.store.getJobs(ids))
      .then((rows) => {
        for (const r of rows) apply(r.arrayProperties?.index ?? -1, r.status);
        for (let i = 0; i < st.size; i++)
          if (st.codes[i] === ChildCode.PENDING && !rows.some((r) => r.arrayProperties?.index === i))
            apply(i, 'FAILED');
        this.maybeFinish(st);
        this.host.addRunnable(st.parent);
        this.host.kick();
      });
  }

  /**
   * Fails a child that never started (dependency failed, cancelled, a queue's time limit): it is stored as a FAILED
   * row. `finish`: the parent may end now (false while the caller fails more of its children first).
   */
  failWaitingChild(st: ArrayState, i: number, reason: string, finish: boolean): void {
    const child = failedChild(st, i, reason, this.host.now());
    if (st.parent.isCancelled) child.isCancelled = true;
    this.host.writer.enqueue(child);
    this.host.changed(child);
    this.childEnded(st, i, false, finish);
  }

  /** Turns a child that waited as one byte into a Job, as it is placed; undefined when it no longer waits. */
  materialize(jobId: string): Job | undefined {
    const c = this.ofChild(jobId);
    if (!c || c.st.codes[c.index] !== ChildCode.RUNNABLE) return undefined;
    const { st, index } = c;
    const now = this.host.now();
    const child = deriveChild(st.parent, index, 'RUNNABLE', now);
    st.live.set(index, child);
    st.set(index, ChildCode.LIVE);
    st.parent.startedAt ??= now;
    this.touch(st);
    return child;
  }

  /** A job reached SUCCEEDED/FAILED: when it is a live child of a released array, that array moves on. */
  settled(job: Job): void {
    if (job.arrayProperties?.index === undefined) return;
    const c = this.ofChild(job.jobId);
    if (c && c.st.live.get(c.index) === job) this.childEnded(c.st, c.index, job.status === 'SUCCEEDED');
  }

  /** A child ended: its array's bookkeeping, SEQUENTIAL and N_TO_N successors, and maybe the parent. */
  private childEnded(st: ArrayState, i: number, ok: boolean, finish = true): void {
    st.live.delete(i);
    st.set(i, ok ? ChildCode.SUCCEEDED : ChildCode.FAILED);
    this.touch(st);
    const childId = `${st.parent.jobId}:${i}`;
    for (const b of this.nToNDependents.get(st.parent.jobId) ?? []) {
      const sb = this.states.get(b);
      if (!sb || sb.codes[i] !== ChildCode.PENDING) continue;
      if (ok) {
        sb.codes[i] = ChildCode.RUNNABLE;
        this.host.addRunnable(sb.parent);
        this.host.kick();
      } else this.failWaitingChild(sb, i, `Dependent Job ${childId} failed`, true);
    }
    if (st.mode === 'SEQUENTIAL' && i + 1 < st.size && st.codes[i + 1] === ChildCode.PENDING) {
      if (ok) {
        st.codes[i + 1] = ChildCode.RUNNABLE;
        this.host.addRunnable(st.parent);
        this.host.kick();
      } else {
        // Fail the rest in a loop rather than by recursion: an array can have 10,000 children.
        const now = this.host.now();
        for (let k = i + 1; k < st.size && st.codes[k] === ChildCode.PENDING; k++) {
          this.host.writer.enqueue(failedChild(st, k, `Dependent Job ${st.parent.jobId}:${k - 1} failed`, now));
          st.set(k, ChildCode.FAILED);
        }
      }
    }
    if (finish) this.maybeFinish(st);
  }

  /**
   * Keeps the parent's stored `statusSummary` in step with its children (the parent's row is rewritten at most once
   * per group commit), so every replica reads the same summary.
   */
  touch(st: ArrayState): void {
    if (this.dirty.size === 0)
      setImmediate(() => {
        for (const a of this.dirty) {
          if (this.states.get(a.parent.jobId) !== a || !this.host.leading()) continue;
          a.parent.arrayProperties = { size: a.size, statusSummary: a.statusSummary() };
          this.host.writer.enqueue(a.parent);
        }
        this.dirty.clear();
      });
    this.dirty.add(st);
  }

  /** Once every child has ended, the parent SUCCEEDS (all succeeded) or FAILS. */
  maybeFinish(st: ArrayState): void {
    if (st.settled < st.size) return;
    const parent = st.parent;
    if (!this.states.has(parent.jobId)) return;
    this.states.delete(parent.jobId);
    this.host.dropRunnable(parent.jobId);
    if (st.nToNOf) this.nToNDependents.get(st.nToNOf)?.delete(parent.jobId);
    parent.arrayProperties = { size: st.size, statusSummary: st.statusSummary() };
    parent.stoppedAt = this.host.now();
    if (st.failed === 0) this.host.setStatus(parent, 'SUCCEEDED', `All ${st.size} child jobs succeeded`);
    else
      this.host.setStatus(
        parent,
        'FAILED',
        parent.isCancelled && parent.statusReason
          ? parent.statusReason
          : `${st.failed} of ${st.size} child jobs failed`,
      );
    this.host.settled(parent);
  }
}

/** The FAILED row of child `i` of the array, which never ran. */
function failedChild(st: ArrayState, i: number, reason: string, now: number): Job {
  const child = deriveChild(st.parent, i, 'FAILED', now);
  child.statusReason = reason.slice(0, 1024);
  child.stoppedAt = now;
  return child;
}
