/** Applies numbered, forward-only migrations to one SQLite database, each in its own transaction. */
import type Database from 'better-sqlite3';

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

export function applyMigrations(db: Database.Database, migrations: readonly Migration[]): void {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  const done = new Set((db.prepare('SELECT id FROM schema_migrations').all() as { id: number }[]).map((r) => r.id));
  const known = Math.max(0, ...migrations.map((m) => m.id));
  const newest = Math.max(0, ...done);
  if (newest > known)
    throw new Error(
      `database ${db.name} has schema version ${newest}, newer than this openbatch knows (${known}): it was written by a newer release. Run that release (or newer), or restore a backup taken before the upgrade`,
    );
  for (const m of migrations) {
    if (done.has(m.id)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)').run(m.id, m.name, Date.now());
    })();
  }
}
