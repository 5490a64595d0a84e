/** ARNs in AWS's shape: `arn:aws:batch:<region>:<account>:<resource-type>/<name>[:<revision>]`. */
export interface ArnContext {
  region: string;
  accountId: string;
}

export type BatchResourceType =
  'compute-environment' | 'job-queue' | 'job-definition' | 'job' | 'scheduling-policy' | 'consumable-resource';

export function batchArn(ctx: ArnContext, type: BatchResourceType, name: string): string {
  return `arn:aws:batch:${ctx.region}:${ctx.accountId}:${type}/${name}`;
}

export interface ParsedArn {
  region: string;
  accountId: string;
  type: string;
  name: string;
}

const ARN_RE = /^arn:aws[a-z-]*:batch:([^:]*):([^:]*):([a-z-]+)\/(.+)$/;

/** Parses a Batch ARN; undefined when the text is not one. */
export function parseBatchArn(text: string): ParsedArn | undefined {
  const m = ARN_RE.exec(text);
  if (!m) return undefined;
  return { region: m[1]!, accountId: m[2]!, type: m[3]!, name: m[4]! };
}

/** A name or ARN given by a client, reduced to the resource name, if the ARN is of the expected type. */
export function nameFromNameOrArn(text: string, type: BatchResourceType): string | undefined {
  if (!text.startsWith('arn:')) return text;
  const p = parseBatchArn(text);
  return p && p.type === type ? p.name : undefined;
}

/** The job definition name in a job definition ARN (`...:job-definition/<name>:<revision>`). */
export function jobDefinitionNameOfArn(arn: string): string {
  const tail = arn.slice(arn.lastIndexOf('/') + 1);
  const colon = tail.lastIndexOf(':');
  return colon >= 0 ? tail.slice(0, colon) : tail;
}
