/** The leader lease's take-or-renew, shared by the store (no writer thread) and its writer thread. */
import type Database from 'better-sqlite3';

export type LeaseResult = { epoch: number; expiresAt: number } | null;

/** Inside a write transaction: takes or renews the lease for `holder`; null while another holder's is unexpired. */
export function acquireLeaseIn(
  prepared: (sql: string) => Database.Statement,
  holder: string,
  ttlMs: number,
): LeaseResult {
  const now = Date.now();
  const cur = prepared('SELECT holder, epoch, expires_at FROM leader_lease WHERE id = 1').get() as
    { holder: string; epoch: number; expires_at: number } | undefined;
  if (cur && cur.holder !== holder && cur.expires_at > now) return null;
  // The holder keeps its epoch, even past expiry when nobody took the lease meanwhile (nobody else wrote).
  const epoch = cur && cur.holder === holder ? cur.epoch : (cur?.epoch ?? 0) + 1;
  const expiresAt = now + ttlMs;
  prepared(
    `INSERT INTO leader_lease (id, holder, epoch, expires_at) VALUES (1, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, epoch = excluded.epoch, expires_at = excluded.expires_at`,
  ).run(holder, epoch, expiresAt);
  return { epoch, expiresAt };
}
