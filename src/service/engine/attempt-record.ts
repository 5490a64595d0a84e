/**
 * One attempt of a job, as the engine hands it to the runtime and records it when it ends: the RunSpec the runtime
 * starts, and the attempt's entry in `attempts` with the job's container fields, in AWS Batch's words.
 */
import type { AttemptExtras, ExitReport, NodeRunSpec, RunSpec } from '../../core/ports.js';
import { podRunFields } from '../../core/eks-pod.js';
import type { Job } from '../../core/types.js';
import type { Allocation } from './capacity.js';

export const ESSENTIAL_EXITED = 'Essential container in task exited';
export const TIMEOUT_REASON = 'Job attempt duration exceeded timeout';

/** What the runtime is asked to run for the job's attempt `alloc.attempt`. */
export function attemptSpec(
  job: Job,
  alloc: Allocation,
  environment: Record<string, string>,
  logStreamName: string,
  extras: AttemptExtras | undefined,
  multi: { nodes: NodeRunSpec[]; mainNode: number } | undefined,
): RunSpec {
  return {
    jobId: job.jobId,
    attempt: alloc.attempt,
    ...(alloc.pool ? { pool: alloc.pool } : {}),
    command: job.containerProperties.command ?? [],
    environment,
    containerProperties: job.containerProperties,
    resources: job.resources,
    logStreamName,
    ...(job.owner ? { owner: job.owner } : {}),
    ...(job.timeout?.attemptDurationSeconds ? { timeoutSeconds: job.timeout.attemptDurationSeconds } : {}),
    ...podRunFields(job.containerProperties),
    ...(extras?.reachesHostLoopback ? { reachesHostLoopback: true } : {}),
    ...(extras?.credentialProcess ? { credentialProcess: extras.credentialProcess } : {}),
    ...(multi ?? {}),
  };
}

/** How an attempt ended, for the job's next status. */
export interface AttemptEnd {
  /** Exit code 0, in time, not terminated, no failure reported: the job SUCCEEDS. */
  ok: boolean;
  statusReason: string;
  /** Stopped by its timeout or by TerminateJob: never retried. */
  stopped: boolean;
  /** What a retry strategy's `evaluateOnExit` matches on. */
  outcome: { exitCode?: number; reason?: string; statusReason: string };
}

/**
 * Writes the attempt that just ended onto the job: its container's exit code and reason, and an entry of `attempts`
 * (with each node's, for a multi-node job). `alloc` is the attempt's released allocation, if the engine held one.
 */
export function recordAttemptEnd(job: Job, report: ExitReport, alloc: Allocation | undefined, now: number): AttemptEnd {
  const logStreamName = job.container.logStreamName;
  const timedOut = alloc?.timedOut === true;
  const terminated = job.isTerminated === true;
  let statusReason = report.statusReason ?? ESSENTIAL_EXITED;
  if (timedOut) statusReason = TIMEOUT_REASON;
  else if (terminated) statusReason = alloc?.stopReason ?? job.statusReason ?? 'Terminated';
  const container = { ...job.container };
  if (report.exitCode !== undefined) container.exitCode = report.exitCode;
  else delete container.exitCode;
  if (report.reason !== undefined) container.reason = report.reason;
  job.container = container;
  job.attempts.push({
    container: {
      ...(report.exitCode !== undefined ? { exitCode: report.exitCode } : {}),
      ...(report.reason !== undefined ? { reason: report.reason } : {}),
      ...(logStreamName ? { logStreamName } : {}),
      ...(container.containerInstanceArn ? { containerInstanceArn: container.containerInstanceArn } : {}),
      ...(container.taskArn ? { taskArn: container.taskArn } : {}),
      networkInterfaces: [],
    },
    ...(alloc?.startedAt !== undefined
      ? { startedAt: alloc.startedAt }
      : job.startedAt !== undefined
        ? { startedAt: job.startedAt }
        : {}),
    stoppedAt: now,
    statusReason,
    ...(job.nodeStates ? { nodes: job.nodeStates } : {}),
  });
  return {
    ok: report.exitCode === 0 && !timedOut && !terminated && report.statusReason === undefined,
    statusReason,
    stopped: timedOut || terminated,
    outcome: {
      ...(report.exitCode !== undefined ? { exitCode: report.exitCode } : {}),
      ...(report.reason !== undefined ? { reason: report.reason } : {}),
      statusReason,
    },
  };
}
