/**
 * Applies the numbered, forward-only PostgreSQL migrations. Replicas may start at the same moment: an advisory lock
 * serializes them, and each migration commits with its record or not at all (DDL is transactional in PostgreSQL).
 */
import type pg from 'pg';
import { PG_MIGRATIONS } from './migrations.js';

/** Any constant shared by every openbatch: the advisory lock that serializes migrations. */
const MIGRATION_LOCK = 0x0b_a7c4;

export async function applyPgMigrations(
  pool: pg.Pool,
  database: string,
  migrations: readonly { id: number; name: string; sql: string }[] = PG_MIGRATIONS,
): Promise<void> {
  const c = await pool.connect();
  // Checked out, the client has no error listener: a connection ended by the server would crash the process.
  const onError = () => undefined;
  c.on('error', onError);
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
    );
    const done = new Set((await c.query<{ id: number }>('SELECT id FROM schema_migrations')).rows.map((r) => r.id));
    const known = Math.max(0, ...migrations.map((m) => m.id));
    const newest = Math.max(0, ...done);
    if (newest > known)
      throw new Error(
        `database "${database}" has schema version ${newest}, newer than this openbatch knows (${known}): it was written by a newer release. Run that release (or newer), or restore a backup taken before the upgrade`,
      );
    for (const m of migrations) {
      if (done.has(m.id)) continue;
      await c.query(m.sql);
      await c.query('INSERT INTO schema_migrations (id, name, applied_at) VALUES ($1, $2, $3)', [
        m.id,
        m.name,
        Date.now(),
      ]);
    }
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.removeListener('error', onError);
    c.release();
  }
}
