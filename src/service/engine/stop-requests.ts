/**
 * CancelJob and TerminateJob as the leader's engine applies them: at once when asked on its own replica (stopLocal),
 * or from the intents any replica records in the store (applyIntents, then deleted with a fenced write). A job held
 * compactly, or not yet taken up from another replica, is read first, so a cancel never loses to its own submission.
 * The engine owns the jobs' transitions; this part decides what a cancel or terminate does to a job, an array or a
 * child, and tells the engine through StopHost.
 */
import { FencedError } from '../../core/errors.js';
import type { Fence, Runtime, Store } from '../../core/ports.js';
import { isTerminal, type Job } from '../../core/types.js';
import { ChildCode, parseChildId } from '../array-state.js';
import type { WriteBuffer } from '../write-buffer.js';
import type { ArrayJobs } from './array-jobs.js';
import type { Allocation } from './capacity.js';
import type { CompactJobs } from './compact-jobs.js';

/** How many intents a pass reads at a time. */
const INTENTS_BATCH = 500;

/** What cancel and terminate need of the engine. */
export interface StopHost {
  /** The fence this engine writes with, while it leads and is not closed. */
  fence(): Fence | undefined;
  /** A fenced write showed that another replica leads now. */
  fenced(err: FencedError): void;
  readonly store: Pick<Store, 'listJobIntents' | 'deleteJobIntents'>;
  readonly writer: Pick<WriteBuffer, 'enqueue' | 'barrier'>;
  readonly compact: Pick<CompactJobs, 'has' | 'fetch'>;
  readonly arrays: ArrayJobs;
  /** The engine's live (whole, unsettled) job of this id, if any. */
  liveJob(jobId: string): Job | undefined;
  /** Takes up jobs another replica inserted that are not in memory yet (ReplicaIntake.adopt). */
  adopt(ids: readonly string[]): Promise<void>;
  /** What a STARTING/RUNNING job's attempt holds. */
  allocation(jobId: string): Allocation | undefined;
  readonly runtime: Pick<Runtime, 'stop'>;
  /** The job ends FAILED with this reason (its array and dependents follow). */
  setFailed(job: Job, reason: string): void;
}

export class StopRequests {
  private intentsRunning: Promise<void> | undefined;

  constructor(private readonly host: StopHost) {}

  /**
   * Applies the cancel/terminate intents recorded by any replica, then removes them (fenced). A job an intent names
   * that is still SUBMITTED and unknown here is admitted first, so a cancel never loses to its own submission.
   */
  applyIntents(): Promise<void> {
    const h = this.host;
    if (!h.fence()) return Promise.resolve();
    // A running pass loops until no intent is left, so a signal during it needs nothing more.
    if (this.intentsRunning) return this.intentsRunning;
    this.intentsRunning = (async () => {
      do {
        const intents = await h.store.listJobIntents(INTENTS_BATCH);
        if (intents.length === 0) break;
        for (const it of intents) {
          await this.ensureKnown(it.jobId);
          if (it.action === 'cancel') this.cancel(it.jobId, it.reason);
          else this.terminate(it.jobId, it.reason);
        }
        await h.writer.barrier();
        const fence = h.fence();
        if (!fence) break;
        await h.store.deleteJobIntents(
          intents.map((i) => i.seq),
          fence,
        );
      } while (h.fence());
    })()
      .catch((err: unknown) => {
        if (err instanceof FencedError) h.fenced(err);
      })
      .finally(() => (this.intentsRunning = undefined));
    return this.intentsRunning;
  }

  /**
   * CancelJob or TerminateJob on the leader's own replica: applied at once and durable before it resolves, without the
   * intent round trip through the store (insert, list, apply, delete: under a steady stream of cancels a caller would
   * wait for every intent queued before its own). Rejects with FencedError when this replica no longer leads (the
   * caller then records an intent for the new leader).
   */
  async stopLocal(jobId: string, action: 'cancel' | 'terminate', reason: string): Promise<void> {
    if (!this.host.fence()) throw new FencedError(-1, undefined);
    await this.ensureKnown(jobId);
    if (!this.host.fence()) throw new FencedError(-1, undefined);
    if (action === 'cancel') this.cancel(jobId, reason);
    else this.terminate(jobId, reason);
    await this.host.writer.barrier();
  }

  /**
   * CancelJob: fails SUBMITTED/PENDING/RUNNABLE jobs (a PENDING one once its dependencies settle, as AWS does) and
   * leaves STARTING/RUNNING ones alone.
   */
  cancel(jobId: string, reason: string): void {
    const h = this.host;
    if (this.stopArrayOrVirtualChild(jobId, reason, false)) return;
    if (h.compact.has(jobId)) return this.afterRead(jobId, () => this.cancel(jobId, reason));
    const live = h.liveJob(jobId);
    if (!live || isTerminal(live.status)) return;
    if (live.status === 'STARTING' || live.status === 'RUNNING') return;
    live.isCancelled = true;
    if (live.status === 'PENDING' || live.status === 'SUBMITTED') {
      live.statusReason = reason;
      h.writer.enqueue(live);
      if (live.status === 'PENDING') return;
    }
    h.setFailed(live, reason);
  }

  /** TerminateJob: as cancel, and stops STARTING/RUNNING attempts (not retried). */
  private terminate(jobId: string, reason: string): void {
    const h = this.host;
    if (this.stopArrayOrVirtualChild(jobId, reason, true)) return;
    if (h.compact.has(jobId)) return this.afterRead(jobId, () => this.terminate(jobId, reason));
    const live = h.liveJob(jobId);
    if (!live || isTerminal(live.status)) return;
    live.isTerminated = true;
    if (live.status === 'STARTING' || live.status === 'RUNNING') {
      const alloc = h.allocation(live.jobId);
      if (alloc) {
        alloc.stopReason = reason;
        h.writer.enqueue(live);
        void h.runtime.stop(live.jobId, alloc.attempt, reason);
      }
      return;
    }
    live.isCancelled = true;
    h.setFailed(live, reason);
  }

  /** Reads the job (an array child: its parent) into memory if it is not whole there yet. */
  private async ensureKnown(jobId: string): Promise<void> {
    const h = this.host;
    const id = parseChildId(jobId)?.parentId ?? jobId;
    if (h.compact.has(id)) return h.compact.fetch([id]);
    if (h.liveJob(id)) return;
    await h.adopt([id]);
  }

  /** Runs `then` once a compact job was read back whole (intents read them first; this is the fallback). */
  private afterRead(jobId: string, then: () => void): void {
    void this.host.compact.fetch([jobId]).then(
      () => this.host.liveJob(jobId) !== undefined && then(),
      () => {},
    );
  }

  /**
   * Cancel/terminate of a released array parent (its waiting children fail at once; with terminate, running ones are
   * stopped; the parent fails once all have settled) or of a child that has not started. True when handled.
   */
  private stopArrayOrVirtualChild(jobId: string, reason: string, terminate: boolean): boolean {
    const h = this.host;
    const st = h.arrays.get(jobId);
    if (st) {
      st.parent.isCancelled = true;
      if (terminate) st.parent.isTerminated = true;
      st.parent.statusReason = reason;
      h.writer.enqueue(st.parent);
      for (let i = 0; i < st.size; i++) {
        const code = st.codes[i];
        if (code === ChildCode.PENDING || code === ChildCode.RUNNABLE) h.arrays.failWaitingChild(st, i, reason, false);
      }
      for (const child of [...st.live.values()]) {
        if (child.status === 'RUNNABLE') {
          child.isCancelled = true;
          h.setFailed(child, reason);
        } else if (terminate) this.terminate(child.jobId, reason);
      }
      h.arrays.maybeFinish(st);
      return true;
    }
    const c = h.arrays.ofChild(jobId);
    const code = c?.st.codes[c.index];
    if (c && (code === ChildCode.PENDING || code === ChildCode.RUNNABLE)) {
      h.arrays.failWaitingChild(c.st, c.index, reason, true);
      return true;
    }
    return false;
  }
}
