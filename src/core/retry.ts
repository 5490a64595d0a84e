/**
 * Retry rules, as AWS Batch documents them:
 * - `retryStrategy.attempts` (1..10, default 1) bounds the number of attempts;
 * - `evaluateOnExit` (up to 5 entries) is read in order; the first entry whose every given condition matches decides
 *   (`RETRY` or `EXIT`, case-insensitive); conditions are glob patterns that may end in `*`;
 *   `onExitCode` matches the exit code's decimal text, `onReason` the container's reason, `onStatusReason` the
 *   attempt's status reason; when no entry matches, the job is retried;
 * - a timed-out attempt or a terminated job is never retried.
 */
import type { RetryStrategy } from './types.js';

/** Matches `pattern` (letters, digits, `.`, `:`, spaces; optional trailing `*`) against `value`. Case-sensitive, as AWS. */
export function globMatch(pattern: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  return value === pattern;
}

export interface AttemptOutcome {
  exitCode?: number;
  reason?: string;
  statusReason?: string;
}

/** Whether another attempt should run after a failed attempt number `attempt` (1-based). */
export function shouldRetry(strategy: RetryStrategy | undefined, attempt: number, outcome: AttemptOutcome): boolean {
  const max = strategy?.attempts ?? 1;
  if (attempt >= max) return false;
  for (const e of strategy?.evaluateOnExit ?? []) {
    const conds: [string | undefined, string | undefined][] = [
      [e.onExitCode, outcome.exitCode === undefined ? undefined : String(outcome.exitCode)],
      [e.onReason, outcome.reason],
      [e.onStatusReason, outcome.statusReason],
    ];
    if (conds.every(([p, v]) => p === undefined || globMatch(p, v))) return e.action.toUpperCase() === 'RETRY';
  }
  return true;
}
