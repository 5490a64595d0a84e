/**
 * How the leader's engine takes up jobs that other replicas inserted: SUBMITTED ones listed from the store (a pull,
 * on their signal and by polling), RUNNABLE ones filed from what their `jobs-submitted` signal carries or read by id,
 * and a rescan for RUNNABLE ones whose signal was lost. Each read that may race with the engine dropping finished jobs
 * from memory is bracketed by the DropLog, so a job recorded SUCCEEDED is never taken up (and run) again. The engine
 * owns the jobs' transitions and queues; this part tells it, through IntakeHost, which jobs to admit or file.
 */
import type { Store } from '../../core/ports.js';
import type { SubmittedRunnable } from '../../core/submitted-signal.js';
import type { CompactRunnable, Job, JobStatus } from '../../core/types.js';
import { parseChildId } from '../array-state.js';
import type { ResourceRegistry } from '../resources.js';
import type { WriteBuffer } from '../write-buffer.js';
import type { DropLog } from './drop-log.js';

/** How many SUBMITTED jobs a pull reads at a time. */
const PULL_BATCH = 1000;

/** What the intake needs of the engine. */
export interface IntakeHost {
  /** Whether the engine leads and is not closed (a deposed engine takes nothing up). */
  leading(): boolean;
  readonly store: Pick<Store, 'listSubmittedJobs' | 'getJobs' | 'listRunnableJobIds'>;
  readonly registry: Pick<ResourceRegistry, 'queueByNameOrArn' | 'reload'>;
  readonly writer: Pick<WriteBuffer, 'barrier' | 'enqueueIndependent'>;
  /** Jobs the engine dropped from memory (see DropLog). */
  readonly drops: DropLog;
  /** Whether a job is in memory, whole or compact. */
  known(jobId: string): boolean;
  /** Takes a stored job into memory (interned) and returns the engine's object for it. */
  hold(row: Job): Job;
  /** Interns a string the job keeps (a status reason). */
  intern(s: string): string;
  /** SUBMITTED/PENDING -> PENDING, RUNNABLE or FAILED by the job's dependencies. */
  admit(job: Job): void;
  /** Why a RUNNABLE job can never run where its queue sends it, if it cannot. */
  neverFitsReason(job: Pick<Job, 'jobQueueArn' | 'resources'>): string | undefined;
  /** Files a RUNNABLE job (a record alone: held compactly) in its queue. */
  addRunnable(job: Job | CompactRunnable): void;
  /** Tells listeners of a job's status (a whole job, or one held compactly). */
  changed(job: Job): void;
  announce(jobId: string, status: JobStatus, jobQueueArn: string, pi: string | undefined): void;
  kick(): void;
}

export class ReplicaIntake {
  private pulling: Promise<void> | undefined;
  private pullAgain = false;
  private rescanning = false;

  constructor(private readonly host: IntakeHost) {}

  /** Admits the SUBMITTED jobs other replicas wrote (one pull at a time; a signal during a pull pulls again). */
  pullSubmitted(): Promise<void> {
    const h = this.host;
    if (!h.leading()) return Promise.resolve();
    if (this.pulling) {
      this.pullAgain = true;
      return this.pulling;
    }
    this.pulling = (async () => {
      do {
        this.pullAgain = false;
        let rows: Job[];
        do {
          const mark = h.drops.begin();
          rows = await h.store.listSubmittedJobs(PULL_BATCH).finally(() => h.drops.end(mark));
          // A queue created on another replica a moment ago, whose change signal has not arrived (or was lost):
          // learn it now, or its jobs would wait for the next change of any resource.
          if (rows.some((j) => !h.registry.queueByNameOrArn(j.jobQueueArn))) await h.registry.reload();
          let fresh = 0;
          for (const row of rows) {
            if (h.known(row.jobId) || h.drops.droppedSince(row.jobId, mark)) continue;
            fresh++;
            h.admit(h.hold(row));
          }
          if (fresh === 0) break;
          await h.writer.barrier();
        } while (rows.length === PULL_BATCH && h.leading());
      } while (this.pullAgain && h.leading());
    })()
      .catch(() => {})
      .finally(() => (this.pulling = undefined));
    return this.pulling;
  }

  /**
   * Takes up jobs other replicas inserted, by id (their `jobs-submitted` signal, or a rescan): a SUBMITTED one is
   * admitted; a RUNNABLE one (a job without dependencies that is not an array: its replica admitted it, see
   * JobCommands) is filed in its queue without being written again. `since`: the DropLog mark of a read already
   * begun. Rejects when the store cannot be read.
   */
  async adopt(ids: readonly string[], since?: number): Promise<void> {
    const h = this.host;
    if (!h.leading()) return;
    const unknown = ids.filter((id) => id !== '' && !h.known(id) && !parseChildId(id));
    if (!unknown.length) return;
    const mark = since ?? h.drops.begin();
    try {
      const rows = await h.store.getJobs(unknown);
      if (rows.some((j) => !h.registry.queueByNameOrArn(j.jobQueueArn))) await h.registry.reload();
      for (const row of rows) {
        if (!h.leading()) return;
        if (h.known(row.jobId) || h.drops.droppedSince(row.jobId, mark)) continue;
        if (row.status !== 'SUBMITTED' && row.status !== 'RUNNABLE') continue;
        const job = h.hold(row);
        if (job.status === 'SUBMITTED') h.admit(job);
        else this.fileRunnable(job);
      }
    } finally {
      if (since === undefined) h.drops.end(mark);
    }
  }

  /**
   * Files RUNNABLE jobs another replica inserted from what its `jobs-submitted` signal carries, held compactly (as a
   * new leader loads them: the document is read back before the job starts or changes). Returns the ids to read
   * instead: a job whose queue is not known here, whose never-fits reason here is not the one it was given (adopt
   * writes the new one), or that was dropped from memory lately (taken up another way and finished already: only its
   * document tells).
   */
  fileFromSignal(entries: readonly SubmittedRunnable[]): string[] {
    const h = this.host;
    if (!h.leading()) return [];
    const read: string[] = [];
    let filed = false;
    for (const { record, statusReason, pi } of entries) {
      const id = record.jobId;
      if (h.known(id)) continue;
      if (
        h.drops.droppedRecently(id) ||
        !h.registry.queueByNameOrArn(record.jobQueueArn) ||
        h.neverFitsReason(record) !== statusReason
      ) {
        read.push(id);
        continue;
      }
      h.addRunnable(record); // filed with its record: held compactly (CompactJobs)
      h.announce(id, 'RUNNABLE', record.jobQueueArn, pi);
      filed = true;
    }
    if (filed) h.kick();
    return read;
  }

  /**
   * Looks for RUNNABLE jobs created since `since` that are not in memory (committed by another replica, their signal
   * lost) and takes them up.
   */
  async rescanRunnable(since: number): Promise<void> {
    const h = this.host;
    if (!h.leading() || this.rescanning) return;
    this.rescanning = true;
    const mark = h.drops.begin();
    try {
      await this.adopt(await h.store.listRunnableJobIds(since), mark);
    } catch {
      // Next time.
    } finally {
      h.drops.end(mark);
      this.rescanning = false;
    }
  }

  /** Files a job another replica committed RUNNABLE; only a job that can never fit is written again (its reason). */
  private fileRunnable(job: Job): void {
    const h = this.host;
    const reason = h.neverFitsReason(job);
    if (reason !== job.statusReason) {
      if (reason === undefined) delete job.statusReason;
      else job.statusReason = h.intern(reason);
      h.writer.enqueueIndependent(job);
    }
    h.changed(job);
    h.addRunnable(job);
    h.kick();
  }
}
