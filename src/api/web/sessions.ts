/**
 * Dashboard sessions: sign-in with an access key checks the secret in constant time and hands out a session token in
 * an HttpOnly, SameSite=Strict cookie. The token is signed, not stored: `<payload>.<HMAC-SHA256>` with a key derived
 * from the server key, so every replica of one database accepts it (a browser may reach any replica behind a load
 * balancer) and a restart keeps everyone signed in. Each request looks the access key up again, so disabling or
 * rotating the key ends its sessions everywhere; signing out forgets the token on this replica and clears the cookie.
 */
import { createHmac, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Caller } from '../../core/caller.js';
import type { IdentityResolver } from '../http.js';

export const SESSION_COOKIE = 'openbatch_session';
export const SESSION_TTL_MS = 8 * 3600 * 1000;

interface SessionClaims {
  /** Access key id. */
  k: string;
  /** Expiry, epoch ms. */
  e: number;
  /** Random: two sign-ins never make the same token. */
  n: string;
}

/** Equal-length digests so the comparison takes the same time whatever the lengths and contents. */
function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

export class SessionStore {
  /** Tokens signed out on this replica, until they expire anyway. */
  private readonly revoked = new Map<string, number>();

  constructor(
    private readonly identities: IdentityResolver,
    private readonly key: Buffer,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Returns a new session token, or undefined when the key is unknown or the secret wrong. */
  signIn(accessKeyId: string, secret: string): string | undefined {
    const id = this.identities.lookup(accessKeyId);
    // Compare against a dummy when the key is unknown so both paths cost the same.
    const ok = sameSecret(id?.secret ?? 'no such key', secret) && id !== undefined;
    if (!ok) return undefined;
    const claims: SessionClaims = {
      k: accessKeyId,
      e: this.clock() + SESSION_TTL_MS,
      n: randomBytes(12).toString('base64url'),
    };
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${payload}.${this.mac(payload)}`;
  }

  /** The caller of a live session; the key is looked up again so a disabled key ends its sessions. */
  caller(token: string | undefined): Caller | undefined {
    const claims = this.verify(token);
    if (!claims) return undefined;
    return this.identities.lookup(claims.k)?.caller;
  }

  signOut(token: string | undefined): void {
    const claims = this.verify(token);
    if (!claims) return;
    this.sweep();
    this.revoked.set(token!, claims.e);
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }

  private verify(token: string | undefined): SessionClaims | undefined {
    if (!token || token.length > 512) return undefined;
    const dot = token.indexOf('.');
    if (dot <= 0) return undefined;
    const payload = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1));
    const expected = Buffer.from(this.mac(payload));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let claims: SessionClaims;
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as SessionClaims;
    } catch {
      return undefined;
    }
    if (typeof claims.k !== 'string' || typeof claims.e !== 'number' || claims.e <= this.clock()) return undefined;
    if (this.revoked.has(token)) return undefined;
    return claims;
  }

  private sweep(): void {
    const now = this.clock();
    for (const [t, e] of this.revoked) if (e <= now) this.revoked.delete(t);
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
