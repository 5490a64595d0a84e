/**
 * The identity store (SQLite, its own file `<data>/identity.db`): PI groups, users, access keys, the audit log and the
 * per-PI secret store (secret-values.ts).
 * Secrets arrive here already encrypted (see service/users/secret-box.ts); this file only stores and reads rows.
 */
import Database from 'better-sqlite3';
import { applyMigrations } from './migrate.js';
import { SQLITE_SECRET_VALUES_SQL, sqliteSecretValues } from './secret-values.js';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { WriterThread } from './writer-thread.js';
import { SIDE_WAL_SIZE_LIMIT_BYTES } from './wal-policy.js';
import type {
  AccessKeyRecord,
  AuditRecord,
  IdentityOps,
  IdentityStore,
  PiGroupRecord,
  SecretValueStore,
  UserRecord,
} from '../../core/ports.js';

/** Numbered, forward-only migrations. Never edit a released entry: append a new one. */
const IDENTITY_MIGRATIONS: readonly { id: number; name: string; sql: string }[] = [
  {
    id: 1,
    name: 'pi groups, users, access keys, audit',
    sql: `
      CREATE TABLE pi_groups (
        name TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        role_access_key_id TEXT,
        role_secret_enc TEXT,
        role_endpoint_url TEXT,
        role_region TEXT
      );
      CREATE TABLE users (
        name TEXT PRIMARY KEY,
        pi TEXT NOT NULL REFERENCES pi_groups (name),
        admin INTEGER NOT NULL DEFAULT 0,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE access_keys (
        id TEXT PRIMARY KEY,
        user_name TEXT NOT NULL REFERENCES users (name),
        secret_enc TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX access_keys_user ON access_keys (user_name);
      CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        user_name TEXT NOT NULL,
        pi TEXT NOT NULL,
        operation TEXT NOT NULL,
        target TEXT,
        source TEXT,
        outcome TEXT NOT NULL
      );
      CREATE INDEX audit_at ON audit (at);
    `,
  },
  {
    id: 2,
    name: 'identity version (replicas poll it to reload their key tables)',
    sql: `
      CREATE TABLE identity_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
      INSERT INTO identity_version VALUES (1, 0);
      ${['pi_groups', 'users', 'access_keys']
        .flatMap((t) =>
          ['INSERT', 'UPDATE', 'DELETE'].map(
            (op) => `CREATE TRIGGER ${t}_${op.toLowerCase()}_version AFTER ${op} ON ${t}
               BEGIN UPDATE identity_version SET version = version + 1 WHERE id = 1; END;`,
          ),
        )
        .join('\n')}
    `,
  },
  {
    id: 3,
    name: 'job role credential source (STS AssumeRole, secrets endpoint)',
    sql: 'ALTER TABLE pi_groups ADD COLUMN role_source TEXT',
  },
  { id: 4, name: 'per-PI secret store (SSM parameters, Secrets Manager secrets)', sql: SQLITE_SECRET_VALUES_SQL },
];

export type {
  AccessKeyRecord as AccessKeyRow,
  AuditRecord as AuditRow,
  PiGroupRecord as PiGroupRow,
  UserRecord as UserRow,
} from '../../core/ports.js';

/** Page caches (KiB) of the identity database's connection and of its audit writer thread (see the constructor). */
const IDENTITY_CACHE_KIB = 2048;
const AUDIT_WRITER_CACHE_KIB = 512;

/**
 * better-sqlite3 is synchronous: every method has done its work when it returns its promise. A transaction runs its
 * async function between BEGIN IMMEDIATE and COMMIT; its steps resolve at once, so nothing else runs on the
 * connection in between (transactions also queue behind each other).
 */
const AUDIT_INSERT_SQL =
  'INSERT INTO audit (at, user_name, pi, operation, target, source, outcome) VALUES (?, ?, ?, ?, ?, ?, ?)';

export class SqliteIdentityStore implements IdentityStore {
  readonly kind = 'sqlite';
  private txTail: Promise<unknown> = Promise.resolve();
  private readonly db: Database.Database;
  private readonly insertAudit: Database.Statement;
  readonly secretValues: SecretValueStore;
  /** Audit batches are committed here, so their fsync never stalls the main thread (see sqlite-writer.ts). */
  private readonly auditWriter: WriterThread | undefined;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    // Each rewind of the WAL truncates it to this, so a burst does not leave a large file behind.
    this.db.pragma(`journal_size_limit = ${SIDE_WAL_SIZE_LIMIT_BYTES}`);
    this.db.pragma('foreign_keys = ON');
    // Users, keys and secrets are small tables; audit reads page through the newest rows. SQLite's 16 MB default
    // (better-sqlite3's build) would fill with audit pages over the server's life (decision 0017).
    this.db.pragma(`cache_size = -${IDENTITY_CACHE_KIB}`);
    this.migrateSync();
    this.insertAudit = this.db.prepare(AUDIT_INSERT_SQL);
    if (file !== ':memory:')
      this.auditWriter = new WriterThread(file, {
        durable: true,
        autocheckpoint: true,
        walSizeLimit: SIDE_WAL_SIZE_LIMIT_BYTES,
        // Appends only: the last pages of the audit table and its indexes. A writer's 4 MiB filled in the soak's
        // first seconds of audited requests, growing RSS for no gain.
        cacheKib: AUDIT_WRITER_CACHE_KIB,
      });
    this.secretValues = sqliteSecretValues(this.db);
  }

  private migrateSync(): void {
    applyMigrations(this.db, IDENTITY_MIGRATIONS);
  }

  async migrate(): Promise<void> {
    this.migrateSync();
  }

  transaction<T>(fn: (tx: IdentityOps) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const out = await fn(this);
        this.db.exec('COMMIT');
        return out;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    };
    const result = this.txTail.then(run, run);
    this.txTail = result.catch(() => undefined);
    return result;
  }

  async version(): Promise<number> {
    return (this.db.prepare('SELECT version FROM identity_version WHERE id = 1').get() as { version: number }).version;
  }

  async piGroups(): Promise<PiGroupRecord[]> {
    return this.db.prepare('SELECT * FROM pi_groups ORDER BY name').all() as PiGroupRecord[];
  }
  async piGroup(name: string): Promise<PiGroupRecord | undefined> {
    return this.db.prepare('SELECT * FROM pi_groups WHERE name = ?').get(name) as PiGroupRecord | undefined;
  }
  async insertPiGroup(name: string, at: number): Promise<void> {
    this.db.prepare('INSERT INTO pi_groups (name, created_at) VALUES (?, ?)').run(name, at);
  }
  async setRole(
    pi: string,
    accessKeyId: string,
    secretEnc: string,
    endpointUrl: string | null,
    region: string | null,
    source: string | null,
  ): Promise<void> {
    this.db
      .prepare(
        'UPDATE pi_groups SET role_access_key_id = ?, role_secret_enc = ?, role_endpoint_url = ?, role_region = ?, role_source = ? WHERE name = ?',
      )
      .run(accessKeyId, secretEnc, endpointUrl, region, source, pi);
  }

  async users(): Promise<UserRecord[]> {
    return this.db.prepare('SELECT * FROM users ORDER BY name').all() as UserRecord[];
  }
  async user(name: string): Promise<UserRecord | undefined> {
    return this.db.prepare('SELECT * FROM users WHERE name = ?').get(name) as UserRecord | undefined;
  }
  async insertUser(name: string, pi: string, at: number): Promise<void> {
    this.db.prepare('INSERT INTO users (name, pi, created_at) VALUES (?, ?, ?)').run(name, pi, at);
  }
  async setUserFlag(name: string, flag: 'admin' | 'disabled', value: boolean): Promise<void> {
    // `flag` is one of two literal column names, never user input.
    this.db.prepare(`UPDATE users SET ${flag} = ? WHERE name = ?`).run(value ? 1 : 0, name);
  }

  async accessKeys(): Promise<AccessKeyRecord[]> {
    return this.db.prepare('SELECT * FROM access_keys ORDER BY created_at').all() as AccessKeyRecord[];
  }
  async keysOf(user: string): Promise<AccessKeyRecord[]> {
    return this.db.prepare('SELECT * FROM access_keys WHERE user_name = ?').all(user) as AccessKeyRecord[];
  }
  async insertKey(id: string, user: string, secretEnc: string, at: number): Promise<void> {
    this.db
      .prepare('INSERT INTO access_keys (id, user_name, secret_enc, created_at) VALUES (?, ?, ?, ?)')
      .run(id, user, secretEnc, at);
  }
  async deleteKeysOf(user: string): Promise<void> {
    this.db.prepare('DELETE FROM access_keys WHERE user_name = ?').run(user);
  }

  /** Appends many audit records in one transaction (the audit log batches them). */
  async appendAudit(rows: readonly AuditRecord[]): Promise<void> {
    if (this.auditWriter?.alive) {
      await this.auditWriter.send({
        statements: rows.map((r) => [
          AUDIT_INSERT_SQL,
          [r.at, r.user_name, r.pi, r.operation, r.target, r.source, r.outcome],
        ]),
      });
      return;
    }
    this.db.transaction(() => {
      for (const r of rows) this.insertAudit.run(r.at, r.user_name, r.pi, r.operation, r.target, r.source, r.outcome);
    })();
  }
  /** Newest first; `beforeSeq` pages backwards. */
  async audit(q: { limit: number; beforeSeq?: number; user?: string }): Promise<AuditRecord[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.beforeSeq !== undefined) {
      where.push('seq < ?');
      args.push(q.beforeSeq);
    }
    if (q.user !== undefined) {
      where.push('user_name = ?');
      args.push(q.user);
    }
    const sql = `SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`;
    return this.db.prepare(sql).all(...args, q.limit) as AuditRecord[];
  }

  async close(): Promise<void> {
    await this.auditWriter?.close();
    this.db.close();
  }
}
