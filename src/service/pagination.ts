/** Opaque `nextToken`s: base64url JSON, tagged with the listing they belong to so a token cannot be misused. */
import { ClientException } from '../core/errors.js';

export function encodeToken(kind: string, state: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify({ k: kind, ...state })).toString('base64url');
}

export function decodeToken<T extends Record<string, unknown>>(kind: string, token: string | undefined): T | undefined {
  if (token === undefined || token === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (!parsed || typeof parsed !== 'object' || (parsed as { k?: unknown }).k !== kind)
    throw new ClientException(
      `nextToken is not valid for this request: pass the nextToken of a previous answer to the same call, unchanged`,
    );
  return parsed as T;
}

/** Pages an in-memory list by offset. */
export function pageList<T>(
  kind: string,
  items: readonly T[],
  maxResults: number | undefined,
  nextToken: string | undefined,
  defaultMax = 100,
): { items: T[]; nextToken?: string } {
  const start = decodeToken<{ o: number }>(kind, nextToken)?.o ?? 0;
  const max = maxResults ?? defaultMax;
  const slice = items.slice(start, start + max);
  return start + max < items.length
    ? { items: slice, nextToken: encodeToken(kind, { o: start + max }) }
    : { items: slice };
}
