/** Paging tokens of the Logs API. GetLogEvents' look like AWS's (`f/<position>`, `b/<position>`); others are opaque. */
import { InvalidParameterException } from '../../core/errors.js';

export interface StreamPosition {
  direction: 'forward' | 'backward';
  seq: number;
}

export function encodePosition(direction: 'forward' | 'backward', seq: number): string {
  return `${direction === 'forward' ? 'f' : 'b'}/${String(seq).padStart(20, '0')}`;
}

export function decodePosition(token: string): StreamPosition {
  const m = /^([fb])\/(\d{1,20})$/.exec(token);
  const seq = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(seq))
    throw new InvalidParameterException(
      `nextToken ${JSON.stringify(token)} is not valid: pass the nextForwardToken or nextBackwardToken of an earlier GetLogEvents response for the same log stream`,
    );
  return { direction: m[1] === 'f' ? 'forward' : 'backward', seq };
}

export function encodeOpaque(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Decodes a token made by encodeOpaque and checks its shape; anything else is an InvalidParameterException. */
export function decodeOpaque<T>(token: string, op: string, check: (v: any) => boolean): T {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    v = undefined;
  }
  if (v === undefined || !check(v))
    throw new InvalidParameterException(
      `nextToken is not valid: pass the nextToken of an earlier ${op} response with the same parameters`,
    );
  return v as T;
}
