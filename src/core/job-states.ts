/**
 * The job state machine, as AWS Batch defines it:
 *
 *   SUBMITTED ──► PENDING ──► RUNNABLE ──► STARTING ──► RUNNING ──► SUCCEEDED
 *       │            │            │            │            └─────► FAILED ──(retry)──► RUNNABLE
 *       └────────────┴────────────┴────────────┴──────────────────► FAILED
 *
 * - SUBMITTED: accepted and durable; the engine admits it (PENDING while dependencies are unfinished, else RUNNABLE).
 * - PENDING: waits for dependencies; an array parent stays PENDING while its children run and then SUCCEEDS or FAILS.
 * - RUNNABLE: waits for capacity. STARTING: placed, the runtime prepares it. RUNNING: the process/container runs.
 * - An attempt that ends unsuccessfully goes back to RUNNABLE when the retry strategy allows (from STARTING too: the
 *   start itself failed), else FAILED. SUCCEEDED and FAILED are final.
 * A job may stay in its status with a new reason (e.g. a RUNNABLE job re-evaluated), except in a final one.
 */
import type { JobStatus } from './types.js';

/** Each status and the statuses a job in it may move to. */
export const JOB_TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  SUBMITTED: ['SUBMITTED', 'PENDING', 'RUNNABLE', 'FAILED'],
  PENDING: ['PENDING', 'RUNNABLE', 'SUCCEEDED', 'FAILED'],
  RUNNABLE: ['RUNNABLE', 'STARTING', 'FAILED'],
  STARTING: ['STARTING', 'RUNNING', 'RUNNABLE', 'SUCCEEDED', 'FAILED'],
  RUNNING: ['RUNNING', 'RUNNABLE', 'SUCCEEDED', 'FAILED'],
  SUCCEEDED: [],
  FAILED: [],
};

/** Thrown for a move the state machine forbids: always a bug of ours, never of a client. */
export class IllegalTransitionError extends Error {
  constructor(
    readonly jobId: string,
    readonly from: JobStatus,
    readonly to: JobStatus,
  ) {
    super(`job ${jobId}: ${from} -> ${to} is not a legal transition`);
  }
}

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return JOB_TRANSITIONS[from].includes(to);
}

/** Throws IllegalTransitionError unless `from -> to` is in the table. */
export function checkTransition(jobId: string, from: JobStatus, to: JobStatus): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(jobId, from, to);
}
