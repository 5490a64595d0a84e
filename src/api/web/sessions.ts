/**
 * Dashboard sessions: sign-in with an access key checks the secret in constant time and hands out a random
 * 32-byte session id in an HttpOnly, SameSite=Strict cookie. Sessions live in memory (a restart signs everyone out).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Caller } from '../../service/job-service.js';
import type { IdentityResolver } from '../http.js';

export const SESSION_COOKIE = 'openbatch_session';
export const SESSION_TTL_MS = 8 * 3600 * 1000;

interface Session {
  accessKeyId: string;
  caller: Caller;
  expiresAt: number;
}

/** Equal-length digests so the comparison takes the same time whatever the lengths and contents. */
function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly identities: IdentityResolver,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Returns a new session id, or undefined when the key is unknown or the secret wrong. */
  signIn(accessKeyId: string, secret: string): string | undefined {
    const id = this.identities.lookup(accessKeyId);
    // Compare against a dummy when the key is unknown so both paths cost the same.
    const ok = sameSecret(id?.secret ?? 'no such key', secret) && id !== undefined;
    if (!ok) return undefined;
    this.sweep();
    const sid = randomBytes(32).toString('base64url');
    this.sessions.set(sid, { accessKeyId, caller: id.caller, expiresAt: this.clock() + SESSION_TTL_MS });
    return sid;
  }

  /** The caller of a live session; the key is looked up again so a disabled key ends its sessions. */
  caller(sid: string | undefined): Caller | undefined {
    if (!sid) return undefined;
    const s = this.sessions.get(sid);
    if (!s) return undefined;
    if (s.expiresAt <= this.clock()) {
      this.sessions.delete(sid);
      return undefined;
    }
    const id = this.identities.lookup(s.accessKeyId);
    if (!id) {
      this.sessions.delete(sid);
      return undefined;
    }
    return id.caller;
  }

  signOut(sid: string | undefined): void {
    if (sid) this.sessions.delete(sid);
  }

  private sweep(): void {
    const now = this.clock();
    for (const [k, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(k);
  }
}

/** Reads one cookie from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(sid: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${sid}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_TTL_MS / 1000}${secure ? '; Secure' : ''}`;
}

export function clearedCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${secure ? '; Secure' : ''}`;
}
