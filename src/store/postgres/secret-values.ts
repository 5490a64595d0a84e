/** The per-PI secret store's rows on PostgreSQL: SQLite's contract (store/sqlite/secret-values.ts). */
import type { SecretValueRecord, SecretValueStore } from '../../core/ports.js';
import { SECRET_VALUE_COLUMNS as COLUMNS, SECRET_VALUE_UPDATED as UPDATED } from '../secret-value-columns.js';
import type { PgDatabase } from './database.js';

/** The migration that makes the table (PG_MIGRATIONS). */
export const PG_SECRET_VALUES_SQL = `
  CREATE TABLE pi_secret_values (
    kind TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    pi TEXT COLLATE "C" NOT NULL,
    arn TEXT COLLATE "C" NOT NULL UNIQUE,
    type TEXT NOT NULL,
    description TEXT,
    value_enc TEXT NOT NULL,
    version INTEGER NOT NULL,
    version_id TEXT,
    previous_enc TEXT,
    previous_type TEXT,
    previous_version_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    deletion_date BIGINT,
    PRIMARY KEY (kind, name)
  );
  CREATE INDEX pi_secret_values_pi ON pi_secret_values (pi, kind, name);
`;

export function pgSecretValues(db: PgDatabase): SecretValueStore {
  return {
    get: async (kind, name) =>
      (
        await db.query<SecretValueRecord>('SELECT * FROM pi_secret_values WHERE kind = $1 AND name = $2', [kind, name])
      )[0],
    byArn: async (arn) =>
      (await db.query<SecretValueRecord>('SELECT * FROM pi_secret_values WHERE arn = $1', [arn]))[0],
    list: (q) => {
      const args: unknown[] = [q.kind];
      const where = ['kind = $1'];
      if (q.pi !== undefined) {
        args.push(q.pi);
        where.push(`pi = $${args.length}`);
      }
      if (q.prefix) {
        args.push(q.prefix);
        where.push(`left(name, length($${args.length})) = $${args.length}`);
      }
      if (q.after !== undefined) {
        args.push(q.after);
        where.push(`name > $${args.length}`);
      }
      args.push(q.limit);
      return db.query<SecretValueRecord>(
        `SELECT * FROM pi_secret_values WHERE ${where.join(' AND ')} ORDER BY name LIMIT $${args.length}`,
        args,
      );
    },
    insert: async (r) =>
      (
        await db.query(
          `INSERT INTO pi_secret_values (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})
           ON CONFLICT (kind, name) DO NOTHING RETURNING kind`,
          COLUMNS.map((c) => r[c]),
        )
      ).length === 1,
    replace: async (r, expected) =>
      (
        await db.query(
          `UPDATE pi_secret_values SET ${UPDATED.map((c, i) => `${c} = $${i + 1}`).join(', ')}
           WHERE kind = $${UPDATED.length + 1} AND name = $${UPDATED.length + 2} AND version = $${UPDATED.length + 3}
           RETURNING kind`,
          [...UPDATED.map((c) => r[c]), r.kind, r.name, expected],
        )
      ).length === 1,
    delete: async (kind, name) =>
      (await db.query('DELETE FROM pi_secret_values WHERE kind = $1 AND name = $2 RETURNING kind', [kind, name]))
        .length === 1,
  };
}
