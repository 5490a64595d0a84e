/** AWS-shaped access key ids and secrets, made by the server for root and for users. */
import { randomBytes } from 'node:crypto';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** An AWS-shaped access key id: 20 characters, upper-case letters and digits. */
export function newAccessKeyId(prefix = 'OBRK'): string {
  const bytes = randomBytes(16);
  let s = prefix;
  for (let i = 0; s.length < 20; i++) s += ALNUM[bytes[i]! % 32];
  return s;
}

export function newSecretAccessKey(): string {
  return randomBytes(30).toString('base64').replace(/[+/=]/g, 'x').slice(0, 40);
}
