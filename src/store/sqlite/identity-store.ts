/**
 * The identity store (SQLite, its own file `<data>/identity.db`): PI groups, users, access keys and the audit log.
 * Secrets arrive here already encrypted (see service/users/secret-box.ts); this file only stores and reads rows.
 */
import Database from 'better-sqlite3';
import { applyMigrations } from './migrate.js';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

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
];

export interface PiGroupRow {
  name: string;
  created_at: number;
  role_access_key_id: string | null;
  role_secret_enc: string | null;
  role_endpoint_url: string | null;
  role_region: string | null;
}
export interface UserRow {
  name: string;
  pi: string;
  admin: number;
  disabled: number;
  created_at: number;
}
export interface AccessKeyRow {
  id: string;
  user_name: string;
  secret_enc: string;
  created_at: number;
}
export interface AuditRow {
  seq?: number;
  at: number;
  user_name: string;
  pi: string;
  operation: string;
  target: string | null;
  source: string | null;
  outcome: string;
}

export class SqliteIdentityStore {
  private readonly db: Database.Database;
  private readonly insertAudit: Database.Statement;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.migrate();
    this.insertAudit = this.db.prepare(
      'INSERT INTO audit (at, user_name, pi, operation, target, source, outcome) VALUES (@at, @user_name, @pi, @operation, @target, @source, @outcome)',
    );
  }

  private migrate(): void {
    applyMigrations(this.db, IDENTITY_MIGRATIONS);
  }

  /** Runs `fn` in one transaction (onboarding creates a group, a user and a key together or not at all). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  piGroups(): PiGroupRow[] {
    return this.db.prepare('SELECT * FROM pi_groups ORDER BY name').all() as PiGroupRow[];
  }
  piGroup(name: string): PiGroupRow | undefined {
    return this.db.prepare('SELECT * FROM pi_groups WHERE name = ?').get(name) as PiGroupRow | undefined;
  }
  insertPiGroup(name: string, at: number): void {
    this.db.prepare('INSERT INTO pi_groups (name, created_at) VALUES (?, ?)').run(name, at);
  }
  setRole(pi: string, accessKeyId: string, secretEnc: string, endpointUrl: string | null, region: string | null): void {
    this.db
      .prepare(
        'UPDATE pi_groups SET role_access_key_id = ?, role_secret_enc = ?, role_endpoint_url = ?, role_region = ? WHERE name = ?',
      )
      .run(accessKeyId, secretEnc, endpointUrl, region, pi);
  }

  users(): UserRow[] {
    return this.db.prepare('SELECT * FROM users ORDER BY name').all() as UserRow[];
  }
  user(name: string): UserRow | undefined {
    return this.db.prepare('SELECT * FROM users WHERE name = ?').get(name) as UserRow | undefined;
  }
  insertUser(name: string, pi: string, at: number): void {
    this.db.prepare('INSERT INTO users (name, pi, created_at) VALUES (?, ?, ?)').run(name, pi, at);
  }
  setUserFlag(name: string, flag: 'admin' | 'disabled', value: boolean): void {
    // `flag` is one of two literal column names, never user input.
    this.db.prepare(`UPDATE users SET ${flag} = ? WHERE name = ?`).run(value ? 1 : 0, name);
  }

  accessKeys(): AccessKeyRow[] {
    return this.db.prepare('SELECT * FROM access_keys ORDER BY created_at').all() as AccessKeyRow[];
  }
  keysOf(user: string): AccessKeyRow[] {
    return this.db.prepare('SELECT * FROM access_keys WHERE user_name = ?').all(user) as AccessKeyRow[];
  }
  insertKey(id: string, user: string, secretEnc: string, at: number): void {
    this.db
      .prepare('INSERT INTO access_keys (id, user_name, secret_enc, created_at) VALUES (?, ?, ?, ?)')
      .run(id, user, secretEnc, at);
  }
  deleteKeysOf(user: string): void {
    this.db.prepare('DELETE FROM access_keys WHERE user_name = ?').run(user);
  }

  /** Appends many audit records in one transaction (the audit log batches them). */
  appendAudit(rows: readonly AuditRow[]): void {
    this.db.transaction(() => {
      for (const r of rows) this.insertAudit.run(r);
    })();
  }
  /** Newest first; `beforeSeq` pages backwards. */
  audit(q: { limit: number; beforeSeq?: number; user?: string }): AuditRow[] {
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
    return this.db.prepare(sql).all(...args, q.limit) as AuditRow[];
  }

  close(): void {
    this.db.close();
  }
}
