/**
 * Slurm job states and what each means for an openbatch attempt, in AWS Batch's words.
 *
 * A Slurm job goes PENDING → (CONFIGURING) → RUNNING → COMPLETING → one terminal state. The terminal states map to
 * the exit report the service records:
 * - COMPLETED/FAILED: the command's own exit code (from the job's exit file; the wrapper writes it);
 * - CANCELLED: stopped by scancel (openbatch's terminate/timeout, or an admin);
 * - TIMEOUT/DEADLINE: Slurm's `--time` ran out: `Job attempt duration exceeded timeout`;
 * - OUT_OF_MEMORY: `OutOfMemoryError: Container killed due to memory usage`, as ECS says it;
 * - NODE_FAIL/BOOT_FAIL/PREEMPTED: the machine went away under the job, which AWS reports as its instance being
 *   terminated, a host failure that is retried when attempts remain.
 */
import type { ExitReport } from '../../core/ports.js';

export const TERMINAL_STATES = new Set([
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
  'DEADLINE',
  'OUT_OF_MEMORY',
  'NODE_FAIL',
  'BOOT_FAIL',
  'PREEMPTED',
  'SPECIAL_EXIT',
  'REVOKED',
]);

/** States in which the job's command has been started on a node. */
export const STARTED_STATES = new Set(['RUNNING', 'COMPLETING', 'SUSPENDED', 'SIGNALING', 'STAGE_OUT']);

export const OOM_REASON = 'OutOfMemoryError: Container killed due to memory usage';
export const TIMEOUT_STATUS_REASON = 'Job attempt duration exceeded timeout';

/** What is known of one ended Slurm job when its exit is reported. */
export interface EndedSlurmJob {
  slurmId: string;
  state: string;
  /** Node it ran on, if any. */
  node?: string;
  /** The command's exit code, from the exit file the wrapper writes; absent when the wrapper was killed. */
  exitCode?: number;
  /** Set when openbatch itself asked for the stop (terminate, its own timeout). */
  stopRequested?: boolean;
}

/** The exit report of an attempt whose Slurm job ended in `state`. */
export function exitReportOf(j: EndedSlurmJob): ExitReport {
  const code = j.exitCode !== undefined ? { exitCode: j.exitCode } : {};
  switch (j.state) {
    case 'COMPLETED':
      return { exitCode: j.exitCode ?? 0 };
    case 'FAILED':
      return j.exitCode !== undefined
        ? code
        : {
            reason: `CannotStartContainerError: Slurm job ${j.slurmId} failed before its command ran${j.node ? ` on node ${j.node}` : ''} (check that the job's Unix account exists there and can write the runtime's state directory)`,
          };
    case 'CANCELLED':
      if (j.stopRequested) return { ...code, reason: 'Slurm job cancelled (scancel) at openbatch request' };
      return {
        ...code,
        reason: `Slurm job ${j.slurmId} cancelled`,
        statusReason: `Slurm job ${j.slurmId} was cancelled outside openbatch (scancel)`,
      };
    case 'TIMEOUT':
    case 'DEADLINE':
      return { ...code, statusReason: TIMEOUT_STATUS_REASON };
    case 'OUT_OF_MEMORY':
      return { exitCode: j.exitCode ?? 137, reason: OOM_REASON };
    case 'NODE_FAIL':
    case 'BOOT_FAIL':
    case 'PREEMPTED':
      return { statusReason: `Host EC2 (instance ${j.node || 'unknown'}) terminated.` };
    default:
      return { ...code, reason: `Slurm job ${j.slurmId} ended in state ${j.state}` };
  }
}
