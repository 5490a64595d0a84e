/**
 * CloudWatch Logs' plain-term filter patterns: `ERROR` (contains), `ERROR Exception` (all terms), `"exact phrase"`,
 * `?ERROR ?WARN` (any of the ?-terms), `-DEBUG` (none of the excluded terms). Matching is case-sensitive, as in AWS.
 * JSON (`{ $.x = 1 }`), space-delimited (`[ip, user]`) and regex (`%...%`) patterns are refused with a message.
 */
import { InvalidParameterException } from '../../core/errors.js';

export type MessageFilter = (message: string) => boolean;

export function parseFilterPattern(pattern: string | undefined): MessageFilter {
  const p = (pattern ?? '').trim();
  if (p === '') return () => true;
  if (p.startsWith('{') || p.startsWith('[') || p.startsWith('%'))
    throw new InvalidParameterException(
      `filterPattern ${JSON.stringify(p)}: openbatch supports plain-term patterns only (terms, "quoted phrases", ?any-of and -excluded terms); JSON, space-delimited and regex patterns are not supported`,
    );
  const all: string[] = [];
  const any: string[] = [];
  const none: string[] = [];
  const re = /([?-]?)(?:"((?:[^"\\]|\\.)*)"|(\S+))/g;
  for (let m = re.exec(p); m; m = re.exec(p)) {
    const term = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
    if (term === '') continue;
    (m[1] === '?' ? any : m[1] === '-' ? none : all).push(term);
  }
  return (msg) =>
    all.every((t) => msg.includes(t)) &&
    (any.length === 0 || any.some((t) => msg.includes(t))) &&
    !none.some((t) => msg.includes(t));
}
