/**
 * The per-PI secret store: SSM parameters and Secrets Manager secrets kept by openbatch itself, encrypted at rest with
 * the server key (SecretBox, AES-256-GCM, bound to the value's ARN) and owned by the PI group of whoever made them.
 * - namespace: one per kind (parameters, secrets), shared by all PI groups as within one AWS account; a name belongs
 *   to the PI that made it, and another PI's callers are refused as IAM would refuse them (AccessDeniedException).
 * - visibility: a user lists and reads only their PI's values; admins see every PI's.
 * - ARNs in AWS's form: `arn:aws:ssm:<region>:<account>:parameter/<name>`,
 *   `arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 random letters>`.
 * The operations (parameter-store.ts, secrets-manager.ts) and job secrets (store-job-secrets.ts) sit on this.
 */
import { randomBytes } from 'node:crypto';
import { ApiError } from '../../core/errors.js';
import type { Caller } from '../../core/caller.js';
import type { SecretValueRecord, SecretValueStore } from '../../core/ports.js';
import type { SecretBox } from '../users/secret-box.js';

export interface PiSecretsOptions {
  store: SecretValueStore;
  box: SecretBox;
  region: string;
  accountId: string;
  clock?: () => number;
}

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** How many rows a filtered listing reads per store round trip. */
const SCAN_BATCH = 200;

export class PiSecrets {
  readonly store: SecretValueStore;
  readonly clock: () => number;

  constructor(private readonly opts: PiSecretsOptions) {
    this.store = opts.store;
    this.clock = opts.clock ?? Date.now;
  }

  parameterArn(name: string): string {
    return `arn:aws:ssm:${this.opts.region}:${this.opts.accountId}:parameter${name.startsWith('/') ? '' : '/'}${name}`;
  }

  /** A new secret's ARN: its name and six random letters, as Secrets Manager makes them. */
  newSecretArn(name: string): string {
    const suffix = [...randomBytes(6)].map((b) => LETTERS[b % LETTERS.length]).join('');
    return `arn:aws:secretsmanager:${this.opts.region}:${this.opts.accountId}:secret:${name}-${suffix}`;
  }

  /** Who a caller is, as IAM names it in a refusal. */
  principalArn(caller: Caller): string {
    return caller.user === 'root' && caller.admin
      ? `arn:aws:iam::${this.opts.accountId}:root`
      : `arn:aws:iam::${this.opts.accountId}:user/${caller.user}`;
  }

  /** The account id the ARNs carry. */
  accountId(): string {
    return this.opts.accountId;
  }

  /** The row of a value just created by `caller` (no previous version). */
  created(
    caller: Caller,
    now: number,
    v: Pick<
      SecretValueRecord,
      'kind' | 'name' | 'arn' | 'type' | 'description' | 'value_enc' | 'version' | 'version_id'
    >,
  ): SecretValueRecord {
    return {
      ...v,
      pi: caller.pi,
      previous_enc: null,
      previous_type: null,
      previous_version_id: null,
      created_at: now,
      updated_at: now,
      updated_by: this.principalArn(caller),
      deletion_date: null,
    };
  }

  seal(arn: string, value: string): string {
    return this.opts.box.seal(value, `openbatch:pi-secret:${arn}`);
  }

  open(arn: string, sealed: string): string {
    return this.opts.box.open(sealed, `openbatch:pi-secret:${arn}`);
  }

  mayRead(caller: Caller, r: SecretValueRecord): boolean {
    return caller.admin || r.pi === caller.pi;
  }

  /** AWS's refusal of an action on a resource (the words IAM uses when no policy allows it). */
  denied(principal: string, action: string, resourceArn: string): ApiError {
    return new ApiError(
      'AccessDeniedException',
      400,
      `User: ${principal} is not authorized to perform: ${action} on resource: ${resourceArn} because no identity-based policy allows the ${action} action (it belongs to another PI group)`,
    );
  }

  /** Refuses a caller who may not touch another PI's row. */
  check(caller: Caller, action: string, r: SecretValueRecord): void {
    if (!this.mayRead(caller, r)) throw this.denied(this.principalArn(caller), action, r.arn);
  }

  /**
   * One page of the caller's rows of a kind that pass `keep`, in name order, starting after the `after` name; `next`
   * is the last name examined when more may follow.
   */
  async page(
    caller: Caller,
    kind: SecretValueRecord['kind'],
    q: { prefix?: string; after?: string; limit: number },
    keep: (r: SecretValueRecord) => boolean,
  ): Promise<{ rows: SecretValueRecord[]; next?: string }> {
    const rows: SecretValueRecord[] = [];
    let after = q.after;
    for (;;) {
      const batch = await this.store.list({
        kind,
        ...(caller.admin ? {} : { pi: caller.pi }),
        ...(q.prefix ? { prefix: q.prefix } : {}),
        ...(after !== undefined ? { after } : {}),
        limit: SCAN_BATCH,
      });
      for (const r of batch) {
        after = r.name;
        if (!keep(r)) continue;
        rows.push(r);
        if (rows.length === q.limit) return { rows, next: r.name };
      }
      if (batch.length < SCAN_BATCH) return { rows };
    }
  }
}

/** A listing's NextToken: the last name examined, opaque to clients. */
export function encodeToken(name: string): string {
  return Buffer.from(JSON.stringify({ after: name })).toString('base64url');
}

/** The name a NextToken stands for; throws `makeError` for a token this server did not give. */
export function decodeToken(token: unknown, makeError: () => Error): string | undefined {
  if (token === undefined || token === null || token === '') return undefined;
  if (typeof token !== 'string') throw makeError();
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof v.after === 'string') return v.after;
  } catch {
    // falls through to the error
  }
  throw makeError();
}

/** Epoch seconds with milliseconds, as the JSON protocols send timestamps. */
export function seconds(ms: number): number {
  return ms / 1000;
}
