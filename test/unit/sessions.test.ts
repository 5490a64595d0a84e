/** Dashboard session tokens: signed with a key derived from the server key, so every replica accepts them. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { SessionStore, SESSION_TTL_MS } from '../../src/api/web/sessions.js';
import type { Caller } from '../../src/core/caller.js';

const alice: Caller = { user: 'alice', pi: 'lab-a', admin: false };

void describe('dashboard sessions', () => {
  const keys = new Map([['AKIAALICE', { secret: 'alice-secret', caller: alice }]]);
  const identities = { lookup: (k: string) => keys.get(k) };
  const key = randomBytes(32);
  let now = 1_000_000;
  const clock = () => now;

  void it('a token made on one replica is accepted by another with the same key, and by no other key', () => {
    const a = new SessionStore(identities, key, clock);
    const b = new SessionStore(identities, Buffer.from(key), clock);
    const t = a.signIn('AKIAALICE', 'alice-secret')!;
    assert.deepEqual(b.caller(t), alice);
    assert.equal(new SessionStore(identities, randomBytes(32), clock).caller(t), undefined);
    assert.equal(a.signIn('AKIAALICE', 'wrong'), undefined);
    assert.equal(a.signIn('AKIANOBODY', 'alice-secret'), undefined);
    assert.notEqual(a.signIn('AKIAALICE', 'alice-secret'), t, 'two sign-ins never make the same token');
  });

  void it('refuses a tampered, expired, signed-out or disabled-key token', () => {
    const s = new SessionStore(identities, key, clock);
    const t = s.signIn('AKIAALICE', 'alice-secret')!;
    const [payload, mac] = t.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { k: string; e: number };
    const longer = Buffer.from(JSON.stringify({ ...claims, e: claims.e + 1e9 })).toString('base64url');
    assert.equal(s.caller(`${longer}.${mac}`), undefined, 'a longer expiry under the old signature');
    assert.equal(s.caller(`${payload}.${mac.slice(0, -2)}xx`), undefined);
    assert.equal(s.caller('garbage'), undefined);
    now += SESSION_TTL_MS + 1;
    assert.equal(s.caller(t), undefined, 'expired');
    const u = s.signIn('AKIAALICE', 'alice-secret')!;
    s.signOut(u);
    assert.equal(s.caller(u), undefined, 'signed out');
    const v = s.signIn('AKIAALICE', 'alice-secret')!;
    keys.delete('AKIAALICE');
    assert.equal(s.caller(v), undefined, 'the key was disabled');
  });
});
