/**
 * Limits failed authentications, never successful ones. The HTTP edge verifies every signature first (it is cheap);
 * only when verification fails is the failure counted here, per remote address and per claimed access key id. Once an
 * address or key has failed `limit` times within `windowMs`, its further failures are answered with
 * ThrottlingException (429) for `blockMs` instead of the authentication error, so secrets cannot be probed online.
 * A request whose signature verifies is always served: at a site where everyone submits from the same few login
 * nodes, one user's misconfigured script (or anyone who knows a colleague's access key id, which is not a secret)
 * must not lock anyone else out.
 *
 * Memory is bounded: old windows are dropped and each map holds at most `maxEntries`.
 */
import { AuthError } from '../../core/errors.js';

export interface AuthThrottleOptions {
  limit?: number;
  windowMs?: number;
  blockMs?: number;
  maxEntries?: number;
  now?: () => number;
}

interface Counter {
  windowStart: number;
  failures: number;
  blockedUntil: number;
}

/** What one failed authentication leads to. */
export interface FailureVerdict {
  /** Answer this instead of the authentication error (the address or key has failed too often). */
  throttled?: AuthError;
  /**
   * Whether to write this failure to the audit log: every failure up to the limit, then only the one that starts a
   * block, so a flood of bad signatures cannot fill the audit log.
   */
  audit: boolean;
}

export class AuthThrottle {
  private readonly byKey = new Map<string, Counter>();
  private readonly byAddress = new Map<string, Counter>();
  readonly limit: number;
  private readonly windowMs: number;
  private readonly blockMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(o: AuthThrottleOptions = {}) {
    this.limit = o.limit ?? 20;
    this.windowMs = o.windowMs ?? 60_000;
    this.blockMs = o.blockMs ?? 5 * 60_000;
    this.maxEntries = o.maxEntries ?? 100_000;
    this.now = o.now ?? Date.now;
  }

  /** Records one failed authentication and says whether to refuse it as throttled and whether to audit it. */
  failed(address: string, accessKeyId: string | undefined): FailureVerdict {
    const now = this.now();
    const a = this.bump(this.byAddress, address, now);
    const k = accessKeyId ? this.bump(this.byKey, accessKeyId, now) : undefined;
    const audit = a.failures <= this.limit || (k !== undefined && k.failures <= this.limit);
    const blocked = [
      ['address', a],
      ['access key', k],
    ].find(([, c]) => c && (c as Counter).blockedUntil > now) as [string, Counter] | undefined;
    if (!blocked) return { audit };
    const [kind, c] = blocked;
    return {
      audit,
      throttled: new AuthError(
        'ThrottlingException',
        `Rate exceeded: too many failed authentications from this ${kind} (${this.limit} within ${this.windowMs / 1000} s); ` +
          `failed requests are refused for another ${Math.ceil((c.blockedUntil - now) / 1000)} s (correctly signed requests are still served). ` +
          'Check the access key and secret (aws configure list) and the clock of the client',
        429,
      ),
    };
  }

  private bump(map: Map<string, Counter>, id: string, now: number): Counter {
    let c = map.get(id);
    if (!c || now - c.windowStart > this.windowMs) {
      if (!c && map.size >= this.maxEntries) this.prune(map, now);
      c = { windowStart: now, failures: 0, blockedUntil: c?.blockedUntil ?? 0 };
      map.set(id, c);
    }
    c.failures++;
    if (c.failures >= this.limit) c.blockedUntil = now + this.blockMs;
    return c;
  }

  private prune(map: Map<string, Counter>, now: number): void {
    for (const [k, c] of map) if (now - c.windowStart > this.windowMs && c.blockedUntil <= now) map.delete(k);
    // Still full (an attack from many addresses): forget the oldest half rather than grow without bound.
    if (map.size >= this.maxEntries) {
      let n = map.size / 2;
      for (const k of map.keys()) {
        if (n-- <= 0) break;
        map.delete(k);
      }
    }
  }
}
