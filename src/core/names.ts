/** Name rules shared by every Batch resource and job name. */
import { ClientException } from './errors.js';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** Throws a ClientException naming the field and the rule unless `value` is a valid Batch name. */
export function checkName(field: string, value: string): void {
  if (!NAME_RE.test(value))
    throw new ClientException(
      `${field} ${JSON.stringify(value.length > 140 ? value.slice(0, 140) + '...' : value)} is not valid: it must start with a letter or digit and contain only letters, digits, hyphens (-) and underscores (_), at most 128 characters`,
    );
}

/** Throws unless `value` is within [min, max]. */
export function checkRange(field: string, value: number | undefined, min: number, max: number, hint = ''): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max)
    throw new ClientException(
      `${field} must be an integer from ${min} to ${max}; got ${value}${hint ? `. ${hint}` : ''}`,
    );
}
