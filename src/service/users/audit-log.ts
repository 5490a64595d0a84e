/**
 * The audit log: every mutating call (who, operation, target, when, source address, outcome). Records are queued in
 * memory and written in one transaction every `flushMs` (or at `maxBatch`), so 5,000 SubmitJobs/s cost a few inserts
 * per flush rather than one synchronous write each.
 */
import type { AuditRow, SqliteIdentityStore } from '../../store/sqlite/identity-store.js';

/** Batch operations that change something; reads are not audited. */
const MUTATING = /^(Create|Update|Delete|Register|Deregister|Submit|Cancel|Terminate|Tag|Untag)/;

export function isMutatingBatchOperation(op: string): boolean {
  return MUTATING.test(op);
}

/** The resource a request acts on, for the record: the first of the fields that name one. */
export function auditTarget(input: Record<string, any>): string | undefined {
  for (const k of [
    'jobId',
    'jobName',
    'computeEnvironmentName',
    'computeEnvironment',
    'jobQueueName',
    'jobQueue',
    'jobDefinitionName',
    'jobDefinition',
    'name',
    'arn',
    'resourceArn',
    'userName',
    'pi',
  ]) {
    const v = input[k];
    if (typeof v === 'string' && v) return v.length > 512 ? v.slice(0, 512) : v;
  }
  return undefined;
}

export interface AuditEntry {
  user: string;
  pi: string;
  operation: string;
  target?: string;
  source?: string;
  outcome: string;
}

export class AuditLog {
  private queue: AuditRow[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: SqliteIdentityStore,
    private readonly opts: { flushMs?: number; maxBatch?: number; onError?: (err: unknown) => void } = {},
  ) {}

  record(e: AuditEntry): void {
    this.queue.push({
      at: Date.now(),
      user_name: e.user,
      pi: e.pi,
      operation: e.operation,
      target: e.target ?? null,
      source: e.source ?? null,
      outcome: e.outcome,
    });
    if (this.queue.length >= (this.opts.maxBatch ?? 2000)) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.opts.flushMs ?? 200);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.queue.length) return;
    const rows = this.queue;
    this.queue = [];
    try {
      this.store.appendAudit(rows);
    } catch (err) {
      this.opts.onError?.(err);
    }
  }

  /** Newest first (flushes first, so a just-made call is listed). */
  list(q: { limit?: number; beforeSeq?: number; user?: string }): AuditRow[] {
    this.flush();
    return this.store.audit({ ...q, limit: Math.min(Math.max(q.limit ?? 100, 1), 1000) });
  }
}
