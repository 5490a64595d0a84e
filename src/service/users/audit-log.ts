/**
 * The audit log: every mutating call (who, operation, target, when, source address, outcome). Records are queued in
 * memory and written in one transaction every `flushMs` (or at `maxBatch`), so 5,000 SubmitJobs/s cost a few inserts
 * per flush rather than one synchronous write each.
 */
import type { AuditRecord, IdentityStore } from '../../core/ports.js';

/** Batch operations that change something; reads are not audited. */
const MUTATING = /^(Create|Update|Delete|Register|Deregister|Submit|Cancel|Terminate|Tag|Untag)/;

export function isMutatingBatchOperation(op: string): boolean {
  return MUTATING.test(op);
}

/** Secret-store operations (SSM Parameter Store, Secrets Manager) that change something. */
export function isMutatingSecretOperation(service: string, op: string): boolean {
  return (service === 'ssm' || service === 'secretsmanager') && /^(Put|Create|Delete|Restore)/.test(op);
}

/** The parameter(s) or secret a secret-store request names, for the record; never a value. */
export function secretAuditTarget(input: Record<string, any>): string | undefined {
  const v: unknown = input.Name ?? input.SecretId ?? (Array.isArray(input.Names) ? input.Names.join(',') : undefined);
  return typeof v === 'string' && v ? v.slice(0, 512) : undefined;
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
  private queue: AuditRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: IdentityStore,
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
    if (this.queue.length >= (this.opts.maxBatch ?? 2000)) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.opts.flushMs ?? 200);
  }

  /** Writes the queued records; resolves once they are stored (or their failure was reported). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.queue.length) return this.writing;
    const rows = this.queue;
    this.queue = [];
    // Flushes are written in order, so a listing after a flush sees every record made before it.
    this.writing = this.writing.then(() =>
      this.store.appendAudit(rows).catch((err: unknown) => this.opts.onError?.(err)),
    );
    return this.writing;
  }

  /** Newest first (flushes first, so a just-made call is listed). */
  async list(q: { limit?: number; beforeSeq?: number; user?: string }): Promise<AuditRecord[]> {
    await this.flush();
    return this.store.audit({ ...q, limit: Math.min(Math.max(q.limit ?? 100, 1), 1000) });
  }
}
