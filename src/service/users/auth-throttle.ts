/**
 * Counts failed authentications per access key id and per remote address; after `limit` failures within `windowMs`
 * that key or address is refused (ThrottlingException, 429) for `blockMs`, valid signature or not, so secrets cannot
 * be guessed online. Memory is bounded: old windows are dropped and each map holds at most `maxEntries`.
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

  /** Throws when the address (before verification) or the key (once known) is blocked. */
  check(kind: 'address' | 'key', id: string): void {
    const c = (kind === 'key' ? this.byKey : this.byAddress).get(id);
    const now = this.now();
    if (c && c.blockedUntil > now)
      throw new AuthError(
        'ThrottlingException',
        `too many failed authentications for this ${kind === 'key' ? 'access key' : 'address'} (${this.limit} within ${this.windowMs / 1000} s); ` +
          `requests are refused for another ${Math.ceil((c.blockedUntil - now) / 1000)} s. Check the access key and secret (aws configure list) and the clock of the client`,
        429,
      );
  }

  /** Records one failed authentication. */
  failed(address: string, accessKeyId: string | undefined): void {
    this.bump(this.byAddress, address);
    if (accessKeyId) this.bump(this.byKey, accessKeyId);
  }

  private bump(map: Map<string, Counter>, id: string): void {
    const now = this.now();
    let c = map.get(id);
    if (!c || now - c.windowStart > this.windowMs) {
      if (!c && map.size >= this.maxEntries) this.prune(map, now);
      c = { windowStart: now, failures: 0, blockedUntil: c?.blockedUntil ?? 0 };
      map.set(id, c);
    }
    c.failures++;
    if (c.failures >= this.limit) c.blockedUntil = now + this.blockMs;
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
