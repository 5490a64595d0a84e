/** The per-PI secret store's rows in SQLite (`identity.db`); values arrive sealed (service/secrets). */
import type Database from 'better-sqlite3';
import type { SecretValueRecord, SecretValueStore } from '../../core/ports.js';
import { SECRET_VALUE_COLUMNS as COLUMNS, SECRET_VALUE_UPDATED as UPDATED } from '../secret-value-columns.js';

/** The migration that makes the table (identity.db's numbered migrations). */
export const SQLITE_SECRET_VALUES_SQL = `
  CREATE TABLE pi_secret_values (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    pi TEXT NOT NULL,
    arn TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    description TEXT,
    value_enc TEXT NOT NULL,
    version INTEGER NOT NULL,
    version_id TEXT,
    previous_enc TEXT,
    previous_type TEXT,
    previous_version_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    deletion_date INTEGER,
    PRIMARY KEY (kind, name)
  );
  CREATE INDEX pi_secret_values_pi ON pi_secret_values (pi, kind, name);
`;

export function sqliteSecretValues(db: Database.Database): SecretValueStore {
  const insert = db.prepare(
    `INSERT INTO pi_secret_values (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')})
     ON CONFLICT (kind, name) DO NOTHING`,
  );
  const replace = db.prepare(
    `UPDATE pi_secret_values SET ${UPDATED.map((c) => `${c} = @${c}`).join(
      ', ',
    )} WHERE kind = @kind AND name = @name AND version = @expected`,
  );
  return {
    get: async (kind, name) =>
      db.prepare('SELECT * FROM pi_secret_values WHERE kind = ? AND name = ?').get(kind, name) as
        SecretValueRecord | undefined,
    byArn: async (arn) =>
      db.prepare('SELECT * FROM pi_secret_values WHERE arn = ?').get(arn) as SecretValueRecord | undefined,
    list: async (q) => {
      const where = ['kind = ?'];
      const args: (string | number)[] = [q.kind];
      if (q.pi !== undefined) {
        where.push('pi = ?');
        args.push(q.pi);
      }
      if (q.prefix) {
        where.push('substr(name, 1, ?) = ?');
        args.push(q.prefix.length, q.prefix);
      }
      if (q.after !== undefined) {
        where.push('name > ?');
        args.push(q.after);
      }
      return db
        .prepare(`SELECT * FROM pi_secret_values WHERE ${where.join(' AND ')} ORDER BY name LIMIT ?`)
        .all(...args, q.limit) as SecretValueRecord[];
    },
    insert: async (r) => insert.run(r).changes === 1,
    replace: async (r, expected) => replace.run({ ...r, expected }).changes === 1,
    delete: async (kind, name) =>
      db.prepare('DELETE FROM pi_secret_values WHERE kind = ? AND name = ?').run(kind, name).changes === 1,
  };
}
