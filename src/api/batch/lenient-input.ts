/**
 * Request values AWS Batch accepts in any letter case, normalized to the model's spelling before validation, so that
 * a request that works against AWS works here. Only where AWS is known to be lenient:
 * - ListJobs `jobStatus` (`aws batch list-jobs --job-status running` is answered by AWS; dashboards send it);
 * - `retryStrategy.evaluateOnExit[].action` (the model: "The values aren't case sensitive").
 * Everything else stays as strict as the model (an unknown spelling is refused with the allowed values).
 */
import { JOB_STATUSES } from '../../core/types.js';

type Input = Record<string, any>;

function upperIfOneOf(value: unknown, allowed: readonly string[]): unknown {
  if (typeof value !== 'string') return value;
  const upper = value.toUpperCase();
  return allowed.includes(upper) ? upper : value;
}

function normalizeRetryStrategy(rs: unknown): void {
  const list = (rs as { evaluateOnExit?: unknown } | undefined)?.evaluateOnExit;
  if (!Array.isArray(list)) return;
  for (const e of list)
    if (e && typeof e === 'object') (e as Input).action = upperIfOneOf((e as Input).action, ['RETRY', 'EXIT']);
}

/** Rewrites, in place, the members of a Batch request that AWS matches case-insensitively. */
export function normalizeLenientInput(operation: string, input: Input): void {
  switch (operation) {
    case 'ListJobs':
      if (input.jobStatus !== undefined) input.jobStatus = upperIfOneOf(input.jobStatus, JOB_STATUSES);
      break;
    case 'RegisterJobDefinition':
    case 'SubmitJob':
      normalizeRetryStrategy(input.retryStrategy);
      break;
  }
}
